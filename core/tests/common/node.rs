//! Nodes and accounts for tests: a node on a free port in a temporary folder, and an account with
//! its repository and a session, made through the libraries.

use std::path::Path;

use pocketpds_core::auth::{create_account, CreateAccount};
use pocketpds_core::config::Config;
use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::node::RunningNode;
use pocketpds_core::storage::Announce;
use pocketpds_core::syntax::Did;

/// The password of every account [`seed_account`] makes.
pub const PASSWORD: &str = "correct horse battery staple";

/// The defaults, on port 0, with the database in `dir`.
pub fn local_config(dir: &Path) -> Config {
    let mut c = Config::from_vars(|k| (k == "PDS_PORT").then(|| "0".to_string())).unwrap();
    c.data_directory = dir.to_path_buf();
    c
}

/// Creates an account, its repository and a session; returns its signing key and access token.
pub async fn seed_account(node: &RunningNode, did: &str, handle: &str) -> (Keypair, String) {
    let state = &node.state;
    let key = Keypair::generate(Algorithm::K256).unwrap();
    let account = create_account(
        &state.accounts,
        &CreateAccount {
            did,
            handle,
            email: None,
            password: PASSWORD,
            signing_key: &key,
            invite_code: None,
            invite_required: false,
            deactivated: false,
        },
        state.sessions.now(),
    )
    .await
    .unwrap();
    state
        .repos
        .create_repo(
            &Did::parse(did).unwrap(),
            &key,
            Announce::NewAccount {
                handle: Some(handle),
            },
        )
        .await
        .unwrap();
    let session = state.sessions.create_session(&account, None).await.unwrap();
    (key, session.access_jwt)
}
