//! Liveness, sans-I/O: which sessions were heard from lately, and what that
//! asks to be written. Heartbeats (every report, every hook event) only
//! touch memory (`heard`); `due` — called every `tick` with the time —
//! turns them into a few durable writes: a session's stored `lastSeenAt` is
//! moved on at most once per `refresh` while it keeps reporting, it becomes
//! `stale` once nothing was heard for `stale_after` while it is spawning or
//! active, and fresh again on the next heartbeat. So a thousand heartbeats a
//! second cost a write every `refresh`, not a thousand.
//!
//! Each node of a shared database hears its own clients; the stored
//! `lastSeenAt` (refreshed well inside `stale_after`) is what the others go
//! by, so no node marks stale a session another node hears.

use super::command::Command;
use super::state::State;
use std::collections::HashMap;
use std::time::Duration;
use tasksync_sdk::{Session, SessionLifecycle};

pub struct Liveness {
    stale_after: i64,
    refresh: i64,
    /// Milliseconds since the Unix epoch, per session id.
    heard: HashMap<String, i64>,
}

impl Liveness {
    pub fn new(stale_after: Duration) -> Liveness {
        let stale_after = (stale_after.as_millis() as i64).max(1);
        Liveness {
            stale_after,
            refresh: (stale_after / 3).min(60_000),
            heard: HashMap::new(),
        }
    }

    /// How often `due` should run.
    pub fn tick(&self) -> Duration {
        Duration::from_millis((self.stale_after / 4).clamp(50, 5_000) as u64)
    }

    /// A heartbeat from `session` at `now` (ms since the Unix epoch).
    pub fn heard(&mut self, session: &str, now: i64) {
        // (no allocation for a session already heard from: this runs per report)
        match self.heard.get_mut(session) {
            Some(at) => *at = (*at).max(now),
            None => {
                self.heard.insert(session.to_owned(), now);
            }
        }
    }

    /// The writes due at `now` for every session in `state`.
    pub fn due(&mut self, state: &State, now: i64) -> Vec<Command> {
        self.heard.retain(|id, _| state.sessions.contains_key(id));
        let mut out: Vec<Command> = state
            .sessions
            .values()
            .filter_map(|s| self.due_for(s, now))
            .collect();
        out.sort_by(|a, b| id_of(a).cmp(id_of(b)));
        out
    }

    /// The write due at `now` for one session, if any.
    pub fn due_for(&self, s: &Session, now: i64) -> Option<Command> {
        let stored = s
            .last_seen_at
            .as_deref()
            .and_then(millis)
            .or_else(|| millis(&s.created_at))
            .unwrap_or(0);
        let heard = self.heard.get(&s.id).copied().unwrap_or(i64::MIN);
        let live = matches!(
            s.status,
            SessionLifecycle::Spawning | SessionLifecycle::Active
        );
        let stale = live && now - stored.max(heard) > self.stale_after;
        let at = (heard > stored && (heard - stored >= self.refresh || s.stale != stale))
            .then(|| rfc3339(heard));
        (at.is_some() || s.stale != stale).then(|| Command::Seen {
            session_id: s.id.clone(),
            at,
            stale,
        })
    }
}

fn id_of(c: &Command) -> &str {
    match c {
        Command::Seen { session_id, .. } => session_id,
        _ => "",
    }
}

fn millis(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const T0: i64 = 1_800_000_000_000; // a fixed instant, in ms

    fn state(status: SessionLifecycle, last_seen: i64, stale: bool) -> State {
        let mut s = State::default();
        let session: Session = serde_json::from_value(serde_json::json!({
            "id": "s1", "status": status, "taskIds": [], "spawnSource": "session",
            "createdAt": rfc3339(T0 - 3_600_000), "updatedAt": rfc3339(T0),
            "version": 1, "lastSeenAt": rfc3339(last_seen), "stale": stale
        }))
        .unwrap();
        s.sessions.insert("s1".into(), Arc::new(session));
        s
    }

    fn seen(c: &[Command]) -> Vec<(Option<String>, bool)> {
        c.iter()
            .map(|c| match c {
                Command::Seen { at, stale, .. } => (at.clone(), *stale),
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn heartbeats_cost_a_write_per_refresh_not_each() {
        let mut l = Liveness::new(Duration::from_secs(600));
        let st = state(SessionLifecycle::Active, T0, false);
        // a thousand heartbeats within a second: nothing to write
        for i in 0..1000 {
            l.heard("s1", T0 + i);
        }
        assert!(l.due(&st, T0 + 1000).is_empty());
        // a minute on, one write carries the newest
        l.heard("s1", T0 + 60_000);
        assert_eq!(
            seen(&l.due(&st, T0 + 60_001)),
            [(Some(rfc3339(T0 + 60_000)), false)]
        );
    }

    #[test]
    fn silence_makes_a_live_session_stale_and_a_heartbeat_fresh() {
        let mut l = Liveness::new(Duration::from_secs(600));
        let st = state(SessionLifecycle::Active, T0, false);
        assert!(l.due(&st, T0 + 600_000).is_empty(), "not yet");
        assert_eq!(seen(&l.due(&st, T0 + 600_001)), [(None, true)]);
        let stale = state(SessionLifecycle::Active, T0, true);
        assert!(l.due(&stale, T0 + 700_000).is_empty(), "stays stale, once");
        l.heard("s1", T0 + 700_000);
        assert_eq!(
            seen(&l.due(&stale, T0 + 700_001)),
            [(Some(rfc3339(T0 + 700_000)), false)],
            "the next heartbeat makes it fresh at once"
        );
    }

    #[test]
    fn stopped_sessions_are_never_stale() {
        let mut l = Liveness::new(Duration::from_secs(1));
        for status in [SessionLifecycle::Stopped, SessionLifecycle::Failed] {
            assert!(l.due(&state(status, T0, false), T0 + 3_600_000).is_empty());
            assert_eq!(
                seen(&l.due(&state(status, T0, true), T0 + 3_600_000)),
                [(None, false)]
            );
        }
        assert_eq!(
            seen(&l.due(&state(SessionLifecycle::Spawning, T0, false), T0 + 1_001)),
            [(None, true)]
        );
    }

    #[test]
    fn another_node_refreshing_the_stored_time_keeps_it_fresh() {
        // this node hears nothing, but the stored lastSeenAt keeps moving
        let mut l = Liveness::new(Duration::from_secs(600));
        for minute in 1..30 {
            let now = T0 + minute * 60_000;
            assert!(
                l.due(&state(SessionLifecycle::Active, now - 60_000, false), now)
                    .is_empty()
            );
        }
        assert_eq!(l.tick(), Duration::from_secs(5));
        assert_eq!(
            Liveness::new(Duration::from_secs(1)).tick(),
            Duration::from_millis(250)
        );
    }
}
