//! Every list of the atproto interop syntax vectors, run against the validators of the syntax room:
//! each line of a `*_valid.txt` list must pass, each line of an `*_invalid.txt` list must fail. Lines
//! are taken as they are (surrounding spaces are part of several tests); blank lines and `#` comments
//! are skipped.

mod common;

use std::collections::BTreeSet;

use pocketpds_core::syntax::{
    is_valid_at_identifier, is_valid_at_uri, is_valid_cid_string, is_valid_datetime, is_valid_did,
    is_valid_handle, is_valid_language, is_valid_nsid, is_valid_record_key, is_valid_tid,
    is_valid_uri, is_well_formed_language, parse_datetime, AtIdentifier, AtUri, Did, Handle, Nsid,
    RecordKey, Tid,
};

/// Runs `check` on every line of the vector file `syntax/<name>` and fails, listing the offending
/// lines, unless every line gives `expected`. Returns the number of lines checked.
fn run_list(name: &str, expected: bool, check: impl Fn(&str) -> bool) -> usize {
    let Some(lines) = common::vector_lines(&format!("syntax/{name}")) else {
        return 0;
    };
    assert!(!lines.is_empty(), "{name} holds no test lines");
    let wrong: Vec<String> = lines
        .iter()
        .filter(|line| check(line) != expected)
        .map(|line| format!("{:?}", line.chars().take(120).collect::<String>()))
        .collect();
    assert!(
        wrong.is_empty(),
        "{name}: expected {expected} but got {} for:\n{}",
        !expected,
        wrong.join("\n")
    );
    lines.len()
}

fn did_ok(s: &str) -> bool {
    let parsed = Did::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_did(s),
        "Did::parse and is_valid_did disagree on {s:?}"
    );
    parsed.is_ok_and(|d| d.as_str() == s)
}

fn handle_ok(s: &str) -> bool {
    let parsed = Handle::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_handle(s),
        "Handle::parse and is_valid_handle disagree on {s:?}"
    );
    parsed.is_ok_and(|h| h.as_str() == s.to_ascii_lowercase())
}

fn at_identifier_ok(s: &str) -> bool {
    let parsed = AtIdentifier::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_at_identifier(s),
        "parse and is_valid disagree on {s:?}"
    );
    parsed.is_ok()
}

fn nsid_ok(s: &str) -> bool {
    let parsed = Nsid::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_nsid(s),
        "Nsid::parse and is_valid_nsid disagree on {s:?}"
    );
    parsed.is_ok_and(|n| format!("{}.{}", n.authority(), n.name()) == s)
}

fn record_key_ok(s: &str) -> bool {
    let parsed = RecordKey::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_record_key(s),
        "parse and is_valid disagree on {s:?}"
    );
    parsed.is_ok_and(|k| k.as_str() == s)
}

fn tid_ok(s: &str) -> bool {
    let parsed = Tid::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_tid(s),
        "Tid::parse and is_valid_tid disagree on {s:?}"
    );
    parsed.is_ok_and(|t| t.to_string() == s)
}

fn at_uri_ok(s: &str) -> bool {
    let parsed = AtUri::parse(s);
    assert_eq!(
        parsed.is_ok(),
        is_valid_at_uri(s),
        "AtUri::parse and is_valid_at_uri disagree on {s:?}"
    );
    parsed.is_ok_and(|u| u.as_str() == s)
}

fn datetime_ok(s: &str) -> bool {
    assert_eq!(
        parse_datetime(s).is_ok(),
        is_valid_datetime(s),
        "parse and is_valid disagree on {s:?}"
    );
    is_valid_datetime(s)
}

#[test]
fn every_valid_did_is_accepted_and_every_invalid_one_refused() {
    run_list("did_syntax_valid.txt", true, did_ok);
    run_list("did_syntax_invalid.txt", false, did_ok);
}

#[test]
fn every_valid_handle_is_accepted_and_every_invalid_one_refused() {
    run_list("handle_syntax_valid.txt", true, handle_ok);
    run_list("handle_syntax_invalid.txt", false, handle_ok);
}

#[test]
fn every_valid_at_identifier_is_accepted_and_every_invalid_one_refused() {
    run_list("atidentifier_syntax_valid.txt", true, at_identifier_ok);
    run_list("atidentifier_syntax_invalid.txt", false, at_identifier_ok);
}

#[test]
fn every_valid_nsid_is_accepted_and_every_invalid_one_refused() {
    run_list("nsid_syntax_valid.txt", true, nsid_ok);
    run_list("nsid_syntax_invalid.txt", false, nsid_ok);
}

#[test]
fn every_valid_record_key_is_accepted_and_every_invalid_one_refused() {
    run_list("recordkey_syntax_valid.txt", true, record_key_ok);
    run_list("recordkey_syntax_invalid.txt", false, record_key_ok);
}

#[test]
fn every_valid_tid_is_accepted_and_every_invalid_one_refused() {
    run_list("tid_syntax_valid.txt", true, tid_ok);
    run_list("tid_syntax_invalid.txt", false, tid_ok);
}

#[test]
fn every_valid_at_uri_is_accepted_and_every_invalid_one_refused() {
    run_list("aturi_syntax_valid.txt", true, at_uri_ok);
    run_list("aturi_syntax_invalid.txt", false, at_uri_ok);
}

#[test]
fn every_valid_datetime_is_accepted_and_every_invalid_one_refused() {
    run_list("datetime_syntax_valid.txt", true, datetime_ok);
    run_list("datetime_syntax_invalid.txt", false, datetime_ok);
}

#[test]
fn datetimes_of_the_right_shape_that_are_not_real_instants_are_refused() {
    run_list("datetime_parse_invalid.txt", false, datetime_ok);
}

#[test]
fn every_valid_language_tag_is_accepted_and_every_invalid_one_refused() {
    run_list("language_syntax_valid.txt", true, is_valid_language);
    run_list("language_syntax_valid.txt", true, is_well_formed_language);
    run_list("language_syntax_invalid.txt", false, is_valid_language);
    run_list(
        "language_syntax_invalid.txt",
        false,
        is_well_formed_language,
    );
}

#[test]
fn well_formed_language_tags_with_repeated_subtags_are_refused() {
    run_list("language_parse_invalid.txt", true, is_well_formed_language);
    run_list("language_parse_invalid.txt", false, is_valid_language);
}

#[test]
fn every_valid_cid_string_is_accepted_and_every_invalid_one_refused() {
    run_list("cid_syntax_valid.txt", true, is_valid_cid_string);
    run_list("cid_syntax_invalid.txt", false, is_valid_cid_string);
}

#[test]
fn every_valid_uri_is_accepted_and_every_invalid_one_refused() {
    run_list("uri_syntax_valid.txt", true, is_valid_uri);
    run_list("uri_syntax_invalid.txt", false, is_valid_uri);
}

/// The lists this file runs; a new list in the vectors must be added here (and to a test above).
const LISTS_RUN: [&str; 24] = [
    "atidentifier_syntax_invalid.txt",
    "atidentifier_syntax_valid.txt",
    "aturi_syntax_invalid.txt",
    "aturi_syntax_valid.txt",
    "cid_syntax_invalid.txt",
    "cid_syntax_valid.txt",
    "datetime_parse_invalid.txt",
    "datetime_syntax_invalid.txt",
    "datetime_syntax_valid.txt",
    "did_syntax_invalid.txt",
    "did_syntax_valid.txt",
    "handle_syntax_invalid.txt",
    "handle_syntax_valid.txt",
    "language_parse_invalid.txt",
    "language_syntax_invalid.txt",
    "language_syntax_valid.txt",
    "nsid_syntax_invalid.txt",
    "nsid_syntax_valid.txt",
    "recordkey_syntax_invalid.txt",
    "recordkey_syntax_valid.txt",
    "tid_syntax_invalid.txt",
    "tid_syntax_valid.txt",
    "uri_syntax_invalid.txt",
    "uri_syntax_valid.txt",
];

#[test]
fn no_syntax_list_in_the_vectors_is_left_unrun() {
    let Some(dir) = common::interop_dir() else {
        return;
    };
    let present: BTreeSet<String> = std::fs::read_dir(dir.join("syntax"))
        .expect("the syntax vector folder is readable")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".txt"))
        .collect();
    let run: BTreeSet<String> = LISTS_RUN.iter().map(|s| (*s).to_owned()).collect();
    let missing: Vec<&String> = present.difference(&run).collect();
    assert!(
        missing.is_empty(),
        "syntax lists not run by any test: {missing:?}"
    );
    let gone: Vec<&String> = run.difference(&present).collect();
    assert!(
        gone.is_empty(),
        "syntax lists expected but absent: {gone:?}"
    );
}
