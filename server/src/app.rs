//! What every request handler holds: the configuration, the readable state,
//! the event log, the writer, and the connection bookkeeping.

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
        let due = {
            let mut liveness = self.liveness.lock().expect("liveness lock");
            liveness.heard(session, now);
            let view = self.view.read().expect("view lock");
            view.state
                .sessions
                .get(session)
                .filter(|s| s.stale)
                .and_then(|s| liveness.due_for(s, now))
        };
        if let Some(cmd) = due {
            let _ = self.writer.submit(cmd, None).await;
        }
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
