//! Content identifiers as atproto uses them: CIDv1, sha2-256, with the dag-cbor (0x71) codec for
//! structured data and the raw (0x55) codec for blobs.

use sha2::{Digest, Sha256};

/// A CID (the `cid` crate's type with a 64-byte multihash buffer).
pub type Cid = cid::Cid;

/// Multicodec code of DAG-CBOR blocks.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec code of raw blocks (blobs).
pub const RAW: u64 = 0x55;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// Why a CID was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidError {
    /// The bytes or string do not parse as a CID.
    #[error("malformed CID: {0}")]
    Malformed(String),
    /// A CIDv0, which atproto does not use in repositories.
    #[error("CIDv0 is not allowed")]
    Version0,
    /// A codec other than dag-cbor or raw.
    #[error("unsupported CID codec 0x{0:x}")]
    Codec(u64),
    /// A hash other than a 32-byte sha2-256.
    #[error("unsupported multihash 0x{0:x}")]
    Hash(u64),
}

/// The sha2-256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The CIDv1 of a block with the given codec, hashed with sha2-256.
pub fn cid_for(codec: u64, bytes: &[u8]) -> Cid {
    cid_for_digest(codec, &sha256(bytes))
}

/// The CIDv1 with the given codec of content whose sha2-256 digest is `digest` (for content hashed
/// as it streams by).
pub fn cid_for_digest(codec: u64, digest: &[u8; 32]) -> Cid {
    let mh = cid::multihash::Multihash::<64>::wrap(SHA2_256, digest)
        .expect("a 32-byte digest always fits a 64-byte multihash");
    Cid::new_v1(codec, mh)
}

/// The CID of a DAG-CBOR block.
pub fn cid_for_cbor(bytes: &[u8]) -> Cid {
    cid_for(DAG_CBOR, bytes)
}

/// The CID of a raw block (a blob).
pub fn cid_for_raw(bytes: &[u8]) -> Cid {
    cid_for(RAW, bytes)
}

/// Checks that a CID is one atproto repositories may hold: v1, dag-cbor or raw, sha2-256 of 32 bytes.
pub fn check_cid(cid: &Cid) -> Result<(), CidError> {
    if cid.version() == cid::Version::V0 {
        return Err(CidError::Version0);
    }
    if cid.codec() != DAG_CBOR && cid.codec() != RAW {
        return Err(CidError::Codec(cid.codec()));
    }
    let mh = cid.hash();
    if mh.code() != SHA2_256 || mh.size() != 32 {
        return Err(CidError::Hash(mh.code()));
    }
    Ok(())
}

/// Parses CID bytes (without the DAG-CBOR 0x00 prefix) and checks them with [`check_cid`].
/// The whole slice must be consumed.
pub fn cid_from_bytes(bytes: &[u8]) -> Result<Cid, CidError> {
    let mut reader = bytes;
    let cid = Cid::read_bytes(&mut reader).map_err(|e| CidError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(CidError::Malformed("trailing bytes after CID".into()));
    }
    check_cid(&cid)?;
    Ok(cid)
}

/// Parses a CID string (base32 multibase, as atproto writes them) and checks it with [`check_cid`].
pub fn cid_from_str(s: &str) -> Result<Cid, CidError> {
    let cid: Cid = s
        .parse()
        .map_err(|e: cid::Error| CidError::Malformed(e.to_string()))?;
    check_cid(&cid)?;
    Ok(cid)
}

/// Verifies that `bytes` hash to `cid` (with the CID's own codec).
pub fn verify_block(cid: &Cid, bytes: &[u8]) -> bool {
    cid.hash().code() == SHA2_256 && cid.hash().digest() == sha256(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_of_empty_cbor_map_matches_the_known_value() {
        // 0xa0 is the empty CBOR map; its dag-cbor CID is a well-known constant.
        let cid = cid_for_cbor(&[0xa0]);
        assert_eq!(
            cid.to_string(),
            "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua"
        );
        assert!(verify_block(&cid, &[0xa0]));
        assert!(!verify_block(&cid, &[0xa1]));
    }

    #[test]
    fn foreign_codecs_and_v0_are_refused() {
        let v0 = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
        assert_eq!(cid_from_str(v0), Err(CidError::Version0));
        let dag_pb = cid_for(0x70, b"x");
        assert_eq!(check_cid(&dag_pb), Err(CidError::Codec(0x70)));
        assert!(cid_from_str("bafy-not-a-cid").is_err());
        let mut bytes = cid_for_raw(b"x").to_bytes();
        bytes.push(0);
        assert!(cid_from_bytes(&bytes).is_err());
    }
}
