//! The server under test: the real `tasksync` binary as a child process on a
//! temporary database, and the process measurements (RSS, CPU time).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub pid: u32,
}

impl Server {
    /// Starts `binary serve` on 127.0.0.1:0 with the database `db` (a
    /// SQLite file or a `postgres://` URL).
    pub async fn start(binary: &Path, db: &Path) -> Result<Server> {
        let mut child = Command::new(binary)
            .args(["serve", "--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?)
            .read_line(&mut line)
            .await?;
        let Some(url) = line.trim().strip_prefix("tasksync listening on http://") else {
            bail!("unexpected first line from the server: {line:?}");
        };
        let pid = child.id().context("pid")?;
        Ok(Server {
            addr: url.to_owned(),
            pid,
            child,
        })
    }

    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid)
    }

    pub fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(&format!("/proc/{}/stat", self.pid))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// CPU seconds used so far by all of `servers`.
pub fn cpu_of(servers: &[Server]) -> Result<f64> {
    servers.iter().map(Server::cpu_seconds).sum()
}

/// Resident set size of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?)
}

/// User + system CPU time of a process from its `/proc/.../stat`, in seconds.
pub fn cpu_seconds(stat_path: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(stat_path)?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

/// The release server binary next to this benchmark binary.
pub fn default_binary() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("tasksync")
}
