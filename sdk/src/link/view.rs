//! What the user sees: the server's copy (the replica) with this client's
//! pending writes and auto-transitions laid on top. Only entities that a
//! pending change touches get their own copy; all others are read straight
//! from the replica. Dropping a pending change and recomputing is the
//! rollback, so a refused write leaves exactly the server's truth.

use super::Millis;
use super::writes::{WriteCmd, rfc3339};
use crate::model::{Session, Task, TaskStatus};
use crate::replica::{Changes, IdSet, PackedTask, Replica, empty};
use crate::wire::{Listed, sort_listed};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default)]
pub(super) struct View {
    tasks: HashMap<String, Option<Task>>,
    sessions: HashMap<String, Option<Session>>,
    touched_tasks: BTreeSet<String>,
    touched_sessions: BTreeSet<String>,
    changed_tasks: IdSet,
    changed_sessions: IdSet,
    /// Everything may have changed (a snapshot): see `Changes::all`.
    changed_all: bool,
    notify: bool,
    /// Grows whenever an overlay is laid or lifted (it may show or hide an entity).
    members: u64,
}

impl View {
    /// The task as shown: this client's copy if a pending change overlays
    /// it, else the server's, unpacked.
    pub fn task<'a>(&'a self, replica: &'a Replica, id: &str) -> Option<Cow<'a, Task>> {
        match self.tasks.get(id) {
            Some(overlay) => overlay.as_ref().map(Cow::Borrowed),
            None => replica.task(id).map(|t| Cow::Owned(t.unpack())),
        }
    }

    /// Whether the task is shown (nothing unpacked).
    pub fn has_task(&self, replica: &Replica, id: &str) -> bool {
        match self.tasks.get(id) {
            Some(overlay) => overlay.is_some(),
            None => replica.task(id).is_some(),
        }
    }

    pub fn session<'a>(&'a self, replica: &'a Replica, id: &str) -> Option<&'a Session> {
        match self.sessions.get(id) {
            Some(overlay) => overlay.as_ref(),
            None => replica.session(id),
        }
    }

    /// Every task shown, in list order, unpacked.
    pub fn tasks<'a>(&'a self, replica: &'a Replica) -> Vec<Cow<'a, Task>> {
        let keys = self.task_keys(replica);
        let order = crate::wire::order_of(keys.iter().copied());
        order
            .iter()
            .filter_map(|&i| self.task(replica, keys[i as usize].1))
            .collect()
    }

    pub fn sessions<'a>(&'a self, replica: &'a Replica) -> Vec<&'a Session> {
        let mut v = self.sessions_unordered(replica);
        sort_listed(&mut v);
        v
    }

    /// The list key (creation time, id) of every task shown, in no particular order.
    pub fn task_keys<'a>(&'a self, replica: &'a Replica) -> Vec<(&'a str, &'a str)> {
        let held = replica.tasks_unordered().into_iter().map(Listed::list_key);
        if self.tasks.is_empty() {
            return held.collect();
        }
        held.filter(|(_, id)| !self.tasks.contains_key(*id))
            .chain(self.tasks.values().flatten().map(Listed::list_key))
            .collect()
    }

    /// Every session shown, in no particular order.
    pub fn sessions_unordered<'a>(&'a self, replica: &'a Replica) -> Vec<&'a Session> {
        if self.sessions.is_empty() {
            return replica.sessions_unordered();
        }
        replica
            .sessions_unordered()
            .into_iter()
            .filter(|s| !self.sessions.contains_key(&s.id))
            .chain(self.sessions.values().flatten())
            .collect()
    }

    /// Marks what a write shows a change on, to be recomputed.
    pub fn touch(&mut self, cmd: &WriteCmd) {
        if let Some(id) = cmd.task_id() {
            self.touched_tasks.insert(id.to_owned());
        }
        if let Some(id) = cmd.session_id() {
            self.touched_sessions.insert(id.to_owned());
        }
    }

    /// A write left the outbox: its entities are recomputed without it.
    pub fn forget(&mut self, cmd: &WriteCmd) {
        self.touch(cmd);
    }

    /// Whether `take_changes()` has anything to list.
    pub fn has_changes(&self) -> bool {
        self.changed_all || !self.changed_tasks.is_empty() || !self.changed_sessions.is_empty()
    }

    /// Whether the task is shown other than the server has it.
    pub fn overlaid(&self, task_id: &str) -> bool {
        self.tasks.contains_key(task_id) || self.touched_tasks.contains(task_id)
    }

    /// Whether exactly this one entity changed, and it is shown as the
    /// server's copy (no overlay, nothing waiting to be recomputed).
    pub fn only_changed(&self, task: bool) -> bool {
        let (changed, others) = if task {
            (&self.changed_tasks, &self.changed_sessions)
        } else {
            (&self.changed_sessions, &self.changed_tasks)
        };
        let overlaid = |id: &String| {
            if task {
                self.tasks.contains_key(id)
            } else {
                self.sessions.contains_key(id)
            }
        };
        !self.dirty()
            && !self.changed_all
            && others.is_empty()
            && changed.len() == 1
            && changed.iter().next().is_some_and(|id| !overlaid(id))
    }

    pub fn members(&self) -> u64 {
        self.members
    }

    /// Whether any task is shown other than the server's copy has it.
    pub fn task_overlays(&self) -> bool {
        !self.tasks.is_empty() || !self.touched_tasks.is_empty()
    }

    /// Whether any entity is shown other than the server's copy has it.
    pub fn overlays(&self) -> bool {
        !self.tasks.is_empty() || !self.sessions.is_empty()
    }

    pub fn touch_task(&mut self, id: &str) {
        self.touched_tasks.insert(id.to_owned());
    }

    pub fn dirty(&self) -> bool {
        !self.touched_tasks.is_empty() || !self.touched_sessions.is_empty()
    }

    /// The server's copy of these changed, or (`all`) of every entity.
    /// (Leaves `tasks` and `sessions` empty.)
    pub fn replica_changed(&mut self, all: bool, tasks: &mut IdSet, sessions: &mut IdSet) {
        self.notify |= all || !tasks.is_empty() || !sessions.is_empty();
        if all {
            // every overlay is laid again on the new copy
            self.changed_all = true;
            // (one insert at a time: `extend` here was one more copy of
            // the set's code in the WebAssembly)
            for id in self.tasks.keys() {
                self.touched_tasks.insert(id.clone());
            }
            for id in self.sessions.keys() {
                self.touched_sessions.insert(id.clone());
            }
        }
        Self::mark(
            &self.tasks,
            &mut self.touched_tasks,
            &mut self.changed_tasks,
            tasks,
        );
        Self::mark(
            &self.sessions,
            &mut self.touched_sessions,
            &mut self.changed_sessions,
            sessions,
        );
    }

    /// Entities with an overlay are recomputed; all are listed as changed.
    fn mark<T>(
        overlays: &HashMap<String, Option<T>>,
        touched: &mut BTreeSet<String>,
        changed: &mut IdSet,
        ids: &mut IdSet,
    ) {
        if !overlays.is_empty() {
            touched.extend(ids.iter().filter(|id| overlays.contains_key(*id)).cloned());
        }
        if changed.is_empty() {
            std::mem::swap(changed, ids);
        } else {
            changed.extend(ids.drain());
            empty(ids);
        }
    }

    /// Forgets the changes list (its caller has what it needs).
    pub fn clear_changes(&mut self) {
        self.changed_all = false;
        empty(&mut self.changed_tasks);
        empty(&mut self.changed_sessions);
    }

    /// Recomputes touched entities; true if anything visible may have changed.
    pub fn rebuild(
        &mut self,
        replica: &Replica,
        pending: &[(&WriteCmd, Millis)],
        is_auto: impl Fn(&str) -> bool,
        _now: Millis,
    ) -> bool {
        // (nearly every event touches no overlay: not even an empty set's
        // iterator is made then, 20 ns of each status event in the browser)
        if self.touched_tasks.is_empty() && self.touched_sessions.is_empty() {
            return std::mem::take(&mut self.notify);
        }
        for id in std::mem::take(&mut self.touched_tasks) {
            let mine: Vec<_> = pending
                .iter()
                .filter(|(c, _)| c.task_id() == Some(id.as_str()))
                .collect();
            let auto = is_auto(id.as_str());
            if mine.is_empty() && !auto {
                self.members += u64::from(self.tasks.remove(&id).is_some());
            } else {
                let mut t = replica.task(&id).map(PackedTask::unpack);
                for (cmd, at) in mine {
                    cmd.apply_to_task(&mut t, &rfc3339(*at));
                }
                if auto
                    && let Some(t) = &mut t
                    && t.status == TaskStatus::Todo
                {
                    // The move is shown at once.
                    t.status = TaskStatus::Inprogress;
                }
                self.members += 1;
                self.tasks.insert(id.clone(), t);
            }
            self.changed_tasks.insert(id);
            self.notify = true;
        }
        for id in std::mem::take(&mut self.touched_sessions) {
            let mine: Vec<_> = pending
                .iter()
                .filter(|(c, _)| c.session_id() == Some(id.as_str()))
                .collect();
            if mine.is_empty() {
                self.members += u64::from(self.sessions.remove(&id).is_some());
            } else {
                let mut s = replica.session(&id).cloned();
                for (cmd, at) in mine {
                    cmd.apply_to_session(&mut s, &rfc3339(*at));
                }
                self.members += 1;
                self.sessions.insert(id.clone(), s);
            }
            self.changed_sessions.insert(id);
            self.notify = true;
        }
        std::mem::take(&mut self.notify)
    }

    pub fn take_changes(&mut self) -> Changes {
        Changes::take(
            &mut self.changed_all,
            &mut self.changed_tasks,
            &mut self.changed_sessions,
        )
    }
}
