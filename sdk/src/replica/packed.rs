//! A task as the replica holds it: every field in one allocation of bytes.
//!
//! A `Task` is about ten allocations (its strings, two lists, each progress
//! entry's strings) plus the struct: for 10,000 tasks about 3.7 MB of
//! WebAssembly memory, which never shrinks, against 1.2 MB of text in them
//! (npm/bench/sdk.js (d)). Packed, a task is its text plus a few bytes. The
//! engine reads in place only what it decides on (id, creation time,
//! version, status, the sessions' statuses), applies a `task:session_status`
//! by writing the task's new bytes in one go, and unpacks a whole `Task`
//! only for a copy that a pending write overlays, or for the executor's
//! JSON of it.
//!
//! (Hand-written: serde's compact formats, e.g. postcard, need every field
//! written, which `Task`'s optional fields are not, and each would add its
//! own reader to the WebAssembly.)
//!
//! Layout, in the order a status report reads and writes it: `version`
//! (u64, little-endian), `status`, `priority`, a flags byte (description,
//! parent, project present); then strings, each a LEB128 length and its
//! UTF-8: id, updatedAt; the count of progress entries and each: session
//! id, status (+ 0x80 when notes follow), lastUpdated, notes; the count of
//! `sessionIds` and each; createdAt, title, and the optional ones present.
//! The two kinds of timestamp that change with every report (updatedAt,
//! lastUpdated) are written by `put_time`: a 0 and 9 bytes of digits when
//! in the server's exact form, else their length + 1 and their text.

use crate::event::StatusRef;
use crate::model::TaskIn;
use crate::model::{Priority, SessionProgress, SessionStatus, Task, TaskStatus};
use crate::wire::Listed;

const HEAD: usize = 11;
const DESCRIPTION: u8 = 1;
const PARENT: u8 = 2;
const PROJECT: u8 = 4;
const NOTES: u8 = 0x80;

/// One task, packed (see the module documentation). Equal packed tasks are
/// equal tasks: every task has exactly one packed form.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedTask(Box<[u8]>);

impl std::fmt::Debug for PackedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.unpack().fmt(f)
    }
}

fn index_of<T: PartialEq + Copy>(all: &[T], v: T) -> u8 {
    all.iter().position(|&x| x == v).unwrap_or(0) as u8
}

fn status_of(flag: u8) -> SessionStatus {
    SessionStatus::ALL
        .get(usize::from(flag & !NOTES))
        .copied()
        .unwrap_or(SessionStatus::Queued)
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Where the digits of a timestamp in the server's exact form
/// (`2026-11-30T13:09:56.696Z`) are.
const DIGITS: [usize; 17] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
const TIME: &[u8; 24] = b"0000-00-00T00:00:00.000Z";

/// A timestamp: in the server's exact form as a 0 and its 17 digits in 9
/// bytes (10 bytes, not 25: a task holds two or three); anything else as
/// its length + 1 and its text.
fn put_time(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let exact = b.len() == TIME.len()
        && b.iter().zip(TIME).enumerate().all(|(i, (&c, &t))| {
            if DIGITS.contains(&i) {
                c.is_ascii_digit()
            } else {
                c == t
            }
        });
    if !exact {
        put_len(out, b.len() + 1);
        out.extend_from_slice(b);
        return;
    }
    out.push(0);
    for pair in DIGITS.chunks(2) {
        let hi = b[pair[0]] - b'0';
        let lo = pair.get(1).map_or(0, |&i| b[i] - b'0');
        out.push(hi << 4 | lo);
    }
}

fn put_entry(
    out: &mut Vec<u8>,
    session_id: &str,
    status: SessionStatus,
    at: &str,
    notes: Option<&str>,
) {
    put_str(out, session_id);
    let flag = if notes.is_some() { NOTES } else { 0 };
    out.push(index_of(SessionStatus::ALL, status) | flag);
    put_time(out, at);
    if let Some(n) = notes {
        put_str(out, n);
    }
}

/// A task's fields, from a `Task` or straight from text (`TaskIn`).
struct Parts<'a> {
    version: u64,
    status: TaskStatus,
    priority: Priority,
    id: &'a str,
    title: &'a str,
    created_at: &'a str,
    updated_at: &'a str,
    /// description, parentId, projectId
    optional: [Option<&'a str>; 3],
}

type Entry<'a> = (&'a str, SessionStatus, &'a str, Option<&'a str>);

impl<'a> Parts<'a> {
    fn write(
        &self,
        out: &mut Vec<u8>,
        progress: impl ExactSizeIterator<Item = Entry<'a>>,
        ids: impl ExactSizeIterator<Item = &'a str>,
    ) {
        out.clear();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.push(index_of(TaskStatus::ALL, self.status));
        out.push(index_of(Priority::ALL, self.priority));
        let flags = [DESCRIPTION, PARENT, PROJECT]
            .iter()
            .zip(self.optional)
            .fold(0, |f, (bit, s)| if s.is_some() { f | bit } else { f });
        out.push(flags);
        put_str(out, self.id);
        put_time(out, self.updated_at);
        put_len(out, progress.len());
        for (session_id, status, at, notes) in progress {
            put_entry(out, session_id, status, at, notes);
        }
        put_len(out, ids.len());
        for s in ids {
            put_str(out, s);
        }
        put_str(out, self.created_at);
        put_str(out, self.title);
        for s in self.optional.into_iter().flatten() {
            put_str(out, s);
        }
    }
}

/// Reads the bytes of a `PackedTask` from a position on. (The bytes were
/// all written by `pack`, from `str`s: nothing here meets a malformed
/// length or text; if it did, it would read empty strings, not panic.)
/// (Not inlined: inlined at `opt-level = 3`, these reads were 12 KB more
/// WebAssembly.)
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(never)]
    fn len(&mut self) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        while let Some(&byte) = self.b.get(self.at) {
            self.at += 1;
            n |= usize::from(byte & 0x7f) << shift;
            if byte < 0x80 || shift >= 28 {
                break;
            }
            shift += 7;
        }
        n
    }

    fn byte(&mut self) -> u8 {
        let b = self.b.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    #[inline(never)]
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.len();
        let end = (self.at + n).min(self.b.len());
        let s = &self.b[self.at.min(end)..end];
        self.at = end;
        s
    }

    #[inline(never)]
    fn str(&mut self) -> &'a str {
        std::str::from_utf8(self.bytes()).unwrap_or_default()
    }

    fn opt(&mut self, present: bool) -> Option<&'a str> {
        present.then(|| self.str())
    }

    /// Past a timestamp (see `put_time`).
    #[inline(never)]
    fn skip_time(&mut self) {
        match self.len() {
            0 => self.at += 9,
            n => self.at += n - 1,
        }
    }

    /// A timestamp (see `put_time`).
    fn time(&mut self) -> String {
        let n = self.len();
        if n > 0 {
            let end = (self.at + n - 1).min(self.b.len());
            let text = &self.b[self.at.min(end)..end];
            self.at = end;
            return std::str::from_utf8(text).unwrap_or_default().to_owned();
        }
        let mut t = *TIME;
        for (k, &i) in DIGITS.iter().enumerate() {
            let byte = self.b.get(self.at + k / 2).copied().unwrap_or(0);
            t[i] = b'0' + if k % 2 == 0 { byte >> 4 } else { byte & 15 };
        }
        self.at += 9;
        std::str::from_utf8(&t).unwrap_or_default().to_owned()
    }

    /// Past one progress entry; its session id and status.
    #[inline(never)]
    fn skip_entry(&mut self) -> (&'a [u8], SessionStatus) {
        let session_id = self.bytes();
        let flag = self.byte();
        self.skip_time();
        if flag & NOTES != 0 {
            self.bytes();
        }
        (session_id, status_of(flag))
    }

    /// Past the progress entries and `sessionIds`.
    fn skip_sessions(&mut self) {
        for _ in 0..self.len() {
            self.skip_entry();
        }
        for _ in 0..self.len() {
            self.bytes();
        }
    }

    /// One progress entry: session id, status, lastUpdated, notes.
    fn entry(&mut self) -> SessionProgress {
        let session_id = self.str().to_owned();
        let flag = self.byte();
        let last_updated = self.time();
        let notes = self.opt(flag & NOTES != 0).map(str::to_owned);
        SessionProgress {
            session_id,
            status: status_of(flag),
            last_updated,
            notes,
        }
    }
}

impl PackedTask {
    pub fn pack(t: &Task) -> PackedTask {
        let mut out = Vec::new();
        PackedTask::pack_with(t, &mut out)
    }

    /// `pack`, written first into `scratch` (kept by the caller: one
    /// allocation of the exact size per task, not a growing one).
    pub fn pack_with(t: &Task, scratch: &mut Vec<u8>) -> PackedTask {
        let parts = Parts {
            version: t.version,
            status: t.status,
            priority: t.priority,
            id: &t.id,
            title: &t.title,
            created_at: &t.created_at,
            updated_at: &t.updated_at,
            optional: [&t.description, &t.parent_id, &t.project_id].map(|s| s.as_deref()),
        };
        let progress = t.session_progress.iter().map(|p| {
            (
                &*p.session_id,
                p.status,
                &*p.last_updated,
                p.notes.as_deref(),
            )
        });
        parts.write(scratch, progress, t.session_ids.iter().map(|s| &**s));
        PackedTask(scratch.as_slice().into())
    }

    /// A task as a snapshot lists it, packed from its text: its strings are
    /// read where they lie (unless escaped), not made into a `Task` first.
    pub fn read_with(t: &TaskIn<'_>, scratch: &mut Vec<u8>) -> PackedTask {
        let parts = Parts {
            version: t.version,
            status: t.status,
            priority: t.priority,
            id: &t.id.0,
            title: &t.title.0,
            created_at: &t.created_at.0,
            updated_at: &t.updated_at.0,
            optional: [&t.description, &t.parent_id, &t.project_id]
                .map(|s| s.as_ref().map(|s| &*s.0)),
        };
        let progress = t.session_progress.iter().map(|p| {
            (
                &*p.session_id.0,
                p.status,
                &*p.last_updated.0,
                p.notes.as_ref().map(|n| &*n.0),
            )
        });
        parts.write(scratch, progress, t.session_ids.iter().map(|s| &*s.0));
        PackedTask(scratch.as_slice().into())
    }

    fn reader(&self, at: usize) -> Reader<'_> {
        Reader { b: &self.0, at }
    }

    pub fn version(&self) -> u64 {
        let mut v = [0; 8];
        v.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(v)
    }

    pub fn status(&self) -> TaskStatus {
        TaskStatus::ALL
            .get(usize::from(self.0[8]))
            .copied()
            .unwrap_or(TaskStatus::Todo)
    }

    pub fn id(&self) -> &str {
        self.reader(HEAD).str()
    }

    fn id_bytes(&self) -> &[u8] {
        self.reader(HEAD).bytes()
    }

    /// The reader at createdAt.
    fn at_created(&self) -> Reader<'_> {
        let mut r = self.reader(HEAD);
        r.bytes();
        r.skip_time();
        r.skip_sessions();
        r
    }

    pub fn created_at(&self) -> &str {
        self.at_created().str()
    }

    pub fn project_id(&self) -> Option<&str> {
        let mut r = self.at_created();
        r.bytes();
        r.bytes();
        let flags = self.0[10];
        for bit in [DESCRIPTION, PARENT] {
            if flags & bit != 0 {
                r.bytes();
            }
        }
        r.opt(flags & PROJECT != 0)
    }

    /// The auto-transition's state rule (`replica::auto_transition`), read in place.
    pub fn auto_transition(&self) -> Option<u64> {
        if self.status() != TaskStatus::Todo {
            return None;
        }
        let mut r = self.reader(HEAD);
        r.bytes();
        r.skip_time();
        let working = (0..r.len()).any(|_| r.skip_entry().1 == SessionStatus::Working);
        working.then(|| self.version())
    }

    pub fn unpack(&self) -> Task {
        let mut r = self.reader(HEAD);
        let flags = self.0[10];
        let id = r.str().to_owned();
        let updated_at = r.time();
        let session_progress = (0..r.len()).map(|_| r.entry()).collect();
        let session_ids = (0..r.len()).map(|_| r.str().to_owned()).collect();
        let created_at = r.str().to_owned();
        let title = r.str().to_owned();
        let mut optional =
            [DESCRIPTION, PARENT, PROJECT].map(|bit| r.opt(flags & bit != 0).map(str::to_owned));
        let [description, parent_id, project_id] = std::mem::take(&mut optional);
        Task {
            id,
            title,
            description,
            status: self.status(),
            priority: Priority::ALL
                .get(usize::from(self.0[9]))
                .copied()
                .unwrap_or_default(),
            session_ids,
            session_progress,
            parent_id,
            project_id,
            created_at,
            updated_at,
            version: self.version(),
        }
    }

    /// This task after a `task:session_status` (as `Task::set_progress`,
    /// with `version` and `updatedAt` from the event), written in one go
    /// through `scratch`; and where the entry went, and whether the session
    /// id was new to `sessionIds` (see `replica::Change::Progress`).
    pub fn with_progress(
        &self,
        p: &StatusRef<'_>,
        scratch: &mut Vec<u8>,
    ) -> (PackedTask, usize, bool) {
        let (index, new_id) = self.write_progress(p, scratch);
        (PackedTask(scratch.as_slice().into()), index, new_id)
    }

    /// `with_progress` in place: the same allocation when the new bytes
    /// are as many as the old (a new status and time, notes of the same
    /// length or none), a new one otherwise.
    pub fn set_progress(&mut self, p: &StatusRef<'_>, scratch: &mut Vec<u8>) -> (usize, bool) {
        let (index, new_id) = self.write_progress(p, scratch);
        if scratch.len() == self.0.len() {
            self.0.copy_from_slice(scratch);
        } else {
            self.0 = scratch.as_slice().into();
        }
        (index, new_id)
    }

    /// This task after the event, written into `scratch`.
    fn write_progress(&self, p: &StatusRef<'_>, scratch: &mut Vec<u8>) -> (usize, bool) {
        let b = &self.0;
        let sid = p.session_id.as_bytes();
        let mut r = self.reader(HEAD);
        r.bytes();
        let updated_at = r.at;
        r.skip_time();
        scratch.clear();
        scratch.extend_from_slice(&p.version.to_le_bytes());
        scratch.extend_from_slice(&b[8..updated_at]);
        put_time(scratch, p.last_updated);
        // the entries: the session's replaced, or one appended
        let entries = r.len();
        let first = r.at;
        let index = (0..entries)
            .position(|_| r.skip_entry().0 == sid)
            .unwrap_or(entries);
        put_len(scratch, entries.max(index + 1));
        r.at = first;
        for i in 0..entries {
            let start = r.at;
            r.skip_entry();
            if i != index {
                scratch.extend_from_slice(&b[start..r.at]);
                continue;
            }
            put_entry(scratch, p.session_id, p.status, p.last_updated, p.notes);
        }
        if index == entries {
            put_entry(scratch, p.session_id, p.status, p.last_updated, p.notes);
        }
        // the session ids, with this one appended if it is new
        let ids = r.len();
        let first = r.at;
        let new_id = (0..ids).all(|_| r.bytes() != sid);
        put_len(scratch, ids + usize::from(new_id));
        scratch.extend_from_slice(&b[first..r.at]);
        if new_id {
            put_str(scratch, p.session_id);
        }
        scratch.extend_from_slice(&b[r.at..]);
        (index, new_id)
    }
}

impl Listed for PackedTask {
    fn list_key(&self) -> (&str, &str) {
        (self.created_at(), self.id())
    }

    fn id_bytes(&self) -> &[u8] {
        PackedTask::id_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::tests_support::{Random, full_task, task};

    fn status(
        task_id: &'static str,
        session_id: &'static str,
        notes: Option<&'static str>,
        version: u64,
    ) -> StatusRef<'static> {
        StatusRef {
            task_id,
            session_id,
            status: SessionStatus::Blocked,
            notes,
            last_updated: "2026-12-01T02:00:00.000Z",
            version,
        }
    }

    #[test]
    fn a_task_unpacks_as_it_was_packed_and_reads_in_place() {
        let mut long = full_task();
        long.title = "é".repeat(300); // (a length of two bytes)
        long.description = Some(String::new());
        for t in [task("a", 1), full_task(), long] {
            let p = PackedTask::pack(&t);
            assert_eq!(p.unpack(), t);
            assert_eq!(p.id(), t.id);
            assert_eq!(p.created_at(), t.created_at);
            assert_eq!(p.list_key(), t.list_key());
            assert_eq!((p.version(), p.status()), (t.version, t.status));
            assert_eq!(p.project_id(), t.project_id.as_deref());
            assert_eq!(p.auto_transition(), crate::replica::auto_transition(&t));
        }
    }

    /// Timestamps in the server's exact form are held in 10 bytes, any
    /// other text as it is; both read back exactly.
    #[test]
    fn timestamps_read_back_exactly_in_either_form() {
        let mut t = full_task();
        let exact = "2026-11-30T13:09:56.696Z";
        for other in [
            "",
            "x",
            "2026-11-30T13:09:56.696",
            "2026-11-30T13:09:56.696+00:00",
            "2026-11-30 13:09:56.696Z",
            "2026-11-30T13:09:56.69xZ",
            "é026-11-30T13:09:56.69Z",
            "9999-99-99T99:99:99.999Z",
        ] {
            t.updated_at = other.into();
            t.created_at = exact.into();
            t.session_progress = vec![SessionProgress {
                session_id: "s".into(),
                status: SessionStatus::Working,
                last_updated: other.into(),
                notes: None,
            }];
            let p = PackedTask::pack(&t);
            assert_eq!(p.unpack(), t, "{other}");
            t.updated_at = exact.into();
            t.session_progress[0].last_updated = exact.into();
            let short = PackedTask::pack(&t);
            assert_eq!(short.unpack(), t);
            assert!(
                short.0.len() + 2 * 15
                    <= PackedTask::pack(&{
                        let mut long = t.clone();
                        long.updated_at = "2026-11-30T13:09:56.696+00".into();
                        long.session_progress[0].last_updated = long.updated_at.clone();
                        long
                    })
                    .0
                    .len()
            );
        }
    }

    #[test]
    fn the_auto_transition_rule_reads_the_same_packed() {
        let mut t = full_task();
        let entry = |sid: &str| SessionProgress {
            session_id: sid.into(),
            status: SessionStatus::Queued,
            last_updated: "x".into(),
            notes: None,
        };
        t.session_progress = vec![entry("s1"), entry("s2")];
        assert_eq!(PackedTask::pack(&t).auto_transition(), None);
        for task_status in TaskStatus::ALL {
            for session_status in SessionStatus::ALL {
                t.status = *task_status;
                t.session_progress[1].status = *session_status;
                let p = PackedTask::pack(&t);
                assert_eq!(p.auto_transition(), crate::replica::auto_transition(&t));
            }
        }
    }

    /// The packed write of a status event against `Task::set_progress` on
    /// the unpacked task: every entry replaced, one appended, notes set,
    /// kept and dropped, the session id new or not.
    #[test]
    fn a_status_event_writes_what_set_progress_makes() {
        let mut base = full_task();
        base.session_progress.push(SessionProgress {
            session_id: "s1".into(),
            status: SessionStatus::Queued,
            last_updated: "y".into(),
            notes: Some("first".into()),
        });
        base.session_ids = vec!["s1".into(), "s2".into()];
        base.session_progress.push(SessionProgress {
            session_id: "s2".into(),
            status: SessionStatus::Working,
            last_updated: "x".into(),
            notes: None,
        });
        let mut no_ids = base.clone();
        no_ids.session_ids.clear();
        let mut scratch = Vec::new();
        for t in [base, no_ids, task("bare", 4)] {
            let sessions = t
                .session_progress
                .iter()
                .map(|p| p.session_id.as_str())
                .chain(["new", "s2"]);
            let sessions: Vec<&str> = sessions.collect();
            for sid in sessions {
                for notes in [None, Some(""), Some("need an API key ü")] {
                    let sid: &'static str = Box::leak(sid.to_owned().into_boxed_str());
                    let ev = status("t", sid, notes, t.version + 1);
                    let (packed, index, new_id) =
                        PackedTask::pack(&t).with_progress(&ev, &mut scratch);
                    let mut want = t.clone();
                    let (i, n) = want.set_progress(sid, ev.status, notes, ev.last_updated);
                    want.version = ev.version;
                    want.updated_at = ev.last_updated.into();
                    assert_eq!(
                        (packed.unpack(), index, new_id),
                        (want.clone(), i, n),
                        "{sid} {notes:?}"
                    );
                    assert_eq!(packed, PackedTask::pack(&want));
                    let mut in_place = PackedTask::pack(&t);
                    assert_eq!(in_place.set_progress(&ev, &mut scratch), (i, n));
                    assert_eq!(in_place, packed);
                }
            }
        }
    }

    /// Random tasks through every way in and out of the packed form: packed
    /// and unpacked, read from their JSON (as a snapshot's are, and as
    /// `Task` is), read in place, and each given a random status report
    /// against `Task::set_progress`.
    #[test]
    fn random_tasks_pack_read_and_take_reports_as_task_does() {
        let mut rng = Random::new(12);
        let mut scratch = Vec::new();
        for _ in 0..1_500 {
            let t = rng.task();
            let packed = PackedTask::pack(&t);
            assert_eq!(packed.unpack(), t);
            let json = serde_json::to_string(&t).unwrap();
            let read: TaskIn = serde_json::from_str(&json).unwrap();
            assert_eq!(PackedTask::read_with(&read, &mut scratch), packed);
            assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), t);
            assert_eq!((packed.id(), packed.created_at()), (&*t.id, &*t.created_at));
            assert_eq!((packed.version(), packed.status()), (t.version, t.status));
            assert_eq!(packed.project_id(), t.project_id.as_deref());
            assert_eq!(
                packed.auto_transition(),
                crate::replica::auto_transition(&t)
            );

            let (session_id, notes, at) = (rng.session(), rng.maybe(), rng.time());
            let ev = StatusRef {
                task_id: &t.id,
                session_id: &session_id,
                status: SessionStatus::ALL[rng.below(SessionStatus::ALL.len() as u64)],
                notes: notes.as_deref(),
                last_updated: &at,
                version: t.version.wrapping_add(1),
            };
            let mut want = t.clone();
            let (i, n) = want.set_progress(ev.session_id, ev.status, ev.notes, ev.last_updated);
            want.version = ev.version;
            want.updated_at = at.clone();
            let (after, index, new_id) = packed.with_progress(&ev, &mut scratch);
            assert_eq!((after.unpack(), index, new_id), (want.clone(), i, n));
            let mut in_place = packed.clone();
            assert_eq!(in_place.set_progress(&ev, &mut scratch), (i, n));
            assert_eq!(in_place, after);
        }
    }
}
