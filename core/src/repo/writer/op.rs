//! What a write asks for ([`WriteOp`], with its [`Record`]) and what it did ([`OpResult`]).

use std::collections::HashSet;

use bytes::Bytes;
use ipld_core::ipld::Ipld;

use crate::repo::cbor::{self, BlobRef, DataModelError, FoundBlob};
use crate::repo::cid::{cid_for_cbor, Cid};
use crate::syntax::{AtUri, Did, Nsid, RecordKey};

/// A record ready to be written: its canonical DAG-CBOR bytes, their CID, and the blobs it
/// references. The constructors check the atproto data model, so a `Record` is always a valid record
/// (a map of allowed values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    cid: Cid,
    bytes: Bytes,
    blobs: Vec<BlobRef>,
}

impl Record {
    /// A record from its atproto JSON form (`$link`, `$bytes`, blobs), as a client writes it. A legacy
    /// blob reference (`{cid, mimeType}`) is refused, as the reference PDS refuses new ones.
    pub fn from_json(value: &serde_json::Value) -> Result<Record, DataModelError> {
        let (cid, bytes, value) = cbor::record_from_json(value)?;
        let mut blobs = Vec::new();
        for found in cbor::find_blobs(&value) {
            match found {
                FoundBlob::Typed(blob) => blobs.push(blob),
                FoundBlob::Legacy(cid) => {
                    return Err(DataModelError::InvalidBlob(format!(
                        "legacy blob references are not allowed ({cid})"
                    )))
                }
            }
        }
        Ok(Record {
            cid,
            bytes: Bytes::from(bytes),
            blobs,
        })
    }

    /// A record from a data-model value.
    pub fn from_ipld(value: &Ipld) -> Result<Record, DataModelError> {
        cbor::validate_record_value(value)?;
        let bytes = cbor::encode(value)?;
        Ok(Record {
            cid: cid_for_cbor(&bytes),
            bytes: Bytes::from(bytes),
            blobs: typed_blobs(value),
        })
    }

    /// A record from DAG-CBOR bytes, which must be canonical (the strict decoder refuses anything
    /// else) and hold a valid record.
    pub fn from_cbor(bytes: Bytes) -> Result<Record, DataModelError> {
        let value = cbor::decode(&bytes)?;
        cbor::validate_record_value(&value)?;
        Ok(Record {
            cid: cid_for_cbor(&bytes),
            bytes,
            blobs: typed_blobs(&value),
        })
    }

    /// The distinct CIDs of [`Record::blobs`], in order of first appearance.
    pub fn blob_cids(&self) -> Vec<Cid> {
        let mut seen = HashSet::with_capacity(self.blobs.len());
        self.blobs
            .iter()
            .filter(|blob| seen.insert(blob.cid))
            .map(|blob| blob.cid)
            .collect()
    }

    /// The blobs the record references (blob maps; legacy references are not listed), in the order
    /// they appear, a blob referenced twice listed twice.
    pub fn blobs(&self) -> &[BlobRef] {
        &self.blobs
    }

    /// The record's CID.
    pub fn cid(&self) -> Cid {
        self.cid
    }

    /// The record's canonical DAG-CBOR bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

/// The blob maps inside a value.
fn typed_blobs(value: &Ipld) -> Vec<BlobRef> {
    cbor::find_blobs(value)
        .into_iter()
        .filter_map(|found| match found {
            FoundBlob::Typed(blob) => Some(blob),
            FoundBlob::Legacy(_) => None,
        })
        .collect()
}

/// One change a commit makes, as `com.atproto.repo.applyWrites`, `putRecord` and `deleteRecord`
/// ask for them. A swap is a compare-and-swap on the record's current CID; when it does not hold,
/// the whole commit fails with [`super::WriteError::InvalidSwap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Adds a record; fails with [`super::WriteError::RecordExists`] if the key is taken.
    Create {
        /// The record's collection.
        collection: Nsid,
        /// The record's key.
        rkey: RecordKey,
        /// The record.
        record: Record,
    },
    /// Replaces a record; fails with [`super::WriteError::RecordNotFound`] if there is none.
    Update {
        /// The record's collection.
        collection: Nsid,
        /// The record's key.
        rkey: RecordKey,
        /// The new record.
        record: Record,
        /// When set, the current record must have this CID.
        swap_record: Option<Cid>,
    },
    /// Creates the record or replaces it, whichever the repository calls for when the commit is
    /// built (`putRecord`): so a concurrent create elsewhere turns this into an update, not a failure.
    Put {
        /// The record's collection.
        collection: Nsid,
        /// The record's key.
        rkey: RecordKey,
        /// The new record.
        record: Record,
        /// When set: `Some(cid)`, the current record must have this CID; `None`, there must be no
        /// current record (`putRecord`'s nullable `swapRecord`).
        swap_record: Option<Option<Cid>>,
    },
    /// Removes a record; fails with [`super::WriteError::RecordNotFound`] if there is none
    /// (`deleteRecord` answers success without a commit in that case: its handler checks first).
    Delete {
        /// The record's collection.
        collection: Nsid,
        /// The record's key.
        rkey: RecordKey,
        /// When set, the current record must have this CID.
        swap_record: Option<Cid>,
    },
}

impl WriteOp {
    /// The record's collection.
    pub fn collection(&self) -> &Nsid {
        match self {
            WriteOp::Create { collection, .. }
            | WriteOp::Update { collection, .. }
            | WriteOp::Put { collection, .. }
            | WriteOp::Delete { collection, .. } => collection,
        }
    }

    /// The record's key.
    pub fn rkey(&self) -> &RecordKey {
        match self {
            WriteOp::Create { rkey, .. }
            | WriteOp::Update { rkey, .. }
            | WriteOp::Put { rkey, .. }
            | WriteOp::Delete { rkey, .. } => rkey,
        }
    }

    /// The record's MST key, `collection/rkey`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.collection(), self.rkey())
    }

    /// The new record, for every op but a delete.
    pub fn record(&self) -> Option<&Record> {
        match self {
            WriteOp::Create { record, .. }
            | WriteOp::Update { record, .. }
            | WriteOp::Put { record, .. } => Some(record),
            WriteOp::Delete { .. } => None,
        }
    }
}

/// What an op did to the repository, as the firehose names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new record.
    Create,
    /// A replaced record.
    Update,
    /// A removed record.
    Delete,
}

impl Action {
    /// The firehose spelling: `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// The outcome of one op: the XRPC result (`uri`, `cid`), the firehose op (`action`, `path`, `cid`,
/// `prev`) and the record-index change (`collection`, `rkey` set to `cid`, or removed when `cid` is
/// `None`, with the record's `blobs`) at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// What happened.
    pub action: Action,
    /// The record's collection.
    pub collection: Nsid,
    /// The record's key.
    pub rkey: RecordKey,
    /// The record's AT-URI.
    pub uri: AtUri,
    /// The record's new CID; `None` for a delete.
    pub cid: Option<Cid>,
    /// The record's CID before the commit; `None` for a create.
    pub prev: Option<Cid>,
    /// The blobs the new record references (each once); empty for a delete.
    pub blobs: Vec<Cid>,
}

impl OpResult {
    pub(super) fn new(
        did: &Did,
        op: &WriteOp,
        action: Action,
        cid: Option<Cid>,
        prev: Option<Cid>,
    ) -> OpResult {
        OpResult {
            action,
            collection: op.collection().clone(),
            rkey: op.rkey().clone(),
            uri: AtUri::for_record(did.clone(), op.collection().clone(), op.rkey().clone()),
            cid,
            prev,
            blobs: op.record().map(Record::blob_cids).unwrap_or_default(),
        }
    }

    /// The record's MST key, `collection/rkey`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.collection, self.rkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_json_ipld_and_cbor_agree() {
        let json = serde_json::json!({"$type": "app.bsky.feed.post", "text": "hi"});
        let from_json = Record::from_json(&json).unwrap();
        let value = cbor::from_json(&json).unwrap();
        let from_ipld = Record::from_ipld(&value).unwrap();
        let from_cbor = Record::from_cbor(from_json.bytes().clone()).unwrap();
        assert_eq!(from_json, from_ipld);
        assert_eq!(from_json, from_cbor);
        assert_eq!(from_json.cid(), cid_for_cbor(from_json.bytes()));
    }

    #[test]
    fn records_list_the_blobs_they_reference() {
        let image = crate::repo::cid::cid_for_raw(b"img");
        let blob = serde_json::json!({"$type": "blob", "ref": {"$link": image.to_string()},
                                      "mimeType": "image/png", "size": 3});
        let json = serde_json::json!({"a": blob, "b": [blob], "text": "x"});
        let record = Record::from_json(&json).unwrap();
        assert_eq!(record.blobs().len(), 2);
        assert_eq!(record.blobs()[0].mime_type, "image/png");
        assert_eq!(record.blob_cids(), vec![image]);
        let from_cbor = Record::from_cbor(record.bytes().clone()).unwrap();
        assert_eq!(from_cbor.blobs(), record.blobs());
        let op = WriteOp::Create {
            collection: Nsid::parse("app.bsky.feed.post").unwrap(),
            rkey: RecordKey::parse("a").unwrap(),
            record,
        };
        let did = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let result = OpResult::new(&did, &op, Action::Create, None, None);
        assert_eq!(result.blobs, vec![image]);
    }

    #[test]
    fn legacy_blob_references_are_refused_in_new_records_but_read_in_old_ones() {
        let legacy = serde_json::json!({"avatar": {"cid": crate::repo::cid::cid_for_raw(b"x").to_string(),
                                                   "mimeType": "image/jpeg"}});
        let err = Record::from_json(&legacy).unwrap_err();
        assert!(
            matches!(err.kind(), DataModelError::InvalidBlob(_)),
            "{err}"
        );
        let value = cbor::from_json(&legacy).unwrap();
        let old = Record::from_ipld(&value).unwrap();
        assert!(old.blobs().is_empty());
    }

    #[test]
    fn values_that_are_not_records_are_refused() {
        assert!(Record::from_json(&serde_json::json!([1, 2])).is_err());
        assert!(Record::from_ipld(&Ipld::Float(1.5)).is_err());
        assert!(Record::from_ipld(&Ipld::String("x".into())).is_err());
        // A non-canonical map (keys out of order) and a bare integer.
        assert!(Record::from_cbor(Bytes::from_static(b"\xa2\x61b\x01\x61a\x02")).is_err());
        assert!(Record::from_cbor(Bytes::from_static(b"\x01")).is_err());
        assert!(Record::from_cbor(Bytes::new()).is_err());
    }
}
