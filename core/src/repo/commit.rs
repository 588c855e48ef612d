//! Signed v3 repository commits: `{did, version: 3, data, rev, prev, sig}`. The signature covers the
//! DAG-CBOR encoding of the commit without `sig` (atproto repository spec, "Commit Objects").

use bytes::Bytes;
use ipld_core::ipld::Ipld;

use crate::crypto::{CryptoError, Keypair, PublicKey};
use crate::repo::cbor::{self, writer::*};
use crate::repo::cid::{cid_for_cbor, Cid};

/// The only commit version this crate writes and reads.
pub const COMMIT_VERSION: i64 = 3;

/// Why a commit was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The bytes are not a DAG-CBOR commit object.
    #[error("malformed commit: {0}")]
    Malformed(String),
    /// A commit version other than 3.
    #[error("unsupported commit version {0}")]
    Version(i64),
    /// The signature does not verify with the given key.
    #[error("commit signature invalid: {0}")]
    BadSignature(#[from] CryptoError),
}

/// A repository commit. `sig` is empty until the commit is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The account's DID.
    pub did: String,
    /// The root of the MST.
    pub data: Cid,
    /// The revision: a TID that grows with every commit.
    pub rev: String,
    /// The previous commit; v3 commits usually leave it null.
    pub prev: Option<Cid>,
    /// The signature over the unsigned encoding.
    pub sig: Vec<u8>,
}

/// A commit together with its encoding and CID.
#[derive(Clone, Debug)]
pub struct SignedCommit {
    /// The commit.
    pub commit: Commit,
    /// Its DAG-CBOR bytes.
    pub bytes: Bytes,
    /// The CID of `bytes`.
    pub cid: Cid,
}

impl Commit {
    /// Builds and signs a commit.
    pub fn sign(did: &str, data: Cid, rev: &str, prev: Option<Cid>, key: &Keypair) -> SignedCommit {
        let mut commit = Commit {
            did: did.to_owned(),
            data,
            rev: rev.to_owned(),
            prev,
            sig: Vec::new(),
        };
        commit.sig = key.sign(&commit.unsigned_bytes()).to_vec();
        let bytes = commit.encode();
        SignedCommit {
            cid: cid_for_cbor(&bytes),
            bytes: Bytes::from(bytes),
            commit,
        }
    }

    /// The canonical encoding without `sig`: the bytes the signature covers.
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        self.write(false)
    }

    /// The canonical encoding with `sig`.
    pub fn encode(&self) -> Vec<u8> {
        self.write(true)
    }

    fn write(&self, with_sig: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(200);
        // DAG-CBOR key order: did, rev, sig, data, prev, version.
        write_map_header(&mut out, if with_sig { 6 } else { 5 });
        write_text(&mut out, "did");
        write_text(&mut out, &self.did);
        write_text(&mut out, "rev");
        write_text(&mut out, &self.rev);
        if with_sig {
            write_text(&mut out, "sig");
            write_bytes(&mut out, &self.sig);
        }
        write_text(&mut out, "data");
        write_cid(&mut out, &self.data);
        write_text(&mut out, "prev");
        match &self.prev {
            Some(p) => write_cid(&mut out, p),
            None => write_null(&mut out),
        }
        write_text(&mut out, "version");
        write_uint(&mut out, COMMIT_VERSION as u64);
        out
    }

    /// Decodes a signed commit strictly (canonical DAG-CBOR, exact fields, version 3).
    pub fn decode(bytes: &[u8]) -> Result<Commit, CommitError> {
        let value = cbor::decode(bytes).map_err(|e| CommitError::Malformed(e.to_string()))?;
        let Ipld::Map(map) = value else {
            return Err(CommitError::Malformed("not a map".into()));
        };
        let allowed = ["did", "rev", "sig", "data", "prev", "version"];
        if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(CommitError::Malformed(format!("unexpected field {extra}")));
        }
        let field = |name: &str| {
            map.get(name)
                .ok_or_else(|| CommitError::Malformed(format!("missing field {name}")))
        };
        let version = match field("version")? {
            Ipld::Integer(v) => i64::try_from(*v).unwrap_or(i64::MAX),
            _ => return Err(CommitError::Malformed("version is not an integer".into())),
        };
        if version != COMMIT_VERSION {
            return Err(CommitError::Version(version));
        }
        let text = |name: &str| match field(name)? {
            Ipld::String(s) => Ok(s.clone()),
            _ => Err(CommitError::Malformed(format!("{name} is not a string"))),
        };
        let data = match field("data")? {
            Ipld::Link(c) => *c,
            _ => return Err(CommitError::Malformed("data is not a link".into())),
        };
        let prev = match map.get("prev") {
            None | Some(Ipld::Null) => None,
            Some(Ipld::Link(c)) => Some(*c),
            Some(_) => return Err(CommitError::Malformed("prev is not a link".into())),
        };
        let sig = match field("sig")? {
            Ipld::Bytes(b) => b.clone(),
            _ => return Err(CommitError::Malformed("sig is not bytes".into())),
        };
        Ok(Commit {
            did: text("did")?,
            data,
            rev: text("rev")?,
            prev,
            sig,
        })
    }

    /// Checks the signature with the account's signing key.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CommitError> {
        key.verify(&self.unsigned_bytes(), &self.sig)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Algorithm;

    fn data() -> Cid {
        cid_for_cbor(b"\xa0")
    }

    #[test]
    fn signed_commit_round_trips_and_verifies_on_both_curves() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            let key = Keypair::generate(alg).expect("key");
            let signed = Commit::sign("did:plc:abc", data(), "3jzfcijpj2z2a", None, &key);
            let decoded = Commit::decode(&signed.bytes).expect("decodes");
            assert_eq!(decoded, signed.commit);
            assert_eq!(decoded.encode(), signed.bytes.to_vec());
            decoded.verify(&key.public_key()).expect("verifies");
            // The generic canonical encoder agrees byte for byte.
            let ipld = cbor::decode(&signed.bytes).expect("cbor");
            assert_eq!(cbor::encode(&ipld).expect("encode"), signed.bytes.to_vec());
        }
    }

    #[test]
    fn tampered_commits_and_wrong_keys_fail() {
        let key = Keypair::generate(Algorithm::K256).expect("key");
        let other = Keypair::generate(Algorithm::K256).expect("key");
        let signed = Commit::sign("did:plc:abc", data(), "3jzfcijpj2z2a", None, &key);
        assert!(signed.commit.verify(&other.public_key()).is_err());
        let mut tampered = signed.commit.clone();
        tampered.rev = "3jzfcijpj2z2b".into();
        assert!(tampered.verify(&key.public_key()).is_err());
    }

    #[test]
    fn malformed_commits_are_refused() {
        let key = Keypair::generate(Algorithm::P256).expect("key");
        let signed = Commit::sign("did:plc:abc", data(), "3jzfcijpj2z2a", None, &key);
        for cut in 0..signed.bytes.len() {
            assert!(Commit::decode(&signed.bytes[..cut]).is_err());
        }
        let mut v2 = signed.commit.clone();
        v2.sig = vec![];
        let mut bytes = v2.encode();
        let n = bytes.len();
        bytes[n - 1] = 2; // version 2
        assert!(matches!(
            Commit::decode(&bytes),
            Err(CommitError::Version(2))
        ));
        assert!(Commit::decode(&[0xa0]).is_err());
    }
}
