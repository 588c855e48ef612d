//! [`AuthScope`]: the `scope` claim of legacy session tokens, as the reference PDS names them, and
//! which endpoints each may reach.

use crate::storage::AppPasswordGrant;

/// The scope of a legacy session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthScope {
    /// `com.atproto.access`: a session opened with the account password; reaches everything.
    Access,
    /// `com.atproto.refresh`: a refresh token; reaches only `refreshSession` and `deleteSession`.
    Refresh,
    /// `com.atproto.appPass`: a session opened with an app password; no account management, no
    /// privileged endpoints.
    AppPass,
    /// `com.atproto.appPassPrivileged`: an app password allowed into privileged endpoints (such
    /// as direct messages), still without account management.
    AppPassPrivileged,
    /// `com.atproto.takendown`: a session of a taken-down account, which may only look at its own
    /// status and export its data; its refresh token is never stored.
    Takendown,
}

impl AuthScope {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScope::Access => "com.atproto.access",
            AuthScope::Refresh => "com.atproto.refresh",
            AuthScope::AppPass => "com.atproto.appPass",
            AuthScope::AppPassPrivileged => "com.atproto.appPassPrivileged",
            AuthScope::Takendown => "com.atproto.takendown",
        }
    }

    /// The scope of a claim value, if it is one of ours.
    pub fn parse(value: &str) -> Option<AuthScope> {
        match value {
            "com.atproto.access" => Some(AuthScope::Access),
            "com.atproto.refresh" => Some(AuthScope::Refresh),
            "com.atproto.appPass" => Some(AuthScope::AppPass),
            "com.atproto.appPassPrivileged" => Some(AuthScope::AppPassPrivileged),
            "com.atproto.takendown" => Some(AuthScope::Takendown),
            _ => None,
        }
    }

    /// The access scope of a session opened with the account password (`None`) or an app
    /// password, for an account that is taken down or not.
    pub fn for_session(app_password: Option<&AppPasswordGrant>, taken_down: bool) -> AuthScope {
        match app_password {
            _ if taken_down => AuthScope::Takendown,
            None => AuthScope::Access,
            Some(grant) if grant.privileged => AuthScope::AppPassPrivileged,
            Some(_) => AuthScope::AppPass,
        }
    }

    /// Whether it reaches endpoints that need the account password's session (account
    /// management, app passwords): the reference's `ACCESS_FULL`.
    pub fn is_full(self) -> bool {
        self == AuthScope::Access
    }

    /// Whether it reaches privileged endpoints: the reference's `ACCESS_PRIVILEGED`.
    pub fn is_privileged(self) -> bool {
        matches!(self, AuthScope::Access | AuthScope::AppPassPrivileged)
    }

    /// Whether it reaches ordinary authenticated endpoints: the reference's `ACCESS_STANDARD`.
    pub fn is_standard(self) -> bool {
        matches!(
            self,
            AuthScope::Access | AuthScope::AppPassPrivileged | AuthScope::AppPass
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in [
            AuthScope::Access,
            AuthScope::Refresh,
            AuthScope::AppPass,
            AuthScope::AppPassPrivileged,
            AuthScope::Takendown,
        ] {
            assert_eq!(AuthScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(AuthScope::parse("com.atproto.ACCESS"), None);
    }

    #[test]
    fn app_passwords_get_the_restricted_scopes() {
        let plain = AppPasswordGrant {
            name: "a".into(),
            privileged: false,
        };
        let privileged = AppPasswordGrant {
            name: "b".into(),
            privileged: true,
        };
        assert_eq!(AuthScope::for_session(None, false), AuthScope::Access);
        assert_eq!(
            AuthScope::for_session(Some(&plain), false),
            AuthScope::AppPass
        );
        assert_eq!(
            AuthScope::for_session(Some(&privileged), false),
            AuthScope::AppPassPrivileged
        );
        assert_eq!(AuthScope::for_session(None, true), AuthScope::Takendown);
        assert!(!AuthScope::AppPass.is_privileged());
        assert!(!AuthScope::AppPassPrivileged.is_full());
        assert!(!AuthScope::Refresh.is_standard());
        assert!(!AuthScope::Takendown.is_standard());
    }
}
