//! Finding the blobs a record references: every blob map (`$type: "blob"` with a raw-codec `ref`, a
//! `mimeType` and a `size`) wherever it sits, and the legacy form `{"cid": "<cid>", "mimeType": …}`
//! that early records used (a map holding exactly those two strings, the CID parsing as one).
//!
//! A blob map is not searched further (a blob holds no blobs); every other map and list is. The walk
//! keeps its own stack, so its depth is bounded by memory rather than the call stack, although values
//! that passed the data-model checks are at most [`super::MAX_DEPTH`] deep anyway.

use ipld_core::ipld::Ipld;

use crate::repo::cid::{Cid, RAW};

/// A blob as a record references it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobRef {
    /// The blob's CID (raw codec).
    pub cid: Cid,
    /// The MIME type the record claims for it.
    pub mime_type: String,
    /// The size in bytes the record claims for it.
    pub size: u64,
}

/// A blob reference found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundBlob {
    /// A blob map (`$type: "blob"`).
    Typed(BlobRef),
    /// A legacy `{cid, mimeType}` reference, with its CID as written.
    Legacy(String),
}

/// The blob references inside `value`, in the order of a depth-first walk (map keys in their sorted
/// order). The same blob referenced twice appears twice.
pub fn find_blobs(value: &Ipld) -> Vec<FoundBlob> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Ipld::List(items) => stack.extend(items.iter().rev()),
            Ipld::Map(map) => {
                if let Some(blob) = typed(map) {
                    found.push(FoundBlob::Typed(blob));
                } else if let Some(cid) = legacy(map) {
                    found.push(FoundBlob::Legacy(cid));
                } else {
                    stack.extend(map.values().rev());
                }
            }
            _ => {}
        }
    }
    found
}

type Map = std::collections::BTreeMap<String, Ipld>;

/// A well-formed blob map.
fn typed(map: &Map) -> Option<BlobRef> {
    if !matches!(map.get("$type"), Some(Ipld::String(t)) if t == "blob") {
        return None;
    }
    let cid = match map.get("ref") {
        Some(Ipld::Link(cid)) if cid.codec() == RAW => *cid,
        _ => return None,
    };
    let mime_type = match map.get("mimeType") {
        Some(Ipld::String(m)) if !m.is_empty() => m.clone(),
        _ => return None,
    };
    let size = match map.get("size") {
        Some(Ipld::Integer(n)) => u64::try_from(*n).ok()?,
        _ => return None,
    };
    Some(BlobRef {
        cid,
        mime_type,
        size,
    })
}

/// The CID text of a legacy `{cid, mimeType}` reference.
fn legacy(map: &Map) -> Option<String> {
    if map.len() != 2 {
        return None;
    }
    let cid = match map.get("cid") {
        Some(Ipld::String(c)) => c,
        _ => return None,
    };
    match map.get("mimeType") {
        Some(Ipld::String(m)) if !m.is_empty() => {}
        _ => return None,
    }
    cid.parse::<Cid>().ok().map(|_| cid.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cbor::from_json;
    use crate::repo::cid::{cid_for_cbor, cid_for_raw};
    use serde_json::json;

    fn blob(bytes: &[u8], mime: &str, size: u64) -> serde_json::Value {
        json!({"$type": "blob", "ref": {"$link": cid_for_raw(bytes).to_string()}, "mimeType": mime, "size": size})
    }

    #[test]
    fn blobs_are_found_wherever_they_sit() {
        let post = json!({
            "$type": "app.bsky.feed.post",
            "text": "two pictures",
            "embed": {
                "$type": "app.bsky.embed.images",
                "images": [
                    {"alt": "a", "image": blob(b"one", "image/png", 3)},
                    {"alt": "b", "image": blob(b"two", "image/jpeg", 3)},
                ],
            },
            "avatar": blob(b"one", "image/png", 3),
        });
        let found = find_blobs(&from_json(&post).unwrap());
        let cids: Vec<Cid> = found
            .iter()
            .map(|f| match f {
                FoundBlob::Typed(b) => b.cid,
                FoundBlob::Legacy(c) => panic!("legacy {c}"),
            })
            .collect();
        assert_eq!(
            cids,
            vec![
                cid_for_raw(b"one"),
                cid_for_raw(b"one"),
                cid_for_raw(b"two")
            ]
        );
        let FoundBlob::Typed(first) = &found[0] else {
            unreachable!()
        };
        assert_eq!(first.mime_type, "image/png");
        assert_eq!(first.size, 3);
    }

    #[test]
    fn legacy_references_are_told_apart() {
        let cid = cid_for_raw(b"old").to_string();
        let record = json!({"image": {"cid": cid, "mimeType": "image/jpeg"}});
        assert_eq!(
            find_blobs(&from_json(&record).unwrap()),
            vec![FoundBlob::Legacy(cid.clone())]
        );
        // A third key, an empty type or a CID that does not parse make it an ordinary map.
        for plain in [
            json!({"image": {"cid": cid, "mimeType": "image/jpeg", "alt": "x"}}),
            json!({"image": {"cid": cid, "mimeType": ""}}),
            json!({"image": {"cid": "not a cid", "mimeType": "image/jpeg"}}),
        ] {
            assert!(
                find_blobs(&from_json(&plain).unwrap()).is_empty(),
                "{plain}"
            );
        }
    }

    #[test]
    fn records_without_blobs_have_none() {
        let value =
            json!({"text": "hi", "link": {"$link": cid_for_cbor(b"x").to_string()}, "l": [[], {}]});
        assert!(find_blobs(&from_json(&value).unwrap()).is_empty());
    }
}
