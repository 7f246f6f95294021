//! The single writer: one thread owns the database and the working state.
//! It takes every command waiting in its queue, applies them in order, and
//! commits them together in one transaction (group commit), so durable
//! throughput is not one fsync per request. Only after the commit does it
//! update the readers' view, publish the events and answer the requests.

use crate::command::{self, Clock, Command, Reply};
use crate::error::ApiError;
use crate::events::{EventLog, LoggedEvent};
use crate::state::{State, View};
use crate::storage::Storage;
use std::collections::BTreeSet;
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
}

/// The answer a request waits for.
pub type Answer = Result<Committed, ApiError>;

/// A command and where to send its answer.
pub struct Job {
    pub cmd: Command,
    pub answer: oneshot::Sender<Answer>,
}

enum Msg {
    Job(Job),
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
        storage: Storage,
        state: State,
        view: Arc<RwLock<View>>,
        log: Arc<EventLog>,
        retain: usize,
    ) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let thread = std::thread::Builder::new()
            .name("tasksync-writer".into())
            .spawn(move || {
                WriterLoop {
                    storage,
                    state,
                    view,
                    log,
                    retain,
                    clock: command::SystemClock,
                }
                .run(rx)
            })
            .expect("spawn writer thread");
        (Writer { tx }, thread)
    }

    /// Submits a command and waits until it is committed (or refused).
    pub async fn submit(&self, cmd: Command) -> Answer {
        let (answer, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Job { cmd, answer }))
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        rx.await
            .unwrap_or_else(|_| Err(ApiError::unavailable("the server is shutting down")))
    }

    /// Asks the writer to stop after what is already queued.
    pub async fn stop(&self) {
        let _ = self.tx.send(Msg::Stop).await;
    }
}

struct WriterLoop {
    storage: Storage,
    state: State,
    view: Arc<RwLock<View>>,
    log: Arc<EventLog>,
    retain: usize,
    clock: command::SystemClock,
}

impl WriterLoop {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut stopping = false;
        while !stopping {
            match rx.blocking_recv() {
                Some(Msg::Job(job)) => batch.push(job),
                Some(Msg::Stop) | None => break,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(Msg::Job(job)) => batch.push(job),
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

    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        let head = self.log.head();
        let mut seq = head;
        let mut tasks = BTreeSet::new();
        let mut sessions = BTreeSet::new();
        let mut events = Vec::new();
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            let answer =
                match command::apply(&mut self.state, job.cmd, &mut self.clock as &mut dyn Clock) {
                    Ok(out) => {
                        tasks.extend(out.tasks);
                        sessions.extend(out.sessions);
                        for event in out.events {
                            seq += 1;
                            let json = serde_json::to_string(&Envelope { event, seq })
                                .expect("event serializes");
                            events.push((seq, json));
                        }
                        Ok(Committed {
                            reply: out.reply.expect("every command replies"),
                            created: out.created,
                        })
                    }
                    Err(e) => Err(e),
                };
            answers.push((job.answer, answer));
        }
        if !tasks.is_empty() || !sessions.is_empty() || !events.is_empty() {
            // Prune in steps of 1,000 so the delete runs rarely.
            let prune = (seq / 1000 != head / 1000)
                .then(|| seq.saturating_sub(self.retain as u64))
                .filter(|&p| p > 0);
            if let Err(e) = self
                .storage
                .commit(&self.state, &tasks, &sessions, &events, prune)
            {
                tracing::error!(error = %e, "commit failed; the batch is refused");
                self.recover();
                for (tx, answer) in answers {
                    let _ = tx.send(answer.and(Err(ApiError::unavailable(
                        "the change could not be stored; try again",
                    ))));
                }
                return;
            }
            let tasks: Vec<String> = tasks.into_iter().collect();
            let sessions: Vec<String> = sessions.into_iter().collect();
            {
                let mut view = self.view.write().expect("view lock");
                view.state.copy_from(&self.state, &tasks, &sessions);
                view.seq = seq;
            }
            self.log.publish(
                events
                    .into_iter()
                    .map(|(seq, json)| LoggedEvent {
                        seq,
                        json: json.into(),
                    })
                    .collect(),
            );
        }
        for (tx, answer) in answers {
            // The requester may have gone away; the change stands regardless.
            let _ = tx.send(answer);
        }
    }

    /// After a failed commit the working state is ahead of the disk: read
    /// the disk back, which is what readers already see.
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
