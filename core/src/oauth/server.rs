//! [`OAuthServer`]: what a node needs to serve OAuth — its issuer (the configured public URL), the
//! cluster's nonce secret and signing key (from the environment or created once in the shared
//! database), the replay cache, the OAuth rows, the client resolver and the accounts — and the
//! checks shared by its endpoints and the resource server.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;

use super::client::fetch::ClientResolver;
use super::dpop::{self, DpopProof, ProofContext};
use super::nonce::DpopNonces;
use super::replay::ReplayCache;
use super::token::TokenSigner;
use super::OAuthError;
use crate::config::Config;
use crate::crypto::{Algorithm, Keypair};
use crate::storage::replication::Freshness;
use crate::storage::sealing::SealingKey;
use crate::storage::{secrets, AccountStore, OAuthStore, Storage};

/// The name of the cluster secret holding the DPoP nonce secret.
pub const DPOP_SECRET_NAME: &str = "dpop_secret";
/// The name of the cluster secret holding the OAuth signing key.
pub const SIGNING_KEY_NAME: &str = "oauth_signing_key";

/// A node's authorization server and resource-server checks.
pub struct OAuthServer {
    /// The issuer: the public URL, without a trailing slash.
    pub issuer: String,
    /// The cluster's DPoP nonces.
    pub nonces: DpopNonces,
    /// The cluster's access token signer.
    pub signer: TokenSigner,
    /// Where proof and assertion ids are remembered.
    pub replay: ReplayCache,
    /// The OAuth rows.
    pub store: OAuthStore,
    /// Client metadata.
    pub clients: ClientResolver,
    /// Accounts, for logins on the consent page.
    pub accounts: AccountStore,
    /// Development mode: plain-http links on the consent page.
    pub dev_mode: bool,
}

impl OAuthServer {
    /// Opens the authorization server of a node whose configuration is `config` (with its real
    /// port): reads `PDS_DPOP_SECRET` or the cluster's secret, and the cluster's signing key,
    /// creating each once in the database. `accounts` is the node's account store (shared, not a
    /// connection of its own).
    pub async fn open(
        config: &Config,
        storage: &Storage,
        secrets_key: &SealingKey,
        accounts: AccountStore,
    ) -> Result<OAuthServer, OAuthError> {
        let conn = storage.connection();
        let nonces = match &config.dpop_secret {
            Some(hex) => DpopNonces::from_hex(hex),
            None => {
                let fresh = rand::random::<[u8; 32]>().to_vec();
                DpopNonces::new(
                    &secrets::get_or_create(conn, secrets_key, DPOP_SECRET_NAME, || fresh).await?,
                )
            }
        }
        .map_err(|e| OAuthError::Internal(format!("DPoP secret: {e}")))?;
        let fresh = Keypair::generate(Algorithm::P256)
            .map_err(|e| OAuthError::Internal(e.to_string()))?
            .private_bytes()
            .to_vec();
        let key_bytes =
            secrets::get_or_create(conn, secrets_key, SIGNING_KEY_NAME, || fresh).await?;
        let key = Keypair::from_private_bytes(Algorithm::P256, &key_bytes)
            .map_err(|e| OAuthError::Internal(format!("stored OAuth key: {e}")))?;
        let issuer = config.public_url.trim_end_matches('/').to_owned();
        let signer = TokenSigner::new(key, &issuer, &config.service_did())?;
        let store = OAuthStore::new(storage.connect().await?)
            .with_freshness(Freshness::of(storage.replication()));
        // Replay records live at most a few minutes and matter only while a proof's `iat` window
        // is open; their connection skips the fsync of each commit (WAL, `synchronous = NORMAL`:
        // a power cut, not a crash, may lose the last ones). Everything else stays `FULL`.
        let replay_conn = storage.connect_relaxed().await?;
        Ok(OAuthServer {
            replay: ReplayCache::for_public_url(&issuer, config.port, OAuthStore::new(replay_conn)),
            issuer,
            nonces,
            signer,
            store,
            clients: ClientResolver::new()?,
            accounts,
            dev_mode: config.dev_mode,
        })
    }

    /// The current time in milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// The current time in seconds since the epoch.
    pub fn now(&self) -> i64 {
        i64::try_from(self.now_ms() / 1000).unwrap_or(i64::MAX)
    }

    /// The nonce to send in `DPoP-Nonce`.
    pub fn next_nonce(&self) -> String {
        self.nonces.next(self.now_ms())
    }

    /// The URL of one of this server's paths (`/oauth/token`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Checks the DPoP proof of a request to `path` (if it has one) and records its id: `None`
    /// without a `DPoP` header; an error for an empty or repeated header, a bad proof, a missing
    /// nonce, or a replay.
    pub async fn check_proof(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<Option<DpopProof>, OAuthError> {
        let mut values = headers.get_all("dpop").iter();
        let proof = match (values.next(), values.next()) {
            (None, _) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(OAuthError::InvalidDpopProof(
                    "DPoP header must contain a single proof".into(),
                ))
            }
            (Some(v), None) => v.to_str().ok().filter(|v| !v.is_empty()).ok_or_else(|| {
                OAuthError::InvalidDpopProof("DPoP header cannot be empty".into())
            })?,
        };
        let now_ms = self.now_ms();
        let url = self.url(path);
        let checked = dpop::verify_proof(
            proof,
            &ProofContext {
                method,
                url: &url,
                access_token,
                now_ms,
            },
            &self.nonces,
        )?;
        let now = self.now();
        let keep_until = checked.iat.max(now) + dpop::MAX_AGE_SECS + dpop::MAX_FUTURE_SECS;
        let key = format!("dpop|{}|{}", checked.jkt, checked.jti);
        if !self.replay.unique(&key, keep_until, now).await? {
            return Err(OAuthError::InvalidDpopProof("DPoP proof replayed".into()));
        }
        Ok(Some(checked))
    }
}
