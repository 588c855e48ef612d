//! Several processes (here: threads with databases of their own) opening one new database file at
//! the same moment — nodes started together on a fresh data directory — must all end up on the
//! same migrated WAL database, none failing with `database is locked`.

use std::sync::{Arc, Barrier};

use pocketpds_core::storage::{schema_version, Storage, MIGRATIONS};

const OPENERS: usize = 4;
const ROUNDS: usize = 25;

#[test]
fn simultaneous_first_opens_all_succeed() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("pds.sqlite"));
        let barrier = Arc::new(Barrier::new(OPENERS));
        let openers: Vec<_> = (0..OPENERS)
            .map(|_| {
                let path = path.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        barrier.wait();
                        let storage = Storage::open_local(&path).await?;
                        schema_version(storage.connection()).await
                    })
                })
            })
            .collect();
        for opener in openers {
            let version = opener
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: an opener failed: {e}"));
            assert_eq!(version as usize, MIGRATIONS.len());
        }
    }
}
