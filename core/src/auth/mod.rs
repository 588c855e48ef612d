//! Accounts and legacy (non-OAuth) authentication: what the `com.atproto.server.*` handlers call to
//! create accounts, log in, open, refresh and close sessions, verify access tokens, and manage app
//! passwords and invite codes.
//!
//! This room decides who may do what; it stores through [`crate::storage::AccountStore`] and signs
//! with [`crate::crypto`] keys it is handed, and calls nothing else. Its errors are one enum,
//! [`AuthError`], whose variants carry the XRPC error name and HTTP status of the reference PDS.
//!
//! - [`password`]: argon2id hashing (PHC strings) on the blocking pool, and the password rules.
//! - [`jwt`]: strict compact JWS with HS256 only.
//! - [`session`]: access and refresh tokens, single-use refresh rotation, [`SessionManager`].
//! - [`mod@login`]: `createSession`'s credential check (account password, then app passwords).
//! - [`account`]: account creation with its rules.
//! - [`app_password`]: app passwords in the reference format `xxxx-xxxx-xxxx-xxxx`.
//! - [`invite`]: invite codes.
//! - [`throttle`]: login throttling (shared database) and the per-node limits of costly requests.

pub mod account;
pub mod app_password;
mod error;
pub mod invite;
pub mod jwt;
pub mod login;
pub mod password;
mod random;
mod scope;
pub mod service_jwt;
pub mod session;
pub mod throttle;

pub use account::{create_account, CreateAccount};
pub use app_password::{create_app_password, CreatedAppPassword};
pub use error::AuthError;
pub use invite::{create_invite_codes, generate_invite_code};
pub use jwt::JwtKey;
pub use login::{login, Login};
pub(crate) use random::email_code;
pub use scope::AuthScope;
pub use session::{
    AccountChecks, AuthContext, Clock, RefreshContext, Session, SessionConfig, SessionManager,
};
pub use throttle::{LoginLimits, RateLimit, RouteLimits};
