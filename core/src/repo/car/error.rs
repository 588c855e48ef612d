//! The error type of CAR reading and writing, [`CarError`].

use crate::repo::cid::{Cid, CidError};

/// Why a CAR file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CarError {
    /// The underlying reader or writer failed.
    #[error("CAR I/O error: {0}")]
    Io(std::io::Error),
    /// The input ended inside the header or inside a section (or was empty).
    #[error("CAR truncated: input ended inside the header or a section")]
    Truncated,
    /// A length prefix is not a minimal unsigned LEB128 varint of at most 9 bytes.
    #[error("bad varint in CAR: {0}")]
    BadVarint(&'static str),
    /// The header's length prefix exceeds [`super::CarLimits::max_header_bytes`].
    #[error("CAR header of {len} bytes exceeds the limit of {max}")]
    HeaderTooLarge {
        /// The length the input claims.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// A section's length prefix exceeds [`super::CarLimits::max_block_bytes`].
    #[error("CAR section of {len} bytes exceeds the limit of {max}")]
    BlockTooLarge {
        /// The length the input claims (CID and block bytes together).
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// The input would exceed [`super::CarLimits::max_total_bytes`].
    #[error("CAR exceeds the total limit of {max} bytes")]
    TotalTooLarge {
        /// The limit in force.
        max: u64,
    },
    /// The header is not the DAG-CBOR map `{"roots": [CID...], "version": 1}`.
    #[error("bad CAR header: {0}")]
    BadHeader(String),
    /// The header is well formed but names a version other than 1 (a CARv2 pragma says 2).
    #[error("unsupported CAR version {0}")]
    UnsupportedVersion(u64),
    /// A section has a zero length, so it cannot even hold a CID.
    #[error("empty CAR section")]
    EmptySection,
    /// A CID (a root or a section's) is malformed or not one atproto repositories use.
    #[error("bad CID in CAR: {0}")]
    BadCid(#[from] CidError),
    /// A block's bytes do not hash to the CID in front of it.
    #[error("CAR block does not match its CID {cid}")]
    HashMismatch {
        /// The CID the section claims.
        cid: Cid,
    },
}

impl From<std::io::Error> for CarError {
    /// An unexpected end of input is [`CarError::Truncated`]; anything else is [`CarError::Io`].
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            CarError::Truncated
        } else {
            CarError::Io(err)
        }
    }
}
