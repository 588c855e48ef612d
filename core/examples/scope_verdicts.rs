//! The scope parser of the authorization server, exposed for the differential test against the
//! reference library (`e2e/tests/oauth-scopes-differential.test.mjs`). Reads one input a line on
//! stdin and writes one JSON line each on stdout:
//!
//! - a scope value: `{"verdict":"valid","normalized":…}` for a value the server grants (in its
//!   canonical form, [`normalize_value`]), `{"verdict":"ignored"}` for one it does not understand
//!   and drops, `{"verdict":"invalid","error":…}` for a malformed one it refuses;
//! - a JSON object `{"include": "<include: value>", "document": <Lexicon document>}`: the
//!   permission set expanded as PAR expands it ([`expand`]), `{"verdict":"valid",
//!   "permissions":[…]}` (each in canonical form) or `{"verdict":"invalid","error":…}`.
//!
//! Run with `cargo run -p pocketpds-core --example scope_verdicts < values.txt`.

use std::io::{BufRead, Write};

use pocketpds_core::oauth::permission_set::expand;
use pocketpds_core::oauth::scope::{normalize_value, ScopeSet};
use pocketpds_core::oauth::OAuthError;
use serde_json::{json, Value};

fn scope_value(line: &str) -> Value {
    match normalize_value(line) {
        Ok(Some(normalized)) => json!({"verdict": "valid", "normalized": normalized}),
        Ok(None) => json!({"verdict": "ignored"}),
        Err(e) => json!({"verdict": "invalid", "error": e.to_string()}),
    }
}

fn permission_set(line: &str) -> Value {
    let expanded = (|| -> Result<Vec<String>, OAuthError> {
        let input: Value = serde_json::from_str(line)
            .map_err(|e| OAuthError::InvalidRequest(format!("not JSON: {e}")))?;
        let value = input.get("include").and_then(Value::as_str).unwrap_or("");
        let parsed = ScopeSet::parse(value)?;
        let include = parsed
            .includes()
            .first()
            .ok_or_else(|| OAuthError::InvalidScope(format!("{value} is not an include")))?;
        let set = expand(include, input.get("document").unwrap_or(&Value::Null))?;
        set.permissions
            .iter()
            .map(|p| Ok(normalize_value(p)?.unwrap_or_default()))
            .collect()
    })();
    match expanded {
        Ok(permissions) => json!({"verdict": "valid", "permissions": permissions}),
        Err(e) => json!({"verdict": "invalid", "error": e.to_string()}),
    }
}

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        let answer = if line.starts_with('{') {
            permission_set(&line)
        } else {
            scope_value(&line)
        };
        writeln!(out, "{answer}")?;
    }
    out.flush()
}
