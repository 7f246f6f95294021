//! Many nodes: durable writes and fan-out with one SQLite node, one
//! PostgreSQL node and two PostgreSQL nodes on one database — the same load
//! tools (`writes`, `fanout`), the same run. Each PostgreSQL setup gets a new
//! database on the server `--pg` names. The database server's own CPU is
//! counted apart (its processes are found by name).

use crate::server::{Server, cpu_seconds};
use crate::{fanout, writes};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Row {
    pub label: String,
    pub writes: writes::WriteResult,
    pub fanout: fanout::RateResult,
    /// CPU of the PostgreSQL processes, per second of each run.
    pub pg_cpu: (f64, f64),
}

/// A new empty database on the server at `base`.
async fn fresh_database(base: &str) -> Result<PathBuf> {
    let base = base.to_owned();
    tokio::task::spawn_blocking(move || {
        let name = format!("bench{}", uuid::Uuid::new_v4().simple());
        let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(PathBuf::from(format!("{base}/{name}")))
    })
    .await?
}

/// CPU seconds of every process named `postgres` on this machine.
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|e| cpu_seconds(&e.path().join("stat").to_string_lossy()).ok())
        .sum()
}

async fn start(binary: &Path, db: &Path, n: usize) -> Result<Vec<Server>> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(Server::start(binary, db).await?);
    }
    Ok(nodes)
}

async fn stop(nodes: Vec<Server>) {
    for n in nodes {
        n.stop().await;
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    binary: &Path,
    dir: &Path,
    pg: &str,
    concurrency: usize,
    seconds: u64,
    subscribers: usize,
    rate: u32,
) -> Result<Vec<Row>> {
    let setups: [(&str, Option<usize>); 3] = [
        ("SQLite, 1 node", None),
        ("PostgreSQL, 1 node", Some(1)),
        ("PostgreSQL, 2 nodes", Some(2)),
    ];
    let mut rows = Vec::new();
    for (i, (label, pg_nodes)) in setups.into_iter().enumerate() {
        let db = |what: &str| {
            let what = what.to_owned();
            async move {
                match pg_nodes {
                    Some(_) => fresh_database(pg).await,
                    None => Ok(dir.join(format!("nodes-{i}-{what}.db"))),
                }
            }
        };
        let n = pg_nodes.unwrap_or(1);
        let nodes = start(binary, &db("writes").await?, n).await?;
        let pg0 = postgres_cpu();
        let w = writes::run(&nodes, concurrency, Duration::from_secs(seconds)).await?;
        let pg_w = (postgres_cpu() - pg0) / w.seconds;
        stop(nodes).await;
        let nodes = start(binary, &db("fanout").await?, n).await?;
        let pg0 = postgres_cpu();
        let t0 = std::time::Instant::now();
        let f = fanout::run(&nodes, subscribers, &[rate], 5)
            .await?
            .remove(0);
        let pg_f = (postgres_cpu() - pg0) / t0.elapsed().as_secs_f64();
        stop(nodes).await;
        eprintln!(
            "{label}: {:.0} writes/s (p99 {:.2} ms); fan-out {:.0} deliveries/s (p99 {:.1} ms)",
            w.per_second, w.p99_ms, f.deliveries_per_s, f.p99_ms
        );
        rows.push(Row {
            label: label.to_owned(),
            writes: w,
            fanout: f,
            pg_cpu: if pg_nodes.is_some() {
                (pg_w, pg_f)
            } else {
                (0.0, 0.0)
            },
        });
    }
    Ok(rows)
}
