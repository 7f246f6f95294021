//! The engine (`crate::link`) for JavaScript. The package's `Store`
//! (`npm/store.js`) is the executor: it owns the WebSocket, `fetch`, the one
//! timer, the listeners and the write promises, feeds what happens here, and
//! runs the actions `poll()` hands back (JSON, see `link::Action`). Nothing
//! here decides or does I/O; text crosses the boundary as JSON, which
//! V8's `JSON.parse` turns into objects fastest.

use crate::event::StatusRef;
use crate::link::{
    Action, Input, Link, ListChange, ListOrder, Millis, Options, Plain, Resync, WriteCmd, json,
};
use crate::replica::SnapshotFeed;
use crate::wire::Listed;
use serde::Deserialize;
use std::collections::VecDeque;
use wasm_bindgen::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineOptions {
    url: String,
    token: Option<String>,
    auto_transition: bool,
    client_id: String,
    seed: u64,
    #[serde(default)]
    project_id: Option<String>,
}

#[wasm_bindgen]
pub struct Engine {
    link: Link,
    /// Actions for `action()`, in order.
    held: VecDeque<Action>,
    /// The deadline last reported.
    deadline: Option<Millis>,
    /// The task ids last handed out by `taskIds()`, in order.
    task_ids: ListOrder,
    session_ids: ListOrder,
    /// Whether the last list `taskIds()`/`sessionIds()` gave is to be
    /// appended to the one before (see `idsAppended()`).
    appended: bool,
    /// `Link::members()` when each list was last handed out.
    task_members: Option<u64>,
    session_members: Option<u64>,
    /// Frames arrive here, written by the caller with `TextEncoder.encodeInto`
    /// (ten times faster than passing a string), see `inbox()`.
    inbox: Vec<u8>,
    /// The snapshot being fed in pieces (`snapshotPiece()`).
    feed: Option<SnapshotFeed>,
}

/// What every input answers, as bits, so the hot path crosses as one number:
/// the visible state changed (read `takeChanges()` when you next read),
/// actions wait (`action()`), the deadline moved (`deadline()`).
const CHANGED: u32 = 1;
const ACTIONS: u32 = 2;
const DEADLINE: u32 = 4;
/// `takeChanges()` has ids to list (without it there is nothing to drop, and
/// no call to make: every string out of wasm costs about a microsecond).
const LISTED: u32 = 8;
/// The engine could not take an event passed in parts (`statusIn`): pass the
/// frame's text instead (nothing was changed).
const SEND_TEXT: u32 = 1 << 31;
/// Bits 4–6: a plain change (`link::Plain`) the caller builds itself from
/// its own parse of the frame: 1 task put, 2 task gone, 3 session put,
/// 4 session gone, 5 progress; bit 7: the session id is new on the task;
/// bits 8 and up: the progress index.
const PLAIN_SHIFT: u32 = 4;
/// The largest inbox kept between inputs (bytes).
const INBOX_KEPT: usize = 1 << 16;
const NEW_ID: u32 = 128;
const INDEX_SHIFT: u32 = 8;

fn plain_bits(p: Plain) -> u32 {
    use Plain::*;
    let (kind, rest) = match p {
        TaskPut => (1, 0),
        TaskGone => (2, 0),
        SessionPut => (3, 0),
        SessionGone => (4, 0),
        Progress { index, new_id } => (
            5,
            (index as u32) << INDEX_SHIFT | if new_id { NEW_ID } else { 0 },
        ),
    };
    kind << PLAIN_SHIFT | rest
}

/// The list keys (creation time, id) of `items`.
fn keys<T: Listed>(items: Vec<&T>) -> Vec<(&str, &str)> {
    items.into_iter().map(Listed::list_key).collect()
}

/// A list's change as `taskIds()` gives it: the ids, one per line (one
/// string crosses faster than a list of them; ids hold no line break).
fn listed(appended: &mut bool, change: ListChange<'_>, order: &ListOrder) -> Option<String> {
    match change {
        ListChange::Unchanged => None,
        ListChange::Appended(ids) => {
            *appended = true;
            Some(ids.join("\n"))
        }
        ListChange::All(_) => {
            *appended = false;
            Some(order.joined().to_owned())
        }
    }
}

fn at(now: f64) -> Millis {
    now as Millis
}

#[wasm_bindgen]
impl Engine {
    /// `options`: `{"url", "token", "autoTransition", "clientId", "seed", "projectId"?}` as JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str) -> Result<Engine, String> {
        let o: EngineOptions = serde_json::from_str(options).map_err(|e| e.to_string())?;
        let mut link = Link::new(Options {
            base_url: o.url,
            token: o.token,
            auto_transition: o.auto_transition,
            resync: Resync::Snapshot,
            client_id: o.client_id,
            seed: o.seed,
            since: None,
            project_id: o.project_id,
        });
        // Events are copied out for `on()` listeners only once there are some
        // (`setEmitEvents`): unasked, each cost a JSON round trip per frame.
        link.set_emit_events(false);
        Ok(Engine {
            link,
            held: VecDeque::new(),
            deadline: None,
            task_ids: ListOrder::default(),
            session_ids: ListOrder::default(),
            appended: false,
            task_members: None,
            session_members: None,
            inbox: Vec::new(),
            feed: None,
        })
    }
    /// Drains the engine after an input: "changed" becomes a bit, other
    /// actions wait for `action()`. Returns the bits (see `CHANGED`).
    pub fn pending(&mut self) -> u32 {
        let mut bits = 0;
        while let Some(a) = self.link.poll_action() {
            match a {
                Action::Changed => bits |= CHANGED,
                a => self.held.push_back(a),
            }
        }
        if !self.held.is_empty() {
            bits |= ACTIONS;
        }
        if let Some(plain) = self.link.take_plain() {
            bits |= plain_bits(plain);
        }
        if self.link.has_changes() {
            bits |= LISTED;
        }
        let deadline = self.link.next_deadline();
        if deadline != self.deadline {
            self.deadline = deadline;
            bits |= DEADLINE;
        }
        bits
    }

    fn input(&mut self, now: f64, input: Input<'_>) -> u32 {
        self.link.handle(at(now), input);
        self.pending()
    }

    fn with_inbox(&mut self, now: f64, len: usize, input: impl FnOnce(&str) -> Input<'_>) -> u32 {
        let mut inbox = std::mem::take(&mut self.inbox);
        // (encodeInto writes valid UTF-8; anything else is a caller's bug, reported as such)
        let text = std::str::from_utf8(&inbox[..len.min(inbox.len())]).unwrap_or("{not UTF-8}");
        self.link.handle(at(now), input(text));
        // A snapshot's room is given back, for the allocator to reuse
        // (WebAssembly memory never shrinks): frames need only a little.
        if inbox.len() > INBOX_KEPT {
            inbox = Vec::new();
        }
        self.inbox = inbox;
        self.pending()
    }
    /// The next waiting action as JSON (`{"a": kind, "v": …}`), or nothing.
    pub fn action(&mut self) -> Option<String> {
        self.held.pop_front().map(|a| json(&a))
    }
    /// When to call `tick()` next (ms since the Unix epoch), or -1.
    pub fn deadline(&self) -> f64 {
        self.deadline.map_or(-1.0, |t| t as f64)
    }
    pub fn connect(&mut self, now: f64) -> u32 {
        self.input(now, Input::Connect)
    }
    pub fn close(&mut self, now: f64) -> u32 {
        self.input(now, Input::Close)
    }

    pub fn closed(&mut self, now: f64, conn: f64, code: u16) -> u32 {
        let conn = conn as u64;
        self.input(now, Input::Closed { conn, code })
    }

    pub fn online(&mut self, now: f64, online: bool) -> u32 {
        self.input(now, Input::Online(online))
    }
    pub fn visible(&mut self, now: f64, visible: bool) -> u32 {
        self.input(now, Input::Visible(visible))
    }
    pub fn tick(&mut self, now: f64) -> u32 {
        self.input(now, Input::Tick)
    }

    /// The address of a buffer of at least `capacity` bytes in this module's
    /// memory, for the next input that reads it (`frameIn()`, `messageIn()`,
    /// `statusIn()`, `answerIn()`, `snapshotPiece()`; valid until then).
    /// Text crosses only so: `TextEncoder.encodeInto` into it is many times
    /// faster than passing a string.
    pub fn inbox(&mut self, capacity: usize) -> usize {
        if self.inbox.len() < capacity {
            self.inbox.resize(capacity, 0);
        }
        self.inbox.as_mut_ptr() as usize
    }
    /// A frame from socket `conn`: the `len` bytes of UTF-8 written into the inbox.
    #[wasm_bindgen(js_name = frameIn)]
    pub fn frame_in(&mut self, now: f64, conn: f64, len: usize) -> u32 {
        let conn = conn as u64;
        self.with_inbox(now, len, |text| Input::Frame { conn, text })
    }
    /// A frame that came by the caller's own transport (`applyMessage`): the
    /// `len` bytes of UTF-8 written into the inbox.
    #[wasm_bindgen(js_name = messageIn)]
    pub fn message_in(&mut self, now: f64, len: usize) -> u32 {
        self.with_inbox(now, len, |text| Input::Message(text))
    }
    /// A `task:session_status` frame the caller parsed itself, written into
    /// the inbox (`len` bytes of UTF-8), with where its five strings are in
    /// it (byte spans, end exclusive; `notes_start` 2^32-1 for none): the
    /// same input as `frameIn()`/`messageIn()` of it (`conn` -1 for the caller's
    /// own transport) without a parse. `SEND_TEXT` if the parts do not make
    /// a valid event (`StatusRef::from_parts`, tested natively).
    #[wasm_bindgen(js_name = statusIn)]
    #[allow(clippy::too_many_arguments)]
    pub fn status_in(
        &mut self,
        now: f64,
        conn: f64,
        seq: f64,
        version: f64,
        len: usize,
        task_start: u32,
        task_end: u32,
        session_start: u32,
        session_end: u32,
        status_start: u32,
        status_end: u32,
        notes_start: u32,
        notes_end: u32,
        at_start: u32,
        at_end: u32,
    ) -> u32 {
        let frame = &self.inbox[..len.min(self.inbox.len())];
        let spans = [
            (task_start, task_end),
            (session_start, session_end),
            (status_start, status_end),
            (notes_start, notes_end),
            (at_start, at_end),
        ];
        let Some((seq, status)) = StatusRef::from_parts(frame, seq, version, spans) else {
            return SEND_TEXT;
        };
        let conn = (conn >= 0.0).then_some(conn as u64);
        self.link
            .handle(at(now), Input::Status { conn, seq, status });
        self.pending()
    }
    /// The answer to request `req` (`status` 0: none came), its body the
    /// `len` bytes of UTF-8 written into the inbox.
    #[wasm_bindgen(js_name = answerIn)]
    pub fn answer_in(&mut self, now: f64, req: f64, status: u16, len: usize) -> u32 {
        let req = req as u64;
        self.with_inbox(now, len, |body| Input::Answer { req, status, body })
    }
    /// The next `len` bytes (UTF-8, cut anywhere) of a snapshot, written into
    /// the inbox: a `GET /api/snapshot` body is fed in pieces, each read as
    /// it comes (`SnapshotFeed`), so the whole text is never in this
    /// module's memory (which never shrinks). Then `snapshotEnd()`.
    #[wasm_bindgen(js_name = snapshotPiece)]
    pub fn snapshot_piece(&mut self, len: usize) {
        let piece = &self.inbox[..len.min(self.inbox.len())];
        self.feed.get_or_insert_with(SnapshotFeed::new).push(piece);
    }
    /// The snapshot fed since the last `snapshotEnd()` is whole: the
    /// successful answer to request `req` (see `isSnapshotRequest()`), or,
    /// with `req` -1, one that came by the caller's own transport.
    #[wasm_bindgen(js_name = snapshotEnd)]
    pub fn snapshot_end(&mut self, now: f64, req: f64) -> u32 {
        let snapshot = self.feed.take().unwrap_or_default().finish();
        let req = (req >= 0.0).then_some(req as u64);
        self.input(now, Input::Snapshot { req, snapshot })
    }
    /// Whether the answer to request `req` is a snapshot (to feed in pieces
    /// when it is successful).
    #[wasm_bindgen(js_name = isSnapshotRequest)]
    pub fn is_snapshot_request(&self, req: f64) -> bool {
        self.link.is_snapshot_request(req as u64)
    }

    /// A write (`{"op": "createTask", …}` as JSON); its id, or why it is
    /// malformed. Call `pending()` after it.
    pub fn write(&mut self, now: f64, cmd: &str) -> Result<f64, String> {
        let cmd: WriteCmd = serde_json::from_str(cmd).map_err(|e| e.to_string())?;
        Ok(self.link.write(at(now), cmd) as f64)
    }
    /// Call `pending()` after it.
    #[wasm_bindgen(js_name = restoreOutbox)]
    pub fn restore_outbox(&mut self, now: f64, text: &str) -> Result<(), String> {
        self.link.restore_outbox(at(now), text)
    }

    #[wasm_bindgen(js_name = setEmitEvents)]
    pub fn set_emit_events(&mut self, on: bool) {
        self.link.set_emit_events(on);
    }
    pub fn state(&self) -> String {
        self.link.state().as_str().to_owned()
    }
    pub fn seq(&self) -> f64 {
        self.link.seq() as f64
    }
    /// When reconnecting: the time of the next attempt, or -1.
    #[wasm_bindgen(js_name = retryAt)]
    pub fn retry_at(&self) -> f64 {
        self.link.retry_at().map_or(-1.0, |t| t as f64)
    }
    /// How many snapshots have been loaded.
    #[wasm_bindgen(js_name = snapshotsLoaded)]
    pub fn snapshots_loaded(&self) -> f64 {
        self.link.snapshots_loaded() as f64
    }
    /// Whether every entity is shown exactly as the server's copy has it.
    #[wasm_bindgen(js_name = showsConfirmed)]
    pub fn shows_confirmed(&self) -> bool {
        self.link.shows_confirmed()
    }
    /// How many tasks the server's copy holds.
    #[wasm_bindgen(js_name = taskCount)]
    pub fn task_count(&self) -> u32 {
        self.link.counts().0 as u32
    }
    #[wasm_bindgen(js_name = sessionCount)]
    pub fn session_count(&self) -> u32 {
        self.link.counts().1 as u32
    }

    #[wasm_bindgen(js_name = outboxLen)]
    pub fn outbox_len(&self) -> u32 {
        self.link.outbox_len() as u32
    }
    /// Ids whose visible copy changed since the last call: tasks, a tab,
    /// sessions, each list one id per line (ids hold none of these
    /// characters); or `*`: every one may have (a snapshot was loaded).
    #[wasm_bindgen(js_name = takeChanges)]
    pub fn take_changes(&mut self) -> String {
        let changes = self.link.take_changes();
        if changes.all {
            return "*".into();
        }
        format!(
            "{}\t{}",
            changes.tasks.join("\n"),
            changes.sessions.join("\n")
        )
    }
    /// Forgets which entities changed (the caller makes every object again).
    #[wasm_bindgen(js_name = forgetChanges)]
    pub fn forget_changes(&mut self) {
        self.link.forget_changes();
    }

    /// One task as the user sees it, as JSON.
    pub fn task(&self, id: &str) -> Option<String> {
        self.link.task(id).map(|t| json(&*t))
    }
    pub fn session(&self, id: &str) -> Option<String> {
        self.link.session(id).map(json)
    }
    /// Ids of all tasks in list order, one per line, or nothing if they are
    /// the ones this returned last (objects come from `task()`, cached by
    /// the caller); after it, `idsAppended()` says whether the ids are only
    /// the new ones, to append to the list before.
    #[wasm_bindgen(js_name = taskIds)]
    pub fn task_ids(&mut self) -> Option<String> {
        // nothing came or went: the same list, without looking at it again
        let members = self.link.members();
        if self.task_members.replace(members) == Some(members) {
            return None;
        }
        // (after a snapshot, in the order it came in: no sort)
        if let Some(listing) = self.link.take_task_listing() {
            self.appended = false;
            return self
                .task_ids
                .set(listing)
                .then(|| self.task_ids.joined().to_owned());
        }
        let link = &self.link;
        let change = self
            .task_ids
            .update(link.task_keys(), |id| link.has_task(id));
        listed(&mut self.appended, change, &self.task_ids)
    }

    #[wasm_bindgen(js_name = sessionIds)]
    pub fn session_ids(&mut self) -> Option<String> {
        let members = self.link.members();
        if self.session_members.replace(members) == Some(members) {
            return None;
        }
        let link = &self.link;
        let change = self
            .session_ids
            .update(keys(link.sessions_unordered()), |id| {
                link.session(id).is_some()
            });
        listed(&mut self.appended, change, &self.session_ids)
    }

    /// Whether the ids the last `taskIds()` or `sessionIds()` gave follow
    /// the ones it gave before (true) or replace them (false).
    #[wasm_bindgen(js_name = idsAppended)]
    pub fn ids_appended(&self) -> bool {
        self.appended
    }

    #[wasm_bindgen(js_name = aggregateStatus)]
    pub fn aggregate_status(&self, task_id: &str) -> Option<String> {
        let t = self.link.task(task_id)?;
        Some(
            crate::aggregate_status(&t.session_progress)
                .as_str()
                .to_owned(),
        )
    }
}

/// The statuses a user may move a task to from `from` (the server's rules),
/// one per line. (One string: a list of them takes wasm-bindgen's glue for
/// arrays, in the wasm and in JS.)
#[wasm_bindgen(js_name = allowedTaskTransitions)]
pub fn allowed_task_transitions(from: &str) -> String {
    crate::TaskStatus::parse(from)
        .map(|s| {
            let names: Vec<&str> = s.allowed_targets().iter().map(|t| t.as_str()).collect();
            names.join("\n")
        })
        .unwrap_or_default()
}

/// The event types the stream sends, one per line.
#[wasm_bindgen(js_name = eventTypes)]
pub fn event_types() -> String {
    crate::Event::TYPES.join("\n")
}
