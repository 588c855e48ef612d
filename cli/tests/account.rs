//! `pocketpds account create|list` against a real PLC directory: the account is created with a
//! did:plc identity in the data directory's database, listed, and a taken handle is refused with
//! its XRPC reason. The data directory gets its secrets key file, readable by its owner only.

#[path = "../../core/tests/common/plc.rs"]
mod plc;

use std::path::Path;
use std::process::{Command, Output};

fn pocketpds(dir: &Path, plc_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PDS_DATA_DIRECTORY", dir)
        .env("PDS_DID_PLC_URL", plc_url)
        .env("PDS_DEV_MODE", "true")
        .env("PDS_ACCOUNT_PASSWORD", "correct horse battery staple")
        .env("PDS_LOG_LEVEL", "warn")
        .output()
        .expect("run pocketpds")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn accounts_are_created_and_listed_without_a_running_server() {
    let plc = plc::PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let created = pocketpds(
        dir.path(),
        &plc.url,
        &["account", "create", "--handle", "alice.test"],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let line = text(&created.stdout);
    let did = line
        .strip_prefix("created ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected output: {line}"))
        .to_owned();
    assert!(did.starts_with("did:plc:"), "{line}");
    assert!(line.trim_end().ends_with("alice.test"), "{line}");

    let listed = pocketpds(dir.path(), &plc.url, &["account", "list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(text(&listed.stdout), format!("{did}\talice.test\tactive\n"));

    let again = pocketpds(
        dir.path(),
        &plc.url,
        &["account", "create", "--handle", "ALICE.test"],
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("HandleNotAvailable"),
        "{}",
        text(&again.stderr)
    );
    let bad = pocketpds(
        dir.path(),
        &plc.url,
        &["account", "create", "--handle", "bob.example"],
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("InvalidHandle"),
        "{}",
        text(&bad.stderr)
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secrets.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn the_shell_administers_accounts_and_invite_codes() {
    let plc = plc::PlcServer::start();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = pocketpds(dir.path(), &plc.url, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let created = run(&["account", "create", "--handle", "dana.test"]);
    let did = created.split_whitespace().nth(1).unwrap().to_owned();

    let codes = run(&["account", "create-invites", "-n", "2", "--uses", "3"]);
    let codes: Vec<&str> = codes.lines().collect();
    assert_eq!(codes.len(), 2);
    let listed = run(&["account", "invites"]);
    for code in &codes {
        assert!(
            listed.contains(&format!("{code}\t0/3\tenabled\tadmin")),
            "{listed}"
        );
    }
    run(&["account", "disable-invites", codes[0]]);
    assert!(run(&["account", "invites"]).contains(&format!("{}\t0/3\tdisabled", codes[0])));

    run(&["account", "set-email", "dana.test", "dana@example.com"]);
    let info: serde_json::Value = serde_json::from_str(&run(&["account", "info", &did])).unwrap();
    assert_eq!(info["email"], "dana@example.com");
    assert_eq!(info["handle"], "dana.test");

    let reset = pocketpds(dir.path(), &plc.url, &["account", "reset-password", &did]);
    assert!(reset.status.success());
    // PDS_ACCOUNT_PASSWORD is set in this environment: it is the new password.
    assert!(
        text(&reset.stdout).contains("password of"),
        "{}",
        text(&reset.stdout)
    );

    run(&["account", "takedown", &did, "--reference", "case-9"]);
    assert_eq!(
        run(&["account", "list"]),
        format!("{did}\tdana.test\ttakendown\n")
    );
    run(&["account", "takedown", &did, "--reverse"]);
    assert_eq!(
        run(&["account", "list"]),
        format!("{did}\tdana.test\tactive\n")
    );

    let unknown = pocketpds(dir.path(), &plc.url, &["account", "info", "nobody.test"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("Account not found"));

    run(&["account", "delete", &did]);
    assert_eq!(run(&["account", "list"]), "");
}
