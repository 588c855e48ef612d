//! [`SqlBatch`]: several writes sent to the database as one transactional program.
//!
//! Through an embedded replica every statement of an interactive transaction crosses the network to
//! the primary, and `sqld` aborts a write transaction left open for seconds. A batch travels whole:
//! libSQL runs `BEGIN`, each statement only if the previous one succeeded, then `COMMIT` (or
//! `ROLLBACK`), in one request — one round trip however many statements it holds. On a local file
//! the same batch is one transaction. The statements take no parameters, so values are written as
//! SQL literals ([`SqlBatch::text`], [`SqlBatch::blob`]). A statement that changes nothing does not
//! fail, so a compare-and-swap in a batch is followed by [`SqlBatch::expect_one_change`], which makes
//! the whole batch fail when it did not change exactly one row.

use std::fmt::Write as _;

use libsql::Connection;

use super::error::StorageError;

/// The name of the check that fails a batch whose compare-and-swap changed nothing
/// ([`SqlBatch::expect_one_change`]; the `change_guard` table of migration 10); its error message
/// carries it.
pub const CHANGE_GUARD: &str = "expected_one_change";

/// SQL text of a transactional batch under construction.
#[derive(Debug, Default, Clone)]
pub struct SqlBatch {
    sql: String,
    statements: usize,
}

impl SqlBatch {
    /// An empty batch.
    pub fn new() -> SqlBatch {
        SqlBatch::default()
    }

    /// Appends one statement (without its terminating `;`), whose values are already literals.
    pub fn push(&mut self, statement: &str) {
        self.sql.push_str(statement.trim());
        self.sql.push_str(";\n");
        self.statements += 1;
    }

    /// Makes the batch fail as a whole unless the statement before this one changed exactly one
    /// row (the guard row is never stored: the failing insert is the only one ever attempted).
    pub fn expect_one_change(&mut self) {
        self.push(
            "INSERT INTO change_guard (changed) SELECT changes() WHERE changes() <> 1 \
             OR changes() IS NULL",
        );
    }

    /// How many statements the batch holds.
    pub fn len(&self) -> usize {
        self.statements
    }

    /// Whether the batch holds no statement.
    pub fn is_empty(&self) -> bool {
        self.statements == 0
    }

    /// The size of the batch's SQL text in bytes.
    pub fn bytes(&self) -> usize {
        self.sql.len()
    }

    /// The batch's SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// A text literal: `'…'` with quotes doubled. NUL characters cannot appear in SQL text and
    /// are refused by the callers' syntax checks long before; here they are dropped rather than
    /// cutting the statement short.
    pub fn text(value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        for ch in value.chars() {
            match ch {
                '\'' => out.push_str("''"),
                '\0' => {}
                other => out.push(other),
            }
        }
        out.push('\'');
        out
    }

    /// A text literal, or `NULL`.
    pub fn optional_text(value: Option<&str>) -> String {
        value.map_or_else(|| "NULL".to_owned(), SqlBatch::text)
    }

    /// A blob literal: `X'…'` in hexadecimal.
    pub fn blob(value: &[u8]) -> String {
        let mut out = String::with_capacity(value.len() * 2 + 3);
        out.push_str("X'");
        for byte in value {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02X}");
        }
        out.push('\'');
        out
    }

    /// Runs the batch as one transaction on `conn`: every statement, or none.
    pub async fn run(&self, conn: &Connection) -> Result<(), StorageError> {
        if self.is_empty() {
            return Ok(());
        }
        conn.execute_transactional_batch(&self.sql).await?;
        Ok(())
    }
}

/// Whether `err` is the failure of [`SqlBatch::expect_one_change`]'s guard.
pub fn is_change_guard_failure(err: &libsql::Error) -> bool {
    err.to_string().contains(CHANGE_GUARD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_literals_double_quotes_and_drop_nul() {
        assert_eq!(SqlBatch::text("it's"), "'it''s'");
        assert_eq!(SqlBatch::text("a\0b"), "'ab'");
        assert_eq!(SqlBatch::text(""), "''");
    }

    #[test]
    fn blob_literals_are_hexadecimal() {
        assert_eq!(SqlBatch::blob(&[0x00, 0xab, 0xff]), "X'00ABFF'");
        assert_eq!(SqlBatch::blob(&[]), "X''");
    }

    async fn open() -> (tempfile::TempDir, super::super::Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = super::super::Storage::open_local(&dir.path().join("db"))
            .await
            .unwrap();
        storage
            .connection()
            .execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)", ())
            .await
            .unwrap();
        (dir, storage)
    }

    async fn count(storage: &super::super::Storage) -> i64 {
        let mut rows = storage
            .connection()
            .query("SELECT count(*) FROM t", ())
            .await
            .unwrap();
        rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap()
    }

    #[tokio::test]
    async fn a_batch_stores_every_statement_with_hostile_literals() {
        let (_dir, storage) = open().await;
        let mut batch = SqlBatch::new();
        let key = "x'); DROP TABLE t; --";
        batch.push(&format!(
            "INSERT INTO t (k, v) VALUES ({}, {})",
            SqlBatch::text(key),
            SqlBatch::blob(b"\x00\x01'")
        ));
        batch.push("INSERT INTO t (k, v) VALUES ('second', NULL)");
        batch.run(storage.connection()).await.unwrap();
        assert_eq!(count(&storage).await, 2);
        let mut rows = storage
            .connection()
            .query("SELECT v FROM t WHERE k = ?1", [key])
            .await
            .unwrap();
        let row = rows.next().await.unwrap().unwrap();
        assert_eq!(row.get::<Vec<u8>>(0).unwrap(), b"\x00\x01'".to_vec());
    }

    #[tokio::test]
    async fn a_compare_and_swap_that_changes_nothing_fails_the_whole_batch() {
        let (_dir, storage) = open().await;
        storage
            .connection()
            .execute("INSERT INTO t (k, v) VALUES ('head', X'01')", ())
            .await
            .unwrap();
        let mut batch = SqlBatch::new();
        batch.push("INSERT INTO t (k, v) VALUES ('block', X'02')");
        batch.push("UPDATE t SET v = X'03' WHERE k = 'head' AND v = X'99'");
        batch.expect_one_change();
        let err = batch.run(storage.connection()).await.unwrap_err();
        let StorageError::Database(err) = err else {
            panic!("unexpected error {err}");
        };
        assert!(is_change_guard_failure(&err), "{err}");
        assert_eq!(count(&storage).await, 1, "the batch left rows behind");

        let mut batch = SqlBatch::new();
        batch.push("INSERT INTO t (k, v) VALUES ('block', X'02')");
        batch.push("UPDATE t SET v = X'03' WHERE k = 'head' AND v = X'01'");
        batch.expect_one_change();
        batch.run(storage.connection()).await.unwrap();
        assert_eq!(count(&storage).await, 2);
    }
}
