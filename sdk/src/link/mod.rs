//! The client sync engine, sans-I/O: it owns no socket, no timer and no
//! clock. Its caller (the wasm `Store`, the CLI's `watch`, a test) feeds it
//! what happened — a frame, a closed socket, an HTTP answer, the time — with
//! `handle(now, input)`, asks what to do with `poll_action()`, and arms one
//! timer for `next_deadline()`. Everything the Store decides lives here:
//! resume by `seq` and epoch, resync on `resumed: false`, backoff with full
//! jitter, the dead-link watchdog, the auto-transition, optimistic writes
//! with rollback, and the offline outbox. See `docs/sync-engine.md`.

mod order;
mod view;
pub mod writes;

#[cfg(test)]
mod tests;

use crate::event::{Envelope, Event, StatusRef};
use crate::frame::{Frame, parse_frame};
use crate::model::{Session, SessionStatus, Task, TaskStatus};
use crate::replica::{Changes, Listing, Replica, SnapshotIn};
use crate::rng::SplitMix64;
use crate::wire::{self, ErrorBody, ErrorDetail, EventPage, TaskPatch};
pub use order::{ListChange, ListOrder};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use view::View;
pub use writes::{Answers, HttpRequest, Lifecycle, WriteCmd};

/// Milliseconds: a point on the caller's clock (for local timestamps the
/// engine reads it as milliseconds since the Unix epoch).
pub type Millis = u64;
/// Names one socket the engine asked for; inputs from older sockets are ignored.
pub type ConnId = u64;
/// Names one HTTP request the engine asked for.
pub type ReqId = u64;
/// Names one write (a promise on the JS side).
pub type WriteId = u64;

/// A link silent this long is dead (the server pings every 25 s).
pub const SILENCE_MS: Millis = 60_000;
/// A socket that has not said hello by then is given up on.
pub const HANDSHAKE_MS: Millis = 10_000;
pub const BACKOFF_START_MS: Millis = 500;
pub const BACKOFF_CAP_MS: Millis = 30_000;
/// The auto-transition waits a fixed part plus a random part, so that many
/// stores seeing the same event rarely race (If-Match settles it when they do).
pub const AUTO_DELAY_MS: (Millis, Millis) = (50, 200);
/// After a 412 with the task still `todo`, try again this much later,
/// doubling up to `AUTO_TRIES` times (then every 4 s while it stays `todo`).
pub const AUTO_RETRY_MS: Millis = 250;
pub const AUTO_TRIES: u8 = 4;
/// After an unreachable server, an auto-transition is tried again this much later.
pub const AUTO_UNREACHABLE_MS: Millis = 1_000;
/// Largest page asked of `GET /api/events` when catching up by history.
pub const EVENTS_PAGE: u64 = 1_000;

/// The connection as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnState {
    Connecting,
    Syncing,
    Live,
    Reconnecting,
    Closed,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Syncing => "syncing",
            ConnState::Live => "live",
            ConnState::Reconnecting => "reconnecting",
            ConnState::Closed => "closed",
        }
    }
}

/// How to catch up when the server cannot resume: load a snapshot (a
/// store), or read the retained history (`watch`, which prints every event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    Snapshot,
    History,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// `http://host:port` (no trailing slash).
    pub base_url: String,
    pub token: Option<String>,
    pub auto_transition: bool,
    pub resync: Resync,
    /// Prefixes idempotency keys and client-made ids; unique per client.
    pub client_id: String,
    /// Seeds the jitter (backoff, auto-transition delay).
    pub seed: u64,
    /// Start after this seq (History: `watch --since N`).
    pub since: Option<u64>,
    /// Only this project's tasks and sessions (`/ws?projectId=`, the
    /// snapshot likewise): the stream then skips other projects' seqs, so
    /// seqs rise with gaps; resync is by snapshot.
    pub project_id: Option<String>,
}

/// What happened, as the caller tells it.
#[derive(Debug, Clone)]
// (An input is made and consumed at once, never stored: a large variant costs
// nothing, and boxing the event would cost an allocation per event.)
#[allow(clippy::large_enum_variant)]
pub enum Input<'a> {
    /// The user asked to connect (again).
    Connect,
    /// The user closed the store: stop, and stop reconnecting.
    Close,
    Frame {
        conn: ConnId,
        text: &'a str,
    },
    Closed {
        conn: ConnId,
        code: u16,
    },
    /// An HTTP answer; `status` 0 means none came (network error).
    Answer {
        req: ReqId,
        status: u16,
        body: &'a str,
    },
    Online(bool),
    Visible(bool),
    /// Time passed (the caller's timer for `next_deadline()` fired).
    Tick,
    /// A frame that arrived by the caller's own transport.
    Message(&'a str),
    /// An event frame the caller decoded itself (an executor that parses
    /// every frame anyway passes the event so, sparing a second parse). It is
    /// handled exactly as its text would be: `conn` as in `Frame`, or `None`
    /// for the caller's own transport as in `Message`.
    Event {
        conn: Option<ConnId>,
        env: Envelope,
    },
    /// A `task:session_status` the caller decoded itself, borrowed: as
    /// `Event`, without making its strings first (most of any stream).
    Status {
        conn: Option<ConnId>,
        seq: u64,
        status: StatusRef<'a>,
    },
    /// A `GET /api/snapshot` body that arrived by the caller's own transport.
    LoadSnapshot(&'a str),
    /// A snapshot the caller read itself as it arrived (`SnapshotFeed`): the
    /// successful answer to request `req` (one `is_snapshot_request`), or
    /// with no `req` as `LoadSnapshot`. Handled exactly as its text.
    Snapshot {
        req: Option<ReqId>,
        snapshot: Result<SnapshotIn, String>,
    },
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub status: u16,
    pub detail: ErrorDetail,
}

/// What the caller should do. (As JSON, for executors in other languages:
/// `{"a": "open", "v": {"conn": 1, "url": "ws://…"}}`.)
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "a", content = "v", rename_all = "camelCase")]
pub enum Action {
    /// Open a WebSocket to `url`; report its frames and close as `conn`.
    Open {
        conn: ConnId,
        url: String,
    },
    /// Close socket `conn` (if it is still open).
    Close {
        conn: ConnId,
        code: u16,
    },
    /// Make an HTTP request and report the answer as `req`.
    Request {
        req: ReqId,
        url: String,
        http: HttpRequest,
        headers: Vec<(&'static str, String)>,
    },
    State(ConnState),
    /// Tasks or sessions changed (once per input at most).
    Changed,
    /// An event was applied (for `on(type)` listeners), with its frame text.
    Event {
        ty: &'static str,
        text: String,
    },
    /// A write is done: the server's answer body, or its refusal.
    Settled {
        write: WriteId,
        result: Result<String, Refusal>,
    },
    /// A write sent from the outbox was refused and rolled back.
    WriteFailed {
        write: WriteId,
        cmd: WriteCmd,
        refusal: Refusal,
    },
    /// The outbox changed: persist this text (give it back with `restore_outbox`).
    SaveOutbox(String),
    /// A problem worth telling the user (malformed frame, dead link, …).
    Report(String),
}

/// A write waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Queued {
    id: WriteId,
    key: String,
    cmd: WriteCmd,
    /// When it was made (ms), for its local timestamps.
    at: Millis,
}

/// A pending auto-transition of one task.
#[derive(Debug, Clone)]
struct Auto {
    due: Millis,
    tries: u8,
    inflight: Option<ReqId>,
    key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Snapshot(ConnId),
    Events(ConnId),
    Write(WriteId),
    Auto,
}

/// Where the catch-up after a hello stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatchUp {
    None,
    /// Waiting for a request (snapshot or a page of events).
    Request(ReqId),
    /// Waiting for `LoadSnapshot` from the caller's own transport.
    External,
}

/// How one frame changed what the user sees, when it was a single event
/// applied to the server's copy of one entity that is shown exactly as the
/// server has it (no pending write or auto-transition over it), and nothing
/// else changed. An executor that parsed the frame itself can then build
/// the new object from its own parse instead of reading it out of the engine
/// (`Link::take_plain`). What to build is decided here; the executor only
/// copies fields.
pub use crate::replica::Change as Plain;

/// The engine. See the module documentation.
#[derive(Debug)]
pub struct Link {
    opts: Options,
    replica: Replica,
    view: View,
    state: ConnState,
    /// The current socket, once asked for.
    conn: Option<ConnId>,
    next_conn: ConnId,
    hello: bool,
    target: u64,
    catch_up: CatchUp,
    buffered: Vec<String>,
    attempt: u32,
    retry_at: Option<Millis>,
    last_heard: Millis,
    online: bool,
    synced_once: bool,
    /// After `close()`, writes wait in the outbox for the next `connect()`.
    closed_by_user: bool,
    rng: SplitMix64,
    next_id: u64,
    requests: HashMap<ReqId, Purpose>,
    outbox: VecDeque<Queued>,
    inflight_write: Option<WriteId>,
    write_attempt: u32,
    writes_paused_until: Option<Millis>,
    auto: BTreeMap<String, Auto>,
    emit_events: bool,
    changed: bool,
    actions: VecDeque<Action>,
    /// Snapshots loaded so far.
    snapshots: u64,
    /// Events applied during the current input, and the last one's plain change.
    applied: u32,
    plain_candidate: Option<Plain>,
    /// The last input's plain change, for `take_plain()`.
    plain: Option<Plain>,
}

impl Link {
    pub fn new(opts: Options) -> Link {
        let rng = SplitMix64(opts.seed ^ 0x9E37_79B9_7F4A_7C15);
        let mut replica = Replica::new();
        replica.set_scope(opts.project_id.clone());
        Link {
            opts,
            replica,
            view: View::default(),
            state: ConnState::Closed,
            conn: None,
            next_conn: 0,
            hello: false,
            target: 0,
            catch_up: CatchUp::None,
            buffered: Vec::new(),
            attempt: 0,
            retry_at: None,
            last_heard: 0,
            online: true,
            synced_once: false,
            closed_by_user: false,
            rng,
            next_id: 0,
            requests: HashMap::new(),
            outbox: VecDeque::new(),
            inflight_write: None,
            write_attempt: 0,
            writes_paused_until: None,
            auto: BTreeMap::new(),
            emit_events: true,
            changed: false,
            actions: VecDeque::new(),
            snapshots: 0,
            applied: 0,
            plain_candidate: None,
            plain: None,
        }
    }

    // ----- reading -----

    pub fn state(&self) -> ConnState {
        self.state
    }

    /// The seq of the last applied event.
    pub fn seq(&self) -> u64 {
        self.replica.seq()
    }

    pub fn epoch(&self) -> Option<&str> {
        self.replica.epoch()
    }

    /// When reconnecting: when the next attempt is due.
    pub fn retry_at(&self) -> Option<Millis> {
        self.retry_at
    }

    /// A task as the user sees it: the server's copy with this client's
    /// pending writes and auto-transitions applied on top.
    /// (The server's copy is held packed: `Cow::Owned` is it unpacked.
    /// `has_task` reads without unpacking.)
    pub fn task(&self, id: &str) -> Option<Cow<'_, Task>> {
        self.view.task(&self.replica, id)
    }

    /// Whether a task with this id is shown.
    pub fn has_task(&self, id: &str) -> bool {
        self.view.has_task(&self.replica, id)
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.view.session(&self.replica, id)
    }

    /// All tasks, in list order.
    pub fn tasks(&self) -> Vec<Cow<'_, Task>> {
        self.view.tasks(&self.replica)
    }

    pub fn sessions(&self) -> Vec<&Session> {
        self.view.sessions(&self.replica)
    }

    /// The list key (creation time, id) of every task shown, in no
    /// particular order (see `ListOrder`).
    pub fn task_keys(&self) -> Vec<(&str, &str)> {
        self.view.task_keys(&self.replica)
    }

    /// Every session shown, in no particular order.
    pub fn sessions_unordered(&self) -> Vec<&Session> {
        self.view.sessions_unordered(&self.replica)
    }

    /// The server's copy alone (for tests and diagnostics).
    pub fn confirmed(&self) -> &Replica {
        &self.replica
    }

    /// Changes whenever the set of tasks or sessions shown may have changed
    /// (their list order can change only then): callers cache `tasks()` ids by it.
    pub fn members(&self) -> u64 {
        self.replica.members().wrapping_add(self.view.members())
    }

    /// The tasks shown, in list order, as the last snapshot listed them, if
    /// that is still what is shown (no task came or went, none overlaid):
    /// a caller keeping a list (`ListOrder`) takes it rather than sorting.
    pub fn take_task_listing(&mut self) -> Option<Listing> {
        if self.view.task_overlays() {
            return None;
        }
        self.replica.take_listing()
    }

    /// How many snapshots have been loaded (to tell whether an input loaded one).
    pub fn snapshots_loaded(&self) -> u64 {
        self.snapshots
    }

    /// Whether every entity is shown exactly as the server's copy has it
    /// (no pending write or auto-transition laid over any).
    pub fn shows_confirmed(&self) -> bool {
        !self.view.overlays()
    }

    /// How many tasks and sessions the server's copy holds (all shown as
    /// they are when `shows_confirmed()`).
    pub fn counts(&self) -> (usize, usize) {
        self.replica.counts()
    }

    /// Writes not yet answered by the server.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Whether `take_changes()` has anything to list.
    pub fn has_changes(&self) -> bool {
        self.view.has_changes()
    }

    /// Ids of tasks and sessions whose visible copy changed since the last
    /// call, or (after a snapshot) that every one may have.
    pub fn take_changes(&mut self) -> Changes {
        self.view.take_changes()
    }

    /// Forgets which entities changed, for a caller about to make every
    /// object again (after it adopted a snapshot): `take_changes()` would
    /// list them all.
    pub fn forget_changes(&mut self) {
        self.view.clear_changes();
    }

    /// What the last input changed, if it was one plain change (see `Plain`).
    /// Taking it also takes that entity off the `take_changes()` list: the
    /// caller builds the new object itself.
    pub fn take_plain(&mut self) -> Option<Plain> {
        let plain = self.plain.take()?;
        self.view.clear_changes();
        Some(plain)
    }

    /// Whether to emit `Action::Event` (the caller has `on()` listeners).
    pub fn set_emit_events(&mut self, on: bool) {
        self.emit_events = on;
    }

    /// The earliest time `Input::Tick` is needed, if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut d: Option<Millis> = self.retry_at;
        let mut at = |t: Millis| d = Some(d.map_or(t, |d| d.min(t)));
        if self.conn.is_some() && self.state != ConnState::Closed {
            at(self.last_heard + if self.hello { SILENCE_MS } else { HANDSHAKE_MS });
        }
        // Auto-transitions and paused writes wait for a link that can send;
        // a deadline for them before then would only wake the caller in a
        // loop (`handle` sends them as soon as the link allows).
        if self.can_send(0) {
            for a in self.auto.values().filter(|a| a.inflight.is_none()) {
                at(a.due);
            }
        }
        if let (Some(p), false) = (self.writes_paused_until, self.outbox.is_empty())
            && self.can_send(Millis::MAX)
        {
            at(p);
        }
        d
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ----- input -----

    pub fn handle(&mut self, now: Millis, input: Input<'_>) {
        // A plain change needs a clean start: nothing on the changes list
        // that the caller has not taken yet.
        // (and a frame: only then has the caller parsed what was applied)
        let clean = !self.view.has_changes()
            && matches!(
                input,
                Input::Frame { .. }
                    | Input::Message(_)
                    | Input::Event { .. }
                    | Input::Status { .. }
            );
        self.plain = None;
        self.applied = 0;
        self.plain_candidate = None;
        match input {
            Input::Connect => self.connect(now),
            Input::Close => self.close(),
            Input::Frame { conn, text } => {
                if self.conn == Some(conn) {
                    self.last_heard = now;
                    self.on_frame(now, text, false);
                }
            }
            Input::Closed { conn, code } => {
                if self.conn == Some(conn) {
                    if code == 4008 {
                        self.report("the server closed the stream: this client fell behind (4008); resuming");
                    }
                    self.link_lost(now);
                }
            }
            Input::Answer { req, status, body } => self.on_answer(now, req, status, body),
            Input::Online(online) => {
                self.online = online;
                if online {
                    self.retry_now(now);
                    self.writes_paused_until = None;
                }
            }
            Input::Visible(visible) => {
                if visible {
                    self.retry_now(now);
                }
            }
            Input::Tick => self.on_tick(now),
            Input::Message(text) => self.on_frame(now, text, true),
            Input::Event { conn: None, env } => self.on_event(now, env, None),
            Input::Event {
                conn: Some(conn),
                env,
            } => {
                if self.conn == Some(conn) {
                    self.last_heard = now;
                    self.on_event(now, env, None);
                }
            }
            Input::Status { conn, seq, status } => {
                if conn.is_none() || self.conn == conn {
                    if conn.is_some() {
                        self.last_heard = now;
                    }
                    if self.catch_up != CatchUp::None {
                        let env = Envelope {
                            event: Event::TaskSessionStatus(status.to_payload()),
                            seq,
                        };
                        self.buffered.push(json(&env));
                    } else if self.apply_status(now, seq, status, None) {
                        self.maybe_live(now);
                    }
                }
            }
            Input::LoadSnapshot(text) => self.snapshot_in(now, None, SnapshotIn::read(text)),
            Input::Snapshot { req, snapshot } => self.snapshot_in(now, req, snapshot),
        }
        self.pump_writes(now);
        self.fire_autos(now);
        self.flush_changes();
        if clean
            && self.applied == 1
            && let Some(plain) = self.plain_candidate.take()
            && self.view.only_changed(plain.of_task())
        {
            self.plain = Some(plain);
        }
    }

    /// Makes a write: shown at once, kept in the outbox until the server
    /// answers, sent in order when the link allows.
    pub fn write(&mut self, now: Millis, mut cmd: WriteCmd) -> WriteId {
        // An id the server would refuse is refused here, before it is shown.
        if let Some(bad) = [cmd.task_id(), cmd.session_id()]
            .into_iter()
            .flatten()
            .find(|id| !crate::id::is_valid_id(id))
        {
            let message =
                format!("`{bad}` is not a valid id: 1-128 characters of A-Z a-z 0-9 . _ : -");
            let id = self.fresh();
            self.actions.push_back(Action::Settled {
                write: id,
                result: Err(Refusal {
                    status: 400,
                    detail: ErrorBody::new("validation_failed", &message, Some("id")).error,
                }),
            });
            return id;
        }
        // Ids made here, so the local copy and the server's agree.
        match &mut cmd {
            WriteCmd::CreateTask { task } if task.id.is_none() => {
                task.id = Some(self.fresh_id("task"));
            }
            WriteCmd::CreateSession { session } if session.id.is_none() => {
                session.id = Some(self.fresh_id("session"));
            }
            _ => {}
        }
        let id = self.fresh();
        let key = format!("{}-{id}", self.opts.client_id);
        self.outbox.push_back(Queued {
            id,
            key,
            cmd,
            at: now,
        });
        self.outbox_changed(now);
        self.pump_writes(now);
        self.flush_changes();
        id
    }

    /// Takes back an outbox saved by `Action::SaveOutbox` (after a reload).
    /// Its writes have no waiting promise: refusals are only `WriteFailed`.
    pub fn restore_outbox(&mut self, now: Millis, text: &str) -> Result<(), String> {
        let saved: Vec<Queued> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        // Saved writes are older than any made since this engine started:
        // they go first (after a write already on the wire). They get fresh
        // ids (they may come from several earlier clients) and keep their
        // keys, so a write the server already has is answered, not redone.
        let mut at = usize::from(self.inflight_write.is_some());
        for mut q in saved {
            if !self.outbox.iter().any(|o| o.key == q.key) {
                q.id = self.fresh();
                self.outbox.insert(at, q);
                at += 1;
            }
        }
        self.outbox_changed(now);
        self.pump_writes(now);
        self.flush_changes();
        Ok(())
    }

    // ----- connection -----

    fn connect(&mut self, now: Millis) {
        self.closed_by_user = false;
        if self.conn.is_none() && self.state != ConnState::Live {
            self.open(now);
        }
    }

    fn close(&mut self) {
        self.closed_by_user = true;
        if let Some(conn) = self.conn.take() {
            self.actions.push_back(Action::Close { conn, code: 1000 });
        }
        self.retry_at = None;
        self.catch_up = CatchUp::None;
        self.buffered.clear();
        self.set_state(ConnState::Closed);
    }

    fn open(&mut self, now: Millis) {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conn = Some(conn);
        self.hello = false;
        self.retry_at = None;
        self.last_heard = now;
        let ws = match self.opts.base_url.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!(
                "ws://{}",
                self.opts
                    .base_url
                    .strip_prefix("http://")
                    .unwrap_or(&self.opts.base_url)
            ),
        };
        let mut query = Vec::new();
        if let Some(epoch) = self.replica.epoch() {
            query.push(format!(
                "since={}&epoch={}",
                self.replica.seq(),
                writes::encode(epoch)
            ));
        }
        if let Some(t) = &self.opts.token {
            query.push(format!("token={}", writes::encode(t)));
        }
        if let Some(p) = &self.opts.project_id {
            query.push(format!("projectId={}", writes::encode(p)));
        }
        let url = if query.is_empty() {
            format!("{ws}/ws")
        } else {
            format!("{ws}/ws?{}", query.join("&"))
        };
        self.actions.push_back(Action::Open { conn, url });
        self.set_state(if self.synced_once {
            ConnState::Reconnecting
        } else {
            ConnState::Connecting
        });
    }

    fn retry_now(&mut self, now: Millis) {
        if self.state == ConnState::Reconnecting && self.conn.is_none() {
            self.open(now);
        }
    }

    /// The link is gone: try again after capped exponential backoff with full jitter.
    fn link_lost(&mut self, now: Millis) {
        if let Some(conn) = self.conn.take() {
            self.actions.push_back(Action::Close { conn, code: 1000 });
        }
        self.catch_up = CatchUp::None;
        self.buffered.clear();
        if self.state == ConnState::Closed {
            return;
        }
        let cap = (BACKOFF_START_MS << self.attempt.min(16)).min(BACKOFF_CAP_MS);
        let delay = (self.random() * cap as f64) as Millis;
        self.attempt += 1;
        self.retry_at = Some(now + delay);
        self.synced_once = true;
        self.set_state(ConnState::Reconnecting);
    }

    fn on_tick(&mut self, now: Millis) {
        if self.retry_at.is_some_and(|t| t <= now) && self.conn.is_none() {
            self.open(now);
        }
        if self.conn.is_some() {
            let quiet = now.saturating_sub(self.last_heard);
            if !self.hello && quiet >= HANDSHAKE_MS {
                self.report(
                    "the server did not answer the WebSocket handshake in 10 s; reconnecting",
                );
                self.link_lost(now);
            } else if self.hello && quiet >= SILENCE_MS {
                self.report("no message from the server for 60 s; reconnecting");
                self.link_lost(now);
            }
        }
        if self.writes_paused_until.is_some_and(|t| t <= now) {
            self.writes_paused_until = None;
        }
    }

    fn set_state(&mut self, state: ConnState) {
        if self.state != state {
            self.state = state;
            self.actions.push_back(Action::State(state));
        }
    }

    fn maybe_live(&mut self, now: Millis) {
        if self.state != ConnState::Live
            && self.conn.is_some()
            && self.hello
            && self.catch_up == CatchUp::None
            && self.replica.seq() >= self.target
        {
            self.attempt = 0;
            self.synced_once = true;
            self.set_state(ConnState::Live);
            self.writes_paused_until = None;
            self.schedule_all_autos(now);
        }
    }

    // ----- frames -----

    fn on_frame(&mut self, now: Millis, text: &str, external: bool) {
        match parse_frame(text) {
            Err(e) => self.report(&e.to_string()),
            Ok(Frame::Hello(h)) => self.on_hello(now, h, external),
            Ok(Frame::Event(env)) => self.on_event(now, env, Some(text)),
            Ok(Frame::Ping | Frame::Pong | Frame::Unknown(_)) => {}
        }
    }

    /// An event, with its frame's text when there is one.
    fn on_event(&mut self, now: Millis, env: Envelope, text: Option<&str>) {
        if self.catch_up != CatchUp::None {
            self.buffered
                .push(text.map_or_else(|| json(&env), str::to_owned));
        } else if self.apply(now, env, text) {
            self.maybe_live(now);
        }
    }

    fn on_hello(&mut self, now: Millis, h: wire::Hello, external: bool) {
        self.hello = true;
        self.target = h.seq;
        let same_epoch = self.replica.epoch() == Some(h.epoch.as_str());
        if h.resumed && same_epoch {
            self.set_state(ConnState::Syncing);
            self.maybe_live(now);
            return;
        }
        self.buffered.clear();
        self.set_state(ConnState::Syncing);
        if external {
            self.replica.set_epoch(&h.epoch);
            self.catch_up = CatchUp::External;
            return;
        }
        let conn = self.conn.expect("frames come from the current socket");
        let resync = match &self.opts.project_id {
            // (the event list is not scoped)
            Some(_) => Resync::Snapshot,
            None => self.opts.resync,
        };
        match resync {
            Resync::Snapshot => {
                self.replica.set_epoch(&h.epoch);
                let path = match &self.opts.project_id {
                    Some(p) => format!("/api/snapshot?projectId={}", writes::encode(p)),
                    None => "/api/snapshot".into(),
                };
                let req = self.get(path, Purpose::Snapshot(conn));
                self.catch_up = CatchUp::Request(req);
            }
            Resync::History => {
                let from = match (self.replica.epoch(), self.opts.since) {
                    // First contact: from `since` if asked, else from now.
                    (None, Some(since)) => Some(since),
                    (None, None) => None,
                    (Some(_), _) if !same_epoch => {
                        self.report(
                            "the server has a new database; reading its events from the start",
                        );
                        Some(0)
                    }
                    (Some(_), _) => {
                        self.report(&format!(
                            "events after {} are no longer retained; continuing from {}",
                            self.replica.seq(),
                            h.seq
                        ));
                        None
                    }
                };
                self.replica.set_epoch(&h.epoch);
                match from {
                    Some(from) if from < h.seq => {
                        self.replica.skip_to(from);
                        self.request_events(conn);
                    }
                    _ => {
                        self.replica.skip_to(h.seq);
                        self.maybe_live(now);
                    }
                }
            }
        }
    }

    fn request_events(&mut self, conn: ConnId) {
        let path = format!(
            "/api/events?since={}&limit={EVENTS_PAGE}",
            self.replica.seq()
        );
        let req = self.get(path, Purpose::Events(conn));
        self.catch_up = CatchUp::Request(req);
    }

    /// Applies one event (a status event by `apply_status`). False if the
    /// event showed a gap and the link was dropped to resume.
    fn apply(&mut self, now: Millis, env: Envelope, text: Option<&str>) -> bool {
        if let Event::TaskSessionStatus(p) = &env.event {
            return self.apply_status(now, env.seq, p.as_ref(), text);
        }
        if let Err(applied) = self.admit(now, env.seq) {
            return applied;
        }
        let ty = env.event.type_name();
        let emitted = self
            .emit_events
            .then(|| text.map_or_else(|| json(&env), str::to_owned));
        if let Some(change) = self.replica.apply_change(env) {
            self.applied += 1;
            self.plain_candidate = Some(change);
        }
        if let Some(text) = emitted {
            self.actions.push_back(Action::Event { ty, text });
        }
        self.after_replica_change(now);
        true
    }

    /// `apply` of a `task:session_status`, borrowed (`text`: its frame, if
    /// the caller has it, for `on()` listeners). The auto-transition trigger
    /// is here, event-based as the original `onSessionStatus`: a live
    /// `working` on a `todo` task.
    fn apply_status(
        &mut self,
        now: Millis,
        seq: u64,
        p: StatusRef<'_>,
        text: Option<&str>,
    ) -> bool {
        if let Err(applied) = self.admit(now, seq) {
            return applied;
        }
        // (a progress patch builds on the previous copy: that must have been the server's too)
        let overlaid = self.view.overlaid(p.task_id);
        if self.emit_events {
            let text = text.map_or_else(
                || {
                    json(&Envelope {
                        event: Event::TaskSessionStatus(p.to_payload()),
                        seq,
                    })
                },
                str::to_owned,
            );
            self.actions.push_back(Action::Event {
                ty: "task:session_status",
                text,
            });
        }
        if let Some(change) = self.replica.apply_status(seq, p) {
            self.applied += 1;
            self.plain_candidate = (!overlaid).then_some(change);
        }
        if p.status == SessionStatus::Working
            && self
                .replica
                .task(p.task_id)
                .is_some_and(|t| t.status() == TaskStatus::Todo)
        {
            self.schedule_auto(now, p.task_id);
        }
        self.after_replica_change(now);
        true
    }

    /// Whether an event with this `seq` is to be applied: `Ok`, or `Err`
    /// with what `apply` answers (true: an old one, skipped; false: a gap
    /// on this connection, which was dropped to resume).
    fn admit(&mut self, now: Millis, seq: u64) -> Result<(), bool> {
        if seq <= self.replica.seq() {
            return Err(true);
        }
        // A connection starts with its hello and then carries every event in
        // order, or is closed; anything else means this stream is broken:
        // resume from the last event we hold. (On the caller's own
        // transport the caller decides; we only say so.)
        // (a scoped stream skips other projects' seqs on purpose)
        let gap = self.opts.project_id.is_none() && seq > self.replica.seq() + 1;
        if self.conn.is_some() && (gap || !self.hello) {
            self.report(&format!(
                "event {} came {}; resuming from {}",
                seq,
                if self.hello {
                    "after a gap"
                } else {
                    "before the hello"
                },
                self.replica.seq()
            ));
            self.link_lost(now);
            return Err(false);
        }
        if gap && self.hello {
            self.report(&format!(
                "events {}..{} are missing from the stream",
                self.replica.seq() + 1,
                seq - 1
            ));
        }
        Ok(())
    }

    /// A snapshot read by the caller (`Input::Snapshot`) or from a body.
    fn snapshot_in(&mut self, now: Millis, req: Option<ReqId>, snap: Result<SnapshotIn, String>) {
        match req {
            // (as `on_answer` does for a successful answer to it)
            Some(req) => {
                let Some(Purpose::Snapshot(conn)) = self.requests.remove(&req) else {
                    return;
                };
                if self.conn == Some(conn) && self.catch_up == CatchUp::Request(req) {
                    self.snapshot_answered(now, snap);
                }
            }
            None => match snap {
                Ok(snap) => {
                    self.catch_up = CatchUp::Request(ReqId::MAX);
                    self.snapshot_loaded(now, snap);
                }
                Err(e) => self.report(&format!("malformed snapshot: {e}")),
            },
        }
    }

    fn snapshot_answered(&mut self, now: Millis, snap: Result<SnapshotIn, String>) {
        match snap {
            Ok(snap) => self.snapshot_loaded(now, snap),
            Err(e) => {
                self.report(&format!("malformed snapshot: {e}"));
                self.link_lost(now);
            }
        }
    }

    /// Whether `req` asks for a snapshot (its successful answer may come as
    /// `Input::Snapshot`, read as it arrived).
    pub fn is_snapshot_request(&self, req: ReqId) -> bool {
        matches!(self.requests.get(&req), Some(Purpose::Snapshot(_)))
    }

    fn snapshot_loaded(&mut self, now: Millis, snap: SnapshotIn) {
        if self.catch_up == CatchUp::None {
            return;
        }
        self.replica.load(snap);
        self.snapshots += 1;
        self.catch_up = CatchUp::None;
        self.apply_buffered(now);
        self.after_replica_change(now);
        // After a resync the events in between were not seen: state-based.
        self.schedule_all_autos(now);
        self.maybe_live(now);
    }

    fn apply_buffered(&mut self, now: Millis) {
        for text in std::mem::take(&mut self.buffered) {
            if let Ok(Frame::Event(env)) = parse_frame(&text)
                && !self.apply(now, env, Some(&text))
            {
                return;
            }
        }
    }

    // ----- HTTP -----

    fn fresh(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        let n = self.fresh();
        format!("{prefix}-{}-{n}", self.opts.client_id)
    }

    fn request(&mut self, http: HttpRequest, key: Option<&str>, purpose: Purpose) -> ReqId {
        let req = self.fresh();
        self.requests.insert(req, purpose);
        let mut headers = Vec::new();
        if http.body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        if let Some(t) = &self.opts.token {
            headers.push(("authorization", format!("Bearer {t}")));
        }
        if let Some(v) = http.if_match {
            headers.push(("if-match", format!("\"{v}\"")));
        }
        if let Some(k) = key {
            headers.push((wire::IDEMPOTENCY_KEY, k.to_owned()));
        }
        let url = format!("{}{}", self.opts.base_url, http.path);
        self.actions.push_back(Action::Request {
            req,
            url,
            http,
            headers,
        });
        req
    }

    fn get(&mut self, path: String, purpose: Purpose) -> ReqId {
        let http = HttpRequest {
            method: "GET",
            path,
            body: None,
            if_match: None,
        };
        self.request(http, None, purpose)
    }

    fn on_answer(&mut self, now: Millis, req: ReqId, status: u16, body: &str) {
        let Some(purpose) = self.requests.remove(&req) else {
            return;
        };
        let ok = (200..300).contains(&status);
        match purpose {
            Purpose::Snapshot(conn) | Purpose::Events(conn) => {
                if self.conn != Some(conn) || self.catch_up != CatchUp::Request(req) {
                    return;
                }
                if matches!(purpose, Purpose::Events(_)) && status == 410 {
                    self.report(
                        "the events to catch up on are no longer retained; continuing from now",
                    );
                    self.replica.skip_to(self.target);
                    self.catch_up = CatchUp::None;
                    self.apply_buffered(now);
                    self.maybe_live(now);
                    return;
                }
                if !ok {
                    let why = if status == 0 {
                        "no answer".to_owned()
                    } else {
                        ErrorBody::parse(status, body).message
                    };
                    self.report(&format!("could not catch up ({why}); reconnecting"));
                    self.link_lost(now);
                    return;
                }
                match purpose {
                    Purpose::Snapshot(_) => self.snapshot_answered(now, SnapshotIn::read(body)),
                    _ => self.events_page(now, conn, body),
                }
            }
            Purpose::Write(write) => self.write_answered(now, write, status, body),
            Purpose::Auto => self.auto_answered(now, req, status, body),
        }
    }

    fn events_page(&mut self, now: Millis, conn: ConnId, body: &str) {
        let page = match serde_json::from_str::<EventPage>(body) {
            Ok(p) => p,
            Err(e) => {
                self.report(&format!("malformed event page: {e}"));
                self.link_lost(now);
                return;
            }
        };
        let empty = page.events.is_empty();
        for raw in page.events {
            if let Ok(Frame::Event(env)) = parse_frame(raw.get())
                && !self.apply(now, env, Some(raw.get()))
            {
                return;
            }
        }
        if empty || self.replica.seq() >= self.target {
            self.catch_up = CatchUp::None;
            self.apply_buffered(now);
            self.maybe_live(now);
        } else {
            self.request_events(conn);
        }
    }

    // ----- writes and the outbox -----

    /// Whether requests may go out now: not while the link is down (the
    /// outbox keeps them), but a store that never connects writes directly.
    fn can_send(&self, now: Millis) -> bool {
        self.online
            && !self.closed_by_user
            && self.writes_paused_until.is_none_or(|t| t <= now)
            && !matches!(
                self.state,
                ConnState::Connecting | ConnState::Syncing | ConnState::Reconnecting
            )
    }

    /// Sends the outbox's head, one write at a time, so writes land in order.
    fn pump_writes(&mut self, now: Millis) {
        if self.inflight_write.is_some() || !self.can_send(now) {
            return;
        }
        let Some(q) = self.outbox.front() else { return };
        let (id, key, http) = (q.id, q.key.clone(), q.cmd.request());
        self.inflight_write = Some(id);
        self.request(http, Some(&key), Purpose::Write(id));
    }

    fn write_answered(&mut self, now: Millis, write: WriteId, status: u16, body: &str) {
        if self.inflight_write == Some(write) {
            self.inflight_write = None;
        }
        let Some(pos) = self.outbox.iter().position(|q| q.id == write) else {
            return;
        };
        let transient = status == 0 || status >= 500 || status == 408 || status == 429;
        // A client that never connected has no link to wait for: an
        // unreachable server is a refusal.
        let (status, body) = if status == 0 && self.state == ConnState::Closed {
            let e = ErrorBody::new(
                "network_error",
                &format!("cannot reach {}", self.opts.base_url),
                None,
            );
            (0, e.to_text())
        } else {
            (status, body.to_owned())
        };
        let body = body.as_str();
        if transient && self.state != ConnState::Closed {
            // Not refused, just not done: keep it first in line and try again later.
            let cap = (BACKOFF_START_MS << self.write_attempt.min(16)).min(BACKOFF_CAP_MS);
            self.write_attempt += 1;
            self.writes_paused_until = Some(now + (self.random() * cap as f64) as Millis);
            return;
        }
        self.write_attempt = 0;
        let q = self.outbox.remove(pos).expect("position is valid");
        if (200..300).contains(&status) {
            match q.cmd.answers() {
                Answers::Task => {
                    if let Ok(t) = serde_json::from_str::<Task>(body) {
                        self.replica.observe_task(t);
                    }
                }
                Answers::Session => {
                    if let Ok(s) = serde_json::from_str::<Session>(body) {
                        self.replica.observe_session(s);
                    }
                }
                Answers::Nothing => match &q.cmd {
                    WriteCmd::DeleteTask { id } => self.replica.forget_task(id),
                    WriteCmd::DeleteSession { id } => self.replica.forget_session(id),
                    _ => {}
                },
            }
            self.actions.push_back(Action::Settled {
                write,
                result: Ok(body.to_owned()),
            });
        } else {
            let refusal = Refusal {
                status,
                detail: ErrorBody::parse(status, body),
            };
            self.actions.push_back(Action::Settled {
                write,
                result: Err(refusal.clone()),
            });
            self.actions.push_back(Action::WriteFailed {
                write,
                cmd: q.cmd.clone(),
                refusal,
            });
        }
        self.view.forget(&q.cmd);
        self.outbox_changed(now);
        self.after_replica_change(now);
    }

    fn outbox_changed(&mut self, now: Millis) {
        let saved: Vec<&Queued> = self.outbox.iter().collect();
        self.actions.push_back(Action::SaveOutbox(
            serde_json::to_string(&saved).expect("the outbox serializes"),
        ));
        for q in &self.outbox {
            self.view.touch(&q.cmd);
        }
        self.rebuild_view(now);
    }

    // ----- the auto-transition -----

    fn schedule_auto(&mut self, now: Millis, task_id: &str) {
        if !self.opts.auto_transition || self.auto.contains_key(task_id) {
            return;
        }
        let due = now + AUTO_DELAY_MS.0 + (self.random() * AUTO_DELAY_MS.1 as f64) as Millis;
        let n = self.fresh();
        let key = format!("{}-auto-{n}", self.opts.client_id);
        self.auto.insert(
            task_id.to_owned(),
            Auto {
                due,
                tries: 0,
                inflight: None,
                key,
            },
        );
        self.view.touch_task(task_id);
    }

    /// State-based: every `todo` task with a `working` session.
    fn schedule_all_autos(&mut self, now: Millis) {
        if !self.opts.auto_transition {
            return;
        }
        let due: Vec<String> = self
            .replica
            .tasks()
            .into_iter()
            .filter(|t| t.auto_transition().is_some())
            .map(|t| t.id().to_owned())
            .collect();
        for id in due {
            self.schedule_auto(now, &id);
        }
        self.rebuild_view(now);
    }

    fn fire_autos(&mut self, now: Millis) {
        if self.auto.is_empty() || !self.can_send(now) {
            return;
        }
        let due: Vec<String> = self
            .auto
            .iter()
            .filter(|(_, a)| a.inflight.is_none() && a.due <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for task_id in due {
            let Some(task) = self.replica.task(&task_id) else {
                continue;
            };
            // If-Match on the version held now, not the one at trigger time:
            // a later `blocked` report bumps it but does not cancel the move.
            let http = writes::WriteCmd::UpdateTask {
                id: task_id.clone(),
                patch: TaskPatch::status(TaskStatus::Inprogress),
                if_match: Some(task.version()),
            }
            .request();
            let key = self.auto[&task_id].key.clone();
            let req = self.request(http, Some(&key), Purpose::Auto);
            if let Some(a) = self.auto.get_mut(&task_id) {
                a.inflight = Some(req);
                a.tries += 1;
            }
        }
    }

    fn auto_answered(&mut self, now: Millis, req: ReqId, status: u16, body: &str) {
        let Some(task_id) = self
            .auto
            .iter()
            .find(|(_, a)| a.inflight == Some(req))
            .map(|(id, _)| id.clone())
        else {
            return;
        };
        let still_todo = self
            .replica
            .task(&task_id)
            .is_some_and(|t| t.status() == TaskStatus::Todo);
        let jitter = (self.random() * AUTO_RETRY_MS as f64) as Millis;
        let a = self.auto.get_mut(&task_id).expect("found above");
        a.inflight = None;
        match status {
            200..=299 => {
                if let Ok(t) = serde_json::from_str::<Task>(body) {
                    self.replica.observe_task(t);
                }
                self.drop_auto(&task_id);
            }
            // Someone else moved it (stay quiet), or our version was stale.
            // Still `todo` at a newer version: try again, backing off (If-Match
            // keeps it exactly-once however often; the original never gives up).
            412 if still_todo => {
                let backoff = AUTO_RETRY_MS << u32::from(a.tries.min(AUTO_TRIES));
                a.due = now + backoff + jitter;
            }
            412 => self.drop_auto(&task_id),
            0 | 408 | 429 | 500.. => {
                a.due = now + AUTO_UNREACHABLE_MS;
                a.tries = a.tries.saturating_sub(1);
            }
            _ => {
                let e = ErrorBody::parse(status, body);
                self.report(&format!(
                    "auto-transition of {task_id} to inprogress refused: {}",
                    e.message
                ));
                self.drop_auto(&task_id);
            }
        }
        self.after_replica_change(now);
    }

    fn drop_auto(&mut self, task_id: &str) {
        self.auto.remove(task_id);
        self.view.touch_task(task_id);
    }

    // ----- bookkeeping -----

    /// After the server's copy changed: cancel auto-transitions of tasks
    /// that left `todo`, and recompute what the user sees.
    fn after_replica_change(&mut self, now: Millis) {
        if !self.replica.has_changes() && !self.view.dirty() {
            return;
        }
        if !self.auto.is_empty() {
            let left_todo: Vec<String> = self
                .auto
                .iter()
                .filter(|(id, a)| {
                    a.inflight.is_none()
                        && self.replica.task_changed(id)
                        && self
                            .replica
                            .task(id)
                            .is_none_or(|t| t.status() != TaskStatus::Todo)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in left_todo {
                self.drop_auto(&id);
            }
        }
        let (all, tasks, sessions) = self.replica.changes_mut();
        self.view.replica_changed(all, tasks, sessions);
        self.rebuild_view(now);
    }

    fn rebuild_view(&mut self, now: Millis) {
        // (a lookup into the map itself: collecting its keys into a set
        // compiled a second sort into the WebAssembly build)
        let autos = &self.auto;
        let pending: Vec<(&WriteCmd, Millis)> =
            self.outbox.iter().map(|q| (&q.cmd, q.at)).collect();
        if self
            .view
            .rebuild(&self.replica, &pending, |id| autos.contains_key(id), now)
        {
            self.changed = true;
        }
    }

    fn flush_changes(&mut self) {
        if std::mem::take(&mut self.changed) {
            self.actions.push_back(Action::Changed);
        }
    }

    fn report(&mut self, message: &str) {
        self.actions.push_back(Action::Report(message.to_owned()));
    }

    /// A number in [0, 1).
    fn random(&mut self) -> f64 {
        self.rng.unit()
    }
}

/// A wire value as JSON text (for the rare paths that need an event's text
/// when the caller passed it decoded; and for the wasm layer's answers).
pub(crate) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("wire types serialize")
}
