//! The single writer: one thread owns the database and the working state.
//! It takes every command waiting in its queue, applies them in order, and
//! commits them together in one transaction (group commit), so durable
//! throughput is not one fsync per request. Only after the commit does it
//! update the readers' view, publish the events and answer the requests.
//!
//! On a database other nodes share, each batch first takes the database's
//! write turn and brings in what the other nodes committed since (`News`);
//! between batches the storage's watcher wakes the writer to bring it in
//! and publish it, so this node's clients see every node's events, in seq
//! order.

use super::log::{EventLog, LoggedEvent};
use super::scope::Scoper;
use crate::domain::apply;
use crate::domain::command::{self, Clock, Command, Reply};
use crate::domain::error::DomainError;
use crate::domain::state::{State, View};
use crate::storage::{KeptAnswer, News, Storage};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tasksync_sdk::Envelope;
use tokio::sync::{mpsc, oneshot};

/// Most commands committed in one transaction.
pub const MAX_BATCH: usize = 1024;

/// A committed command's answer.
#[derive(Debug, Clone)]
pub struct Committed {
    pub reply: Reply,
    pub created: bool,
    /// True when this is the kept first answer to a repeated `Idempotency-Key`.
    pub replayed: bool,
}

/// A request's `Idempotency-Key` and what it asked for (method and path):
/// the same key for another request is refused, not answered.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request: String,
}

/// The answer a request waits for.
pub type Answer = Result<Committed, DomainError>;

/// A command and where to send its answer.
pub struct Job {
    pub cmd: Command,
    pub idempotency: Option<Idempotency>,
    pub answer: oneshot::Sender<Answer>,
}

enum Msg {
    Job(Job),
    /// Store a token's record (if any), then read every record back.
    Tokens {
        put: Option<(String, String)>,
        reply: oneshot::Sender<Result<Vec<String>, String>>,
    },
    /// Another node committed: bring its events in.
    News,
    Stop,
}

/// Handle for submitting commands to the writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
}

impl Writer {
    /// Starts the writer thread. It stops after `stop`, once the commands
    /// queued before it are committed, or when every handle is dropped.
    pub fn spawn(
        storage: Box<dyn Storage>,
        state: State,
        view: Arc<RwLock<View>>,
        log: Arc<EventLog>,
        retain: usize,
    ) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let pending = Arc::new(AtomicBool::new(false));
        storage.watch(wake(tx.downgrade(), log.clone(), pending.clone()));
        let thread = std::thread::Builder::new()
            .name("tasksync-writer".into())
            .spawn(move || {
                WriterLoop {
                    storage,
                    state,
                    view,
                    log,
                    retain,
                    pending,
                    clock: command::SystemClock,
                }
                .run(rx)
            })
            .expect("spawn writer thread");
        (Writer { tx }, thread)
    }

    /// Submits a command and waits until it is committed (or refused).
    pub async fn submit(&self, cmd: Command, idempotency: Option<Idempotency>) -> Answer {
        let (answer, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Job {
                cmd,
                idempotency,
                answer,
            }))
            .await
            .map_err(|_| DomainError::unavailable("the server is shutting down"))?;
        rx.await
            .unwrap_or_else(|_| Err(DomainError::unavailable("the server is shutting down")))
    }

    /// Stores a token record `(id, json)` when given, and returns every
    /// stored record (on the writer thread, which owns the database).
    pub async fn tokens(&self, put: Option<(String, String)>) -> Result<Vec<String>, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Tokens { put, reply })
            .await
            .map_err(|_| "the server is shutting down".to_owned())?;
        rx.await
            .unwrap_or_else(|_| Err("the server is shutting down".to_owned()))
    }

    /// Asks the writer to stop after what is already queued.
    pub async fn stop(&self) {
        let _ = self.tx.send(Msg::Stop).await;
    }
}

struct WriterLoop {
    storage: Box<dyn Storage>,
    state: State,
    view: Arc<RwLock<View>>,
    log: Arc<EventLog>,
    retain: usize,
    /// A `Msg::News` is queued.
    pending: Arc<AtomicBool>,
    clock: command::SystemClock,
}

/// What the storage's watcher calls with the newest head it has seen: one
/// `Msg::News` for the writer when that is ahead of this node (at most one
/// waiting at a time), and false once the writer is gone.
fn wake(
    tx: mpsc::WeakSender<Msg>,
    log: Arc<EventLog>,
    pending: Arc<AtomicBool>,
) -> crate::storage::Wake {
    Box::new(move |seen| {
        let Some(tx) = tx.upgrade() else {
            return false;
        };
        if seen > log.head()
            && !pending.swap(true, Ordering::AcqRel)
            && tx.try_send(Msg::News).is_err()
        {
            pending.store(false, Ordering::Release);
        }
        true
    })
}

/// What a batch makes visible: the events (in seq order) and the entities
/// they changed.
#[derive(Default)]
struct Visible {
    events: Vec<LoggedEvent>,
    tasks: BTreeSet<String>,
    sessions: BTreeSet<String>,
}

impl WriterLoop {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut stopping = false;
        while !stopping {
            match rx.blocking_recv() {
                Some(Msg::Job(job)) => batch.push(job),
                Some(Msg::News) => {
                    self.bring_news();
                    continue;
                }
                Some(Msg::Tokens { put, reply }) => {
                    let _ = reply.send(self.tokens(put));
                    continue;
                }
                Some(Msg::Stop) | None => break,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(Msg::Job(job)) => batch.push(job),
                    // (the batch's `begin` brings the news)
                    Ok(Msg::News) => self.pending.store(false, Ordering::Release),
                    Ok(Msg::Tokens { put, reply }) => {
                        let _ = reply.send(self.tokens(put));
                    }
                    Ok(Msg::Stop) => {
                        stopping = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch);
        }
        tracing::debug!("writer stopped");
    }

    fn tokens(&mut self, put: Option<(String, String)>) -> Result<Vec<String>, String> {
        if let Some((id, body)) = put {
            self.storage
                .put_token(&id, &body)
                .map_err(|e| e.to_string())?;
        }
        self.storage.tokens().map_err(|e| e.to_string())
    }

    /// Brings in what other nodes committed, between batches.
    fn bring_news(&mut self) {
        self.pending.store(false, Ordering::Release);
        match self.storage.news(self.log.head()) {
            Ok(news) => {
                let mut visible = Visible::default();
                let mut scoper = Scoper::new(self.view.clone());
                self.absorb(news, &mut visible, &mut scoper);
                self.publish(visible);
            }
            // The watcher wakes the writer again on its next poll.
            Err(e) => tracing::warn!(error = %e, "reading other nodes' commits failed"),
        }
    }

    /// Takes other nodes' commits into the working state.
    fn absorb(&mut self, news: News, visible: &mut Visible, scoper: &mut Scoper) {
        match news {
            News::None => {}
            News::Events {
                events,
                tasks,
                sessions,
            } => {
                for (id, task) in tasks {
                    match task {
                        Some(t) => self.state.tasks.insert(id.clone(), t),
                        None => self.state.tasks.remove(&id),
                    };
                    visible.tasks.insert(id);
                }
                for (id, session) in sessions {
                    match session {
                        Some(s) => self.state.sessions.insert(id.clone(), s),
                        None => self.state.sessions.remove(&id),
                    };
                    visible.sessions.insert(id);
                }
                visible.events.extend(
                    events
                        .into_iter()
                        .map(|(seq, json)| LoggedEvent::parse(seq, json)),
                );
            }
            News::Gap(loaded) => {
                // Everything again; clients see the jump and resync.
                self.state = loaded.state.clone();
                *self.view.write().expect("view lock") = View {
                    state: loaded.state,
                    seq: loaded.head,
                };
                let events = loaded
                    .events
                    .into_iter()
                    .map(|(seq, json)| LoggedEvent::parse(seq, json))
                    .collect();
                self.log.reset(loaded.head, events);
                *visible = Visible::default();
                scoper.reset();
            }
        }
    }

    /// Updates the readers' view and sends the events to every connection.
    fn publish(&mut self, visible: Visible) {
        let Some(seq) = visible.events.last().map(|e| e.seq) else {
            return;
        };
        let tasks: Vec<String> = visible.tasks.into_iter().collect();
        let sessions: Vec<String> = visible.sessions.into_iter().collect();
        {
            let mut view = self.view.write().expect("view lock");
            view.state.copy_from(&self.state, &tasks, &sessions);
            view.seq = seq;
        }
        self.log.publish(visible.events);
    }

    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        let mut visible = Visible::default();
        let mut scoper = Scoper::new(self.view.clone());
        match self.storage.begin(self.log.head()) {
            Ok(news) => self.absorb(news, &mut visible, &mut scoper),
            Err(e) => {
                tracing::error!(error = %e, "cannot start a write; the batch is refused");
                for job in batch.drain(..) {
                    let _ = job.answer.send(Err(DomainError::unavailable(
                        "the change could not be stored; try again",
                    )));
                }
                return;
            }
        }
        let head = visible.events.last().map_or(self.log.head(), |e| e.seq);
        let mut seq = head;
        let mut tasks = BTreeSet::new();
        let mut sessions = BTreeSet::new();
        let mut events = Vec::new();
        // (the task each event is about, beside `events`: its history)
        let mut about: Vec<(Option<Arc<str>>, super::scope::Scope)> = Vec::new();
        let mut answers = Vec::with_capacity(batch.len());
        let mut kept: Vec<(String, KeptAnswer)> = Vec::new();
        let now = now_ms();
        for job in batch.drain(..) {
            if let Some(idem) = &job.idempotency {
                match self.kept_answer(idem, &kept, now) {
                    Ok(None) => {}
                    Ok(Some(answer)) | Err(answer) => {
                        answers.push((job.answer, answer));
                        continue;
                    }
                }
            }
            let answer = match apply(&mut self.state, job.cmd, &mut self.clock as &mut dyn Clock) {
                Ok(out) => {
                    tasks.extend(out.tasks);
                    sessions.extend(out.sessions);
                    for event in out.events {
                        seq += 1;
                        about.push((event.task_id().map(Arc::from), scoper.scope(&event)));
                        let json = serde_json::to_string(&Envelope { event, seq })
                            .expect("event serializes");
                        events.push((seq, json));
                    }
                    let committed = Committed {
                        reply: out.reply.expect("every command replies"),
                        created: out.created,
                        replayed: false,
                    };
                    if let Some(idem) = job.idempotency {
                        kept.push((idem.key, keep(&committed, idem.request, now)));
                    }
                    Ok(committed)
                }
                Err(e) => Err(e),
            };
            answers.push((job.answer, answer));
        }
        if tasks.is_empty() && sessions.is_empty() && events.is_empty() && kept.is_empty() {
            self.storage.abort();
        } else {
            // Prune in steps of 1,000 so the delete runs rarely.
            let prune = (seq / 1000 != head / 1000)
                .then(|| seq.saturating_sub(self.retain as u64))
                .filter(|&p| p > 0)
                .map(|p| (p, now));
            if let Err(e) =
                self.storage
                    .commit(&self.state, &tasks, &sessions, &events, &kept, prune)
            {
                tracing::error!(error = %e, "commit failed; the batch is refused");
                // (Other nodes' news taken in with the batch is not published:
                // the state it was in is gone, and the next write or wake-up
                // reads it again from this node's head.)
                self.recover();
                for (tx, answer) in answers {
                    let _ = tx.send(answer.and(Err(DomainError::unavailable(
                        "the change could not be stored; try again",
                    ))));
                }
                return;
            }
            visible.tasks.extend(tasks);
            visible.sessions.extend(sessions);
            visible.events.extend(events.into_iter().zip(about).map(
                |((seq, json), (task, scope))| LoggedEvent {
                    seq,
                    json: json.into(),
                    task,
                    scope,
                },
            ));
        }
        self.publish(visible);
        for (tx, answer) in answers {
            // The requester may have gone away; the change stands regardless.
            let _ = tx.send(answer);
        }
    }

    /// The kept answer to a repeated key (from this batch or the database):
    /// `Ok(None)` for a new key, `Err` for a key used for another request.
    fn kept_answer(
        &self,
        idem: &Idempotency,
        batch: &[(String, KeptAnswer)],
        now: i64,
    ) -> Result<Option<Answer>, Answer> {
        let found = match batch.iter().rev().find(|(k, _)| *k == idem.key) {
            Some((_, k)) => Some(k.clone()),
            None => self.storage.kept_answer(&idem.key, now).map_err(|e| {
                tracing::error!(error = %e, "reading an idempotency key failed");
                Err(DomainError::unavailable(
                    "the request could not be checked; try again",
                ))
            })?,
        };
        let Some(k) = found else { return Ok(None) };
        if k.request != idem.request {
            return Err(Err(DomainError::conflict(format!(
                "this Idempotency-Key was first used for `{}`; use a new key for a new request",
                k.request
            ))
            .with_field("Idempotency-Key")));
        }
        Ok(Some(replay(&k)))
    }

    /// After a failed commit the working state is ahead of the disk: read
    /// the disk back (on a shared database this may be ahead of this node's
    /// head, which the next news brings in row by row again), or else take
    /// what readers see, which is the state at this node's head.
    fn recover(&mut self) {
        match self.storage.reload() {
            Ok(state) => self.state = state,
            Err(e) => {
                tracing::error!(error = %e, "reload after failed commit failed; using the readers' view");
                self.state = self.view.read().expect("view lock").state.clone();
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What is stored for a successful answer.
fn keep(c: &Committed, request: String, at: i64) -> KeptAnswer {
    let (kind, body) = match &c.reply {
        Reply::Task(t) => (0, serde_json::to_string(&**t)),
        Reply::Session(s) => (1, serde_json::to_string(&**s)),
        Reply::Deleted => (2, Ok(String::new())),
    };
    KeptAnswer {
        request,
        at,
        kind,
        created: c.created,
        body: body.expect("entities serialize"),
    }
}

/// The first answer again, from what was stored.
fn replay(k: &KeptAnswer) -> Answer {
    let reply = match k.kind {
        0 => serde_json::from_str(&k.body).map(|t| Reply::Task(Arc::new(t))),
        1 => serde_json::from_str(&k.body).map(|s| Reply::Session(Arc::new(s))),
        _ => Ok(Reply::Deleted),
    };
    match reply {
        Ok(reply) => Ok(Committed {
            reply,
            created: k.created,
            replayed: true,
        }),
        Err(e) => {
            tracing::error!(error = %e, "a kept answer is unreadable");
            Err(DomainError::unavailable(
                "the kept answer could not be read",
            ))
        }
    }
}
