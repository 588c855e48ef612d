//! The node over HTTP, as clients see it: cold start, resident memory, `createRecord` throughput at
//! several concurrencies, `getRecord` latency, and `sync.getRepo` of a 10,000-record repository.
//! Prints figures; asserts nothing about speed.
//!
//! Run with `cargo bench -p pocketpds --bench http` (needs Node.js and `npm ci --prefix e2e` for the
//! local PLC directory). `BENCH_SECONDS` sets the length of each load phase (default 5).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Error> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let phase = Duration::from_secs(seconds);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let (_plc, plc_url) = start_plc(&root)?;
    let client = client()?;

    println!("PocketPDS HTTP benchmark (each load phase {seconds} s; client on the same machine)");
    let mut starts = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir()?;
        let (node, _, took) = start_node(&client, dir.path(), &plc_url).await?;
        starts.push(took);
        drop(node);
    }
    starts.sort();
    println!(
        "cold start (spawn → first describeServer, new data directory): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(starts[0]),
        ms(starts[starts.len() / 2]),
        ms(starts[starts.len() - 1])
    );

    let dir = tempfile::tempdir()?;
    let (node, url, _) = start_node(&client, dir.path(), &plc_url).await?;
    let pid = node.0.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("resident memory idle: {:.1} MiB", rss_mib(pid)?);

    let (did, token) = create_account(&client, &url).await?;
    let auth = Arc::new(format!("Bearer {token}"));

    for concurrency in [1usize, 8, 32] {
        let (count, took, _) = load(concurrency, phase, {
            let client = client.clone();
            let url = url.clone();
            let did = did.clone();
            let auth = Arc::clone(&auth);
            move |n| {
                let client = client.clone();
                let url = url.clone();
                let did = did.clone();
                let auth = Arc::clone(&auth);
                async move {
                    let body = json!({
                        "repo": did,
                        "collection": "app.bsky.feed.post",
                        "record": {"$type": "app.bsky.feed.post", "text": format!("post {n}"), "createdAt": "2026-11-24T00:00:00.000Z"},
                    });
                    let res = client
                        .post(format!("{url}/xrpc/com.atproto.repo.createRecord"))
                        .header("authorization", auth.as_str())
                        .json(&body)
                        .send()
                        .await?;
                    check(res).await.map(|_| ())
                }
            }
        })
        .await?;
        println!(
            "createRecord c={concurrency}: {count} writes in {:.2} s = {:.0} writes/s",
            took.as_secs_f64(),
            count as f64 / took.as_secs_f64()
        );
    }

    // A record to read, then latency at c=1 and throughput at c=8.
    let res = client
        .post(format!("{url}/xrpc/com.atproto.repo.createRecord"))
        .header("authorization", auth.as_str())
        .json(&json!({"repo": did, "collection": "app.bsky.feed.post", "rkey": "3kaaaaaaaaaa2",
            "record": {"$type": "app.bsky.feed.post", "text": "read me", "createdAt": "2026-11-24T00:00:00.000Z"}}))
        .send()
        .await?;
    check(res).await?;
    let get_url = Arc::new(format!(
        "{url}/xrpc/com.atproto.repo.getRecord?repo={did}&collection=app.bsky.feed.post&rkey=3kaaaaaaaaaa2"
    ));
    for concurrency in [1usize, 8] {
        let (count, took, mut latencies) = load(concurrency, phase, {
            let client = client.clone();
            let get_url = Arc::clone(&get_url);
            move |_| {
                let client = client.clone();
                let get_url = Arc::clone(&get_url);
                async move {
                    let res = client.get(get_url.as_str()).send().await?;
                    check(res).await.map(|_| ())
                }
            }
        })
        .await?;
        latencies.sort();
        println!(
            "getRecord c={concurrency}: {:.0} reads/s, p50 {:.2} ms, p99 {:.2} ms",
            count as f64 / took.as_secs_f64(),
            ms(percentile(&latencies, 50)),
            ms(percentile(&latencies, 99))
        );
    }

    // A second account with exactly 10,000 records, written 200 at a time.
    let (did2, token2) = create_account(&client, &url).await?;
    for batch in 0..50 {
        let writes: Vec<Value> = (0..200)
            .map(|i| {
                json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                    "value": {"$type": "app.bsky.feed.post", "text": format!("record {batch}-{i}"), "createdAt": "2026-11-24T00:00:00.000Z"}})
            })
            .collect();
        let res = client
            .post(format!("{url}/xrpc/com.atproto.repo.applyWrites"))
            .header("authorization", format!("Bearer {token2}"))
            .json(&json!({"repo": did2, "writes": writes}))
            .send()
            .await?;
        check(res).await?;
    }
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let res = client
            .get(format!("{url}/xrpc/com.atproto.sync.getRepo?did={did2}"))
            .send()
            .await?;
        bytes = check(res).await?.len();
        times.push(started.elapsed());
    }
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        let runs: Vec<String> = times.iter().map(|t| format!("{:.1}", ms(*t))).collect();
        println!("sync.getRepo runs in order (ms): {}", runs.join(", "));
    }
    times.sort();
    println!(
        "sync.getRepo of 10,000 records: {} bytes, min {:.1} ms, median {:.1} ms, max {:.1} ms",
        bytes,
        ms(times[0]),
        ms(times[2]),
        ms(times[4])
    );
    println!("resident memory after the load: {:.1} MiB", rss_mib(pid)?);
    Ok(())
}

/// Runs `request(n)` from `concurrency` tasks for `phase`; returns the number of requests, the time
/// taken and each request's latency.
async fn load<F, Fut>(
    concurrency: usize,
    phase: Duration,
    request: F,
) -> Result<(usize, Duration, Vec<Duration>), Error>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send,
{
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker;
            while Instant::now() < deadline {
                let t = Instant::now();
                request(n).await?;
                latencies.push(t.elapsed());
                n += concurrency;
            }
            Ok::<_, Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all.len(), started.elapsed(), all))
}

async fn check(res: reqwest::Response) -> Result<bytes::Bytes, Error> {
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(body)
}

async fn create_account(client: &reqwest::Client, url: &str) -> Result<(String, String), Error> {
    let n: u32 = rand_suffix();
    let res = client
        .post(format!("{url}/xrpc/com.atproto.server.createAccount"))
        .json(&json!({"handle": format!("bench{n}.test"), "email": format!("bench{n}@example.com"), "password": "bench-password"}))
        .send()
        .await?;
    let body: Value = serde_json::from_slice(&check(res).await?)?;
    let did = body["did"].as_str().ok_or("no did")?.to_owned();
    let token = body["accessJwt"].as_str().ok_or("no accessJwt")?.to_owned();
    Ok((did, token))
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos % 1_000_000
}

/// Starts `pocketpds serve` on a free port in `dir`; returns it, its URL and the time from spawn
/// to the first successful `describeServer`.
async fn start_node(
    client: &reqwest::Client,
    dir: &Path,
    plc_url: &str,
) -> Result<(Process, String, Duration), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://localhost:{port}");
    let describe = format!("http://127.0.0.1:{port}/xrpc/com.atproto.server.describeServer");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_pocketpds"))
        .arg("serve")
        .env("PDS_PORT", port.to_string())
        .env("PDS_HOSTNAME", "localhost")
        .env("PDS_DATA_DIRECTORY", dir)
        .env("PDS_DID_PLC_URL", plc_url)
        .env("PDS_SERVICE_HANDLE_DOMAINS", ".test")
        .env("PDS_DEV_MODE", "true")
        .env("PDS_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let node = Process(child);
    loop {
        if let Ok(res) = client.get(&describe).send().await {
            if res.status().is_success() {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the node did not answer within 30 s".into());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    Ok((node, url, started.elapsed()))
}

fn start_plc(root: &Path) -> Result<(Process, String), Error> {
    if !root
        .join("e2e/node_modules/@did-plc/server/package.json")
        .is_file()
    {
        return Err("the PLC directory package is missing: run `npm ci --prefix e2e`".into());
    }
    let mut child = Command::new("node")
        .args(["e2e/plc-server.mjs", "0"])
        .current_dir(root)
        // The directory stops when its standard input closes; the child keeps the pipe open.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("PLC_URL=")
        .ok_or_else(|| format!("unexpected line from the PLC directory: {line:?}"))?
        .to_owned();
    Ok((process, url))
}

fn client() -> Result<reqwest::Client, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()?)
}

fn rss_mib(pid: u32) -> Result<f64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or("no VmRSS")?;
    Ok(kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
