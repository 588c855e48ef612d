//! The resource server's side: authenticating an XRPC call made with an OAuth access token
//! (`Authorization: DPoP <token>` and a `DPoP` proof). The proof must be for this request (method,
//! the public URL's path), carry a current nonce and the token's hash (`ath`), be signed by the key
//! the token is bound to (`cnf.jkt`), and not be a replay; the token must be signed by the
//! cluster's key for this server, unexpired, and still the current token of a live session (so a
//! revocation on one node reaches every node through the shared database).

use axum::http::HeaderMap;

use super::scope::ScopeSet;
use super::{OAuthError, OAuthServer};

/// Who an OAuth access token speaks for, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAccess {
    /// The account.
    pub did: String,
    /// The client.
    pub client_id: String,
    /// The granted scope.
    pub scope: ScopeSet,
}

impl OAuthServer {
    /// Authenticates a request carrying `Authorization: DPoP <token>`.
    pub async fn authenticate_request(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        token: &str,
    ) -> Result<OAuthAccess, OAuthError> {
        let proof = self
            .check_proof(headers, method, path, Some(token))
            .await?
            .ok_or_else(OAuthError::missing_dpop_proof)?;
        let claims = self.signer.verify(token, self.now())?;
        if claims.cnf.jkt != proof.jkt {
            return Err(OAuthError::InvalidToken("Invalid DPoP key binding".into()));
        }
        let session = self
            .store
            .session_by_token_id(&claims.jti)
            .await?
            .filter(|s| s.did == claims.sub && s.expires_at > self.now())
            .ok_or_else(|| OAuthError::InvalidToken("Token has been revoked".into()))?;
        let scope = ScopeSet::parse(&session.scope)
            .map_err(|_| OAuthError::InvalidToken("Invalid token scope".into()))?;
        if !scope.has_atproto() {
            return Err(OAuthError::InvalidToken(
                "OAuth token does not have \"atproto\" scope".into(),
            ));
        }
        Ok(OAuthAccess {
            did: claims.sub,
            client_id: claims.client_id,
            scope,
        })
    }
}
