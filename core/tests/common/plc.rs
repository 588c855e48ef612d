//! A real PLC directory for tests: `@did-plc/server` with its in-memory database, started by
//! `e2e/plc-server.mjs` on loopback. Needs Node.js and `npm ci --prefix e2e`; without them the test
//! fails and says so.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SETUP: &str = "install Node.js and run `npm ci --prefix e2e` at the root of the repository";

/// The PLC directory child process; killed when dropped, so a failing test does not leave it behind.
pub struct PlcServer {
    child: Child,
    /// The directory's URL.
    pub url: String,
}

impl PlcServer {
    /// Starts a directory on a free loopback port.
    pub fn start() -> PlcServer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let package = root.join("e2e/node_modules/@did-plc/server/package.json");
        assert!(
            package.is_file(),
            "the e2e packages are missing ({} not found): {SETUP}",
            package.display()
        );
        let mut child = Command::new("node")
            .arg("e2e/plc-server.mjs")
            .arg("0")
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` ({e}): {SETUP}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        // Own the child before anything can panic.
        let mut server = PlcServer {
            child,
            url: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the PLC directory did not start: {SETUP}"));
        server.url = line
            .trim()
            .strip_prefix("PLC_URL=")
            .unwrap_or_else(|| panic!("unexpected first line from plc-server.mjs: {line:?}"))
            .to_owned();
        server
    }
}

impl Drop for PlcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
