//! Lexicon validation of records: the schemas of the record types clients write, and a generic
//! validator that interprets them.
//!
//! **Where the schemas come from.** The Lexicon documents are the project's own data files in
//! `core/lexicons/`, one per NSID as the published Lexicons lay them out, holding what validation
//! reads (types, limits, formats, refs, required and nullable properties, record keys) and leaving
//! out descriptions and the defs no record reaches (views, queries). They are embedded with
//! `include_str!` ([`builtin`]) and interpreted by the generic validator of this room. The
//! alternatives were weighed and set aside: `atrium-api` carries generated Rust types whose serde
//! decoding checks shapes but none of the limits (`maxGraphemes`, `maxLength`, formats, blob
//! `accept`/`maxSize`); `jacquard-lexicon`/`jacquard-api` do validate, but bring a large generated
//! API surface, their own value types and a pre-1.0 API that changes between minor versions — heavy
//! for a phone's binary and build, for a job of a few hundred lines. Own documents keep the node's
//! dependencies small, validate our own data-model values ([`Ipld`](ipld_core::ipld::Ipld), so links,
//! bytes and blobs are the ones the repository stores), reuse the syntax room's format validators
//! (tested against the interop vectors), and let a new record type be added as one JSON file.
//!
//! **What is checked** follows the Lexicon specification and the reference implementation: `object`
//! (required, nullable; unlisted properties allowed), `string` (formats, `maxLength`/`minLength` in
//! UTF-8 bytes, `maxGraphemes`/`minGraphemes`, `enum` and `const`; `knownValues` is an open set and
//! not enforced), `integer` (range, `enum`, `const`), `boolean`, `bytes`, `cid-link`, `blob`
//! (`accept`, `maxSize`, legacy references refused), `array` (length, items), `union` (by `$type`;
//! open or closed), `ref` (local `#name` and cross-document), `unknown` (any object but a blob), and
//! the record key (`tid`, `nsid`, `any`, `literal:…`).
//!
//! Files: [`schema`] (the document format), [`catalog`] (loading, checking and cross-linking
//! documents; the record entry point), `validate`/`primitives`/`string` (the value checks), [`key`]
//! (record key constraints), [`builtin`] (the embedded documents and the `validate` flag), [`error`].
//! This room calls the syntax room and reads data-model values; the XRPC record writes call it.

pub mod builtin;
pub mod catalog;
pub mod error;
pub mod key;
mod primitives;
pub mod schema;
mod string;
mod validate;

pub use builtin::{builtin, validate_write};
pub use catalog::{Catalog, ValidationStatus};
pub use error::{RecordError, SchemaError, ValidationError};
