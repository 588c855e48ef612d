//! Replica benchmark: embedded replicas of a real libSQL primary (`sqld`, from `SQLD_BIN` or
//! `../shared/tools/sqld`), measured through the repository store (no HTTP). Prints:
//! - commit latency through a replica (p50/p99), with the primary on loopback and with 50 ms of
//!   added round trip (Toxiproxy, `TOXIPROXY_BIN`; skipped with a note when it is missing);
//! - replication lag: a commit on replica A until replica B (syncing every `PDS_SYNC_INTERVAL_MS`
//!   as a node does, 1000 ms unless set) has it, p50/p99;
//! - under contention (three replicas writing into one repository): commits/s and how many commits
//!   had to be rebuilt because another replica moved the head;
//! - throughput of one replica against three, into one repository and into one per replica;
//! - the CPU time an idle replica with its sync loop uses over `BENCH_IDLE_SECONDS` (60).
//!
//! Run with `cargo run --release -p pocketpds-core --example replica_bench`. `BENCH_SECONDS` sets
//! each load phase (default 5). Figures are printed, never asserted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pocketpds_core::crypto::{Algorithm, Keypair};
use pocketpds_core::repo::writer::{Record, WriteOp};
use pocketpds_core::storage::{Announce, EventSignal, Primary, RepoStore, Storage};
use pocketpds_core::syntax::{Did, Nsid, RecordKey, Tid};

const POST: &str = "app.bsky.feed.post";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_http(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = url.trim_start_matches("http://");
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

fn start_sqld(dir: &Path) -> (Guard, String) {
    let bin = std::env::var_os("SQLD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/sqld")
        });
    let port = free_port();
    let child = Command::new(&bin)
        .arg("--db-path")
        .arg(dir.join("primary"))
        .arg("--http-listen-addr")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--no-welcome")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start sqld at {} ({e}); set SQLD_BIN", bin.display()));
    let url = format!("http://127.0.0.1:{port}");
    wait_http(&url);
    std::thread::sleep(Duration::from_millis(300));
    (Guard(child), url)
}

/// Toxiproxy in front of `upstream` with `latency_each_way` on both directions, or `None` when its
/// server is not installed.
async fn start_toxiproxy(upstream: &str, latency_each_way: u64) -> Option<(Guard, String)> {
    let bin = std::env::var_os("TOXIPROXY_BIN")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join("go/bin/server")))?;
    if !bin.is_file() {
        return None;
    }
    let api_port = free_port();
    let child = Command::new(&bin)
        .args(["-host", "127.0.0.1", "-port", &api_port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let guard = Guard(child);
    let api = format!("http://127.0.0.1:{api_port}");
    wait_http(&api);
    let listen = free_port();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{api}/proxies"))
        .body(
            serde_json::json!({
                "name": "primary",
                "listen": format!("127.0.0.1:{listen}"),
                "upstream": upstream.trim_start_matches("http://"),
                "enabled": true
            })
            .to_string(),
        )
        .send()
        .await
        .ok()?;
    assert!(created.status().is_success(), "toxiproxy refused the proxy");
    for stream in ["upstream", "downstream"] {
        client
            .post(format!("{api}/proxies/primary/toxics"))
            .body(
                serde_json::json!({
                    "name": format!("latency_{stream}"),
                    "type": "latency",
                    "stream": stream,
                    "attributes": { "latency": latency_each_way, "jitter": 0 }
                })
                .to_string(),
            )
            .send()
            .await
            .ok()?;
    }
    Some((guard, format!("http://127.0.0.1:{listen}")))
}

struct Replica {
    storage: Storage,
    repos: RepoStore,
}

async fn replica(dir: &Path, name: &str, url: &str) -> Replica {
    let primary = Primary {
        url: url.to_owned(),
        auth_token: String::new(),
    };
    let storage = Storage::open_replica(&dir.join(name), &primary)
        .await
        .expect("open replica");
    let repos = RepoStore::new(storage.connect().await.expect("connect"))
        .with_replication(storage.replication().clone());
    Replica { storage, repos }
}

fn post(i: u64) -> WriteOp {
    WriteOp::Create {
        collection: Nsid::parse(POST).expect("nsid"),
        rkey: RecordKey::parse(&Tid::next().to_string()).expect("rkey"),
        record: Record::from_json(&serde_json::json!({
            "$type": POST,
            "text": format!("post {i}"),
            "createdAt": "2026-01-01T00:00:00.000Z",
        }))
        .expect("record"),
    }
}

fn account(n: usize) -> (Did, Keypair) {
    let did = Did::parse(&format!("did:plc:bench{n:03}xq2vsrgwgnqg5dqg")).expect("did");
    (did, Keypair::generate(Algorithm::K256).expect("key"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Sequential commits through `r`: p50/p99 latency.
async fn commit_latency(r: &Replica, did: &Did, key: &Keypair, n: u64) -> (Duration, Duration) {
    let mut times = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        r.repos
            .write(did, key, &[post(i)], None)
            .await
            .expect("write");
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Writers on every replica for `length`: commits/s and the share of commits rebuilt.
async fn load(
    replicas: &[&Replica],
    accounts: &[(Did, Keypair)],
    writers_per_replica: usize,
    length: Duration,
) -> (f64, f64) {
    let done = Arc::new(AtomicU64::new(0));
    let rebuilt = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + length;
    let mut tasks = Vec::new();
    for (n, r) in replicas.iter().enumerate() {
        let (did, key) = accounts[n % accounts.len()].clone();
        for _ in 0..writers_per_replica {
            let repos = r.repos.clone();
            let (did, key) = (did.clone(), key.clone());
            let (done, rebuilt) = (done.clone(), rebuilt.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < until {
                    i += 1;
                    if let Ok(result) = repos.write(&did, &key, &[post(i)], None).await {
                        done.fetch_add(1, Ordering::Relaxed);
                        if result.attempts > 1 {
                            rebuilt.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let done = done.load(Ordering::Relaxed) as f64;
    let rebuilt = rebuilt.load(Ordering::Relaxed) as f64;
    (
        done / length.as_secs_f64(),
        if done > 0.0 { rebuilt / done } else { 0.0 },
    )
}

/// This process's CPU time (user + system).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

async fn run() {
    let phase = env_secs("BENCH_SECONDS", 5);
    let idle = env_secs("BENCH_IDLE_SECONDS", 60);
    let interval = Duration::from_millis(
        std::env::var("PDS_SYNC_INTERVAL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let (_sqld, url) = start_sqld(dir.path());
    let a = replica(dir.path(), "a.db", &url).await;
    let b = replica(dir.path(), "b.db", &url).await;
    let c = replica(dir.path(), "c.db", &url).await;
    let accounts: Vec<(Did, Keypair)> = (0..3).map(account).collect();
    for (did, key) in &accounts {
        a.repos
            .create_repo(did, key, Announce::CommitOnly)
            .await
            .expect("repo");
    }
    let (did, key) = accounts[0].clone();
    println!("sqld primary on loopback; replicas through the repository store (no HTTP)");

    let (p50, p99) = commit_latency(&a, &did, &key, 200).await;
    println!(
        "commit latency, loopback: p50 {} p99 {} (200 commits)",
        ms(p50),
        ms(p99)
    );
    match start_toxiproxy(&url, 25).await {
        Some((_proxy, slow_url)) => {
            let slow = replica(dir.path(), "slow.db", &slow_url).await;
            let (p50, p99) = commit_latency(&slow, &did, &key, 50).await;
            println!(
                "commit latency, +50 ms round trip (Toxiproxy): p50 {} p99 {} (50 commits; goal p50 <= 60 ms)",
                ms(p50),
                ms(p99)
            );
        }
        None => println!("commit latency, +50 ms round trip: skipped (no TOXIPROXY_BIN)"),
    }

    // Replication lag: B syncs on its own loop, as a node does, from where it stands now (the
    // commits of the phases above are not counted as lag).
    b.storage.replication().sync().await.expect("sync");
    let firehose = EventSignal::default();
    let heartbeat: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync> =
        Arc::new(|| Box::pin(async {}));
    let sync_loop = b.storage.replication().start_loop(
        interval,
        firehose,
        Duration::from_secs(3600),
        heartbeat.clone(),
    );
    let mut lags = Vec::new();
    for i in 0..40 {
        let written = a
            .repos
            .write(&did, &key, &[post(i)], None)
            .await
            .expect("write");
        let started = Instant::now();
        while b.repos.head(did.as_str()).await.expect("head") != Some(written.head) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lags.push(started.elapsed());
        if std::env::var_os("BENCH_VERBOSE").is_some() {
            println!("  lag of write {i}: {}", ms(started.elapsed()));
        }
        // Land the next write at a random point of B's interval (B has just synced: without this
        // pause every write would land right after a sync, the worst case).
        let pause = rand::random::<u64>() % interval.as_millis().max(1) as u64;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    sync_loop.abort();
    lags.sort();
    println!(
        "replication lag A -> B (sync every {} ms): p50 {} p90 {} p99 {} (40 writes; goal p99 <= interval + 100 ms)",
        interval.as_millis(),
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.9)),
        ms(percentile(&lags, 0.99))
    );

    let one = [&a];
    let three = [&a, &b, &c];
    let (rate, _) = load(&one, &accounts[..1], 8, phase).await;
    println!("one replica, one repository, 8 writers: {rate:.0} commits/s");
    let (rate3, rebuilt) = load(&three, &accounts[..1], 8, phase).await;
    println!(
        "three replicas, one repository, 8 writers each: {rate3:.0} commits/s ({:.0}% of one; goal >= 80%), {:.1}% of commits rebuilt after a conflict",
        rate3 / rate * 100.0,
        rebuilt * 100.0
    );
    let (rate3s, rebuilt) = load(&three, &accounts, 8, phase).await;
    println!(
        "three replicas, one repository each, 8 writers each: {rate3s:.0} commits/s ({:.0}% of one), {:.1}% rebuilt",
        rate3s / rate * 100.0,
        rebuilt * 100.0
    );

    // Idle: one replica with its sync loop and nothing else to do.
    let idle_loop = c.storage.replication().start_loop(
        interval,
        EventSignal::default(),
        Duration::from_secs(60),
        heartbeat,
    );
    drop(a);
    drop(b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu_time();
    tokio::time::sleep(idle).await;
    let used = cpu_time().saturating_sub(before);
    idle_loop.abort();
    println!(
        "idle replica (sync every {} ms) over {} s: {} ms of CPU ({:.3}% of a core)",
        interval.as_millis(),
        idle.as_secs(),
        used.as_millis(),
        used.as_secs_f64() / idle.as_secs_f64() * 100.0
    );
}
