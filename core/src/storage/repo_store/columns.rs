//! Reading typed columns from a row without trusting the stored type: libSQL's typed getters panic
//! on a value of another type, these return [`StorageError::Corrupt`] naming the column.

use libsql::{Row, Value};

use super::super::error::StorageError;
use crate::repo::cid::{cid_from_bytes, Cid};

fn value(row: &Row, index: i32) -> Result<Value, StorageError> {
    Ok(row.get_value(index)?)
}

fn wrong(column: &str, found: &Value) -> StorageError {
    let kind = match found {
        Value::Null => "null",
        Value::Integer(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    };
    StorageError::Corrupt(format!("{column} holds {kind}"))
}

/// A blob column.
pub(in crate::storage) fn blob(
    row: &Row,
    index: i32,
    column: &str,
) -> Result<Vec<u8>, StorageError> {
    match value(row, index)? {
        Value::Blob(b) => Ok(b),
        other => Err(wrong(column, &other)),
    }
}

/// A blob column that may be null.
pub(in crate::storage) fn optional_blob(
    row: &Row,
    index: i32,
    column: &str,
) -> Result<Option<Vec<u8>>, StorageError> {
    match value(row, index)? {
        Value::Blob(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        other => Err(wrong(column, &other)),
    }
}

/// A text column.
pub(in crate::storage) fn text(
    row: &Row,
    index: i32,
    column: &str,
) -> Result<String, StorageError> {
    match value(row, index)? {
        Value::Text(t) => Ok(t),
        other => Err(wrong(column, &other)),
    }
}

/// A non-negative integer column that may be null.
pub(in crate::storage) fn optional_u64(
    row: &Row,
    index: i32,
    column: &str,
) -> Result<Option<u64>, StorageError> {
    match value(row, index)? {
        Value::Integer(i) => u64::try_from(i)
            .map(Some)
            .map_err(|_| StorageError::Corrupt(format!("{column} is negative"))),
        Value::Null => Ok(None),
        other => Err(wrong(column, &other)),
    }
}

/// A non-negative integer column.
pub(in crate::storage) fn u64_column(
    row: &Row,
    index: i32,
    column: &str,
) -> Result<u64, StorageError> {
    optional_u64(row, index, column)?
        .ok_or_else(|| StorageError::Corrupt(format!("{column} is null")))
}

/// A CID column.
pub(in crate::storage) fn cid(row: &Row, index: i32, column: &str) -> Result<Cid, StorageError> {
    parse_cid(&blob(row, index, column)?, column)
}

/// CID bytes read from `column`.
fn parse_cid(bytes: &[u8], column: &str) -> Result<Cid, StorageError> {
    cid_from_bytes(bytes).map_err(|e| StorageError::Corrupt(format!("{column}: {e}")))
}
