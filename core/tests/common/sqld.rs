//! A real libSQL server (`sqld`) as the primary of replica tests: started on a free loopback port
//! with its own data folder, killed (SIGKILL) and restarted on the same folder and port.
//!
//! The binary is `SQLD_BIN`, else `../shared/tools/sqld` beside the repository. Where it is missing
//! a test prints one loud SKIP line naming `SQLD_BIN` and returns; with `CI` set it fails instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `sqld` binary, or `None` (after the SKIP line) where it is missing outside CI.
pub fn sqld_bin(test: &str) -> Option<PathBuf> {
    let bin = std::env::var_os("SQLD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/sqld")
        });
    if bin.is_file() {
        return Some(bin);
    }
    let msg = format!(
        "SKIP {test}: no sqld at {}; set SQLD_BIN to a libsql-server `sqld` binary",
        bin.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg} (CI must run it)");
    }
    eprintln!("!!!!! {msg}");
    None
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `sqld`.
pub struct Sqld {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Sqld {
    /// Starts `sqld` with its database under `dir`, waiting until it answers `/health`.
    pub fn start(bin: &Path, dir: &Path) -> Sqld {
        Sqld::start_with(bin, dir, &[])
    }

    /// [`Sqld::start`] with extra arguments (for example `--auth-jwt-key-file`).
    pub fn start_with(bin: &Path, dir: &Path, extra: &[&str]) -> Sqld {
        let mut sqld = Sqld {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            port: free_port(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        sqld.spawn();
        sqld
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("sqld folder");
        let child = Command::new(&self.bin)
            .arg("--db-path")
            .arg(self.dir.join("primary"))
            .arg("--http-listen-addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--no-welcome")
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sqld");
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = stream.write_all(
                    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                );
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sqld did not become healthy on port {}", self.port);
    }

    /// The URL replicas use.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it with SIGKILL (no clean shutdown) and waits for it to end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same folder and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Kills it and deletes its database: the next start serves a new, empty one.
    pub fn replace_database(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(self.dir.join("primary"));
        self.spawn();
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        self.kill();
    }
}
