//! tasksync-bench: measures the real server on this machine and prints a
//! Markdown report. Benchmarks report numbers and ratios against a baseline
//! measured in the same run; they assert nothing.

mod fanout;
mod memory;
mod nodes;
mod resume;
mod server;
mod writes;

use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Benchmarks for the tasksync server")]
struct Args {
    /// Which benchmarks: writes, memory, fanout, resume, or all (those
    /// four); or nodes (with `--pg`).
    #[arg(default_value = "all")]
    which: String,
    /// The tasksync binary (default: next to this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Concurrent writers.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of write load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Idle WebSocket connections for the memory benchmark.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// WebSocket subscribers for the fan-out benchmark.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Write rates (per second) for the fan-out benchmark, rising.
    #[arg(long, value_delimiter = ',', default_value = "100,500,1000,2000")]
    rates: Vec<u32>,
    /// A PostgreSQL server (`postgres://user@host:port`) for the `nodes`
    /// benchmark: one SQLite node beside one and two PostgreSQL nodes.
    #[arg(long)]
    pg: Option<String>,
    /// The write rate of the `nodes` fan-out runs.
    #[arg(long, default_value_t = 1000)]
    nodes_rate: u32,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let binary = args.server.clone().unwrap_or_else(server::default_binary);
    let dir = tempfile::tempdir_in(".")?;
    let mut report =
        String::from("| benchmark | result | target | notes |\n| --- | --- | --- | --- |\n");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);

    if args.which == "all" || args.which == "writes" {
        let baseline_before = writes::single_fsync_rate(dir.path(), Duration::from_secs(3))?;
        let srv = server::Server::start(&binary, &dir.path().join("writes.db")).await?;
        let srv = [srv];
        let w = writes::run(&srv, args.concurrency, Duration::from_secs(args.seconds)).await?;
        let [srv] = srv;
        srv.stop().await;
        let baseline_after = writes::single_fsync_rate(dir.path(), Duration::from_secs(3))?;
        let baseline = (baseline_before + baseline_after) / 2.0;
        eprintln!(
            "writes: {} in {:.1}s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; single-fsync {:.0}/s and {:.0}/s",
            w.writes,
            w.seconds,
            w.per_second,
            w.p50_ms,
            w.p99_ms,
            w.max_ms,
            baseline_before,
            baseline_after
        );
        report.push_str(&format!(
            "| durable writes, concurrency {} ({} s) | {:.0} writes/s, p50 {:.2} ms, p99 {:.2} ms | ≥ 20,000/s, p99 ≤ 10 ms | {:.1}× the single-fsync rate ({:.0}/s, same disk, same run); server CPU {:.0}%, load generator CPU {:.0}% of one core ({} cores) |\n",
            args.concurrency, args.seconds, w.per_second, w.p50_ms, w.p99_ms, w.per_second / baseline, baseline, w.server_cpu * 100.0, w.client_cpu * 100.0, cores
        ));
    }
    if args.which == "all" || args.which == "memory" {
        let srv = server::Server::start(&binary, &dir.path().join("memory.db")).await?;
        let m = memory::run(&srv, args.connections).await?;
        srv.stop().await;
        eprintln!(
            "memory: {} idle WebSockets: RSS {} KiB -> {} KiB = {:.0} bytes each",
            m.connections, m.rss_before_kib, m.rss_after_kib, m.bytes_per_connection
        );
        report.push_str(&format!(
            "| RSS per idle WebSocket ({} connections) | {:.1} KB | ≤ 8 KB | server RSS {:.1} MiB → {:.1} MiB |\n",
            m.connections,
            m.bytes_per_connection / 1000.0,
            m.rss_before_kib as f64 / 1024.0,
            m.rss_after_kib as f64 / 1024.0
        ));
    }
    if args.which == "all" || args.which == "fanout" {
        let srv = server::Server::start(&binary, &dir.path().join("fanout.db")).await?;
        let srv = [srv];
        let results = fanout::run(&srv, args.subscribers, &args.rates, 5).await?;
        let [srv] = srv;
        srv.stop().await;
        for r in results {
            eprintln!(
                "fanout {}/s: {} writes, {:.0} deliveries/s, p50 {:.1} ms, p99 {:.1} ms, {:.1}% complete",
                r.rate,
                r.writes,
                r.deliveries_per_s,
                r.p50_ms,
                r.p99_ms,
                r.complete * 100.0
            );
            report.push_str(&format!(
                "| fan-out to {} WebSockets at {} writes/s (5 s) | {:.0} deliveries/s; write → every subscriber p50 {:.1} ms, p99 {:.1} ms | ≥ 500,000 deliveries/s; p99 ≤ 50 ms at 100 writes/s | {:.1}% of writes reached every subscriber; server CPU {:.0}%, load generator CPU {:.0}% of one core |\n",
                args.subscribers, r.rate, r.deliveries_per_s, r.p50_ms, r.p99_ms, r.complete * 100.0, r.server_cpu * 100.0, r.client_cpu * 100.0
            ));
        }
    }
    if args.which == "all" || args.which == "resume" {
        let srv = server::Server::start(&binary, &dir.path().join("resume.db")).await?;
        let r = resume::run(&srv, 10_000, 10).await?;
        srv.stop().await;
        eprintln!(
            "resume: {} B in {:.1} ms vs snapshot {} B in {:.1} ms",
            r.resume_bytes, r.resume_ms, r.snapshot_bytes, r.snapshot_ms
        );
        report.push_str(&format!(
            "| catching up after missing {} events, {} tasks | resume: {} bytes, {:.1} ms; full snapshot: {} bytes, {:.1} ms | ≥ 100× fewer bytes | {:.0}× fewer bytes, {:.1}× less time |\n",
            r.missed, r.tasks, r.resume_bytes, r.resume_ms, r.snapshot_bytes, r.snapshot_ms,
            r.snapshot_bytes as f64 / r.resume_bytes as f64, r.snapshot_ms / r.resume_ms
        ));
    }
    if let Some(pg) = args.pg.as_deref()
        && args.which == "nodes"
    {
        let rows = nodes::run(
            &binary,
            dir.path(),
            pg,
            args.concurrency,
            args.seconds,
            args.subscribers,
            args.nodes_rate,
        )
        .await?;
        let base = rows[0].writes.per_second;
        for r in &rows {
            report.push_str(&format!(
                "| durable writes, concurrency {}, {} ({} s) | {:.0} writes/s, p50 {:.2} ms, p99 {:.2} ms | — | {:.2}× the SQLite node (same run); tasksync CPU {:.0}%, PostgreSQL CPU {:.0}% |\n",
                args.concurrency, r.label, args.seconds, r.writes.per_second, r.writes.p50_ms, r.writes.p99_ms,
                r.writes.per_second / base, r.writes.server_cpu * 100.0, r.pg_cpu.0 * 100.0
            ));
        }
        let base = rows[0].fanout.deliveries_per_s;
        for r in &rows {
            report.push_str(&format!(
                "| fan-out to {} WebSockets at {} writes/s, {} (5 s) | {:.0} deliveries/s; write → every subscriber p50 {:.1} ms, p99 {:.1} ms | — | {:.2}× the SQLite node; {:.1}% of writes reached every subscriber; tasksync CPU {:.0}%, PostgreSQL CPU {:.0}% |\n",
                args.subscribers, r.fanout.rate, r.label, r.fanout.deliveries_per_s, r.fanout.p50_ms, r.fanout.p99_ms,
                r.fanout.deliveries_per_s / base, r.fanout.complete * 100.0, r.fanout.server_cpu * 100.0, r.pg_cpu.1 * 100.0
            ));
        }
    }
    println!("{report}");
    if let Some(out) = args.out {
        std::fs::write(out, &report)?;
    }
    Ok(())
}
