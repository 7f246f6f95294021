//! What every request handler holds: the configuration, the readable state,
//! the event log, the writer, and the connection bookkeeping.

use crate::auth::{Grant, TokenRecord, Tokens};
use crate::config::Config;
use crate::domain::liveness::Liveness;
use crate::domain::state::View;
use crate::stream::log::EventLog;
use crate::stream::writer::Writer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Everything a request handler needs.
pub struct App {
    pub config: Config,
    pub epoch: String,
    pub local_addr: SocketAddr,
    pub view: Arc<RwLock<View>>,
    pub log: Arc<EventLog>,
    pub writer: Writer,
    /// Heartbeats heard, and the liveness writes they make due.
    pub liveness: Mutex<Liveness>,
    /// The stored role tokens, as last read, and when that was.
    pub tokens: RwLock<(Tokens, std::time::Instant)>,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) sockets: TaskTracker,
    pub(crate) live_sockets: AtomicUsize,
    pub(crate) connections: AtomicUsize,
}

impl App {
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// A sign of life from `session` (a report, a heartbeat): noted in
    /// memory; a stale session is made fresh at once (one write).
    pub async fn heard(&self, session: &str) {
        let now = now_ms();
        self.liveness
            .lock()
            .expect("liveness lock")
            .heard(session, now);
        // Only a stale session asks for a write. (The view first, then
        // liveness: the order `watch_liveness` takes them in.)
        let due = {
            let view = self.view.read().expect("view lock");
            view.state
                .sessions
                .get(session)
                .filter(|s| s.stale)
                .and_then(|s| self.liveness.lock().expect("liveness lock").due_for(s, now))
        };
        if let Some(cmd) = due {
            let _ = self.writer.submit(cmd, None).await;
        }
    }

    /// Reads the stored tokens again (storing `put` first when given).
    pub async fn refresh_tokens(&self, put: Option<&TokenRecord>) -> Result<(), String> {
        let put = put.map(|r| {
            (
                r.id.clone(),
                serde_json::to_string(r).expect("records serialize"),
            )
        });
        let bodies = self.writer.tokens(put).await?;
        let records = bodies
            .iter()
            .filter_map(|b| serde_json::from_str::<TokenRecord>(b).ok())
            .collect();
        *self.tokens.write().expect("tokens lock") =
            (Tokens::new(records), std::time::Instant::now());
        Ok(())
    }

    /// The grant of a presented role token. A token not known here is looked
    /// up in the database again (another node may have made it), at most
    /// once a second; every token is read again every 10 s anyway (so a
    /// revocation on another node holds here within 10 s).
    pub async fn grant_for(&self, token: &str) -> Option<Grant> {
        let (grant, age) = {
            let t = self.tokens.read().expect("tokens lock");
            (t.0.grant(token), t.1.elapsed())
        };
        if grant.is_some() && age < std::time::Duration::from_secs(10) {
            return grant;
        }
        if age >= std::time::Duration::from_secs(1) {
            let _ = self.refresh_tokens(None).await;
            return self.tokens.read().expect("tokens lock").0.grant(token);
        }
        grant
    }

    /// Runs the liveness writes as they fall due, until shutdown.
    pub async fn watch_liveness(&self) {
        let mut stop = self.stop.clone();
        let tick = self.liveness.lock().expect("liveness lock").tick();
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(tick) => {}
            }
            let due = {
                let view = self.view.read().expect("view lock");
                self.liveness
                    .lock()
                    .expect("liveness lock")
                    .due(&view.state, now_ms())
            };
            for cmd in due {
                if let Err(e) = self.writer.submit(cmd, None).await {
                    tracing::debug!(error = %e.message, "a liveness write was refused");
                }
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
