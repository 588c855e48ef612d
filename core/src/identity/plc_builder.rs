//! Building the PLC operations of an atproto account: the genesis operation that creates its DID,
//! updates of its handle, PDS endpoint, signing key or rotation keys, and the tombstone.
//!
//! Every builder checks what the PLC directory would check, so a refused operation is caught before
//! it is sent: the signer must be one of the rotation keys allowed to sign (those of the new state
//! for a genesis operation, those of the previous operation for the others); there are one to five
//! distinct rotation keys, all k256 or p256 `did:key`s; the handle is a valid handle and the endpoint
//! an http(s) URL of a host; and the operation fits the size limit.

use std::collections::{BTreeMap, HashSet};

use super::error::{excerpt, IdentityError};
use super::plc::{
    PlcData, PlcService, SignedOperation, UnsignedOperation, ATPROTO_PDS_SERVICE,
    ATPROTO_VERIFICATION_METHOD, HANDLE_URI_PREFIX, PDS_SERVICE_TYPE,
};
use crate::crypto::{Keypair, PublicKey};
use crate::syntax::{Did, Handle};

/// The most rotation keys an operation may list.
pub const MAX_ROTATION_KEYS: usize = 5;
/// The most `alsoKnownAs` entries the PLC directory accepts.
const MAX_ALSO_KNOWN_AS: usize = 10;
/// The longest `alsoKnownAs` entry the PLC directory accepts (a 253-byte handle and `at://`).
const MAX_ALSO_KNOWN_AS_LEN: usize = 258;
/// The most services or verification methods the PLC directory accepts.
const MAX_ENTRIES: usize = 10;
/// The longest service or verification-method id the PLC directory accepts.
const MAX_ID_LEN: usize = 32;
/// The longest service endpoint the PLC directory accepts.
const MAX_ENDPOINT_LEN: usize = 512;
/// The longest `did:key` the PLC directory accepts in `verificationMethods`.
const MAX_DID_KEY_LEN: usize = 256;

/// What an atproto account states in its genesis operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtprotoPlcParams {
    /// The repository signing key (`verificationMethods.atproto`).
    pub signing_key: PublicKey,
    /// The handle (`alsoKnownAs: ["at://<handle>"]`).
    pub handle: Handle,
    /// The public URL of the PDS (`services.atproto_pds.endpoint`), such as `https://pds.example.com`.
    pub pds_endpoint: String,
    /// The rotation keys, highest authority first: one to five distinct keys.
    pub rotation_keys: Vec<PublicKey>,
}

/// The changes an update operation makes; `None` keeps the previous value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlcUpdate {
    /// A new handle: replaces the first `at://` entry of `alsoKnownAs` (or is put first).
    pub handle: Option<Handle>,
    /// A new PDS endpoint.
    pub pds_endpoint: Option<String>,
    /// A new repository signing key.
    pub signing_key: Option<PublicKey>,
    /// A new list of rotation keys.
    pub rotation_keys: Option<Vec<PublicKey>>,
}

/// Builds and signs the genesis operation of a new account and returns its DID with it. `signer`
/// must be one of `params.rotation_keys`.
pub fn create_genesis(
    params: &AtprotoPlcParams,
    signer: &Keypair,
) -> Result<(Did, SignedOperation), IdentityError> {
    check_endpoint(&params.pds_endpoint)?;
    let data = PlcData {
        rotation_keys: params
            .rotation_keys
            .iter()
            .map(PublicKey::to_did_key)
            .collect(),
        verification_methods: BTreeMap::from([(
            ATPROTO_VERIFICATION_METHOD.to_owned(),
            params.signing_key.to_did_key(),
        )]),
        also_known_as: vec![handle_uri(&params.handle)],
        services: BTreeMap::from([(
            ATPROTO_PDS_SERVICE.to_owned(),
            pds_service(&params.pds_endpoint),
        )]),
    };
    check_data(&data)?;
    check_signer(&data.rotation_keys, signer)?;
    let op = UnsignedOperation::Operation { data, prev: None }.sign(signer)?;
    let did = op.genesis_did()?;
    Ok((did, op))
}

/// Builds and signs an operation that follows `prev` (the last operation of the DID's log) and
/// applies `update` to its state. `signer` must be one of `prev`'s rotation keys.
pub fn create_update(
    prev: &SignedOperation,
    update: &PlcUpdate,
    signer: &Keypair,
) -> Result<SignedOperation, IdentityError> {
    let before = prev.data().ok_or(IdentityError::Tombstoned)?;
    check_signer(&before.rotation_keys, signer)?;
    let mut data = before;
    if let Some(handle) = &update.handle {
        let uri = handle_uri(handle);
        match data
            .also_known_as
            .iter()
            .position(|aka| aka.starts_with(HANDLE_URI_PREFIX))
        {
            Some(index) => {
                if let Some(slot) = data.also_known_as.get_mut(index) {
                    *slot = uri;
                }
            }
            None => data.also_known_as.insert(0, uri),
        }
    }
    if let Some(endpoint) = &update.pds_endpoint {
        check_endpoint(endpoint)?;
        data.services
            .insert(ATPROTO_PDS_SERVICE.to_owned(), pds_service(endpoint));
    }
    if let Some(key) = &update.signing_key {
        data.verification_methods
            .insert(ATPROTO_VERIFICATION_METHOD.to_owned(), key.to_did_key());
    }
    if let Some(keys) = &update.rotation_keys {
        data.rotation_keys = keys.iter().map(PublicKey::to_did_key).collect();
    }
    check_data(&data)?;
    let prev = prev.cid()?.to_string();
    UnsignedOperation::Operation {
        data,
        prev: Some(prev),
    }
    .sign(signer)
}

/// Builds and signs an operation that follows `prev` and states `data` in full (what
/// `com.atproto.identity.signPlcOperation` signs for an account). `signer` must be one of `prev`'s
/// rotation keys, and `data` must follow the rules of the PLC method.
pub fn create_operation(
    prev: &SignedOperation,
    data: PlcData,
    signer: &Keypair,
) -> Result<SignedOperation, IdentityError> {
    let before = prev.data().ok_or(IdentityError::Tombstoned)?;
    check_signer(&before.rotation_keys, signer)?;
    check_data(&data)?;
    UnsignedOperation::Operation {
        data,
        prev: Some(prev.cid()?.to_string()),
    }
    .sign(signer)
}

/// Builds and signs the tombstone that deactivates the DID whose last operation is `prev`.
/// `signer` must be one of `prev`'s rotation keys.
pub fn create_tombstone(
    prev: &SignedOperation,
    signer: &Keypair,
) -> Result<SignedOperation, IdentityError> {
    let before = prev.data().ok_or(IdentityError::Tombstoned)?;
    check_signer(&before.rotation_keys, signer)?;
    UnsignedOperation::Tombstone {
        prev: prev.cid()?.to_string(),
    }
    .sign(signer)
}

fn handle_uri(handle: &Handle) -> String {
    format!("{HANDLE_URI_PREFIX}{}", handle.as_str())
}

fn pds_service(endpoint: &str) -> PlcService {
    PlcService {
        service_type: PDS_SERVICE_TYPE.to_owned(),
        endpoint: endpoint.to_owned(),
    }
}

fn invalid(reason: impl Into<String>) -> IdentityError {
    IdentityError::InvalidOperation(reason.into())
}

/// Refuses a signer that is not among `allowed` (`did:key` strings).
fn check_signer(allowed: &[String], signer: &Keypair) -> Result<(), IdentityError> {
    let did_key = signer.did_key();
    if allowed.contains(&did_key) {
        Ok(())
    } else {
        Err(IdentityError::NotRotationKey(did_key))
    }
}

/// Checks a PDS endpoint: an absolute http(s) URL of a host, with nothing but an optional port and
/// `/` path — no credentials, path prefix, query or fragment.
fn check_endpoint(endpoint: &str) -> Result<(), IdentityError> {
    let bad = |reason| IdentityError::InvalidUrl {
        url: excerpt(endpoint),
        reason,
    };
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(bad("longer than 512 bytes"));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|_| bad("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("not http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("holds credentials"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("has a path, query or fragment"));
    }
    Ok(())
}

/// Checks a state against the rules of the PLC method and directory.
fn check_data(data: &PlcData) -> Result<(), IdentityError> {
    let keys = &data.rotation_keys;
    if keys.is_empty() || keys.len() > MAX_ROTATION_KEYS {
        return Err(invalid(format!(
            "{} rotation keys; 1 to {MAX_ROTATION_KEYS} are allowed",
            keys.len()
        )));
    }
    if keys.iter().collect::<HashSet<_>>().len() != keys.len() {
        return Err(invalid("duplicate rotation key"));
    }
    for key in keys {
        PublicKey::from_did_key(key)
            .map_err(|e| invalid(format!("rotation key {}: {e}", excerpt(key))))?;
    }
    if data.verification_methods.len() > MAX_ENTRIES {
        return Err(invalid("too many verification methods"));
    }
    for (id, key) in &data.verification_methods {
        if id.len() > MAX_ID_LEN || key.len() > MAX_DID_KEY_LEN {
            return Err(invalid("verification method id or key too long"));
        }
        // Any key type may sign for a service, but it must be a base58btc `did:key`.
        let body = key
            .strip_prefix("did:key:z")
            .filter(|body| !body.is_empty())
            .ok_or_else(|| invalid(format!("verification method {id:?} is not a did:key")))?;
        bs58::decode(body)
            .into_vec()
            .map_err(|_| invalid(format!("verification method {id:?} is not base58btc")))?;
    }
    if data.also_known_as.len() > MAX_ALSO_KNOWN_AS {
        return Err(invalid("too many alsoKnownAs entries"));
    }
    let mut seen = HashSet::new();
    for aka in &data.also_known_as {
        if aka.len() > MAX_ALSO_KNOWN_AS_LEN {
            return Err(invalid("alsoKnownAs entry too long"));
        }
        if !seen.insert(aka) {
            return Err(invalid(format!(
                "duplicate alsoKnownAs entry {}",
                excerpt(aka)
            )));
        }
    }
    if data.services.len() > MAX_ENTRIES {
        return Err(invalid("too many services"));
    }
    for (id, service) in &data.services {
        if id.len() > MAX_ID_LEN
            || service.service_type.len() > 256
            || service.endpoint.len() > MAX_ENDPOINT_LEN
        {
            return Err(invalid("service id, type or endpoint too long"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Algorithm;
    use crate::identity::plc::is_valid_plc_did;
    use crate::identity::verify_operation_log;

    fn key(alg: Algorithm) -> Keypair {
        Keypair::generate(alg).unwrap()
    }

    fn params(rotation: &[&Keypair]) -> AtprotoPlcParams {
        AtprotoPlcParams {
            signing_key: key(Algorithm::K256).public_key(),
            handle: Handle::parse("alice.example.com").unwrap(),
            pds_endpoint: "https://pds.example.com".into(),
            rotation_keys: rotation.iter().map(|k| k.public_key()).collect(),
        }
    }

    #[test]
    fn genesis_operation_has_the_atproto_shape() {
        let rotation = key(Algorithm::K256);
        let params = params(&[&rotation]);
        let (did, op) = create_genesis(&params, &rotation).unwrap();
        assert!(is_valid_plc_did(did.as_str()));
        assert_eq!(op.genesis_did().unwrap(), did);
        let json = op.to_json();
        assert_eq!(json["type"], "plc_operation");
        assert_eq!(json["prev"], serde_json::Value::Null);
        assert_eq!(
            json["rotationKeys"],
            serde_json::json!([rotation.did_key()])
        );
        assert_eq!(
            json["verificationMethods"]["atproto"],
            params.signing_key.to_did_key()
        );
        assert_eq!(
            json["alsoKnownAs"],
            serde_json::json!(["at://alice.example.com"])
        );
        assert_eq!(
            json["services"]["atproto_pds"],
            serde_json::json!({"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.example.com"})
        );
        assert_eq!(
            verify_operation_log(&did, &[op])
                .unwrap()
                .unwrap()
                .rotation_keys
                .len(),
            1
        );
    }

    #[test]
    fn updates_change_only_what_they_name_and_chain_to_the_previous_operation() {
        let (first, second) = (key(Algorithm::K256), key(Algorithm::P256));
        let (did, genesis) = create_genesis(&params(&[&first, &second]), &second).unwrap();
        let update = PlcUpdate {
            handle: Some(Handle::parse("Bob.Example.com").unwrap()),
            ..PlcUpdate::default()
        };
        let op = create_update(&genesis, &update, &first).unwrap();
        assert_eq!(op.prev(), Some(genesis.cid().unwrap().to_string().as_str()));
        let (before, after) = (genesis.data().unwrap(), op.data().unwrap());
        assert_eq!(after.handle(), Some("bob.example.com"));
        assert_eq!(after.rotation_keys, before.rotation_keys);
        assert_eq!(after.services, before.services);
        assert_eq!(after.verification_methods, before.verification_methods);

        let new_signing = key(Algorithm::P256).public_key();
        let third = key(Algorithm::K256);
        let update = PlcUpdate {
            pds_endpoint: Some("https://other.example.net:8443".into()),
            signing_key: Some(new_signing),
            rotation_keys: Some(vec![third.public_key()]),
            ..PlcUpdate::default()
        };
        let op2 = create_update(&op, &update, &second).unwrap();
        let data = op2.data().unwrap();
        assert_eq!(data.pds_endpoint(), Some("https://other.example.net:8443"));
        assert_eq!(
            data.atproto_signing_key(),
            Some(new_signing.to_did_key().as_str())
        );
        assert_eq!(data.rotation_keys, [third.did_key()]);
        assert_eq!(data.handle(), Some("bob.example.com"));

        // Only the new rotation key may sign what follows.
        let err = create_tombstone(&op2, &first).unwrap_err();
        assert_eq!(err, IdentityError::NotRotationKey(first.did_key()));
        let tomb = create_tombstone(&op2, &third).unwrap();
        let log = [genesis, op, op2, tomb.clone()];
        assert_eq!(verify_operation_log(&did, &log).unwrap(), None);
        assert_eq!(
            create_update(&tomb, &PlcUpdate::default(), &third).unwrap_err(),
            IdentityError::Tombstoned
        );
    }

    #[test]
    fn a_new_handle_is_put_first_when_there_was_none() {
        let rotation = key(Algorithm::K256);
        let mut data = create_genesis(&params(&[&rotation]), &rotation)
            .unwrap()
            .1
            .data()
            .unwrap();
        data.also_known_as = vec!["https://alice.example.com/profile".into()];
        let prev = UnsignedOperation::Operation { data, prev: None }
            .sign(&rotation)
            .unwrap();
        let update = PlcUpdate {
            handle: Some(Handle::parse("alice.example.com").unwrap()),
            ..PlcUpdate::default()
        };
        let op = create_update(&prev, &update, &rotation).unwrap();
        assert_eq!(
            op.data().unwrap().also_known_as,
            [
                "at://alice.example.com",
                "https://alice.example.com/profile"
            ]
        );
    }

    #[test]
    fn builders_refuse_what_the_directory_would_refuse() {
        let rotation = key(Algorithm::K256);
        let outsider = key(Algorithm::K256);
        assert_eq!(
            create_genesis(&params(&[&rotation]), &outsider).unwrap_err(),
            IdentityError::NotRotationKey(outsider.did_key())
        );
        assert!(matches!(
            create_genesis(&params(&[]), &rotation).unwrap_err(),
            IdentityError::InvalidOperation(_)
        ));
        let six: Vec<Keypair> = (0..6).map(|_| key(Algorithm::P256)).collect();
        let refs: Vec<&Keypair> = six.iter().collect();
        assert!(matches!(
            create_genesis(&params(&refs), &six[0]).unwrap_err(),
            IdentityError::InvalidOperation(_)
        ));
        assert!(matches!(
            create_genesis(&params(&[&rotation, &rotation]), &rotation).unwrap_err(),
            IdentityError::InvalidOperation(_)
        ));
        for endpoint in [
            "pds.example.com",
            "ftp://pds.example.com",
            "https://user:pw@pds.example.com",
            "https://pds.example.com/xrpc",
            "https://pds.example.com/?q=1",
            "https://pds.example.com/#f",
            "https://",
            "",
        ] {
            let mut p = params(&[&rotation]);
            p.pds_endpoint = endpoint.into();
            assert!(
                matches!(
                    create_genesis(&p, &rotation),
                    Err(IdentityError::InvalidUrl { .. })
                ),
                "{endpoint}"
            );
        }
        let mut p = params(&[&rotation]);
        p.pds_endpoint = "http://localhost:2583/".into();
        assert!(create_genesis(&p, &rotation).is_ok());
    }
}
