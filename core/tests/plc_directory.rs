//! End-to-end: our did:plc operations against a real PLC directory (`@did-plc/server` with its
//! in-memory database, started by `e2e/plc-server.mjs`). Needs Node.js and `npm ci --prefix e2e`;
//! without them the test fails and says so.
mod common;

use std::sync::Arc;

use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::identity::{
    create_genesis, create_tombstone, create_update, verify_operation_log, AtprotoPlcParams,
    HttpClient, HttpConfig, IdentityError, PlcClient, PlcUpdate, UnsignedOperation,
};
use pocketpds_core::syntax::{Did, Handle};

use common::plc::PlcServer;

fn client(url: &str) -> PlcClient {
    let http = HttpClient::new(&HttpConfig {
        allow_plain_http: true,
        ..HttpConfig::default()
    })
    .unwrap();
    PlcClient::new(url, Arc::new(http)).unwrap()
}

#[tokio::test]
async fn an_account_identity_lives_its_whole_life_on_a_real_plc_directory() {
    let server = PlcServer::start();
    let plc = client(&server.url);

    // Create: genesis operation, submitted, resolved.
    let rotation = Keypair::generate(Algorithm::K256).unwrap();
    let signing = Keypair::generate(Algorithm::K256).unwrap();
    let params = AtprotoPlcParams {
        signing_key: signing.public_key(),
        handle: Handle::parse("alice.test").unwrap(),
        pds_endpoint: "https://pds.example.com".into(),
        rotation_keys: vec![rotation.public_key()],
    };
    let (did, genesis) = create_genesis(&params, &rotation).unwrap();
    plc.submit(&did, &genesis).await.unwrap();
    let doc = plc.resolve(&did).await.unwrap();
    assert_eq!(doc.id(), &did);
    assert_eq!(doc.signing_key(), Some(signing.public_key()));
    assert_eq!(doc.handle().unwrap().as_str(), "alice.test");
    assert_eq!(doc.pds_endpoint(), Some("https://pds.example.com"));
    assert_eq!(plc.last_op(&did).await.unwrap(), genesis);

    // Update the handle.
    let update = PlcUpdate {
        handle: Some(Handle::parse("bob.test").unwrap()),
        ..PlcUpdate::default()
    };
    let renamed = create_update(&genesis, &update, &rotation).unwrap();
    plc.submit(&did, &renamed).await.unwrap();
    let doc = plc.resolve(&did).await.unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "bob.test");
    assert_eq!(doc.signing_key(), Some(signing.public_key()));

    // A forged update, signed by the account's signing key (not a rotation key), is refused.
    let mut data = renamed.data().unwrap();
    data.also_known_as = vec!["at://mallory.test".into()];
    data.rotation_keys = vec![signing.did_key()];
    let forged = UnsignedOperation::Operation {
        data,
        prev: Some(renamed.cid().unwrap().to_string()),
    }
    .sign(&signing)
    .unwrap();
    let refused = plc.submit(&did, &forged).await.unwrap_err();
    assert!(
        matches!(refused, IdentityError::Rejected { status: 400, .. }),
        "{refused}"
    );
    assert_eq!(
        plc.resolve(&did).await.unwrap().handle().unwrap().as_str(),
        "bob.test"
    );

    // Our verification accepts the directory's log, and refuses it with the forgery appended.
    let log = plc.op_log(&did).await.unwrap();
    assert_eq!(log, [genesis.clone(), renamed.clone()]);
    let state = verify_operation_log(&did, &log).unwrap().unwrap();
    assert_eq!(state, renamed.data().unwrap());
    let mut tampered = log.clone();
    tampered.push(forged);
    assert_eq!(
        verify_operation_log(&did, &tampered),
        Err(IdentityError::InvalidSignature { index: 2 })
    );
    let audit = plc.audit_log(&did).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|entry| !entry.nullified));
    assert_eq!(audit[1].cid, renamed.cid().unwrap());

    // Deactivate: the directory stops serving the document, and the log ends in a tombstone.
    let tombstone = create_tombstone(&renamed, &rotation).unwrap();
    plc.submit(&did, &tombstone).await.unwrap();
    assert_eq!(
        plc.resolve(&did).await.unwrap_err(),
        IdentityError::NotFound(did.to_string())
    );
    let log = plc.op_log(&did).await.unwrap();
    assert_eq!(verify_operation_log(&did, &log), Ok(None));

    // A DID the directory never saw.
    let unknown = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
    assert_eq!(
        plc.resolve(&unknown).await.unwrap_err(),
        IdentityError::NotFound(unknown.to_string())
    );
    drop(server);
}

#[tokio::test]
async fn a_genesis_operation_for_the_wrong_did_is_refused_by_the_directory() {
    let server = PlcServer::start();
    let plc = client(&server.url);
    let rotation = Keypair::generate(Algorithm::P256).unwrap();
    let params = AtprotoPlcParams {
        signing_key: Keypair::generate(Algorithm::P256).unwrap().public_key(),
        handle: Handle::parse("carol.test").unwrap(),
        pds_endpoint: "https://pds.example.com".into(),
        rotation_keys: vec![rotation.public_key()],
    };
    let (did, genesis) = create_genesis(&params, &rotation).unwrap();
    let other = Did::parse("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb").unwrap();
    assert!(matches!(
        plc.submit(&other, &genesis).await,
        Err(IdentityError::Rejected { status: 400, .. })
    ));
    // The right DID is accepted, with a p256 rotation key.
    plc.submit(&did, &genesis).await.unwrap();
    assert_eq!(plc.resolve(&did).await.unwrap().id(), &did);
}
