//! The tasksync server: a REST API over tasks and sessions, an ordered
//! WebSocket event stream with resume, and SQLite storage, behind secure
//! defaults. `run` serves on a listener until a shutdown future resolves; the
//! `tasksync` binary (`src/cli/`) only parses arguments and calls it.

//!
//! Layers, innermost first (each uses only the ones before it; see
//! `docs/architecture.md`): `domain` (state, commands, rules), `storage`
//! (SQLite), `stream` (event log, fan-out, the writer), `app` (what a
//! request handler holds), `http` (routing, errors to statuses, WebSocket,
//! static files). This file wires them together and runs the accept loop.

mod app;
mod auth;
mod config;
pub mod domain;
mod http;
mod storage;
mod stream;

pub use config::Config;

/// A refusal as answered over HTTP (status and JSON body); `From<DomainError>`
/// is the mapping (the engine simulator plays the HTTP layer with it).
pub use http::error::ApiError;

use crate::app::App;
use crate::domain::state::View;
use crate::stream::log::{EventLog, LoggedEvent};
use crate::stream::writer::Writer;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Most time shutdown may take before connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Serves on `listener` until `shutdown` resolves, then stops accepting,
/// finishes in-flight requests and writes, closes WebSockets with 1001 and
/// returns (within about 10 s).
pub async fn run(
    listener: TcpListener,
    mut config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let local_addr = listener.local_addr()?;
    if let Some(dir) = &config.static_dir {
        config.static_dir = Some(tokio::fs::canonicalize(dir).await?);
    }
    let db = config.db.clone();
    let retain = config.retain.max(1);
    let (storage, loaded) = tokio::task::spawn_blocking(move || storage::open(&db, retain))
        .await
        .expect("open task")?;
    tracing::info!(db = %storage::shown(&config.db), epoch = %loaded.epoch, seq = loaded.head,
        tasks = loaded.state.tasks.len(), sessions = loaded.state.sessions.len(), "database opened");
    let events = loaded
        .events
        .into_iter()
        .map(|(seq, json)| LoggedEvent::parse(seq, json))
        .collect();
    let log = Arc::new(EventLog::new(loaded.head, events, retain, config.lag_limit));
    let view = Arc::new(RwLock::new(View {
        state: loaded.state.clone(),
        seq: loaded.head,
    }));
    let (writer, writer_thread) =
        Writer::spawn(storage, loaded.state, view.clone(), log.clone(), retain);
    let (stop_tx, stop) = watch::channel(false);
    let config_stale_after = config.stale_after;
    let app = Arc::new(App {
        config,
        epoch: loaded.epoch,
        local_addr,
        view,
        log,
        writer,
        liveness: std::sync::Mutex::new(domain::liveness::Liveness::new(config_stale_after)),
        tokens: std::sync::RwLock::new((
            auth::Tokens::default(),
            std::time::Instant::now()
                .checked_sub(Duration::from_secs(60))
                .unwrap_or_else(std::time::Instant::now),
        )),
        shutting_down: AtomicBool::new(false),
        stop,
        sockets: TaskTracker::new(),
        live_sockets: AtomicUsize::new(0),
        connections: AtomicUsize::new(0),
    });

    if let Err(e) = app.refresh_tokens(None).await {
        tracing::warn!(error = %e, "the stored tokens could not be read");
    }
    let liveness_app = app.clone();
    let liveness = tokio::spawn(async move { liveness_app.watch_liveness().await });

    let http_conns = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if app.connections.load(Ordering::Relaxed) + app.live_sockets.load(Ordering::Relaxed)
            >= app.config.max_connections
        {
            tracing::warn!(%peer, "connection refused: at the connection limit");
            continue;
        }
        let _ = stream.set_nodelay(true);
        app.connections.fetch_add(1, Ordering::Relaxed);
        let svc_app = app.clone();
        let service = service_fn(move |req| http::handle(svc_app.clone(), req));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let conn_app = app.clone();
        let mut stop = app.stop.clone();
        http_conns.spawn(async move {
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            conn_app.connections.fetch_sub(1, Ordering::Relaxed);
        });
    }

    tracing::info!("shutting down");
    drop(listener);
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    app.shutting_down.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    http_conns.close();
    if tokio::time::timeout_at(deadline, http_conns.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time");
    }
    app.sockets.close();
    if tokio::time::timeout_at(deadline, app.sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!("some WebSocket connections did not close in time");
    }
    let _ = tokio::time::timeout_at(deadline, liveness).await;
    app.writer.stop().await;
    let joined = tokio::task::spawn_blocking(move || writer_thread.join());
    if tokio::time::timeout(Duration::from_secs(2), joined)
        .await
        .is_err()
    {
        tracing::warn!("the writer did not stop in time");
    }
    tracing::info!("stopped");
    Ok(())
}
