//! The FFI layer seen from Rust: a node's status reaches the listener on its event thread, in order;
//! the secret store is called off the caller's thread; a panicking or failing callback, a bad key or
//! misuse become `PdsError`s (never panics across the boundary); dropping a running node stops it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pocketpds_ffi::{
    LogLevel, NodeConfig, NodeListener, NodeStatus, PdsError, PdsNode, SecretStore,
};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn config(dir: &std::path::Path) -> NodeConfig {
    NodeConfig {
        data_directory: dir.display().to_string(),
        port: Some(0),
        ..NodeConfig::default()
    }
}

fn health(local_url: &str) -> std::io::Result<String> {
    let addr = local_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /xrpc/_health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}

/// Records status changes with the name of the thread that delivered them.
struct Recorder(Mutex<Sender<(NodeStatus, String)>>);

impl NodeListener for Recorder {
    fn on_status(&self, status: NodeStatus) -> Result<(), PdsError> {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        let _ = self.0.lock().unwrap().send((status, thread));
        Ok(())
    }
    fn on_log(&self, _: LogLevel, _: String, _: String) -> Result<(), PdsError> {
        Ok(())
    }
}

fn recorder() -> (Arc<Recorder>, Receiver<(NodeStatus, String)>) {
    let (tx, rx) = mpsc::channel();
    (Arc::new(Recorder(Mutex::new(tx))), rx)
}

fn next_status(rx: &Receiver<(NodeStatus, String)>) -> (NodeStatus, String) {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a status event")
}

/// A store in memory that records the threads it is called on; it can be told to panic.
#[derive(Default)]
struct Store {
    secrets: Mutex<HashMap<String, Vec<u8>>>,
    threads: Mutex<Vec<String>>,
    panic: Mutex<bool>,
}

impl SecretStore for Store {
    fn load(&self, name: String) -> Result<Option<Vec<u8>>, PdsError> {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        self.threads.lock().unwrap().push(thread);
        if *self.panic.lock().unwrap() {
            panic!("keystore unavailable");
        }
        Ok(self.secrets.lock().unwrap().get(&name).cloned())
    }
    fn store(&self, name: String, secret: Vec<u8>) -> Result<(), PdsError> {
        self.secrets.lock().unwrap().insert(name, secret);
        Ok(())
    }
}

#[test]
fn status_changes_reach_the_listener_in_order_on_the_event_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::default());
    let node = PdsNode::new(config(dir.path()), Some(store.clone())).unwrap();
    let (listener, rx) = recorder();
    node.set_listener(Some(listener)).unwrap();
    assert_eq!(next_status(&rx).0, NodeStatus::Stopped);

    let info = block_on(node.start()).unwrap();
    assert!(health(&info.local_url).unwrap().starts_with("HTTP/1.1 200"));
    assert_eq!(info.url, format!("http://localhost:{}", info.port));
    assert!(info.did_list.is_empty());
    let (starting, thread) = next_status(&rx);
    assert_eq!(starting, NodeStatus::Starting);
    assert_eq!(thread, "pocketpds-events");
    let (running, _) = next_status(&rx);
    assert_eq!(
        running,
        NodeStatus::Running {
            url: info.url.clone(),
            local_url: info.local_url.clone(),
            port: info.port
        }
    );
    assert_eq!(node.status(), running);
    // The store was asked on a thread of the node's runtime, not the caller's.
    let threads = store.threads.lock().unwrap().clone();
    assert_eq!(threads, vec!["pocketpds".to_owned()]);
    assert_eq!(store.secrets.lock().unwrap().len(), 1);

    let report = block_on(node.sync_now()).unwrap();
    assert_eq!(report.storage_mode, "local");
    assert!(!report.synced);
    assert_eq!(block_on(node.report()).unwrap().accounts, 0);

    block_on(node.stop()).unwrap();
    assert_eq!(next_status(&rx).0, NodeStatus::Stopping);
    assert_eq!(next_status(&rx).0, NodeStatus::Stopped);
    assert!(health(&info.local_url).is_err());
}

#[test]
fn a_panicking_secret_store_is_an_error_and_the_node_can_start_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::default());
    *store.panic.lock().unwrap() = true;
    let node = PdsNode::new(config(dir.path()), Some(store.clone())).unwrap();
    let e = block_on(node.start()).unwrap_err();
    match &e {
        PdsError::SecretStore { reason } => {
            assert!(reason.contains("keystore unavailable"), "{reason}")
        }
        other => panic!("expected a secret store error, got {other:?}"),
    }
    assert!(matches!(node.status(), NodeStatus::Failed { .. }));
    *store.panic.lock().unwrap() = false;
    let info = block_on(node.start()).unwrap();
    assert!(health(&info.local_url).unwrap().starts_with("HTTP/1.1 200"));
    block_on(node.stop()).unwrap();
}

#[test]
fn a_panicking_listener_does_not_disturb_the_node() {
    struct Panics;
    impl NodeListener for Panics {
        fn on_status(&self, _: NodeStatus) -> Result<(), PdsError> {
            panic!("listener bug")
        }
        fn on_log(&self, _: LogLevel, _: String, _: String) -> Result<(), PdsError> {
            Err(PdsError::Callback {
                reason: "no".into(),
            })
        }
    }
    pocketpds_ffi::init_logging(LogLevel::Debug);
    let dir = tempfile::tempdir().unwrap();
    let node = PdsNode::new(config(dir.path()), None).unwrap();
    node.set_listener(Some(Arc::new(Panics))).unwrap();
    let info = block_on(node.start()).unwrap();
    assert!(health(&info.local_url).unwrap().starts_with("HTTP/1.1 200"));
    // A later listener still hears the events: the event thread survived.
    let (listener, rx) = recorder();
    node.set_listener(Some(listener)).unwrap();
    assert!(matches!(next_status(&rx).0, NodeStatus::Running { .. }));
    block_on(node.stop()).unwrap();
    assert_eq!(next_status(&rx).0, NodeStatus::Stopping);
    assert_eq!(next_status(&rx).0, NodeStatus::Stopped);
}

#[test]
fn misuse_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let e = PdsNode::new(
        NodeConfig {
            public_url: Some("ftp://example.com".into()),
            ..config(dir.path())
        },
        None,
    )
    .err()
    .expect("a bad public URL is refused");
    assert!(e.to_string().contains("PDS_PUBLIC_URL"), "{e}");

    let node = PdsNode::new(config(dir.path()), None).unwrap();
    for result in [
        block_on(node.sync_now()).map(|_| ()),
        block_on(node.accounts()).map(|_| ()),
        block_on(node.report()).map(|_| ()),
        block_on(node.create_account("a.test".into(), "p".into(), None, None)).map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(PdsError::NotRunning { .. })),
            "{result:?}"
        );
    }
    block_on(node.stop()).unwrap();
    block_on(node.start()).unwrap();
    assert!(matches!(
        block_on(node.start()),
        Err(PdsError::AlreadyRunning { .. })
    ));
    let refused = block_on(node.create_account(
        "x.example.com".into(),
        "correct horse battery".into(),
        None,
        None,
    ));
    match refused {
        Err(PdsError::Refused { error, .. }) => assert_eq!(error, "InvalidHandle"),
        other => panic!("expected InvalidHandle, got {other:?}"),
    }
    block_on(node.stop()).unwrap();
}

#[test]
fn dropping_a_running_node_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = PdsNode::new(config(dir.path()), None).unwrap();
    let (listener, rx) = recorder();
    node.set_listener(Some(listener)).unwrap();
    let info = block_on(node.start()).unwrap();
    assert!(health(&info.local_url).unwrap().starts_with("HTTP/1.1 200"));
    drop(node);
    assert!(health(&info.local_url).is_err());
    let statuses: Vec<NodeStatus> = rx.iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.last(), Some(&NodeStatus::Stopped), "{statuses:?}");
}
