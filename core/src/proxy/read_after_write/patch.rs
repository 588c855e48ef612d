//! The patch of each method's answer. Each takes the upstream's JSON answer and returns the
//! patched one, or `None` when the answer is not shaped as the method's output (it then passes
//! unchanged) or nothing applies.

use serde_json::{json, Value};

use super::views::Viewer;
use super::{LocalRecord, LocalRecords};

const THREAD_VIEW_POST: &str = "app.bsky.feed.defs#threadViewPost";
const REASON_REPOST: &str = "app.bsky.feed.defs#reasonRepost";

/// What the request asked, as far as a patch needs it.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// Whether the request named a page after the first (`cursor`): posts newer than the first
    /// page are not put on later ones.
    pub later_page: bool,
    /// Whether the feed or thread asked for is the requester's own (`actor` or `uri` naming the
    /// requester's DID or handle).
    pub own: bool,
}

/// Patches the answer of `method`.
pub fn patch(
    method: &str,
    viewer: &Viewer,
    original: &Value,
    local: &LocalRecords,
    asked: &Asked,
) -> Option<Value> {
    match method {
        "app.bsky.actor.getProfile" => get_profile(viewer, original, local),
        "app.bsky.feed.getAuthorFeed" => get_author_feed(viewer, original, local, asked),
        "app.bsky.feed.getTimeline" => get_timeline(viewer, original, local, asked),
        "app.bsky.feed.getPostThread" => get_post_thread(viewer, original, local),
        _ => None,
    }
}

/// `getProfile` of the requester: the newer profile record's fields.
pub fn get_profile(viewer: &Viewer, original: &Value, local: &LocalRecords) -> Option<Value> {
    let profile = local.profile.as_ref()?;
    if original.get("did")?.as_str()? != viewer.did {
        return None;
    }
    let mut out = original.clone();
    viewer.update_profile_detailed(&mut out, &profile.value);
    Some(out)
}

/// `getAuthorFeed` of the requester: the author of its items updated from a newer profile, its
/// newer posts inserted.
pub fn get_author_feed(
    viewer: &Viewer,
    original: &Value,
    local: &LocalRecords,
    asked: &Asked,
) -> Option<Value> {
    let feed = original.get("feed")?.as_array()?;
    if !(asked.own || is_users_feed(feed, &viewer.did)) {
        return None;
    }
    let mut feed = feed.clone();
    if let Some(profile) = &local.profile {
        for item in &mut feed {
            let Some(author) = item.pointer_mut("/post/author") else {
                continue;
            };
            if author.get("did").and_then(Value::as_str) == Some(viewer.did.as_str()) {
                viewer.update_profile_basic(author, &profile.value);
            }
        }
    }
    if !asked.later_page {
        insert_posts(viewer, &mut feed, &local.posts);
    }
    let mut out = original.clone();
    out["feed"] = Value::Array(feed);
    Some(out)
}

/// `getTimeline`: the requester's newer posts inserted.
pub fn get_timeline(
    viewer: &Viewer,
    original: &Value,
    local: &LocalRecords,
    asked: &Asked,
) -> Option<Value> {
    let mut feed = original.get("feed")?.as_array()?.clone();
    if asked.later_page || local.posts.is_empty() {
        return None;
    }
    insert_posts(viewer, &mut feed, &local.posts);
    let mut out = original.clone();
    out["feed"] = Value::Array(feed);
    Some(out)
}

/// `getPostThread`: the requester's newer replies inserted under the posts they answer.
pub fn get_post_thread(viewer: &Viewer, original: &Value, local: &LocalRecords) -> Option<Value> {
    let thread = original.get("thread")?;
    if thread.get("$type")?.as_str()? != THREAD_VIEW_POST {
        return None;
    }
    let mut thread = thread.clone();
    if !add_posts_to_thread(viewer, &mut thread, &local.posts) {
        return None;
    }
    let mut out = original.clone();
    out["thread"] = thread;
    Some(out)
}

/// `getPostThread` of the requester's post `uri` the upstream does not know yet (it answered
/// `NotFound`): the thread built from the local posts.
pub fn post_thread_not_found(viewer: &Viewer, uri: &str, local: &LocalRecords) -> Option<Value> {
    let found = local.posts.iter().find(|p| p.uri == uri)?;
    let mut thread = thread_view_post(viewer, found);
    let rest: Vec<LocalRecord> = local
        .posts
        .iter()
        .filter(|p| p.uri != uri)
        .cloned()
        .collect();
    add_posts_to_thread(viewer, &mut thread, &rest);
    Some(json!({ "thread": thread }))
}

/// Whether the first item of an author feed is the requester's post or repost (the reference's
/// test when the request does not say).
fn is_users_feed(feed: &[Value], did: &str) -> bool {
    let Some(first) = feed.first() else {
        return false;
    };
    match first.get("reason") {
        None => first.pointer("/post/author/did").and_then(Value::as_str) == Some(did),
        Some(reason) => {
            reason.get("$type").and_then(Value::as_str) == Some(REASON_REPOST)
                && reason.pointer("/by/did").and_then(Value::as_str) == Some(did)
        }
    }
}

fn indexed_at(item: &Value) -> Option<&str> {
    item.pointer("/post/indexedAt").and_then(Value::as_str)
}

/// Inserts the posts newer than the feed's last item, each before the first older item.
fn insert_posts(viewer: &Viewer, feed: &mut Vec<Value>, posts: &[LocalRecord]) {
    let last = feed.last().and_then(indexed_at).unwrap_or("").to_owned();
    for post in posts.iter().rev() {
        if post.indexed_at.as_str() <= last.as_str() {
            continue;
        }
        let present = feed
            .iter()
            .any(|item| item.pointer("/post/uri").and_then(Value::as_str) == Some(&post.uri));
        if present {
            continue;
        }
        let item = json!({ "post": viewer.post_view(post) });
        match feed
            .iter()
            .position(|i| indexed_at(i).is_some_and(|t| t < post.indexed_at.as_str()))
        {
            Some(at) => feed.insert(at, item),
            None => feed.push(item),
        }
    }
}

fn thread_view_post(viewer: &Viewer, post: &LocalRecord) -> Value {
    json!({ "$type": THREAD_VIEW_POST, "post": viewer.post_view(post) })
}

fn reply_uri<'a>(post: &'a LocalRecord, which: &str) -> Option<&'a str> {
    post.value
        .pointer(&format!("/reply/{which}/uri"))
        .and_then(Value::as_str)
}

/// Inserts the posts of `posts` that belong to `thread`; whether any was.
fn add_posts_to_thread(viewer: &Viewer, thread: &mut Value, posts: &[LocalRecord]) -> bool {
    let top = thread
        .pointer("/post/uri")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let top_root = thread
        .pointer("/post/record/reply/root/uri")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut changed = false;
    for post in posts {
        let Some(root) = reply_uri(post, "root") else {
            continue;
        };
        if Some(root) == top.as_deref() || Some(root) == top_root.as_deref() {
            changed |= insert_reply(viewer, thread, post);
        }
    }
    changed
}

fn insert_reply(viewer: &Viewer, view: &mut Value, post: &LocalRecord) -> bool {
    let parent = reply_uri(post, "parent");
    if parent.is_some() && parent == view.pointer("/post/uri").and_then(Value::as_str) {
        let Some(object) = view.as_object_mut() else {
            return false;
        };
        let replies = object.entry("replies").or_insert_with(|| json!([]));
        let Some(replies) = replies.as_array_mut() else {
            return false;
        };
        let present = replies
            .iter()
            .any(|r| r.pointer("/post/uri").and_then(Value::as_str) == Some(&post.uri));
        if present {
            return false;
        }
        replies.insert(0, thread_view_post(viewer, post));
        return true;
    }
    let Some(replies) = view.get_mut("replies").and_then(Value::as_array_mut) else {
        return false;
    };
    let mut changed = false;
    for reply in replies {
        if reply.get("$type").and_then(Value::as_str) == Some(THREAD_VIEW_POST) {
            changed |= insert_reply(viewer, reply, post);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "did:plc:me";

    fn viewer() -> Viewer {
        Viewer {
            did: ME.into(),
            handle: "me.test".into(),
            public_url: "https://pds.test".into(),
            profile: Some(json!({"displayName": "Me now"})),
        }
    }

    fn post(rkey: &str, at: &str, value: Value) -> LocalRecord {
        LocalRecord {
            uri: format!("at://{ME}/app.bsky.feed.post/{rkey}"),
            cid: format!("bafy{rkey}"),
            indexed_at: at.into(),
            written_micros: 0,
            value,
        }
    }

    fn item(uri: &str, did: &str, at: &str) -> Value {
        json!({"post": {"uri": uri, "cid": "c", "author": {"did": did, "handle": "x"}, "record": {}, "indexedAt": at}})
    }

    fn uris(out: &Value) -> Vec<&str> {
        out["feed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["post"]["uri"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn new_posts_go_into_the_timeline_in_time_order_and_only_on_the_first_page() {
        let local = LocalRecords {
            profile: None,
            posts: vec![
                post("a", "2024-01-01T00:00:05.000Z", json!({"text": "a"})),
                post("b", "2024-01-01T00:00:15.000Z", json!({"text": "b"})),
                post("old", "2023-01-01T00:00:00.000Z", json!({"text": "old"})),
            ],
        };
        let original = json!({"cursor": "c1", "feed": [
            item("at://x/1", "did:plc:x", "2024-01-01T00:00:10.000Z"),
            item("at://x/2", "did:plc:x", "2024-01-01T00:00:01.000Z"),
        ]});
        let out = get_timeline(&viewer(), &original, &local, &Asked::default()).unwrap();
        let a = format!("at://{ME}/app.bsky.feed.post/a");
        let b = format!("at://{ME}/app.bsky.feed.post/b");
        assert_eq!(uris(&out), [b.as_str(), "at://x/1", a.as_str(), "at://x/2"]);
        assert_eq!(out["cursor"], "c1");
        assert_eq!(out["feed"][0]["post"]["author"]["displayName"], "Me now");
        assert_eq!(out["feed"][0]["post"]["likeCount"], 0);
        // Already there: not twice.
        assert_eq!(
            uris(&get_timeline(&viewer(), &out, &local, &Asked::default()).unwrap()),
            uris(&out)
        );
        let later = Asked {
            later_page: true,
            own: false,
        };
        assert!(get_timeline(&viewer(), &original, &local, &later).is_none());
        // Not a feed: unchanged.
        assert!(get_timeline(&viewer(), &json!({"feed": 3}), &local, &Asked::default()).is_none());
    }

    #[test]
    fn only_the_requesters_own_profile_and_author_feed_are_patched() {
        let local = LocalRecords {
            profile: Some(post(
                "self",
                "2024-01-01T00:00:00.000Z",
                json!({"displayName": "New", "description": "Hi",
                       "avatar": {"$type": "blob", "ref": {"$link": "bafyavatar"}, "mimeType": "image/png", "size": 3}}),
            )),
            posts: vec![],
        };
        let mine = json!({"did": ME, "handle": "me.test", "displayName": "Old", "banner": "https://cdn/b"});
        let out = get_profile(&viewer(), &mine, &local).unwrap();
        assert_eq!(out["displayName"], "New");
        assert_eq!(out["description"], "Hi");
        assert_eq!(
            out["avatar"],
            format!("https://pds.test/xrpc/com.atproto.sync.getBlob?did={ME}&cid=bafyavatar")
        );
        assert!(out.get("banner").is_none(), "the record has no banner");
        let theirs = json!({"did": "did:plc:other", "displayName": "Other"});
        assert!(get_profile(&viewer(), &theirs, &local).is_none());

        let feed = json!({"feed": [item("at://me/1", ME, "2024-01-01T00:00:00.000Z")]});
        let out = get_author_feed(&viewer(), &feed, &local, &Asked::default()).unwrap();
        assert_eq!(out["feed"][0]["post"]["author"]["displayName"], "New");
        let other = json!({"feed": [item("at://x/1", "did:plc:x", "2024-01-01T00:00:00.000Z")]});
        assert!(get_author_feed(&viewer(), &other, &local, &Asked::default()).is_none());
    }

    #[test]
    fn replies_are_inserted_under_their_parent_and_unknown_posts_make_a_thread() {
        let root = "at://did:plc:x/app.bsky.feed.post/root";
        let mid = "at://did:plc:x/app.bsky.feed.post/mid";
        let reply = post(
            "r",
            "2024-01-01T00:00:00.000Z",
            json!({"text": "r", "reply": {"root": {"uri": root, "cid": "c"}, "parent": {"uri": mid, "cid": "c"}}}),
        );
        let local = LocalRecords {
            profile: None,
            posts: vec![reply.clone()],
        };
        let original = json!({"thread": {"$type": THREAD_VIEW_POST, "post": {"uri": root, "record": {}},
            "replies": [{"$type": THREAD_VIEW_POST, "post": {"uri": mid, "record": {}}, "replies": []}]}});
        let out = get_post_thread(&viewer(), &original, &local).unwrap();
        assert_eq!(
            out["thread"]["replies"][0]["replies"][0]["post"]["uri"],
            reply.uri.as_str()
        );
        assert!(
            get_post_thread(&viewer(), &out, &local).is_none(),
            "not twice"
        );
        let blocked = json!({"thread": {"$type": "app.bsky.feed.defs#blockedPost", "uri": root}});
        assert!(get_post_thread(&viewer(), &blocked, &local).is_none());

        let built = post_thread_not_found(&viewer(), &reply.uri, &local).unwrap();
        assert_eq!(built["thread"]["$type"], THREAD_VIEW_POST);
        assert_eq!(built["thread"]["post"]["record"]["text"], "r");
        assert!(post_thread_not_found(&viewer(), root, &local).is_none());
    }
}
