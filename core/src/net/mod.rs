//! Outbound-network safety: the rules for connecting to a URL that someone else chose — an OAuth
//! client's metadata document, a handle's `/.well-known/atproto-did`, a `did:web` document — so that
//! a request to this node cannot make it reach the machine's own services or its private network
//! (server-side request forgery).
//!
//! - [`address`]: which IP addresses are public, and the [`AddressPolicy`] a client follows.
//! - [`resolver`]: [`PublicOnlyResolver`], the name resolver given to `reqwest` clients: it keeps
//!   only the addresses the policy allows, so a name pointing inside the network (or rebinding to it
//!   between a check and the connection) is never connected to.
//! - [`redirect`]: a redirect policy that checks every hop (scheme, IP-literal hosts, a limit).
//!
//! The OAuth client fetcher ([`crate::oauth::client::fetch`]) and the identity room's HTTP client
//! ([`crate::identity::HttpClient`]) use these; this room calls nothing else of the crate.

pub mod address;
pub mod redirect;
pub mod resolver;

pub use address::{is_public_ip, AddressPolicy};
pub use resolver::PublicOnlyResolver;
