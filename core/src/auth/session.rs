//! Legacy (non-OAuth) sessions: the access and refresh JWTs of `com.atproto.server.createSession`,
//! `refreshSession` and `deleteSession`, compatible with the reference PDS's tokens.
//!
//! - Access token: header `{"alg":"HS256","typ":"at+jwt"}`, claims `{scope, sub, aud, iat, exp}`
//!   with `aud` the service DID and a lifetime of [`ACCESS_TOKEN_TTL`] (2 hours). It is verified
//!   by signature alone, on any node.
//! - Refresh token: header `typ` `refresh+jwt`, claims `{scope: "com.atproto.refresh", sub, aud,
//!   jti, iat, exp}`, lifetime [`REFRESH_TOKEN_TTL`] (90 days). It is also stored (by `jti`) so it
//!   can be used once and revoked.
//!
//! **Rotation.** A refresh token is single-use by default: [`SessionManager::refresh_session`]
//! deletes it and stores its successor in one transaction whose first statement is conditional, so
//! of two concurrent refreshes with the same token exactly one succeeds, on one node or across
//! several. The reference PDS instead keeps a used token valid for a 2-hour grace period, handing
//! out the same successor on each reuse (so a client whose connection dropped mid-refresh is not
//! logged out, and the session still cannot fork); set [`SessionConfig::refresh_grace`] (for
//! instance to [`REFERENCE_REFRESH_GRACE`]) to behave that way.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::jwt::{self, JwtError, JwtKey, TimeClaims};
use super::random::random_token_id;
use super::{AuthError, AuthScope};
use crate::storage::{Account, AccountStore, AppPasswordGrant, RefreshTokenRow};
use crate::syntax::is_valid_did;

/// The `typ` of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `typ` of refresh tokens.
pub const REFRESH_TOKEN_TYP: &str = "refresh+jwt";
/// How long an access token lives.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// How long a refresh token lives.
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// The reference PDS's grace period for a used refresh token.
pub const REFERENCE_REFRESH_GRACE: Duration = Duration::from_secs(2 * 60 * 60);

/// A source of the current time, in seconds since the UNIX epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

/// How sessions are issued.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The service DID: the `aud` of every token (`did:web:` of the hostname, or the configured
    /// service DID).
    pub service_did: String,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// How long a used refresh token stays usable (yielding the same successor). Zero (the
    /// default) makes refresh tokens strictly single-use.
    pub refresh_grace: Duration,
}

impl SessionConfig {
    /// The reference lifetimes (2 hours, 90 days) and single-use refresh tokens.
    pub fn new(service_did: impl Into<String>) -> SessionConfig {
        SessionConfig {
            service_did: service_did.into(),
            access_ttl: ACCESS_TOKEN_TTL,
            refresh_ttl: REFRESH_TOKEN_TTL,
            refresh_grace: Duration::ZERO,
        }
    }
}

/// A new session's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account.
    pub did: String,
    /// The access token's scope.
    pub scope: AuthScope,
    /// The access token.
    pub access_jwt: String,
    /// The refresh token.
    pub refresh_jwt: String,
}

/// Who an access token speaks for, and with which scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// The account.
    pub did: String,
    /// The token's scope (never [`AuthScope::Refresh`]). An OAuth token counts as an app
    /// password's (`AppPassPrivileged` with `transition:chat.bsky`): it never reaches account
    /// management.
    pub scope: AuthScope,
    /// For an OAuth access token, the permissions it was granted (checked per call by the
    /// handlers); `None` for a legacy session.
    pub oauth: Option<std::sync::Arc<crate::oauth::scope::ScopeSet>>,
}

impl AuthContext {
    /// Refuses scopes that do not reach ordinary endpoints (taken-down sessions).
    pub fn require_standard(&self) -> Result<(), AuthError> {
        self.require(self.scope.is_standard())
    }

    /// Refuses scopes that do not reach privileged endpoints (plain app passwords).
    pub fn require_privileged(&self) -> Result<(), AuthError> {
        self.require(self.scope.is_privileged())
    }

    /// Refuses every scope but the account password's (any app password).
    pub fn require_full(&self) -> Result<(), AuthError> {
        self.require(self.scope.is_full())
    }

    fn require(&self, allowed: bool) -> Result<(), AuthError> {
        if allowed {
            Ok(())
        } else {
            Err(AuthError::InvalidToken("Bad token scope"))
        }
    }
}

/// A verified refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshContext {
    /// The account.
    pub did: String,
    /// The token id.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: i64,
}

/// Which account states a request refuses (the reference's `checkTakedown` / `checkDeactivated`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountChecks {
    /// Refuse taken-down accounts with [`AuthError::AccountTakedown`].
    pub takedown: bool,
    /// Refuse deactivated accounts with [`AuthError::AccountDeactivated`].
    pub deactivated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenClaims {
    scope: String,
    sub: String,
    aud: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    iat: i64,
    exp: i64,
}

impl TimeClaims for TokenClaims {
    fn issued_at(&self) -> i64 {
        self.iat
    }
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// Issues, refreshes, revokes and verifies legacy sessions. Cloning shares the store.
#[derive(Clone)]
pub struct SessionManager {
    key: JwtKey,
    config: SessionConfig,
    store: AccountStore,
    clock: Clock,
}

impl SessionManager {
    /// Sessions signed with `key`, stored in `store`, on the system clock.
    pub fn new(key: JwtKey, config: SessionConfig, store: AccountStore) -> SessionManager {
        SessionManager {
            key,
            config,
            store,
            clock: system_clock(),
        }
    }

    /// The same, on another clock (for tests, or a node that corrects its time).
    pub fn with_clock(mut self, clock: Clock) -> SessionManager {
        self.clock = clock;
        self
    }

    /// The current time, in seconds since the UNIX epoch.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The store sessions are kept in.
    pub fn store(&self) -> &AccountStore {
        &self.store
    }

    /// Opens a session for an account that just logged in (or was just created), with the account
    /// password (`app_password` `None`) or an app password. A taken-down account gets the
    /// [`AuthScope::Takendown`] scope and a refresh token that is not stored, so it cannot be
    /// refreshed (the handler decides whether to refuse it outright).
    pub async fn create_session(
        &self,
        account: &Account,
        app_password: Option<&AppPasswordGrant>,
    ) -> Result<Session, AuthError> {
        let now = self.now();
        let taken_down = account.is_taken_down();
        let scope = AuthScope::for_session(app_password, taken_down);
        let jti = random_token_id()?;
        let refresh_expires = now.saturating_add(secs(self.config.refresh_ttl));
        let session = self.mint(&account.did, scope, &jti, now, refresh_expires)?;
        if !taken_down {
            self.store
                .insert_refresh_token(&RefreshTokenRow {
                    jti,
                    did: account.did.clone(),
                    app_password_name: app_password.map(|grant| grant.name.clone()),
                    expires_at: refresh_expires,
                    next_id: None,
                })
                .await?;
        }
        Ok(session)
    }

    /// Uses a refresh token: verifies it, rotates it in storage (see the module notes) and returns
    /// the new session. A used, revoked or unknown token is [`AuthError::RevokedToken`]; a taken-down
    /// account is [`AuthError::AccountTakedown`].
    pub async fn refresh_session(&self, refresh_jwt: &str) -> Result<Session, AuthError> {
        let token = self.verify_refresh(refresh_jwt, false)?;
        let account = self
            .store
            .account_by_did(&token.did)
            .await?
            .ok_or(AuthError::AccountNotFound)?;
        if account.is_taken_down() {
            return Err(AuthError::AccountTakedown);
        }
        let now = self.now();
        let next_expires = now.saturating_add(secs(self.config.refresh_ttl));
        let rotation = self
            .store
            .rotate_refresh_token(
                &token.jti,
                &random_token_id()?,
                next_expires,
                now,
                secs(self.config.refresh_grace),
            )
            .await?
            .ok_or(AuthError::RevokedToken)?;
        if rotation.did != token.did {
            return Err(AuthError::InvalidToken("Token could not be verified"));
        }
        let scope = AuthScope::for_session(rotation.app_password.as_ref(), false);
        self.mint(&token.did, scope, &rotation.next_jti, now, next_expires)
    }

    /// Revokes the session of a refresh token (expired ones too, so a client can always log
    /// out). Returns whether it was still stored.
    pub async fn delete_session(&self, refresh_jwt: &str) -> Result<bool, AuthError> {
        let token = self.verify_refresh(refresh_jwt, true)?;
        Ok(self.store.delete_refresh_token(&token.jti).await?)
    }

    /// Verifies an access token: signature, `typ` `at+jwt`, audience, subject, expiry, and a scope
    /// other than the refresh scope. Needs no database.
    pub fn verify_access(&self, token: &str) -> Result<AuthContext, AuthError> {
        let claims = self.verify(token, ACCESS_TOKEN_TYP, false)?;
        let scope = AuthScope::parse(&claims.scope)
            .filter(|scope| *scope != AuthScope::Refresh)
            .ok_or(AuthError::InvalidToken("Bad token scope"))?;
        Ok(AuthContext {
            did: claims.sub,
            scope,
            oauth: None,
        })
    }

    /// Verifies a refresh token's signature, `typ` `refresh+jwt`, audience, subject, scope, `jti`
    /// and (unless `allow_expired`) expiry. Whether it is still stored is not checked here.
    pub fn verify_refresh(
        &self,
        token: &str,
        allow_expired: bool,
    ) -> Result<RefreshContext, AuthError> {
        let claims = self.verify(token, REFRESH_TOKEN_TYP, allow_expired)?;
        if AuthScope::parse(&claims.scope) != Some(AuthScope::Refresh) {
            return Err(AuthError::InvalidToken("Bad token scope"));
        }
        let jti = claims
            .jti
            .filter(|jti| !jti.is_empty())
            .ok_or(AuthError::InvalidToken(
                "Unexpected missing refresh token id",
            ))?;
        Ok(RefreshContext {
            did: claims.sub,
            jti,
            expires_at: claims.exp,
        })
    }

    /// The account of a verified token, refused if it no longer exists or is in a state `checks`
    /// excludes.
    pub async fn require_account(
        &self,
        did: &str,
        checks: AccountChecks,
    ) -> Result<Account, AuthError> {
        let account = self
            .store
            .account_by_did(did)
            .await?
            .ok_or(AuthError::AccountNotFound)?;
        if checks.takedown && account.is_taken_down() {
            return Err(AuthError::AccountTakedown);
        }
        if checks.deactivated && account.deactivated_at.is_some() {
            return Err(AuthError::AccountDeactivated);
        }
        Ok(account)
    }

    fn verify(
        &self,
        token: &str,
        typ: &str,
        allow_expired: bool,
    ) -> Result<TokenClaims, AuthError> {
        let verified = jwt::decode::<TokenClaims>(&self.key, token, self.now(), allow_expired)
            .map_err(|err| match err {
                JwtError::Expired => AuthError::ExpiredToken,
                _ => AuthError::InvalidToken("Token could not be verified"),
            })?;
        if verified.typ.as_deref() != Some(typ) {
            return Err(AuthError::InvalidToken("Invalid token type"));
        }
        let claims = verified.claims;
        if claims.aud != self.config.service_did || !is_valid_did(&claims.sub) {
            return Err(AuthError::InvalidToken("Malformed token"));
        }
        Ok(claims)
    }

    /// Signs an access token of `scope` and a refresh token with id `jti` expiring at
    /// `refresh_expires`.
    fn mint(
        &self,
        did: &str,
        scope: AuthScope,
        jti: &str,
        now: i64,
        refresh_expires: i64,
    ) -> Result<Session, AuthError> {
        let sign_error = |err: JwtError| AuthError::Internal(format!("signing a session: {err}"));
        let access = TokenClaims {
            scope: scope.as_str().to_owned(),
            sub: did.to_owned(),
            aud: self.config.service_did.clone(),
            jti: None,
            iat: now,
            exp: now.saturating_add(secs(self.config.access_ttl)),
        };
        let refresh = TokenClaims {
            scope: AuthScope::Refresh.as_str().to_owned(),
            jti: Some(jti.to_owned()),
            exp: refresh_expires,
            ..access.clone()
        };
        Ok(Session {
            did: did.to_owned(),
            scope,
            access_jwt: jwt::encode(&self.key, ACCESS_TOKEN_TYP, &access).map_err(sign_error)?,
            refresh_jwt: jwt::encode(&self.key, REFRESH_TOKEN_TYP, &refresh).map_err(sign_error)?,
        })
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
