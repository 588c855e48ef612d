//! [`SecretStore`]: the platform keeps the key that seals the node's secrets (Android Keystore, iOS
//! Keychain), and the node asks it for that key when it starts. On the first start the store has
//! none: the node makes a random 32-byte key and hands it over to be kept.

use std::sync::Arc;

use pocketpds_core::storage::sealing::KEY_LEN;
use pocketpds_core::storage::SealingKey;

use crate::error::PdsError;
use crate::guard;

/// The name under which the node keeps its secrets key in the store.
pub const SECRETS_KEY_NAME: &str = "pocketpds.secrets-key.v1";

/// A place outside the database where the platform keeps secrets. Implemented by the app (Kotlin,
/// Swift); called on a worker thread of the node, never on the caller's thread.
#[uniffi::export(foreign)]
pub trait SecretStore: Send + Sync {
    /// The secret kept under `name`, or `None` when there is none yet.
    fn load(&self, name: String) -> Result<Option<Vec<u8>>, PdsError>;
    /// Keeps `secret` under `name`, replacing any previous one.
    fn store(&self, name: String, secret: Vec<u8>) -> Result<(), PdsError>;
}

/// The node's secrets key from `store`, created and stored there on first use. Runs the store's
/// (blocking) calls on the current thread.
pub(crate) fn secrets_key(store: &Arc<dyn SecretStore>) -> Result<SealingKey, PdsError> {
    let failed = |e: PdsError| match e {
        PdsError::SecretStore { .. } => e,
        other => PdsError::SecretStore {
            reason: other.to_string(),
        },
    };
    let loaded = guard::catch("SecretStore.load", || {
        store.load(SECRETS_KEY_NAME.to_owned())
    })
    .map_err(failed)?;
    match loaded {
        Some(bytes) => SealingKey::from_bytes(&bytes).map_err(|_| PdsError::SecretStore {
            reason: format!(
                "the key stored under {SECRETS_KEY_NAME} has {} bytes, expected {KEY_LEN}",
                bytes.len()
            ),
        }),
        None => {
            let key = SealingKey::generate();
            guard::catch("SecretStore.store", || {
                store.store(SECRETS_KEY_NAME.to_owned(), key.as_bytes().to_vec())
            })
            .map_err(failed)?;
            log::info!("created the node's secrets key in the platform's secret store");
            Ok(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, Vec<u8>>>);

    impl SecretStore for Memory {
        fn load(&self, name: String) -> Result<Option<Vec<u8>>, PdsError> {
            Ok(self.0.lock().unwrap().get(&name).cloned())
        }
        fn store(&self, name: String, secret: Vec<u8>) -> Result<(), PdsError> {
            self.0.lock().unwrap().insert(name, secret);
            Ok(())
        }
    }

    struct Broken;

    impl SecretStore for Broken {
        fn load(&self, _: String) -> Result<Option<Vec<u8>>, PdsError> {
            panic!("keystore exploded")
        }
        fn store(&self, _: String, _: Vec<u8>) -> Result<(), PdsError> {
            Ok(())
        }
    }

    #[test]
    fn the_key_is_created_once_then_loaded() {
        let store: Arc<dyn SecretStore> = Arc::new(Memory::default());
        let first = secrets_key(&store).unwrap();
        let second = secrets_key(&store).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn a_short_key_or_a_failing_store_is_a_secret_store_error() {
        let memory = Memory::default();
        memory
            .0
            .lock()
            .unwrap()
            .insert(SECRETS_KEY_NAME.into(), vec![1, 2, 3]);
        let store: Arc<dyn SecretStore> = Arc::new(memory);
        let e = secrets_key(&store).unwrap_err();
        assert!(matches!(e, PdsError::SecretStore { .. }), "{e:?}");
        assert!(e.to_string().contains("3 bytes"), "{e}");
        let broken: Arc<dyn SecretStore> = Arc::new(Broken);
        let e = secrets_key(&broken).unwrap_err();
        assert!(e.to_string().contains("keystore exploded"), "{e}");
    }
}
