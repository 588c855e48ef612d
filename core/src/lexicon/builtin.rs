//! The Lexicons this node knows, embedded from `core/lexicons/` at build time, and the policy of a
//! write's `validate` flag over them.
//!
//! The record types are those the reference PDS validates: `app.bsky.*` (profile, status, post,
//! like, repost, threadgate, postgate, generator, follow, block, list, listitem, listblock,
//! starterpack, verification, labeler service, notification declaration),
//! `chat.bsky.actor.declaration` and `com.atproto.lexicon.schema`, with the documents their fields
//! refer to (embeds, rich-text facets, labels, strong refs, ...).

use std::sync::OnceLock;

use ipld_core::ipld::Ipld;

use super::catalog::{Catalog, ValidationStatus};
use super::error::{RecordError, SchemaError};
use crate::syntax::{Nsid, RecordKey};

/// The embedded Lexicon documents.
const DOCUMENTS: &[&str] = &[
    include_str!("../../lexicons/app/bsky/actor/profile.json"),
    include_str!("../../lexicons/app/bsky/actor/status.json"),
    include_str!("../../lexicons/app/bsky/embed/defs.json"),
    include_str!("../../lexicons/app/bsky/embed/external.json"),
    include_str!("../../lexicons/app/bsky/embed/images.json"),
    include_str!("../../lexicons/app/bsky/embed/record.json"),
    include_str!("../../lexicons/app/bsky/embed/recordWithMedia.json"),
    include_str!("../../lexicons/app/bsky/embed/video.json"),
    include_str!("../../lexicons/app/bsky/feed/generator.json"),
    include_str!("../../lexicons/app/bsky/feed/like.json"),
    include_str!("../../lexicons/app/bsky/feed/post.json"),
    include_str!("../../lexicons/app/bsky/feed/postgate.json"),
    include_str!("../../lexicons/app/bsky/feed/repost.json"),
    include_str!("../../lexicons/app/bsky/feed/threadgate.json"),
    include_str!("../../lexicons/app/bsky/graph/block.json"),
    include_str!("../../lexicons/app/bsky/graph/defs.json"),
    include_str!("../../lexicons/app/bsky/graph/follow.json"),
    include_str!("../../lexicons/app/bsky/graph/list.json"),
    include_str!("../../lexicons/app/bsky/graph/listblock.json"),
    include_str!("../../lexicons/app/bsky/graph/listitem.json"),
    include_str!("../../lexicons/app/bsky/graph/starterpack.json"),
    include_str!("../../lexicons/app/bsky/graph/verification.json"),
    include_str!("../../lexicons/app/bsky/labeler/defs.json"),
    include_str!("../../lexicons/app/bsky/labeler/service.json"),
    include_str!("../../lexicons/app/bsky/notification/declaration.json"),
    include_str!("../../lexicons/app/bsky/richtext/facet.json"),
    include_str!("../../lexicons/chat/bsky/actor/declaration.json"),
    include_str!("../../lexicons/com/atproto/label/defs.json"),
    include_str!("../../lexicons/com/atproto/lexicon/schema.json"),
    include_str!("../../lexicons/com/atproto/moderation/defs.json"),
    include_str!("../../lexicons/com/atproto/repo/strongRef.json"),
];

/// The catalog of the embedded documents, loaded once. Loading cannot fail for a build whose tests
/// pass; if it did, writes of records fail with an internal error rather than go unchecked.
pub fn builtin() -> Result<&'static Catalog, RecordError> {
    static CATALOG: OnceLock<Result<Catalog, SchemaError>> = OnceLock::new();
    CATALOG
        .get_or_init(|| Catalog::from_json(DOCUMENTS.iter().copied()))
        .as_ref()
        .map_err(|e| RecordError::Unavailable(e.clone()))
}

/// Validates a record about to be written, as the `validate` flag of createRecord, putRecord and
/// applyWrites asks: `Some(false)` skips validation (no status is reported); otherwise a known type
/// is validated (`valid`, or the error), and an unknown one is `unknown` — or refused when
/// `validate` is `Some(true)`.
pub fn validate_write(
    collection: &Nsid,
    rkey: &RecordKey,
    record: &Ipld,
    validate: Option<bool>,
) -> Result<Option<ValidationStatus>, RecordError> {
    if validate == Some(false) {
        return Ok(None);
    }
    match builtin()?.validate_record(collection, rkey, record)? {
        ValidationStatus::Unknown if validate == Some(true) => {
            Err(RecordError::UnknownType(collection.to_string()))
        }
        status => Ok(Some(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cbor::from_json;
    use serde_json::json;

    fn write(
        collection: &str,
        rkey: &str,
        record: serde_json::Value,
        validate: Option<bool>,
    ) -> Result<Option<ValidationStatus>, RecordError> {
        validate_write(
            &Nsid::parse(collection).unwrap(),
            &RecordKey::parse(rkey).unwrap(),
            &from_json(&record).unwrap(),
            validate,
        )
    }

    #[test]
    fn the_embedded_documents_load() {
        let catalog = builtin().unwrap();
        for record in [
            "app.bsky.actor.profile",
            "app.bsky.feed.post",
            "app.bsky.feed.like",
            "app.bsky.feed.repost",
            "app.bsky.feed.threadgate",
            "app.bsky.feed.postgate",
            "app.bsky.feed.generator",
            "app.bsky.graph.follow",
            "app.bsky.graph.block",
            "app.bsky.graph.list",
            "app.bsky.graph.listitem",
            "app.bsky.graph.starterpack",
            "chat.bsky.actor.declaration",
        ] {
            assert!(catalog.record(record).is_some(), "{record}");
        }
    }

    #[test]
    fn the_validate_flag_decides_what_happens_to_unknown_types() {
        let thing = json!({"$type": "com.example.thing", "x": 1});
        assert_eq!(
            write("com.example.thing", "a", thing.clone(), None).unwrap(),
            Some(ValidationStatus::Unknown)
        );
        assert_eq!(
            write("com.example.thing", "a", thing.clone(), Some(false)).unwrap(),
            None
        );
        assert_eq!(
            write("com.example.thing", "a", thing, Some(true)).unwrap_err(),
            RecordError::UnknownType("com.example.thing".into())
        );
    }

    #[test]
    fn known_types_are_valid_or_refused_with_a_path() {
        let post = |text: &str| json!({"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-05-01T12:00:00.000Z"});
        assert_eq!(
            write("app.bsky.feed.post", "3jzfcijpj2z2a", post("hi"), None).unwrap(),
            Some(ValidationStatus::Valid)
        );
        assert_eq!(
            write(
                "app.bsky.feed.post",
                "3jzfcijpj2z2a",
                post("hi"),
                Some(true)
            )
            .unwrap(),
            Some(ValidationStatus::Valid)
        );
        let err = write(
            "app.bsky.feed.post",
            "3jzfcijpj2z2a",
            post(&"x".repeat(301)),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
        );
        // validate: false lets an invalid record through unchecked.
        assert_eq!(
            write(
                "app.bsky.feed.post",
                "3jzfcijpj2z2a",
                post(&"x".repeat(301)),
                Some(false)
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn record_keys_must_fit_the_type() {
        let profile = json!({"$type": "app.bsky.actor.profile", "displayName": "Alice"});
        assert!(write("app.bsky.actor.profile", "self", profile.clone(), None).is_ok());
        let err = write("app.bsky.actor.profile", "3jzfcijpj2z2a", profile, None).unwrap_err();
        assert!(matches!(err, RecordError::Key { .. }), "{err}");
        let like = json!({"$type": "app.bsky.feed.like", "createdAt": "2024-05-01T12:00:00Z",
            "subject": {"uri": "at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a", "cid": "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq"}});
        assert!(write("app.bsky.feed.like", "self", like, None).is_err());
    }
}
