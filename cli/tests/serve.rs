//! `pocketpds serve` with nothing configured starts a node in the current folder, prints its URL,
//! answers, and stops cleanly on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn serve_and_stop(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .args(["serve", "--port", "0"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().expect("a line").expect("utf-8");
    // "PocketPDS 0.1.0 serving http://localhost:PORT (listening on http://127.0.0.1:PORT)"
    let addr = banner
        .rsplit("http://")
        .next()
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected banner: {banner}"))
        .to_owned();
    assert!(banner.contains("serving http://localhost:"), "{banner}");
    let health = get(&addr, "/xrpc/_health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(dir.path().join("pocketpds-data/pocketpds.db").exists());
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit {exit:?} after {signal}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
}

#[test]
fn serve_with_no_setup_answers_and_stops_on_sigterm() {
    serve_and_stop("-TERM");
}

#[test]
fn serve_stops_on_sigint() {
    serve_and_stop("-INT");
}

#[test]
fn a_bad_setting_is_reported_with_its_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .args(["serve"])
        .env("PDS_PORT", "eighty")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PDS_PORT"), "{err}");
}

#[test]
fn an_smtp_server_without_a_sender_or_with_a_bad_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (url, from, expected) in [
        ("smtp://127.0.0.1:2525", None, "PDS_EMAIL_FROM_ADDRESS"),
        ("not a url", Some("pds@example.com"), "PDS_EMAIL_SMTP_URL"),
        (
            "smtp://127.0.0.1:2525",
            Some("not an address"),
            "PDS_EMAIL_FROM_ADDRESS",
        ),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pocketpds"));
        command
            .args(["serve", "--port", "0"])
            .env("PDS_DATA_DIRECTORY", dir.path())
            .env("PDS_EMAIL_SMTP_URL", url);
        if let Some(from) = from {
            command.env("PDS_EMAIL_FROM_ADDRESS", from);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success(), "{url} {from:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{err}");
    }
}
