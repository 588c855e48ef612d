//! Accounts, logins and legacy sessions on a real libSQL database file: account creation and login,
//! app passwords, single-use refresh rotation (also between two connections racing), revocation,
//! account states, invite codes, and hostile tokens.
mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pocketpds_core::auth::{
    create_account, create_app_password, create_invite_codes, login, AccountChecks, AuthError,
    AuthScope, CreateAccount, JwtKey, LoginLimits, SessionConfig, SessionManager,
};
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::storage::{AccountStatus, AccountStore, SealingKey, Storage};
use tempfile::TempDir;

const SERVICE_DID: &str = "did:web:pds.example.com";
const SECRET: &[u8] = b"a jwt secret of thirty-two bytes";
const START: i64 = 1_700_000_000;
const ALICE: &str = "did:plc:alicealicealicealicealic";
const BOB: &str = "did:plc:bobbobbobbobbobbobbobbobb";
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    _dir: TempDir,
    storage: Storage,
    store: AccountStore,
    sessions: SessionManager,
    time: Arc<AtomicI64>,
}

/// The key sealing the stored signing keys (one for every store of a test's database).
fn secrets_key() -> SealingKey {
    SealingKey::from_bytes(&[7; 32]).unwrap()
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with_config(SessionConfig::new(SERVICE_DID)).await
    }

    async fn with_config(config: SessionConfig) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("pds.sqlite"))
            .await
            .unwrap();
        let store = AccountStore::new(storage.connect().await.unwrap(), secrets_key());
        let time = Arc::new(AtomicI64::new(START));
        let sessions = manager(&time, config, store.clone());
        Fixture {
            _dir: dir,
            storage,
            store,
            sessions,
            time,
        }
    }

    /// Another node: its own connection and store over the same database, the same clock.
    async fn second_node(&self, config: SessionConfig) -> SessionManager {
        let store = AccountStore::new(self.storage.connect().await.unwrap(), secrets_key());
        manager(&self.time, config, store)
    }

    fn advance(&self, duration: Duration) {
        self.time
            .fetch_add(duration.as_secs() as i64, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.time.load(Ordering::SeqCst)
    }

    async fn create(&self, did: &str, handle: &str, email: &str) -> Result<(), AuthError> {
        self.create_with_invite(did, handle, email, None, false)
            .await
    }

    async fn create_with_invite(
        &self,
        did: &str,
        handle: &str,
        email: &str,
        invite_code: Option<&str>,
        invite_required: bool,
    ) -> Result<(), AuthError> {
        let key = Keypair::generate(Algorithm::K256).unwrap();
        create_account(
            &self.store,
            &CreateAccount {
                did,
                handle,
                email: Some(email),
                password: PASSWORD,
                signing_key: &key,
                invite_code,
                invite_required,
                deactivated: false,
            },
            self.now(),
        )
        .await
        .map(|_| ())
    }

    async fn create_alice(&self) {
        self.create(ALICE, "alice.pds.example.com", "alice@example.com")
            .await
            .unwrap();
    }
}

fn manager(time: &Arc<AtomicI64>, config: SessionConfig, store: AccountStore) -> SessionManager {
    let time = Arc::clone(time);
    SessionManager::new(JwtKey::new(SECRET).unwrap(), config, store)
        .with_clock(Arc::new(move || time.load(Ordering::SeqCst)))
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, AuthError>, expected: &str) {
    match result {
        Ok(value) => panic!("expected {expected}, got {value:?}"),
        Err(err) => assert_eq!(err.xrpc_name(), expected, "{err}"),
    }
}

#[tokio::test]
async fn a_new_account_logs_in_by_handle_email_or_did_in_any_case() {
    let f = Fixture::new().await;
    f.create_alice().await;
    for identifier in [
        "alice.pds.example.com",
        "Alice.PDS.example.COM",
        "alice@example.com",
        "ALICE@Example.com",
        ALICE,
    ] {
        let login = login(
            &f.store,
            &LoginLimits::default(),
            None,
            identifier,
            PASSWORD,
        )
        .await
        .unwrap();
        assert_eq!(login.account.did, ALICE, "{identifier}");
        assert_eq!(login.account.handle, "alice.pds.example.com");
        assert_eq!(login.account.email.as_deref(), Some("alice@example.com"));
        assert_eq!(login.account.status(), AccountStatus::Active);
        assert_eq!(login.app_password, None);
    }
    let session = f
        .sessions
        .create_session(
            &login(&f.store, &LoginLimits::default(), None, ALICE, PASSWORD)
                .await
                .unwrap()
                .account,
            None,
        )
        .await
        .unwrap();
    let ctx = f.sessions.verify_access(&session.access_jwt).unwrap();
    assert_eq!((ctx.did.as_str(), ctx.scope), (ALICE, AuthScope::Access));
    ctx.require_full().unwrap();
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_are_refused_alike() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let wrong = login(
        &f.store,
        &LoginLimits::default(),
        None,
        "alice.pds.example.com",
        "not the password",
    )
    .await;
    let unknown = login(
        &f.store,
        &LoginLimits::default(),
        None,
        "nobody.pds.example.com",
        PASSWORD,
    )
    .await;
    let unknown_email = login(
        &f.store,
        &LoginLimits::default(),
        None,
        "nobody@example.com",
        PASSWORD,
    )
    .await;
    for result in [wrong, unknown, unknown_email] {
        let err = result.unwrap_err();
        assert!(matches!(err, AuthError::AuthenticationRequired));
        assert_eq!(err.http_status(), 401);
        assert_eq!(err.to_string(), "Invalid identifier or password");
    }
    assert_refused(
        login(
            &f.store,
            &LoginLimits::default(),
            None,
            "alice.pds.example.com",
            "",
        )
        .await,
        "AuthenticationRequired",
    );
    assert_refused(
        login(
            &f.store,
            &LoginLimits::default(),
            None,
            "alice.pds.example.com",
            &"x".repeat(513),
        )
        .await,
        "AuthenticationRequired",
    );
    assert_refused(
        login(
            &f.store,
            &LoginLimits::default(),
            None,
            &"a".repeat(100_000),
            PASSWORD,
        )
        .await,
        "AuthenticationRequired",
    );
}

#[tokio::test]
async fn taken_handles_and_emails_are_refused_and_leave_nothing_behind() {
    let f = Fixture::new().await;
    f.create_alice().await;
    assert_refused(
        f.create(BOB, "ALICE.pds.example.com", "bob@example.com")
            .await,
        "HandleNotAvailable",
    );
    let email_taken = f
        .create(BOB, "bob.pds.example.com", "Alice@Example.com")
        .await
        .unwrap_err();
    assert!(matches!(email_taken, AuthError::EmailNotAvailable));
    assert_refused(
        f.create(ALICE, "other.pds.example.com", "other@example.com")
            .await,
        "InvalidRequest",
    );
    assert!(f.store.account_by_did(BOB).await.unwrap().is_none());
    assert!(f.store.signing_key(BOB).await.unwrap().is_none());
    // The refused attempts did not disturb Bob's later creation.
    f.create(BOB, "bob.pds.example.com", "bob@example.com")
        .await
        .unwrap();
}

#[tokio::test]
async fn account_creation_applies_the_password_rules() {
    let f = Fixture::new().await;
    let key = Keypair::generate(Algorithm::P256).unwrap();
    for (password, ok) in [
        ("", false),
        (&*"p".repeat(256), true),
        (&*"p".repeat(257), false),
    ] {
        let result = create_account(
            &f.store,
            &CreateAccount {
                did: BOB,
                handle: "bob.pds.example.com",
                email: Some("bob@example.com"),
                password,
                signing_key: &key,
                invite_code: None,
                invite_required: false,
                deactivated: false,
            },
            f.now(),
        )
        .await;
        if ok {
            result.unwrap();
        } else {
            assert_refused(result, "InvalidPassword");
        }
    }
}

#[tokio::test]
async fn the_signing_key_is_stored_with_the_account() {
    let f = Fixture::new().await;
    let key = Keypair::generate(Algorithm::P256).unwrap();
    create_account(
        &f.store,
        &CreateAccount {
            did: BOB,
            handle: "bob.pds.example.com",
            email: None,
            password: PASSWORD,
            signing_key: &key,
            invite_code: None,
            invite_required: false,
            deactivated: false,
        },
        f.now(),
    )
    .await
    .unwrap();
    let stored = f.store.signing_key(BOB).await.unwrap().unwrap();
    assert_eq!(stored.algorithm(), Algorithm::P256);
    assert_eq!(stored.private_bytes(), key.private_bytes());
}

#[tokio::test]
async fn an_app_password_login_gets_the_restricted_scope() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let plain = create_app_password(&f.store, ALICE, "feeds app", false, f.now())
        .await
        .unwrap();
    let privileged = create_app_password(&f.store, ALICE, "chat app", true, f.now() + 1)
        .await
        .unwrap();
    assert_refused(
        create_app_password(&f.store, ALICE, "feeds app", false, f.now()).await,
        "InvalidRequest",
    );

    let by_plain = login(
        &f.store,
        &LoginLimits::default(),
        None,
        "alice@example.com",
        &plain.password,
    )
    .await
    .unwrap();
    assert_eq!(by_plain.app_password.as_ref().unwrap().name, "feeds app");
    let session = f
        .sessions
        .create_session(&by_plain.account, by_plain.app_password.as_ref())
        .await
        .unwrap();
    let ctx = f.sessions.verify_access(&session.access_jwt).unwrap();
    assert_eq!(ctx.scope, AuthScope::AppPass);
    ctx.require_standard().unwrap();
    assert_refused(ctx.require_privileged(), "InvalidToken");
    assert_refused(ctx.require_full(), "InvalidToken");
    // Refreshing keeps the restricted scope.
    let refreshed = f
        .sessions
        .refresh_session(&session.refresh_jwt)
        .await
        .unwrap();
    assert_eq!(refreshed.scope, AuthScope::AppPass);

    let by_privileged = login(
        &f.store,
        &LoginLimits::default(),
        None,
        ALICE,
        &privileged.password,
    )
    .await
    .unwrap();
    let session = f
        .sessions
        .create_session(&by_privileged.account, by_privileged.app_password.as_ref())
        .await
        .unwrap();
    let ctx = f.sessions.verify_access(&session.access_jwt).unwrap();
    assert_eq!(ctx.scope, AuthScope::AppPassPrivileged);
    ctx.require_privileged().unwrap();
    assert_refused(ctx.require_full(), "InvalidToken");

    let listed = f.store.list_app_passwords(ALICE).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["chat app", "feeds app"]);
    assert!(listed[0].privileged && !listed[1].privileged);
}

#[tokio::test]
async fn an_app_password_does_not_open_another_account() {
    let f = Fixture::new().await;
    f.create_alice().await;
    f.create(BOB, "bob.pds.example.com", "bob@example.com")
        .await
        .unwrap();
    let alices = create_app_password(&f.store, ALICE, "app", false, f.now())
        .await
        .unwrap();
    assert_refused(
        login(
            &f.store,
            &LoginLimits::default(),
            None,
            BOB,
            &alices.password,
        )
        .await,
        "AuthenticationRequired",
    );
}

#[tokio::test]
async fn a_refresh_token_works_once() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let first = f.sessions.create_session(&account, None).await.unwrap();
    f.advance(Duration::from_secs(60));

    let second = f
        .sessions
        .refresh_session(&first.refresh_jwt)
        .await
        .unwrap();
    assert_ne!(second.refresh_jwt, first.refresh_jwt);
    assert_eq!(
        f.sessions.verify_access(&second.access_jwt).unwrap().did,
        ALICE
    );

    let reused = f.sessions.refresh_session(&first.refresh_jwt).await;
    assert!(matches!(reused, Err(AuthError::RevokedToken)));
    assert_refused(reused, "ExpiredToken");

    let third = f
        .sessions
        .refresh_session(&second.refresh_jwt)
        .await
        .unwrap();
    assert_eq!(third.scope, AuthScope::Access);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_refreshes_on_two_nodes_exactly_one_wins() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let node_a = f.second_node(SessionConfig::new(SERVICE_DID)).await;
    let node_b = f.second_node(SessionConfig::new(SERVICE_DID)).await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    for round in 0..10 {
        let session = f.sessions.create_session(&account, None).await.unwrap();
        let (a, b) = (node_a.clone(), node_b.clone());
        let (token_a, token_b) = (session.refresh_jwt.clone(), session.refresh_jwt.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { a.refresh_session(&token_a).await }),
            tokio::spawn(async move { b.refresh_session(&token_b).await }),
        );
        let results = [ra.unwrap(), rb.unwrap()];
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(matches!(loser, AuthError::RevokedToken), "{loser}");
    }
}

#[tokio::test]
async fn with_the_reference_grace_period_a_reused_refresh_token_gets_the_same_successor() {
    let mut config = SessionConfig::new(SERVICE_DID);
    config.refresh_grace = Duration::from_secs(2 * 60 * 60);
    let f = Fixture::with_config(config).await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let first = f.sessions.create_session(&account, None).await.unwrap();

    let jti = |token: &str| f.sessions.verify_refresh(token, false).unwrap().jti;
    let a = f
        .sessions
        .refresh_session(&first.refresh_jwt)
        .await
        .unwrap();
    f.advance(Duration::from_secs(60));
    let b = f
        .sessions
        .refresh_session(&first.refresh_jwt)
        .await
        .unwrap();
    assert_eq!(jti(&a.refresh_jwt), jti(&b.refresh_jwt));
    // Past the grace period the used token is dead.
    f.advance(Duration::from_secs(2 * 60 * 60));
    assert_refused(
        f.sessions.refresh_session(&first.refresh_jwt).await,
        "ExpiredToken",
    );
    // Its successor lives on.
    f.sessions.refresh_session(&b.refresh_jwt).await.unwrap();
}

#[tokio::test]
async fn delete_session_revokes_the_refresh_token_even_when_expired() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let session = f.sessions.create_session(&account, None).await.unwrap();
    assert!(f
        .sessions
        .delete_session(&session.refresh_jwt)
        .await
        .unwrap());
    assert_refused(
        f.sessions.refresh_session(&session.refresh_jwt).await,
        "ExpiredToken",
    );
    assert!(!f
        .sessions
        .delete_session(&session.refresh_jwt)
        .await
        .unwrap());

    let stale = f.sessions.create_session(&account, None).await.unwrap();
    f.advance(Duration::from_secs(91 * 24 * 60 * 60));
    assert!(matches!(
        f.sessions.refresh_session(&stale.refresh_jwt).await,
        Err(AuthError::ExpiredToken)
    ));
    assert!(f.sessions.delete_session(&stale.refresh_jwt).await.unwrap());
    // An access token cannot be used to log out.
    assert_refused(
        f.sessions.delete_session(&stale.access_jwt).await,
        "InvalidToken",
    );
}

#[tokio::test]
async fn refresh_tokens_are_refused_for_access_and_access_tokens_for_refresh() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let session = f.sessions.create_session(&account, None).await.unwrap();
    assert_refused(
        f.sessions.verify_access(&session.refresh_jwt),
        "InvalidToken",
    );
    assert_refused(
        f.sessions.refresh_session(&session.access_jwt).await,
        "InvalidToken",
    );
    assert_refused(
        f.sessions.verify_refresh(&session.access_jwt, true),
        "InvalidToken",
    );
}

#[tokio::test]
async fn access_tokens_expire_after_two_hours() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let session = f.sessions.create_session(&account, None).await.unwrap();
    f.advance(Duration::from_secs(2 * 60 * 60 - 60));
    f.sessions.verify_access(&session.access_jwt).unwrap();
    f.advance(Duration::from_secs(120));
    let expired = f.sessions.verify_access(&session.access_jwt).unwrap_err();
    assert!(matches!(expired, AuthError::ExpiredToken));
    assert_eq!(expired.http_status(), 400);
}

#[tokio::test]
async fn tokens_of_another_service_or_key_are_refused() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let other_service = f
        .second_node(SessionConfig::new("did:web:other.example.com"))
        .await;
    let foreign = other_service.create_session(&account, None).await.unwrap();
    assert_refused(
        f.sessions.verify_access(&foreign.access_jwt),
        "InvalidToken",
    );
    assert_refused(
        f.sessions.refresh_session(&foreign.refresh_jwt).await,
        "InvalidToken",
    );

    let other_key = SessionManager::new(
        JwtKey::new(b"another secret, also long enough").unwrap(),
        SessionConfig::new(SERVICE_DID),
        f.store.clone(),
    );
    let forged = other_key.create_session(&account, None).await.unwrap();
    assert_refused(f.sessions.verify_access(&forged.access_jwt), "InvalidToken");
}

#[tokio::test]
async fn hostile_tokens_are_refused() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let session = f.sessions.create_session(&account, None).await.unwrap();
    let parts: Vec<&str> = session.access_jwt.split('.').collect();
    let b64 = |text: &str| URL_SAFE_NO_PAD.encode(text.as_bytes());
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let escalated = payload.replace("com.atproto.access", "com.atproto.appPassPrivileged");
    let other_sub = payload.replace(ALICE, BOB);

    let hostile = [
        // Tampered payload, original signature.
        format!("{}.{}.{}", parts[0], b64(&other_sub), parts[2]),
        format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]),
        // Tampered signature.
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            b64("not the signature of this")
        ),
        // alg none, unsigned and with the old signature.
        format!("{}.{}.", b64(r#"{"alg":"none","typ":"at+jwt"}"#), parts[1]),
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"none","typ":"at+jwt"}"#),
            parts[1],
            parts[2]
        ),
        // Another algorithm, a missing one.
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","typ":"at+jwt"}"#),
            parts[1],
            parts[2]
        ),
        format!("{}.{}.{}", b64(r#"{"typ":"at+jwt"}"#), parts[1], parts[2]),
        // Wrong typ in an otherwise untouched header (the signature no longer matches anyway).
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","typ":"refresh+jwt"}"#),
            parts[1],
            parts[2]
        ),
        // Four segments, two, garbage, padding, whitespace.
        format!("{}.{}", session.access_jwt, parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        "garbage".into(),
        "a.b.c".into(),
        format!("{}=", session.access_jwt),
        format!(" {}", session.access_jwt),
        String::new(),
        // Huge.
        format!("{}.{}.{}", parts[0], "A".repeat(100_000), parts[2]),
    ];
    for token in &hostile {
        let result = f.sessions.verify_access(token);
        assert_refused(result, "InvalidToken");
        let refresh = f.sessions.refresh_session(token).await;
        assert_refused(refresh, "InvalidToken");
    }
    // The genuine one still works.
    f.sessions.verify_access(&session.access_jwt).unwrap();
}

#[tokio::test]
async fn deactivated_accounts_log_in_but_fail_the_deactivation_check() {
    let f = Fixture::new().await;
    f.create_alice().await;
    assert!(f.store.deactivate(ALICE, f.now(), None).await.unwrap());
    let login = login(
        &f.store,
        &LoginLimits::default(),
        None,
        "alice@example.com",
        PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(login.account.status(), AccountStatus::Deactivated);
    let session = f
        .sessions
        .create_session(&login.account, None)
        .await
        .unwrap();
    let ctx = f.sessions.verify_access(&session.access_jwt).unwrap();
    assert_refused(
        f.sessions
            .require_account(
                &ctx.did,
                AccountChecks {
                    takedown: true,
                    deactivated: true,
                },
            )
            .await,
        "AccountDeactivated",
    );
    f.sessions
        .require_account(&ctx.did, AccountChecks::default())
        .await
        .unwrap();

    assert!(f.store.activate(ALICE).await.unwrap());
    let account = f
        .sessions
        .require_account(
            ALICE,
            AccountChecks {
                takedown: true,
                deactivated: true,
            },
        )
        .await
        .unwrap();
    assert!(account.is_active());
}

#[tokio::test]
async fn taken_down_accounts_lose_their_sessions_and_app_passwords() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let app = create_app_password(&f.store, ALICE, "app", true, f.now())
        .await
        .unwrap();
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let before = f.sessions.create_session(&account, None).await.unwrap();

    assert!(f.store.set_takedown(ALICE, Some("ticket-1")).await.unwrap());
    assert_refused(
        f.sessions.refresh_session(&before.refresh_jwt).await,
        "AccountTakedown",
    );
    assert_refused(
        login(
            &f.store,
            &LoginLimits::default(),
            None,
            ALICE,
            &app.password,
        )
        .await,
        "AuthenticationRequired",
    );
    let login = login(&f.store, &LoginLimits::default(), None, ALICE, PASSWORD)
        .await
        .unwrap();
    assert_eq!(login.account.status(), AccountStatus::Takendown);
    let session = f
        .sessions
        .create_session(&login.account, None)
        .await
        .unwrap();
    let ctx = f.sessions.verify_access(&session.access_jwt).unwrap();
    assert_eq!(ctx.scope, AuthScope::Takendown);
    assert_refused(ctx.require_standard(), "InvalidToken");
    // The taken-down session's refresh token was never stored.
    let jti = f
        .sessions
        .verify_refresh(&session.refresh_jwt, false)
        .unwrap()
        .jti;
    assert!(f.store.refresh_token(&jti).await.unwrap().is_none());

    // Lifting the takedown does not bring the old refresh token back.
    assert!(f.store.set_takedown(ALICE, None).await.unwrap());
    assert_refused(
        f.sessions.refresh_session(&before.refresh_jwt).await,
        "ExpiredToken",
    );
    // An account taken down cannot be activated around it.
    f.store.set_takedown(ALICE, Some("ticket-2")).await.unwrap();
    f.store.deactivate(ALICE, f.now(), None).await.unwrap();
    assert!(!f.store.activate(ALICE).await.unwrap());
}

#[tokio::test]
async fn revoking_an_app_password_ends_its_sessions_only() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let app = create_app_password(&f.store, ALICE, "app", false, f.now())
        .await
        .unwrap();
    let by_app = login(
        &f.store,
        &LoginLimits::default(),
        None,
        ALICE,
        &app.password,
    )
    .await
    .unwrap();
    let app_session = f
        .sessions
        .create_session(&by_app.account, by_app.app_password.as_ref())
        .await
        .unwrap();
    let main_session = f
        .sessions
        .create_session(&by_app.account, None)
        .await
        .unwrap();

    assert!(f.store.delete_app_password(ALICE, "app").await.unwrap());
    assert!(!f.store.delete_app_password(ALICE, "app").await.unwrap());
    assert_refused(
        f.sessions.refresh_session(&app_session.refresh_jwt).await,
        "ExpiredToken",
    );
    assert_refused(
        login(
            &f.store,
            &LoginLimits::default(),
            None,
            ALICE,
            &app.password,
        )
        .await,
        "AuthenticationRequired",
    );
    f.sessions
        .refresh_session(&main_session.refresh_jwt)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_new_password_revokes_every_session() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let session = f.sessions.create_session(&account, None).await.unwrap();
    let hash = pocketpds_core::auth::password::hash_password_async("a new password")
        .await
        .unwrap();
    assert!(f.store.set_password_hash(ALICE, &hash).await.unwrap());
    assert_refused(
        f.sessions.refresh_session(&session.refresh_jwt).await,
        "ExpiredToken",
    );
    assert_refused(
        login(&f.store, &LoginLimits::default(), None, ALICE, PASSWORD).await,
        "AuthenticationRequired",
    );
    login(
        &f.store,
        &LoginLimits::default(),
        None,
        ALICE,
        "a new password",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn deleting_an_account_removes_its_credentials() {
    let f = Fixture::new().await;
    f.create_alice().await;
    create_app_password(&f.store, ALICE, "app", false, f.now())
        .await
        .unwrap();
    let account = f.store.account_by_did(ALICE).await.unwrap().unwrap();
    let session = f.sessions.create_session(&account, None).await.unwrap();
    // Opened once (and so kept in memory) before the account goes.
    assert!(f.store.signing_key(ALICE).await.unwrap().is_some());
    assert!(f.store.delete_account(ALICE).await.unwrap());
    assert!(f.store.account_by_did(ALICE).await.unwrap().is_none());
    assert!(f.store.signing_key(ALICE).await.unwrap().is_none());
    assert!(f.store.list_app_passwords(ALICE).await.unwrap().is_empty());
    assert_refused(
        f.sessions.refresh_session(&session.refresh_jwt).await,
        "AccountNotFound",
    );
    // The handle and email are free again.
    f.create(BOB, "alice.pds.example.com", "alice@example.com")
        .await
        .unwrap();
}

#[tokio::test]
async fn invite_codes_are_required_checked_and_single_use() {
    let f = Fixture::new().await;
    assert_refused(
        f.create_with_invite(ALICE, "alice.pds.example.com", "a@example.com", None, true)
            .await,
        "InvalidInviteCode",
    );
    assert_refused(
        f.create_with_invite(
            ALICE,
            "alice.pds.example.com",
            "a@example.com",
            Some("no-such-code"),
            true,
        )
        .await,
        "InvalidInviteCode",
    );
    let codes = create_invite_codes(&f.store, "pds.example.com", 2, 1, "admin", "admin", f.now())
        .await
        .unwrap();
    f.create_with_invite(
        ALICE,
        "alice.pds.example.com",
        "a@example.com",
        Some(&codes[0]),
        true,
    )
    .await
    .unwrap();
    let used = f.store.invite_code(&codes[0]).await.unwrap().unwrap();
    assert_eq!((used.available, used.uses), (1, 1));
    assert_refused(
        f.create_with_invite(
            BOB,
            "bob.pds.example.com",
            "b@example.com",
            Some(&codes[0]),
            true,
        )
        .await,
        "InvalidInviteCode",
    );
    // A refused creation did not consume anything: Bob can use the second code.
    assert!(f
        .store
        .set_invite_code_disabled(&codes[1], true)
        .await
        .unwrap());
    assert_refused(
        f.create_with_invite(
            BOB,
            "bob.pds.example.com",
            "b@example.com",
            Some(&codes[1]),
            true,
        )
        .await,
        "InvalidInviteCode",
    );
    f.store
        .set_invite_code_disabled(&codes[1], false)
        .await
        .unwrap();
    f.create_with_invite(
        BOB,
        "bob.pds.example.com",
        "b@example.com",
        Some(&codes[1]),
        true,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_invite_code_admits_one_of_several_concurrent_signups() {
    let f = Fixture::new().await;
    let code = create_invite_codes(&f.store, "pds.example.com", 1, 1, "admin", "admin", f.now())
        .await
        .unwrap()
        .remove(0);
    let mut tasks = Vec::new();
    for i in 0..4 {
        let store = AccountStore::new(f.storage.connect().await.unwrap(), secrets_key());
        let code = code.clone();
        let now = f.now();
        tasks.push(tokio::spawn(async move {
            let key = Keypair::generate(Algorithm::K256).unwrap();
            let did = format!("did:plc:racer{i}racer{i}racer{i}racer{i}x");
            let handle = format!("racer{i}.pds.example.com");
            let email = format!("racer{i}@example.com");
            create_account(
                &store,
                &CreateAccount {
                    did: &did,
                    handle: &handle,
                    email: Some(&email),
                    password: PASSWORD,
                    signing_key: &key,
                    invite_code: Some(&code),
                    invite_required: true,
                    deactivated: false,
                },
                now,
            )
            .await
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(err) => assert!(matches!(err, AuthError::InvalidInviteCode), "{err}"),
        }
    }
    assert_eq!(admitted, 1);
    assert_eq!(f.store.invite_code(&code).await.unwrap().unwrap().uses, 1);
}

#[tokio::test]
async fn invite_codes_of_a_taken_down_account_are_unavailable() {
    let f = Fixture::new().await;
    f.create_alice().await;
    let code = create_invite_codes(&f.store, "pds.example.com", 1, 5, ALICE, ALICE, f.now())
        .await
        .unwrap()
        .remove(0);
    f.store.set_takedown(ALICE, Some("t")).await.unwrap();
    assert_refused(
        f.create_with_invite(
            BOB,
            "bob.pds.example.com",
            "b@example.com",
            Some(&code),
            false,
        )
        .await,
        "InvalidInviteCode",
    );
}
