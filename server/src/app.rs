//! What every request handler holds: the configuration, the readable state,
//! the event log, the writer, and the connection bookkeeping.

use crate::config::Config;
use crate::domain::state::View;
use crate::stream::log::EventLog;
use crate::stream::writer::Writer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
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
}
