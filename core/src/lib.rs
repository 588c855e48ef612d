//! PocketPDS core: an AT Protocol Personal Data Server as a library.
//!
//! The same crate runs inside a phone app (through the `pocketpds-ffi` bindings), as the `pocketpds`
//! daemon on a laptop or a Raspberry Pi, and in tests. It holds no FFI types. Rooms:
//! - [`syntax`]: validators for the atproto identifier formats (DID, handle, NSID, record key, TID, AT-URI,
//!   datetime, language tag) and the TID generator.
//! - [`crypto`]: k256 / p256 keys, `did:key`, low-S signatures.
//! - [`repo`]: the repository format: DAG-CBOR data model, CIDs, the Merkle Search Tree, signed commits,
//!   CAR files and proofs, over a [`repo::BlockStore`].
//! - [`identity`]: did:plc operations and the PLC directory client, DID documents, did:web and handle
//!   resolution.
//! - [`net`]: outbound-network safety (public addresses only, checked redirects) for URLs chosen by
//!   others.
//! - [`lexicon`]: the Lexicons of the record types clients write, and the validator of records.
//! - [`storage`]: libSQL-backed storage.
//! - [`events`]: the firehose: the sequencer that tails the event table for `subscribeRepos`.
//! - [`crawlers`]: asking the relays of `PDS_CRAWLERS` to crawl the server, once per cluster.
//! - [`auth`]: accounts, logins, legacy sessions (access and refresh JWTs), app passwords and invite
//!   codes.
//! - [`janitor`]: the background task that deletes expired rows (old events, used or expired
//!   tokens) in small batches, so that no table grows without bound.
//! - [`blobs`]: uploads (streamed, hashed, MIME-sniffed), the blobs records reference, and the
//!   collection of temporary ones.
//! - [`oauth`]: the OAuth authorization server (PAR, authorize and consent, token, revoke) and the
//!   DPoP checks of the resource server, built so that every node of a cluster verifies every request.
//! - [`config`], [`node`], [`routes`], [`xrpc`], [`http`]: the server: configuration, start/stop, the
//!   router, the XRPC handlers, and the pieces handlers share (state, errors, auth, bodies).
//! - [`admin`]: node administration without HTTP (accounts, status, sync), for the daemon's commands
//!   and the phone bindings.
#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod crawlers;
pub mod crypto;
pub mod events;
pub mod http;
pub mod identity;
pub mod janitor;
pub mod lexicon;
pub mod mail;
pub mod migration;
pub mod net;
pub mod node;
pub mod oauth;
pub mod proxy;
pub mod repo;
pub mod routes;
pub mod storage;
pub mod syntax;
pub mod xrpc;
