//! The committed event log in memory: the newest retained events for resume
//! and `GET /api/events`, and the live fan-out to WebSocket connections.
//!
//! Each event is serialized once; every connection shares the same bytes.
//! The live fan-out is a `tokio::sync::broadcast` ring of *batches* (one per
//! commit): a connection wakes once per commit and writes all of its events
//! with one send. Each connection holds only a cursor into the ring; one
//! that falls more than `lag_limit` events behind (`behind`) or more than the
//! ring's capacity (`Lagged`) learns so instead of silently missing events.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One committed event: its seq, its JSON envelope, and the task it is
/// about (for a task's history).
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub seq: u64,
    pub json: Utf8Bytes,
    pub task: Option<Arc<str>>,
    /// Its project, for scoped streams.
    pub scope: super::scope::Scope,
}

impl LoggedEvent {
    /// An event read back as JSON (from the database): the task it is
    /// about is read from the JSON.
    pub fn parse(seq: u64, json: String) -> LoggedEvent {
        let task = serde_json::from_str::<tasksync_sdk::Envelope>(&json)
            .ok()
            .and_then(|e| e.event.task_id().map(Arc::from));
        LoggedEvent {
            seq,
            json: json.into(),
            task,
            scope: super::scope::Scope::Unknown,
        }
    }
}

struct Ring {
    events: VecDeque<LoggedEvent>,
    head: u64,
}

/// Retained events plus the live broadcast, kept in step under one lock so a
/// subscriber's backlog and its live stream meet with no gap.
pub struct EventLog {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Batch>,
    /// The ring's head, readable without the lock.
    head: AtomicU64,
    retain: usize,
    lag_limit: u64,
}

/// The events of one commit, in seq order, shared by every connection.
pub type Batch = Arc<[LoggedEvent]>;

/// The requested history is no longer retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone {
    pub oldest_retained: u64,
}

/// A new subscriber's starting point.
pub struct Subscription {
    pub live: broadcast::Receiver<Batch>,
    /// The head when the subscription was taken.
    pub head: u64,
    /// With a resume: the retained events after `since`, up to `head`.
    /// `None` when the resume was not possible (or not asked for).
    pub backlog: Option<Vec<LoggedEvent>>,
}

impl EventLog {
    /// A log at `head` holding `events` (oldest first), keeping `retain`
    /// and letting a live subscriber fall at most `lag_limit` events behind.
    pub fn new(head: u64, events: Vec<LoggedEvent>, retain: usize, lag_limit: usize) -> Self {
        let (live, _) = broadcast::channel(lag_limit.max(1));
        let mut events: VecDeque<_> = events.into();
        while events.len() > retain {
            events.pop_front();
        }
        EventLog {
            ring: Mutex::new(Ring { events, head }),
            live,
            head: AtomicU64::new(head),
            retain,
            lag_limit: lag_limit as u64,
        }
    }

    /// The seq of the newest committed event.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Whether a connection that has sent up to `sent` is too far behind.
    pub fn behind(&self, sent: u64) -> bool {
        self.head().saturating_sub(sent) > self.lag_limit
    }

    /// Appends committed events (consecutive seqs) and sends them live.
    pub fn publish(&self, events: Vec<LoggedEvent>) {
        if events.is_empty() {
            return;
        }
        let mut ring = self.ring.lock().expect("event ring");
        for e in &events {
            debug_assert_eq!(e.seq, ring.head + 1, "events are published in seq order");
            ring.head = e.seq;
            if ring.events.len() == self.retain {
                ring.events.pop_front();
            }
            ring.events.push_back(e.clone());
        }
        self.head.store(ring.head, Ordering::Release);
        // An error only means nobody is listening right now.
        let _ = self.live.send(events.into());
    }

    /// Starts again at `head` with `events` (oldest first) after a jump in
    /// the history (a node that fell behind further than the retained
    /// events reach). Live subscribers see the jump and close, so their
    /// clients resync.
    pub fn reset(&self, head: u64, events: Vec<LoggedEvent>) {
        let mut ring = self.ring.lock().expect("event ring");
        ring.events = events.iter().cloned().collect();
        while ring.events.len() > self.retain {
            ring.events.pop_front();
        }
        ring.head = head;
        self.head.store(head, Ordering::Release);
        if !events.is_empty() {
            let _ = self.live.send(events.into());
        }
    }

    /// Waits (at most `limit`) until the head reaches `seq`: a client may
    /// resume here from a seq another node gave it a moment before this
    /// node has caught up. Returns whether it did.
    pub async fn reach(&self, seq: u64, limit: std::time::Duration) -> bool {
        let mut live = self.live.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        while self.head() < seq {
            match tokio::time::timeout_at(deadline, live.recv()).await {
                Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return false,
                Ok(_) => {}
            }
        }
        true
    }

    /// Subscribes to live events; with `since`, also returns the retained
    /// events after it when they are all still retained.
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let ring = self.ring.lock().expect("event ring");
        let live = self.live.subscribe();
        let backlog = since.and_then(|since| Self::after(&ring, since, usize::MAX).ok());
        Subscription {
            live,
            head: ring.head,
            backlog,
        }
    }

    /// Up to `limit` retained events about `task` after `since` (a task's
    /// history), whether there are more, and the oldest retained seq.
    pub fn of_task(&self, task: &str, since: u64, limit: usize) -> (Vec<LoggedEvent>, bool, u64) {
        let ring = self.ring.lock().expect("event ring");
        let oldest = ring.events.front().map_or(ring.head + 1, |e| e.seq);
        let mut found = ring
            .events
            .iter()
            .filter(|e| e.seq > since && e.task.as_deref() == Some(task));
        let page: Vec<LoggedEvent> = found.by_ref().take(limit).cloned().collect();
        let more = found.next().is_some();
        (page, more, oldest)
    }

    /// Up to `limit` retained events after `since`.
    /// (None when `since` is at or ahead of the head.)
    pub fn range(&self, since: u64, limit: usize) -> Result<Vec<LoggedEvent>, Gone> {
        let ring = self.ring.lock().expect("event ring");
        if since >= ring.head {
            return Ok(Vec::new());
        }
        Self::after(&ring, since, limit)
    }

    fn after(ring: &Ring, since: u64, limit: usize) -> Result<Vec<LoggedEvent>, Gone> {
        let oldest = ring.events.front().map_or(ring.head + 1, |e| e.seq);
        if since + 1 < oldest || since > ring.head {
            return Err(Gone {
                oldest_retained: oldest,
            });
        }
        let skip = (since + 1 - oldest) as usize;
        Ok(ring.events.iter().skip(skip).take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64) -> LoggedEvent {
        LoggedEvent {
            seq,
            json: format!("{{\"seq\":{seq}}}").into(),
            task: None,
            scope: Default::default(),
        }
    }

    #[test]
    fn a_tasks_history_is_its_events_in_seq_order_paged() {
        let log = EventLog::new(0, vec![], 100, 16);
        let about = |seq: u64, task: &str| {
            LoggedEvent::parse(
                seq,
                format!(
                    r#"{{"type":"task:session_status","payload":{{"taskId":"{task}","sessionId":"s","status":"working","lastUpdated":"2026-01-01T00:00:00.000Z","version":2}},"seq":{seq}}}"#
                ),
            )
        };
        let created = LoggedEvent::parse(
            1,
            r#"{"type":"task:created","payload":{"task":{"id":"a","title":"x","status":"todo","priority":"medium","sessionIds":[],"sessionProgress":[],"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z","version":1}},"seq":1}"#.into(),
        );
        assert_eq!(created.task.as_deref(), Some("a"));
        assert_eq!(LoggedEvent::parse(9, "not json".into()).task, None);
        log.publish(vec![
            created,
            about(2, "b"),
            about(3, "a"),
            about(4, "a"),
            ev(5),
        ]);
        let seqs = |v: &[LoggedEvent]| v.iter().map(|e| e.seq).collect::<Vec<_>>();
        let (page, more, oldest) = log.of_task("a", 0, 2);
        assert_eq!((seqs(&page), more, oldest), (vec![1, 3], true, 1));
        let (page, more, _) = log.of_task("a", 3, 2);
        assert_eq!((seqs(&page), more), (vec![4], false));
        assert!(log.of_task("zzz", 0, 10).0.is_empty());
    }

    #[test]
    fn resume_within_retention_and_gone_beyond() {
        let log = EventLog::new(0, vec![], 3, 16);
        log.publish((1..=5).map(ev).collect());
        assert_eq!(log.head(), 5);
        let seqs = |v: Vec<LoggedEvent>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(log.range(2, 10).unwrap()), [3, 4, 5]);
        assert_eq!(seqs(log.range(3, 1).unwrap()), [4]);
        assert_eq!(seqs(log.range(5, 10).unwrap()), Vec::<u64>::new());
        assert_eq!(log.range(1, 10).unwrap_err(), Gone { oldest_retained: 3 });
        assert!(
            log.range(6, 10).unwrap().is_empty(),
            "nothing after the head"
        );
        assert!(
            log.subscribe(Some(6)).backlog.is_none(),
            "a seq from the future is not resumable"
        );
        let sub = log.subscribe(Some(4));
        assert_eq!((sub.head, sub.backlog.map(seqs)), (5, Some(vec![5])));
        assert!(log.subscribe(Some(0)).backlog.is_none());
    }

    #[test]
    fn live_subscriber_sees_what_follows_its_head() {
        let log = EventLog::new(7, vec![ev(6), ev(7)], 10, 16);
        let mut sub = log.subscribe(None);
        assert_eq!(sub.head, 7);
        log.publish(vec![ev(8), ev(9)]);
        let batch = sub.live.try_recv().unwrap();
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [8, 9]);
        let empty = EventLog::new(0, vec![], 10, 16);
        assert_eq!(empty.range(0, 10).unwrap().len(), 0);
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_told() {
        let log = EventLog::new(0, vec![], 100, 4);
        let mut sub = log.subscribe(None);
        // more than `lag_limit` events behind, in one commit
        log.publish((1..=10).map(ev).collect());
        assert!(log.behind(0) && log.behind(5) && !log.behind(6));
        // more commits than the ring holds
        for seq in 11..=20 {
            log.publish(vec![ev(seq)]);
        }
        assert!(matches!(
            sub.live.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }
}
