//! How the server runs: `Config::new(db)` gives the documented defaults.

use std::path::PathBuf;
use std::time::Duration;

/// How the server runs. `Config::new(db)` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file.
    pub db: PathBuf,
    /// Bearer token required on `/api` and `/ws` when set.
    pub token: Option<String>,
    /// Extra names accepted in the `Host` header (besides loopback names).
    pub allow_hosts: Vec<String>,
    /// Origins allowed to make cross-origin requests (`*` for any).
    pub allow_origins: Vec<String>,
    /// Events kept for resume and `GET /api/events` (at least 10,000).
    pub retain: usize,
    /// How far (in events) a WebSocket client may fall behind before it is
    /// closed with 4008.
    pub lag_limit: usize,
    /// Most concurrent connections (HTTP and WebSocket together).
    pub max_connections: usize,
    /// Server silence after which a `sync:ping` is sent.
    pub ping_interval: Duration,
    /// Client silence after which a WebSocket is closed.
    pub idle_timeout: Duration,
    /// How long a stalled write to a WebSocket client may take before the
    /// client is treated as a slow consumer.
    pub send_timeout: Duration,
    /// Serve this folder at `/` (the live board); canonicalized by `run`.
    pub static_dir: Option<PathBuf>,
    /// A spawning or active session not heard from for this long is stale.
    pub stale_after: Duration,
}

impl Config {
    pub fn new(db: impl Into<PathBuf>) -> Self {
        Config {
            db: db.into(),
            token: None,
            allow_hosts: vec![],
            allow_origins: vec![],
            retain: 10_000,
            lag_limit: 4096,
            max_connections: 20_000,
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(120),
            send_timeout: Duration::from_secs(10),
            static_dir: None,
            stale_after: Duration::from_secs(600),
        }
    }
}
