//! `tasksync serve`: checks the bind against the security defaults, sets up
//! logging, and runs the server until SIGINT or SIGTERM.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use tasksync::Config;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs --token (or --insecure).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: SocketAddr,
    /// SQLite database file (created if missing), or a PostgreSQL URL
    /// (postgres://user@host/db; the schema is created if missing).
    #[arg(
        long,
        env = "TASKSYNC_DB",
        hide_env_values = true,
        default_value = "./tasksync.db"
    )]
    pub db: PathBuf,
    /// Require `Authorization: Bearer <TOKEN>` on /api and /ws.
    #[arg(long, env = "TASKSYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Allow a non-loopback bind without a token. Anyone who can reach the port can read and change everything.
    #[arg(long)]
    pub insecure: bool,
    /// Also accept this name in the Host header (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Allow cross-origin browser requests from this origin, e.g. http://localhost:5173 (repeatable; `*` for any).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Serve this folder at / (the live board).
    #[arg(long = "static", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,
    /// Events kept for resume (minimum 10000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10_000..=10_000_000))]
    pub retain: u64,
    /// A spawning or active session not heard from for this long is shown
    /// as stale (e.g. 10m, 90s, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub stale_after: std::time::Duration,
}

/// `90s`, `10m`, `1h`, `500ms`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 10m or 1h"))?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => return Err(format!("`{text}`: the unit is ms, s, m or h")),
    };
    if ms == 0 {
        return Err("the duration must be more than zero".into());
    }
    Ok(std::time::Duration::from_millis(ms))
}

/// Refuses a non-loopback bind without a token, unless `insecure`.
pub fn check_bind(addr: SocketAddr, has_token: bool, insecure: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || has_token || insecure {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {addr} without a token: anyone who can reach it could read and change every task. \
             Pass --token (or set TASKSYNC_TOKEN), or --insecure if you really mean it."
        ))
    }
}

pub fn run(args: ServeArgs) -> i32 {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "tasksync=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(msg) = check_bind(
        args.addr,
        args.token.as_deref().is_some_and(|t| !t.is_empty()),
        args.insecure,
    ) {
        eprintln!("error: {msg}");
        return 2;
    }
    // 10,000 WebSockets need more descriptors than the usual soft limit.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "could not raise the open-file limit");
    }
    let mut config = Config::new(args.db);
    config.token = args.token.filter(|t| !t.is_empty());
    config.allow_hosts = args.allow_hosts;
    config.allow_origins = args.allow_origins;
    config.retain = args.retain as usize;
    config.stale_after = args.stale_after;
    config.static_dir = args.static_dir;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.addr);
                return 1;
            }
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        // One line on stdout that people and tests can read the URL from.
        println!("tasksync listening on http://{addr}");
        match tasksync::run(listener, config, shutdown_signal()).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "m", "10x", "-1s", "0s", "1.5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_bind;

    #[test]
    fn non_loopback_needs_a_token_or_insecure() {
        let lan = "0.0.0.0:7878".parse().unwrap();
        assert!(check_bind(lan, false, false).is_err());
        assert!(check_bind(lan, true, false).is_ok());
        assert!(check_bind(lan, false, true).is_ok());
        assert!(check_bind("127.0.0.1:0".parse().unwrap(), false, false).is_ok());
        assert!(check_bind("[::1]:0".parse().unwrap(), false, false).is_ok());
    }
}
