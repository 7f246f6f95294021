//! A client's copy of the server state: applies events exactly as the original JavaScript
//! client handling does, and guards against replays and stale payloads. It
//! holds only what the server confirmed; the sync engine (`link`) lays the
//! client's pending writes on top. Also the auto-transition's state rule.

use crate::event::{Envelope, Event, StatusRef};
use crate::model::{Session, SessionStatus, Task, TaskStatus, copy_into};
use crate::wire::{Listed, sort_listed};
use rustc_hash::FxHashSet;

pub use crate::wire::Snapshot;
pub use feed::SnapshotFeed;
pub use packed::PackedTask;

/// The auto-transition decision (the only automatic one): a `todo` task with a
/// `working` session should move to `inprogress`. Returns the version to send
/// as `If-Match`, so that with many clients deciding at once exactly one wins.
pub fn auto_transition(task: &Task) -> Option<u64> {
    (task.status == TaskStatus::Todo
        && task
            .session_progress
            .iter()
            .any(|p| p.status == SessionStatus::Working))
    .then_some(task.version)
}

/// How one applied event changed the copy (an executor that holds its own
/// objects can make the same change to them: see `link::Plain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The task is the event's `task`, as it is.
    TaskPut,
    /// The task (`taskId`, or the event's `task` that left a scoped
    /// client's project) is gone.
    TaskGone,
    /// The session is the event's `session`, as it is.
    SessionPut,
    /// The session (`sessionId`, or the event's `session` outside a scoped
    /// client's project) is gone.
    SessionGone,
    /// A `task:session_status`: the task is its previous copy with
    /// `sessionProgress[index]` set to the event's session, status, notes
    /// and `lastUpdated` (`index` = length: appended), the session id
    /// appended to `sessionIds` if `new_id`, and `version` and `updatedAt`
    /// (= `lastUpdated`) from the event.
    Progress { index: usize, new_id: bool },
}

impl Change {
    pub fn of_task(self) -> bool {
        !matches!(self, Change::SessionPut | Change::SessionGone)
    }
}

/// What changed since the last take: these ids, or (`all`, after a
/// snapshot) everything, and then no ids are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub all: bool,
    pub tasks: Vec<String>,
    pub sessions: Vec<String>,
}

impl Changes {
    /// What `all` and the sets say, leaving them empty (see `empty`).
    pub(crate) fn take(all: &mut bool, tasks: &mut IdSet, sessions: &mut IdSet) -> Changes {
        let all = std::mem::take(all);
        let (tasks, sessions) = (sorted(tasks), sorted(sessions));
        if all {
            // (everything: the ids say no more)
            return Changes {
                all,
                ..Changes::default()
            };
        }
        Changes {
            all,
            tasks,
            sessions,
        }
    }
}

/// Ids of changed entities. (A hash set that keeps its room when emptied:
/// the hot path of one event allocates nothing for its bookkeeping. But
/// not a large room: see `empty`.)
pub type IdSet = FxHashSet<String>;

/// Room an emptied `IdSet` keeps.
const KEPT_ROOM: usize = 256;

/// Empties `set`. One that grew large (a snapshot lists every entity) is
/// made anew rather than kept: emptying a hash set costs time in its
/// capacity, not its length, and the hot path empties its set after every
/// event (measured: status events 1.3 µs slower each after a 10,000-task
/// snapshot, until this).
pub(crate) fn empty(set: &mut IdSet) {
    if set.capacity() > KEPT_ROOM {
        *set = IdSet::default();
    } else {
        set.clear();
    }
}

/// Entities by id, found by the id the entity holds: a map keyed by a copy
/// of each id held every id twice (10,000 tasks: 0.35 MB of WebAssembly
/// memory, which never shrinks). Each in its own allocation (`PackedTask`,
/// `Box<Session>`): a hash table has a power of two of slots, each as large
/// as its value (10,000 tasks inline took 2.1 MB of slots, boxed 0.26 MB).
#[derive(Clone)]
pub struct ById<T>(hashbrown::HashTable<T>);

impl<T> Default for ById<T> {
    fn default() -> Self {
        ById(hashbrown::HashTable::new())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ById<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

fn hash_of(id: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(id);
    h.finish()
}

fn id_of<T: Listed>(t: &T) -> &[u8] {
    t.id_bytes()
}

impl<T: Listed> ById<T> {
    pub fn get(&self, id: &str) -> Option<&T> {
        let id = id.as_bytes();
        self.0.find(hash_of(id), |t| id_of(t) == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let id = id.as_bytes();
        self.0.find_mut(hash_of(id), |t| id_of(t) == id)
    }

    /// Puts `item` in place of the one with its id, if any: that one.
    pub fn insert(&mut self, item: T) -> Option<T> {
        let id = id_of(&item);
        match self
            .0
            .entry(hash_of(id), |t| id_of(t) == id, |t| hash_of(id_of(t)))
        {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                Some(std::mem::replace(e.get_mut(), item))
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(item);
                None
            }
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        let id = id.as_bytes();
        let found = self.0.find_entry(hash_of(id), |t| id_of(t) == id).ok()?;
        Some(found.remove().0)
    }

    pub fn retain(&mut self, keep: impl FnMut(&mut T) -> bool) {
        self.0.retain(keep);
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn by_id<T: Listed, S: Listed>(items: Vec<T>, to: impl Fn(T) -> S) -> ById<S> {
    let mut map = ById::default();
    for t in items {
        map.insert(to(t));
    }
    map
}

/// `GET /api/snapshot` as the engine reads it (`SnapshotFeed`): the
/// entities straight into maps, with no `Vec` of them all in between (for
/// 10,000 tasks that `Vec` alone grew WebAssembly memory, which never
/// shrinks, by about 2 MB).
#[derive(Debug, Clone)]
pub struct SnapshotIn {
    pub epoch: String,
    pub seq: u64,
    pub tasks: ById<PackedTask>,
    pub sessions: ById<Box<Session>>,
    /// The tasks' list order, when the body listed them in it (the server
    /// does), each id once: a list made from it needs no sort.
    pub task_listing: Option<Listing>,
}

/// Ids in list order (creation time, then id), one per line, how many, and
/// the key of the last one: as `link::ListOrder` keeps a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub joined: String,
    pub count: usize,
    pub last: Option<(String, String)>,
}

impl Listing {
    /// Adds the next entity, if it comes after the last one: false (and
    /// nothing added) if it does not.
    pub fn push(&mut self, (at, id): (&str, &str)) -> bool {
        if let Some((last_at, last_id)) = &self.last
            && (at, id) <= (last_at.as_str(), last_id.as_str())
        {
            return false;
        }
        if self.count > 0 {
            self.joined.push('\n');
        }
        self.joined.push_str(id);
        self.count += 1;
        match &mut self.last {
            Some((last_at, last_id)) => {
                copy_into(last_at, at);
                copy_into(last_id, id);
            }
            None => self.last = Some((at.to_owned(), id.to_owned())),
        }
        true
    }
}

impl SnapshotIn {
    /// Reads a whole `GET /api/snapshot` body.
    pub fn read(text: &str) -> Result<SnapshotIn, String> {
        SnapshotFeed::read(text)
    }
}

/// The replicated state, with the `seq` it reflects.
#[derive(Debug, Default, Clone)]
pub struct Replica {
    tasks: ById<PackedTask>,
    sessions: ById<Box<Session>>,
    epoch: Option<String>,
    seq: u64,
    changed_tasks: IdSet,
    changed_sessions: IdSet,
    /// Everything changed (a snapshot was loaded): no ids are listed. (Listing
    /// them cost 10,000 ids copied twice into sets for a 10,000-task
    /// snapshot: 4 ms of a 29 ms load in the browser.)
    changed_all: bool,
    /// Grows whenever an entity comes or goes (list order can change only then).
    members: u64,
    /// The last snapshot's task order (see `SnapshotIn::task_listing`), and
    /// `members` then: good while no task came or went.
    listing: Option<(u64, Listing)>,
    /// Only this project's tasks and sessions are held (a scoped client).
    scope: Option<String>,
    /// Where a task is packed before it gets its own allocation.
    scratch: Vec<u8>,
}

impl Replica {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }

    /// Changes whenever a task or session comes or goes.
    pub fn members(&self) -> u64 {
        self.members
    }

    /// How many tasks and sessions are held.
    pub fn counts(&self) -> (usize, usize) {
        (self.tasks.len(), self.sessions.len())
    }

    /// The seq of the last applied event (or of the snapshot).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The task, as held: `unpack()` it for a `Task`.
    pub fn task(&self, id: &str) -> Option<&PackedTask> {
        self.tasks.get(id)
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id).map(|s| &**s)
    }

    /// Tasks in a stable order (creation time, then id), as the server lists them.
    pub fn tasks(&self) -> Vec<&PackedTask> {
        let mut v = self.tasks_unordered();
        sort_listed(&mut v);
        v
    }

    /// Sessions in a stable order (creation time, then id).
    pub fn sessions(&self) -> Vec<&Session> {
        let mut v = self.sessions_unordered();
        sort_listed(&mut v);
        v
    }

    /// Every task, in no particular order.
    pub fn tasks_unordered(&self) -> Vec<&PackedTask> {
        self.tasks.values().collect()
    }

    /// Every session, in no particular order.
    pub fn sessions_unordered(&self) -> Vec<&Session> {
        self.sessions.values().map(|s| &**s).collect()
    }

    /// Replaces everything with a snapshot (a full refetch).
    /// Holds only `project`'s tasks and sessions from now on (whatever a
    /// snapshot, an event or a write's answer brings).
    pub fn set_scope(&mut self, project: Option<String>) {
        self.scope = project;
    }

    fn in_scope(&self, project: Option<&str>) -> bool {
        self.scope.is_none() || self.scope.as_deref() == project
    }

    pub fn load_snapshot(&mut self, snap: Snapshot) {
        self.load(SnapshotIn {
            epoch: snap.epoch,
            seq: snap.seq,
            tasks: by_id(snap.tasks, |t| PackedTask::pack(&t)),
            sessions: by_id(snap.sessions, Box::new),
            task_listing: None,
        });
    }

    /// `load_snapshot` of a snapshot read straight into maps.
    pub fn load(&mut self, snap: SnapshotIn) {
        self.changed_all = true;
        empty(&mut self.changed_tasks);
        empty(&mut self.changed_sessions);
        self.members += 1;
        self.tasks = snap.tasks;
        self.sessions = snap.sessions;
        // (unscoped, nothing is left out: a packed task's project is its
        // last field, read by walking the whole task)
        if let Some(scope) = self.scope.as_deref() {
            self.tasks.retain(|t| t.project_id() == Some(scope));
            self.sessions
                .retain(|s| s.project_id.as_deref() == Some(scope));
        }
        self.epoch = Some(snap.epoch);
        self.seq = snap.seq;
        // (the scope may have left some out)
        self.listing = snap
            .task_listing
            .filter(|l| l.count == self.tasks.len())
            .map(|l| (self.members, l));
    }

    /// The tasks in list order as the last snapshot listed them, if none
    /// came or went since (once).
    pub fn take_listing(&mut self) -> Option<Listing> {
        match self.listing.take() {
            Some((members, listing)) if members == self.members => Some(listing),
            _ => None,
        }
    }

    /// Starts a new epoch's life (after a `resumed: false` hello from another
    /// epoch) — the snapshot that follows replaces the state.
    pub fn set_epoch(&mut self, epoch: &str) {
        if self.epoch.as_deref() != Some(epoch) {
            self.epoch = Some(epoch.to_owned());
            self.seq = 0;
        }
    }

    /// Applies one event. Returns false (and changes nothing) for an event
    /// already applied (`seq` at or below ours) or a payload older than what
    /// we hold (by `version`).
    pub fn apply(&mut self, env: Envelope) -> bool {
        self.apply_change(env).is_some()
    }

    /// `apply`, saying how the copy changed (`None`: it did not).
    pub fn apply_change(&mut self, env: Envelope) -> Option<Change> {
        if env.seq <= self.seq {
            return None;
        }
        self.seq = env.seq;
        match env.event {
            Event::TaskCreated { task } | Event::TaskUpdated { task }
                if !self.in_scope(task.project_id.as_deref()) =>
            {
                // (it left this client's project: a removal)
                self.put_task(task).then_some(Change::TaskGone)
            }
            Event::TaskCreated { task } | Event::TaskUpdated { task } => {
                self.put_task(task).then_some(Change::TaskPut)
            }
            Event::TaskDeleted { task_id } => {
                let had = self.tasks.remove(&task_id).is_some();
                self.members += u64::from(had);
                if had {
                    self.changed_tasks.insert(task_id);
                }
                had.then_some(Change::TaskGone)
            }
            Event::TaskSessionStatus(p) => self.session_status(p.as_ref()),
            Event::SessionSpawn { session }
            | Event::SessionActive { session, .. }
            | Event::SessionStopped { session, .. }
            | Event::SessionFailed { session, .. }
            | Event::SessionUpdated { session } => {
                let kind = if self.in_scope(session.project_id.as_deref()) {
                    Change::SessionPut
                } else {
                    Change::SessionGone
                };
                self.put_session(session).then_some(kind)
            }
            Event::SessionDeleted { session_id } => {
                let had = self.sessions.remove(&session_id).is_some();
                self.members += u64::from(had);
                if had {
                    self.changed_sessions.insert(session_id);
                }
                had.then_some(Change::SessionGone)
            }
        }
    }

    fn put_task(&mut self, task: Task) -> bool {
        if !self.in_scope(task.project_id.as_deref()) {
            // (it left this client's project, or was never in it)
            let had = self.tasks.remove(&task.id).is_some();
            if had {
                self.changed_tasks.insert(task.id);
                self.members += 1;
            }
            return had;
        }
        if self
            .tasks
            .get(&task.id)
            .is_some_and(|t| t.version() >= task.version)
        {
            return false;
        }
        self.changed_tasks.insert(task.id.clone());
        if self
            .tasks
            .insert(PackedTask::pack_with(&task, &mut self.scratch))
            .is_none()
        {
            self.members += 1;
        }
        true
    }

    fn put_session(&mut self, session: Session) -> bool {
        if !self.in_scope(session.project_id.as_deref()) {
            let had = self.sessions.remove(&session.id).is_some();
            if had {
                self.changed_sessions.insert(session.id);
                self.members += 1;
            }
            return had;
        }
        if self
            .sessions
            .get(&session.id)
            .is_some_and(|s| s.version >= session.version)
        {
            return false;
        }
        self.changed_sessions.insert(session.id.clone());
        if self.sessions.insert(Box::new(session)).is_none() {
            self.members += 1;
        }
        true
    }

    /// Takes a task from a write's response (version-guarded, seq untouched).
    pub fn observe_task(&mut self, task: Task) -> bool {
        self.put_task(task)
    }

    /// Takes a session from a write's response (version-guarded, seq untouched).
    pub fn observe_session(&mut self, session: Session) -> bool {
        self.put_session(session)
    }

    /// The original `task:session_status` handler, plus version, `updatedAt`
    /// and `sessionIds` as the server keeps them.
    fn session_status(&mut self, p: StatusRef<'_>) -> Option<Change> {
        let task = self.tasks.get_mut(p.task_id)?;
        if task.version() >= p.version {
            return None;
        }
        let (index, new_id) = task.set_progress(&p, &mut self.scratch);
        if !self.changed_tasks.contains(p.task_id) {
            self.changed_tasks.insert(p.task_id.to_owned());
        }
        Some(Change::Progress { index, new_id })
    }

    /// `apply` of a `task:session_status` with this `seq`, borrowed.
    pub fn apply_status(&mut self, seq: u64, p: StatusRef<'_>) -> Option<Change> {
        if seq <= self.seq {
            return None;
        }
        self.seq = seq;
        self.session_status(p)
    }

    /// Jumps to `seq` without events (history no longer retained, or a
    /// reader that starts from a given point).
    pub fn skip_to(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Drops a task the server answered a delete for (its event may follow).
    pub fn forget_task(&mut self, id: &str) {
        if self.tasks.remove(id).is_some() {
            self.members += 1;
            self.changed_tasks.insert(id.to_owned());
        }
    }

    /// Drops a session the server answered a delete for.
    pub fn forget_session(&mut self, id: &str) {
        if self.sessions.remove(id).is_some() {
            self.members += 1;
            self.changed_sessions.insert(id.to_owned());
        }
    }

    /// What changed since the last call (ids in order), and forgets it.
    pub fn take_changes(&mut self) -> Changes {
        Changes::take(
            &mut self.changed_all,
            &mut self.changed_tasks,
            &mut self.changed_sessions,
        )
    }

    /// Whether the task changed since the last take.
    pub fn task_changed(&self, id: &str) -> bool {
        self.changed_all || self.changed_tasks.contains(id)
    }

    /// What changed, for a caller that moves it on: whether everything did
    /// (forgotten here), and the sets of ids (left empty by the caller).
    pub fn changes_mut(&mut self) -> (bool, &mut IdSet, &mut IdSet) {
        (
            std::mem::take(&mut self.changed_all),
            &mut self.changed_tasks,
            &mut self.changed_sessions,
        )
    }

    /// True if anything changed since the last `take_changes`.
    pub fn has_changes(&self) -> bool {
        self.changed_all || !self.changed_tasks.is_empty() || !self.changed_sessions.is_empty()
    }
}

/// The ids of `set`, sorted, leaving it empty (see `empty`).
pub(crate) fn sorted(set: &mut IdSet) -> Vec<String> {
    let mut ids: Vec<String> = set.drain().collect();
    empty(set);
    let order = crate::wire::order_of(ids.iter().map(|id| (id.as_str(), "")));
    order
        .iter()
        .map(|&i| std::mem::take(&mut ids[i as usize]))
        .collect()
}

mod feed;
mod packed;
#[cfg(test)]
mod tests;

/// Fully populated entities (every optional field set), for tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use crate::model::*;

    /// A bare `todo` task; `createdAt` follows the id, so lists order by id.
    pub fn task(id: &str, version: u64) -> Task {
        Task {
            id: id.into(),
            title: id.into(),
            description: None,
            status: TaskStatus::Todo,
            priority: Priority::Medium,
            session_ids: vec![],
            session_progress: vec![],
            parent_id: None,
            project_id: None,
            created_at: format!("c{id}"),
            updated_at: "u".into(),
            version,
        }
    }

    pub fn full_task() -> Task {
        Task {
            id: "t".into(),
            title: "T".into(),
            description: Some("d".into()),
            status: TaskStatus::Todo,
            priority: Priority::High,
            session_ids: vec![],
            session_progress: vec![],
            parent_id: Some("p".into()),
            project_id: Some("proj".into()),
            created_at: "c".into(),
            updated_at: "u".into(),
            version: 1,
        }
    }

    pub fn full_session() -> Session {
        Session {
            id: "s".into(),
            name: Some("n".into()),
            status: SessionLifecycle::Failed,
            task_ids: vec!["t".into()],
            project_id: Some("proj".into()),
            spawn_source: SpawnSource::Session,
            error: Some("e".into()),
            created_at: "c".into(),
            updated_at: "u".into(),
            version: 1,
            last_seen_at: Some("l".into()),
            stale: true,
        }
    }

    /// Random inputs from a fixed sequence, so a failure reproduces.
    pub struct Random {
        rng: crate::rng::SplitMix64,
        /// Text may hold what JSON escapes (quotes, backslashes, control characters).
        pub escapes: bool,
    }

    impl Random {
        pub fn new(seed: u64) -> Random {
            Random {
                rng: crate::rng::SplitMix64(seed),
                escapes: true,
            }
        }

        pub fn next(&mut self) -> u64 {
            self.rng.next_u64()
        }

        pub fn below(&mut self, n: u64) -> usize {
            self.rng.below(n) as usize
        }

        /// Text meant to trip a hand-written format: quotes, backslashes,
        /// control characters, multi-byte UTF-8, empty strings, and now and
        /// then one long enough for a three-byte length.
        pub fn text(&mut self) -> String {
            const PIECES: [&str; 12] = [
                "a", "Z", "0", " ", "é", "日本", "😀", "\u{7f}", "\"", "\\", "\n", "\u{1}",
            ];
            // (the first eight are written as they are in JSON)
            let pieces = if self.escapes { 12 } else { 8 };
            let len = match self.below(20) {
                0 => 0,
                1 => 20_000 + self.below(2_000),
                _ => self.below(40),
            };
            (0..len).map(|_| PIECES[self.below(pieces)]).collect()
        }

        /// A timestamp: usually in the server's exact form, sometimes not
        /// (other text, another form, or one character off the exact form).
        pub fn time(&mut self) -> String {
            match self.below(5) {
                0 => self.text(),
                1 => format!("2026-11-30T13:09:56.{:03}+00:00", self.below(1000)),
                2 => {
                    let mut b = self.exact_time().into_bytes();
                    let at = self.below(b.len() as u64);
                    b[at] = b"0Z:-.T az\x7f"[self.below(10)];
                    String::from_utf8(b).unwrap()
                }
                _ => self.exact_time(),
            }
        }

        pub fn exact_time(&mut self) -> String {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                self.below(10_000),
                self.below(100),
                self.below(100),
                self.below(100),
                self.below(100),
                self.below(100),
                self.below(1000)
            )
        }

        pub fn maybe(&mut self) -> Option<String> {
            (self.below(2) == 0).then(|| self.text())
        }

        pub fn session(&mut self) -> String {
            format!("s{}", self.below(6))
        }

        pub fn task(&mut self) -> Task {
            let progress = (0..self.below(4))
                .map(|_| SessionProgress {
                    session_id: self.session(),
                    status: SessionStatus::ALL[self.below(SessionStatus::ALL.len() as u64)],
                    last_updated: self.time(),
                    notes: self.maybe(),
                })
                .collect();
            Task {
                id: self.text(),
                title: self.text(),
                description: self.maybe(),
                status: TaskStatus::ALL[self.below(TaskStatus::ALL.len() as u64)],
                priority: Priority::ALL[self.below(Priority::ALL.len() as u64)],
                session_ids: (0..self.below(4)).map(|_| self.session()).collect(),
                session_progress: progress,
                parent_id: self.maybe(),
                project_id: self.maybe(),
                created_at: self.time(),
                updated_at: self.time(),
                version: self.next() >> self.below(64),
            }
        }
    }
}
