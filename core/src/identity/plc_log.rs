//! Verification of a did:plc operation log: the chain of operations a PLC directory serves for a DID
//! (`GET /{did}/log`, or the entries of `/log/audit` that are not nullified), checked with no trust in
//! the directory.
//!
//! The first operation must be a genesis operation (regular or legacy) with no `prev`, signed by one
//! of its own rotation keys, that hashes to the DID. Each later operation must name the CID of the
//! one before it in `prev`, be signed by one of the rotation keys of the one before it, and not be
//! in the legacy format; a tombstone may only come last. The result is the identity state after the
//! last operation, or `None` when the DID is deactivated.
//!
//! Not checked here: the directory's choice between forks (nullification within the 72-hour
//! recovery window), which needs the timestamps and nullified entries of the audit log.

use super::error::IdentityError;
use super::plc::{PlcData, SignedOperation, UnsignedOperation};
use crate::syntax::Did;

/// Verifies `log`, the operations of `did` oldest first, and returns the identity state after the
/// last one (`None` when it is a tombstone). Errors name the position of the offending operation.
pub fn verify_operation_log(
    did: &Did,
    log: &[SignedOperation],
) -> Result<Option<PlcData>, IdentityError> {
    let (genesis, rest) = log.split_first().ok_or(IdentityError::EmptyLog)?;
    if genesis.prev().is_some() {
        return Err(IdentityError::MisorderedOperation { index: 0 });
    }
    let mut state = genesis.data().ok_or(IdentityError::Tombstoned)?;
    genesis.verify(&state.rotation_keys)?;
    let computed = genesis.genesis_did()?;
    if computed != *did {
        return Err(IdentityError::GenesisHashMismatch {
            expected: did.to_string(),
            computed: computed.into_string(),
        });
    }
    let mut prev_cid = genesis.cid()?;
    for (offset, op) in rest.iter().enumerate() {
        let index = offset + 1;
        if matches!(op.operation(), UnsignedOperation::LegacyCreate { .. })
            || op.prev_cid()? != Some(prev_cid)
        {
            return Err(IdentityError::MisorderedOperation { index });
        }
        op.verify(&state.rotation_keys).map_err(|e| match e {
            IdentityError::InvalidSignature { .. } => IdentityError::InvalidSignature { index },
            other => other,
        })?;
        match op.data() {
            Some(next) => state = next,
            None if index == log.len() - 1 => return Ok(None),
            None => return Err(IdentityError::Tombstoned),
        }
        prev_cid = op.cid()?;
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, Keypair};
    use crate::identity::plc_builder::{
        create_genesis, create_update, AtprotoPlcParams, PlcUpdate,
    };
    use crate::syntax::Handle;

    struct Account {
        did: Did,
        log: Vec<SignedOperation>,
        rotation: Keypair,
    }

    fn account() -> Account {
        let rotation = Keypair::generate(Algorithm::K256).unwrap();
        let params = AtprotoPlcParams {
            signing_key: Keypair::generate(Algorithm::P256).unwrap().public_key(),
            handle: Handle::parse("alice.example.com").unwrap(),
            pds_endpoint: "https://pds.example.com".into(),
            rotation_keys: vec![rotation.public_key()],
        };
        let (did, genesis) = create_genesis(&params, &rotation).unwrap();
        let mut log = vec![genesis];
        for name in ["bob.example.com", "carol.example.com"] {
            let update = PlcUpdate {
                handle: Some(Handle::parse(name).unwrap()),
                ..PlcUpdate::default()
            };
            let next = create_update(log.last().unwrap(), &update, &rotation).unwrap();
            log.push(next);
        }
        Account { did, log, rotation }
    }

    #[test]
    fn a_well_formed_log_yields_the_last_state() {
        let a = account();
        let state = verify_operation_log(&a.did, &a.log).unwrap().unwrap();
        assert_eq!(state.handle(), Some("carol.example.com"));
    }

    #[test]
    fn an_empty_log_or_a_log_for_another_did_is_refused() {
        let a = account();
        assert_eq!(
            verify_operation_log(&a.did, &[]),
            Err(IdentityError::EmptyLog)
        );
        let other = account();
        assert!(matches!(
            verify_operation_log(&other.did, &a.log),
            Err(IdentityError::GenesisHashMismatch { .. })
        ));
    }

    #[test]
    fn reordered_dropped_or_forged_operations_are_refused() {
        let a = account();
        let mut swapped = a.log.clone();
        swapped.swap(1, 2);
        assert_eq!(
            verify_operation_log(&a.did, &swapped),
            Err(IdentityError::MisorderedOperation { index: 1 })
        );
        let dropped = [a.log[0].clone(), a.log[2].clone()];
        assert_eq!(
            verify_operation_log(&a.did, &dropped),
            Err(IdentityError::MisorderedOperation { index: 1 })
        );
        assert_eq!(
            verify_operation_log(&a.did, &a.log[1..]),
            Err(IdentityError::MisorderedOperation { index: 0 })
        );

        // An operation with the right prev, signed by a key that is not a rotation key.
        let intruder = Keypair::generate(Algorithm::K256).unwrap();
        let mut data = a.log[2].data().unwrap();
        data.rotation_keys = vec![intruder.did_key()];
        let forged = UnsignedOperation::Operation {
            data,
            prev: Some(a.log[2].cid().unwrap().to_string()),
        }
        .sign(&intruder)
        .unwrap();
        let mut log = a.log.clone();
        log.push(forged);
        assert_eq!(
            verify_operation_log(&a.did, &log),
            Err(IdentityError::InvalidSignature { index: 3 })
        );
    }

    #[test]
    fn a_tombstone_ends_the_log() {
        let a = account();
        let tomb = UnsignedOperation::Tombstone {
            prev: a.log[2].cid().unwrap().to_string(),
        }
        .sign(&a.rotation)
        .unwrap();
        let mut log = a.log.clone();
        log.push(tomb.clone());
        assert_eq!(verify_operation_log(&a.did, &log), Ok(None));

        // Nothing may follow a tombstone.
        let after = UnsignedOperation::Operation {
            data: a.log[2].data().unwrap(),
            prev: Some(tomb.cid().unwrap().to_string()),
        }
        .sign(&a.rotation)
        .unwrap();
        log.push(after);
        assert_eq!(
            verify_operation_log(&a.did, &log),
            Err(IdentityError::Tombstoned)
        );
        // A tombstone cannot be a genesis operation.
        assert_eq!(
            verify_operation_log(
                &a.did,
                &[UnsignedOperation::Tombstone {
                    prev: a.log[0].cid().unwrap().to_string()
                }
                .sign(&a.rotation)
                .unwrap()]
            ),
            Err(IdentityError::MisorderedOperation { index: 0 })
        );
    }

    #[test]
    fn a_legacy_create_is_only_allowed_first() {
        let a = account();
        let legacy = UnsignedOperation::LegacyCreate {
            signing_key: a.rotation.did_key(),
            recovery_key: a.rotation.did_key(),
            handle: "alice.example.com".into(),
            service: "https://pds.example.com".into(),
        }
        .sign(&a.rotation)
        .unwrap();
        let did = legacy.genesis_did().unwrap();
        assert!(verify_operation_log(&did, std::slice::from_ref(&legacy))
            .unwrap()
            .is_some());
        let mut log = a.log.clone();
        log.push(legacy);
        assert_eq!(
            verify_operation_log(&a.did, &log),
            Err(IdentityError::MisorderedOperation { index: 3 })
        );
    }
}
