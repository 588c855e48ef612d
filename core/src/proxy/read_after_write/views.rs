//! Views built from the requester's own records, as the app view would build them: the author
//! (`app.bsky.actor.defs#profileViewBasic`), post views with their image and link embeds, and the
//! profile fields of a newer profile record laid over the app view's profile views. Images point at
//! this server's `com.atproto.sync.getBlob`.

use serde_json::{json, Map, Value};

use super::LocalRecord;

/// What a view of the requester needs besides the records.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The requester's DID.
    pub did: String,
    /// The requester's handle.
    pub handle: String,
    /// This server's public URL (image links).
    pub public_url: String,
    /// The requester's current profile record, if any, as atproto JSON.
    pub profile: Option<Value>,
}

impl Viewer {
    /// The URL of one of the requester's blobs, given its JSON blob value.
    fn blob_url(&self, blob: &Value) -> Option<String> {
        let cid = blob
            .pointer("/ref/$link")
            .or_else(|| blob.get("cid"))
            .and_then(Value::as_str)?;
        Some(format!(
            "{}/xrpc/com.atproto.sync.getBlob?did={}&cid={}",
            self.public_url.trim_end_matches('/'),
            self.did,
            cid
        ))
    }

    /// The requester as `app.bsky.actor.defs#profileViewBasic`.
    pub fn author(&self) -> Value {
        let mut view = Map::new();
        view.insert("did".into(), json!(self.did));
        view.insert("handle".into(), json!(self.handle));
        let mut view = Value::Object(view);
        if let Some(profile) = &self.profile {
            self.update_profile_basic(&mut view, profile);
        }
        view
    }

    /// `app.bsky.feed.defs#postView` of one of the requester's posts (no likes, replies, reposts
    /// or quotes yet).
    pub fn post_view(&self, post: &LocalRecord) -> Value {
        let mut view = json!({
            "uri": post.uri,
            "cid": post.cid,
            "author": self.author(),
            "record": post.value,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": post.indexed_at,
        });
        if let Some(embed) = post.value.get("embed").and_then(|e| self.embed_view(e)) {
            view["embed"] = embed;
        }
        view
    }

    /// The view of an image or link embed; other embeds (records) need the app view and are left
    /// out.
    fn embed_view(&self, embed: &Value) -> Option<Value> {
        match embed.get("$type")?.as_str()? {
            "app.bsky.embed.images" => {
                let images = embed.get("images")?.as_array()?;
                let images: Vec<Value> = images
                    .iter()
                    .filter_map(|img| {
                        let url = self.blob_url(img.get("image")?)?;
                        let mut view = json!({
                            "thumb": url,
                            "fullsize": url,
                            "alt": img.get("alt").cloned().unwrap_or(json!("")),
                        });
                        if let Some(ratio) = img.get("aspectRatio") {
                            view["aspectRatio"] = ratio.clone();
                        }
                        Some(view)
                    })
                    .collect();
                Some(json!({"$type": "app.bsky.embed.images#view", "images": images}))
            }
            "app.bsky.embed.external" => {
                let external = embed.get("external")?;
                let mut view = json!({
                    "uri": external.get("uri")?,
                    "title": external.get("title").cloned().unwrap_or(json!("")),
                    "description": external.get("description").cloned().unwrap_or(json!("")),
                });
                if let Some(thumb) = external.get("thumb").and_then(|t| self.blob_url(t)) {
                    view["thumb"] = json!(thumb);
                }
                Some(json!({"$type": "app.bsky.embed.external#view", "external": view}))
            }
            _ => None,
        }
    }

    /// Lays `profile`'s display name and avatar over a profile view.
    pub fn update_profile_basic(&self, view: &mut Value, profile: &Value) {
        set_or_remove(view, "displayName", profile.get("displayName").cloned());
        let avatar = profile
            .get("avatar")
            .and_then(|a| self.blob_url(a))
            .map(Value::from);
        set_or_remove(view, "avatar", avatar);
    }

    /// Lays `profile`'s display name, avatar, description and banner over a detailed profile view.
    pub fn update_profile_detailed(&self, view: &mut Value, profile: &Value) {
        self.update_profile_basic(view, profile);
        set_or_remove(view, "description", profile.get("description").cloned());
        let banner = profile
            .get("banner")
            .and_then(|b| self.blob_url(b))
            .map(Value::from);
        set_or_remove(view, "banner", banner);
    }
}

fn set_or_remove(view: &mut Value, key: &str, value: Option<Value>) {
    let Some(object) = view.as_object_mut() else {
        return;
    };
    match value {
        Some(value) => {
            object.insert(key.to_owned(), value);
        }
        None => {
            object.remove(key);
        }
    }
}
