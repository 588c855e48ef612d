//! An account's preferences (`app.bsky.actor.getPreferences` / `putPreferences`): JSON objects kept
//! in order, one row each, so every node of a cluster serves the same list. A put replaces the
//! preferences the caller may write in one transaction; the others (a personal-details preference
//! an app password may not touch) stay. The table (`account_pref`) is created by migration 10.

use libsql::{Connection, TransactionBehavior};

use super::StorageError;

/// One stored preference: its `$type` and its JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preference {
    /// The `$type` of the object.
    pub pref_type: String,
    /// The whole object, as JSON text.
    pub value_json: String,
}

/// The preferences of `did`, in the order they were put.
pub async fn list(conn: &Connection, did: &str) -> Result<Vec<Preference>, StorageError> {
    let mut rows = conn
        .query(
            "SELECT pref_type, value_json FROM account_pref WHERE did = ?1 ORDER BY position",
            [did],
        )
        .await?;
    let mut prefs = Vec::new();
    while let Some(row) = rows.next().await? {
        prefs.push(Preference {
            pref_type: row.get(0)?,
            value_json: row.get(1)?,
        });
    }
    Ok(prefs)
}

/// Replaces the preferences of `did` that `writable` accepts (by `$type`) with `prefs`, in one
/// transaction; the others are kept, after the new ones.
pub async fn replace(
    conn: &Connection,
    did: &str,
    prefs: &[Preference],
    writable: impl Fn(&str) -> bool,
) -> Result<(), StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .await?;
    let result = async {
        let kept: Vec<Preference> = list(&tx, did)
            .await?
            .into_iter()
            .filter(|p| !writable(&p.pref_type))
            .collect();
        tx.execute("DELETE FROM account_pref WHERE did = ?1", [did])
            .await?;
        for (position, pref) in prefs.iter().chain(kept.iter()).enumerate() {
            tx.execute(
                "INSERT INTO account_pref (did, position, pref_type, value_json)
                 VALUES (?1, ?2, ?3, ?4)",
                (
                    did,
                    position as i64,
                    pref.pref_type.as_str(),
                    pref.value_json.as_str(),
                ),
            )
            .await?;
        }
        Ok::<_, StorageError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(tx.commit().await?),
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                log::warn!("rolling back a preferences transaction failed: {rollback}");
            }
            Err(e)
        }
    }
}
