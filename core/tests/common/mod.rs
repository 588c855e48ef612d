//! Shared helpers of the integration tests: where the official atproto interop vectors are.
#![allow(dead_code)]

pub mod firehose;
pub mod http;
pub mod mail;
pub mod node;
pub mod oauth;
pub mod plc;
pub mod sqld;

use std::path::PathBuf;

/// The folder of the atproto interop test vectors: `ATPROTO_INTEROP_TESTS`, else
/// `../shared/atproto-interop-tests` beside the repository. In CI (`CI` set) a missing folder fails the
/// test; elsewhere it fails too, unless `ATPROTO_INTEROP_OPTIONAL=1` is set, and then it says so loudly.
pub fn interop_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ATPROTO_INTEROP_TESTS") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/atproto-interop-tests")
        }
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "ATPROTO INTEROP VECTORS MISSING: {} is not a folder; set ATPROTO_INTEROP_TESTS",
        dir.display()
    );
    if std::env::var_os("ATPROTO_INTEROP_OPTIONAL").is_some() && std::env::var_os("CI").is_none() {
        eprintln!("!!!!! {msg} (skipped because ATPROTO_INTEROP_OPTIONAL is set)");
        return None;
    }
    panic!("{msg}");
}

/// Reads one vector file (relative to the interop folder) and prints that the test ran it.
pub fn read_vector(rel: &str) -> Option<String> {
    let dir = interop_dir()?;
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("interop vector {} unreadable: {e}", path.display()));
    eprintln!("interop vector: {rel}");
    Some(text)
}

/// The non-empty, non-comment lines of a text vector file.
pub fn vector_lines(rel: &str) -> Option<Vec<String>> {
    let text = read_vector(rel)?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
    )
}
