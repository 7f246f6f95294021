//! Durable writes: status updates from `concurrency` clients over keep-alive
//! HTTP, each on its own task, for a fixed time (spread over the nodes
//! given, in turn); plus the baseline of one SQLite transaction (one fsync)
//! per write, on the same disk, in the same run.

use crate::server::{Server, cpu_of, cpu_seconds};
use anyhow::{Result, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct WriteResult {
    pub writes: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub server_cpu: f64,
    pub client_cpu: f64,
    pub seconds: f64,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn send(client: &HttpClient, method: &str, uri: String, body: String) -> Result<u16> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let resp = client.request(req).await?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await?;
    Ok(status)
}

pub async fn run(
    servers: &[Server],
    concurrency: usize,
    duration: Duration,
) -> Result<WriteResult> {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency * 2)
        .build_http();
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    for i in 0..concurrency {
        let base = &bases[i % bases.len()];
        ensure!(
            send(
                &client,
                "POST",
                format!("{base}/api/tasks"),
                format!(r#"{{"id":"bench-{i}","title":"bench {i}"}}"#)
            )
            .await?
                == 201
        );
        ensure!(
            send(
                &client,
                "POST",
                format!("{base}/api/sessions"),
                format!(r#"{{"id":"agent-{i}","taskIds":["bench-{i}"]}}"#)
            )
            .await?
                == 201
        );
    }
    let server_cpu0 = cpu_of(servers)?;
    let client_cpu0 = cpu_seconds("/proc/self/stat")?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for i in 0..concurrency {
        let (client, base) = (client.clone(), bases[i % bases.len()].clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let uri = format!("{base}/api/tasks/bench-{i}/sessions/agent-{i}/status");
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = if n.is_multiple_of(2) {
                    r#"{"status":"working"}"#.to_owned()
                } else {
                    format!(r#"{{"status":"blocked","notes":"need input {n}"}}"#)
                };
                let t = Instant::now();
                let status = send(&client, "PUT", uri.clone(), body).await?;
                anyhow::ensure!(status == 200, "status {status}");
                lat.push(t.elapsed().as_micros() as u32);
                n += 1;
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    let server_cpu = cpu_of(servers)? - server_cpu0;
    let client_cpu = cpu_seconds("/proc/self/stat")? - client_cpu0;
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Ok(WriteResult {
        writes: all.len() as u64,
        per_second: all.len() as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: *all.last().unwrap_or(&0) as f64 / 1000.0,
        server_cpu: server_cpu / seconds,
        client_cpu: client_cpu / seconds,
        seconds,
    })
}

/// Writes per second when every write is its own durable transaction
/// (the same pragmas and row shape as the server), for `duration`.
pub fn single_fsync_rate(dir: &Path, duration: Duration) -> Result<f64> {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let conn = rusqlite::Connection::open(dir.join(format!("baseline-{run}.db")))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    )?;
    let body = "x".repeat(300);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        n += 1;
        conn.execute(
            "INSERT INTO events (seq, body) VALUES (?1, ?2)",
            rusqlite::params![n, body],
        )?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
