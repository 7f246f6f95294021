//! The engine driven by hand with a fake clock: each test plays the server's
//! part frame by frame. (The randomized simulator against the real server's
//! rules is `server/tests/engine_sim.rs`.)

use super::*;
use crate::replica::SnapshotFeed;
use crate::wire::Snapshot;

const EPOCH: &str = "e1";

fn link(auto: bool) -> Link {
    Link::new(Options {
        base_url: "http://h:1".into(),
        token: None,
        auto_transition: auto,
        resync: Resync::Snapshot,
        client_id: "c".into(),
        seed: 7,
        since: None,
        project_id: None,
    })
}

use crate::replica::tests_support::task;

/// The server sends `text` on socket `conn`.
fn frame(l: &mut Link, now: Millis, conn: ConnId, text: &str) {
    l.handle(now, Input::Frame { conn, text });
}

fn drain(l: &mut Link) -> Vec<Action> {
    std::iter::from_fn(|| l.poll_action()).collect()
}

fn opened(actions: &[Action]) -> Option<(ConnId, String)> {
    actions.iter().find_map(|a| match a {
        Action::Open { conn, url } => Some((*conn, url.clone())),
        _ => None,
    })
}

type Headers = Vec<(&'static str, String)>;

fn requests(actions: &[Action]) -> Vec<(ReqId, HttpRequest, Headers)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Request {
                req, http, headers, ..
            } => Some((*req, http.clone(), headers.clone())),
            _ => None,
        })
        .collect()
}

fn hello(seq: u64, resumed: bool) -> String {
    wire::Hello {
        epoch: EPOCH.into(),
        seq,
        resumed,
    }
    .to_frame()
}

fn snapshot(seq: u64, tasks: Vec<Task>) -> String {
    serde_json::to_string(&Snapshot::<Task, Session> {
        epoch: EPOCH.into(),
        seq,
        tasks,
        sessions: vec![],
    })
    .unwrap()
}

fn status_frame(seq: u64, task: &str, status: &str, version: u64) -> String {
    format!(
        r#"{{"type":"task:session_status","payload":{{"taskId":"{task}","sessionId":"s1","status":"{status}","lastUpdated":"t{seq}","version":{version}}},"seq":{seq}}}"#
    )
}

fn updated_frame(seq: u64, t: &Task) -> String {
    serde_json::to_string(&Envelope {
        event: Event::TaskUpdated { task: t.clone() },
        seq,
    })
    .unwrap()
}

/// Connects and syncs from a snapshot of `tasks` at `seq`; returns the socket.
fn live(l: &mut Link, now: Millis, seq: u64, tasks: Vec<Task>) -> ConnId {
    l.handle(now, Input::Connect);
    let (conn, _) = opened(&drain(l)).expect("opens a socket");
    frame(l, now, conn, &hello(seq, false));
    let reqs = requests(&drain(l));
    assert_eq!(reqs[0].1.path, "/api/snapshot");
    l.handle(
        now,
        Input::Answer {
            req: reqs[0].0,
            status: 200,
            body: &snapshot(seq, tasks),
        },
    );
    assert_eq!(l.state(), ConnState::Live);
    conn
}

#[test]
fn resumes_by_seq_and_epoch_after_a_drop_and_ignores_replays() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 2, vec![task("t", 1)]);
    drain(&mut l);
    frame(&mut l, 10, conn, &status_frame(3, "t", "queued", 2));
    // a duplicate and an older frame change nothing
    frame(&mut l, 11, conn, &status_frame(3, "t", "working", 2));
    frame(&mut l, 12, conn, &status_frame(2, "t", "working", 2));
    assert_eq!(l.seq(), 3);
    assert_eq!(
        l.task("t").unwrap().session_progress[0].status,
        SessionStatus::Queued
    );
    l.handle(20, Input::Closed { conn, code: 1006 });
    assert_eq!(l.state(), ConnState::Reconnecting);
    let at = l.retry_at().unwrap();
    assert!((20..=520).contains(&at), "first retry within 0.5 s: {at}");
    // a frame from the dead socket is ignored
    frame(&mut l, 21, conn, &status_frame(4, "t", "working", 3));
    assert_eq!(l.seq(), 3);
    l.handle(at, Input::Tick);
    let (conn2, url) = opened(&drain(&mut l)).unwrap();
    assert_eq!(url, "ws://h:1/ws?since=3&epoch=e1");
    l.handle(
        at,
        Input::Frame {
            conn: conn2,
            text: &hello(4, true),
        },
    );
    assert_eq!(l.state(), ConnState::Syncing);
    l.handle(
        at,
        Input::Frame {
            conn: conn2,
            text: &status_frame(4, "t", "working", 3),
        },
    );
    assert_eq!(l.state(), ConnState::Live);
    assert!(requests(&drain(&mut l)).is_empty(), "no snapshot on resume");
}

#[test]
fn a_new_epoch_resyncs_from_a_snapshot_and_skips_buffered_events_it_covers() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 5, vec![task("old", 1)]);
    l.handle(1, Input::Closed { conn, code: 1001 });
    l.handle(10_000, Input::Tick);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    let other = r#"{"type":"sync:hello","payload":{"epoch":"e2","seq":2,"resumed":false}}"#;
    l.handle(10_000, Input::Frame { conn, text: other });
    let reqs = requests(&drain(&mut l));
    let mut t = task("new", 1);
    frame(&mut l, 10_001, conn, &status_frame(2, "new", "queued", 2));
    frame(&mut l, 10_001, conn, &status_frame(3, "new", "queued", 3));
    assert_eq!(l.state(), ConnState::Syncing);
    t.version = 2;
    let snap = serde_json::to_string(&Snapshot::<Task, Session> {
        epoch: "e2".into(),
        seq: 2,
        tasks: vec![t],
        sessions: vec![],
    })
    .unwrap();
    l.handle(
        10_002,
        Input::Answer {
            req: reqs[0].0,
            status: 200,
            body: &snap,
        },
    );
    assert_eq!(l.state(), ConnState::Live);
    assert_eq!((l.epoch(), l.seq()), (Some("e2"), 3));
    assert!(l.task("old").is_none());
    assert_eq!(l.task("new").unwrap().version, 3);
}

#[test]
fn backoff_grows_with_full_jitter_to_the_cap_and_resets_after_a_sync() {
    let mut l = link(false);
    let mut now = 0;
    let conn = live(&mut l, now, 0, vec![]);
    l.handle(now, Input::Closed { conn, code: 1006 });
    let mut delays = vec![];
    for _ in 0..12 {
        let at = l.retry_at().unwrap();
        delays.push(at - now);
        now = at;
        l.handle(now, Input::Tick);
        let (conn, _) = opened(&drain(&mut l)).unwrap();
        l.handle(now, Input::Closed { conn, code: 1006 });
    }
    for (i, d) in delays.iter().enumerate() {
        assert!(*d <= (500u64 << i).min(30_000), "attempt {i}: {d}");
    }
    assert!(delays[8..].iter().any(|d| *d > 4_000), "grows: {delays:?}");
    now = l.retry_at().unwrap();
    l.handle(now, Input::Tick);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    frame(&mut l, now, conn, &hello(0, true));
    assert_eq!(l.state(), ConnState::Live);
    l.handle(now, Input::Closed { conn, code: 1006 });
    assert!(l.retry_at().unwrap() - now <= 500, "reset after a sync");
}

#[test]
fn the_watchdog_gives_up_on_a_hung_handshake_and_a_silent_link() {
    let mut l = link(false);
    l.handle(0, Input::Connect);
    drain(&mut l);
    assert_eq!(l.next_deadline(), Some(HANDSHAKE_MS));
    l.handle(HANDSHAKE_MS, Input::Tick);
    assert_eq!(l.state(), ConnState::Reconnecting);
    let at = l.retry_at().unwrap();
    l.handle(at, Input::Tick);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    frame(&mut l, at, conn, &hello(0, false));
    let reqs = requests(&drain(&mut l));
    l.handle(
        at,
        Input::Answer {
            req: reqs[0].0,
            status: 200,
            body: &snapshot(0, vec![]),
        },
    );
    frame(&mut l, at + 59_000, conn, &wire::ping_frame());
    l.handle(at + 100_000, Input::Tick);
    assert_eq!(l.state(), ConnState::Live, "a ping keeps it alive");
    l.handle(at + 119_000, Input::Tick);
    let actions = drain(&mut l);
    assert!(actions.contains(&Action::Close { conn, code: 1000 }));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Report(m) if m.contains("60 s")))
    );
    assert_eq!(l.state(), ConnState::Reconnecting);
}

#[test]
fn working_then_blocked_still_moves_the_task_once_with_the_current_version() {
    let mut l = link(true);
    let conn = live(&mut l, 0, 1, vec![task("t", 1)]);
    drain(&mut l);
    frame(&mut l, 100, conn, &status_frame(2, "t", "working", 2));
    assert_eq!(
        l.task("t").unwrap().status,
        TaskStatus::Inprogress,
        "shown at once"
    );
    assert_eq!(l.confirmed().task("t").unwrap().status(), TaskStatus::Todo);
    frame(&mut l, 120, conn, &status_frame(3, "t", "blocked", 3));
    assert!(requests(&drain(&mut l)).is_empty(), "waits its jitter");
    let due = l.next_deadline().unwrap();
    assert!((150..=350).contains(&due), "{due}");
    l.handle(due, Input::Tick);
    let reqs = requests(&drain(&mut l));
    assert_eq!(reqs.len(), 1);
    let (req, http, headers) = &reqs[0];
    assert_eq!((http.method, http.path.as_str()), ("PATCH", "/api/tasks/t"));
    assert_eq!(http.body.as_deref(), Some(r#"{"status":"inprogress"}"#));
    assert_eq!(
        http.if_match,
        Some(3),
        "the version held now, not at the trigger"
    );
    assert!(headers.iter().any(|(k, _)| *k == "idempotency-key"));
    let mut done = task("t", 4);
    done.status = TaskStatus::Inprogress;
    let body = serde_json::to_string(&done).unwrap();
    l.handle(
        due + 5,
        Input::Answer {
            req: *req,
            status: 200,
            body: &body,
        },
    );
    frame(&mut l, due + 6, conn, &updated_frame(4, &done));
    assert_eq!(l.task("t").unwrap().status, TaskStatus::Inprogress);
    assert_eq!(
        l.next_deadline(),
        Some(due + 6 + SILENCE_MS),
        "nothing more to send"
    );
}

#[test]
fn a_412_from_a_lost_race_stays_quiet_and_another_refusal_rolls_back() {
    let mut l = link(true);
    let conn = live(&mut l, 0, 1, vec![task("a", 1), task("b", 1)]);
    frame(&mut l, 1, conn, &status_frame(2, "a", "working", 2));
    frame(&mut l, 1, conn, &status_frame(3, "b", "working", 2));
    drain(&mut l);
    l.handle(1_000, Input::Tick);
    let reqs = requests(&drain(&mut l));
    assert_eq!(reqs.len(), 2);
    let by_path = |p: &str| reqs.iter().find(|r| r.1.path == p).unwrap().0;
    // a: another store won; its task:updated arrives after our 412
    l.handle(
        1_001,
        Input::Answer {
            req: by_path("/api/tasks/a"),
            status: 412,
            body: "{}",
        },
    );
    let mut moved = task("a", 3);
    moved.status = TaskStatus::Inprogress;
    frame(&mut l, 1_002, conn, &updated_frame(4, &moved));
    // b: refused for another reason — the local move is rolled back and reported
    let refusal = ErrorBody::new("invalid_transition", "no", None).to_text();
    l.handle(
        1_003,
        Input::Answer {
            req: by_path("/api/tasks/b"),
            status: 409,
            body: &refusal,
        },
    );
    let actions = drain(&mut l);
    assert!(requests(&actions).is_empty(), "no retry: {actions:?}");
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Report(m) if m.contains("refused")))
    );
    assert_eq!(l.task("a").unwrap().status, TaskStatus::Inprogress);
    assert_eq!(l.task("b").unwrap().status, TaskStatus::Todo, "rolled back");
}

#[test]
fn offline_writes_wait_in_the_outbox_and_go_out_in_order_with_their_keys() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 1, vec![task("t", 1)]);
    l.handle(5, Input::Closed { conn, code: 1006 });
    drain(&mut l);
    let w1 = l.write(
        6,
        WriteCmd::QueueTask {
            task_id: "t".into(),
            session_id: "s1".into(),
        },
    );
    let w2 = l.write(
        7,
        WriteCmd::UpdateTask {
            id: "t".into(),
            patch: TaskPatch::status(TaskStatus::Cancelled),
            if_match: None,
        },
    );
    let actions = drain(&mut l);
    assert!(requests(&actions).is_empty(), "held while the link is down");
    assert!(matches!(actions.last(), Some(Action::Changed)));
    let saved = actions.iter().rev().find_map(|a| match a {
        Action::SaveOutbox(s) => Some(s.clone()),
        _ => None,
    });
    let t = l.task("t").unwrap();
    assert_eq!(
        (t.status, t.session_ids.clone()),
        (TaskStatus::Cancelled, vec!["s1".to_owned()])
    );
    // back: resume, then the first write goes out, alone
    let at = l.retry_at().unwrap();
    l.handle(at, Input::Tick);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    frame(&mut l, at, conn, &hello(1, true));
    let reqs = requests(&drain(&mut l));
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].1.path, "/api/tasks/t/queue");
    let key = |h: &Vec<(&str, String)>| {
        h.iter()
            .find(|(k, _)| *k == "idempotency-key")
            .unwrap()
            .1
            .clone()
    };
    let k1 = key(&reqs[0].2);
    // the answer is lost: the same request with the same key, later
    l.handle(
        at + 1,
        Input::Answer {
            req: reqs[0].0,
            status: 0,
            body: "",
        },
    );
    assert!(requests(&drain(&mut l)).is_empty());
    l.handle(at + 1_000, Input::Tick);
    let reqs = requests(&drain(&mut l));
    assert_eq!(
        (reqs[0].1.path.as_str(), key(&reqs[0].2)),
        ("/api/tasks/t/queue", k1)
    );
    let mut queued = task("t", 2);
    queued.set_progress("s1", SessionStatus::Queued, None, "x");
    l.handle(
        at + 1_001,
        Input::Answer {
            req: reqs[0].0,
            status: 200,
            body: &serde_json::to_string(&queued).unwrap(),
        },
    );
    let actions = drain(&mut l);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Settled { write, result: Ok(_) } if *write == w1))
    );
    let reqs = requests(&actions);
    assert_eq!(reqs[0].1.path, "/api/tasks/t");
    // refused when it finally goes out: rolled back and reported
    let refusal = ErrorBody::new(
        "invalid_transition",
        "todo cannot become cancelled here",
        None,
    )
    .to_text();
    l.handle(
        at + 1_002,
        Input::Answer {
            req: reqs[0].0,
            status: 409,
            body: &refusal,
        },
    );
    let actions = drain(&mut l);
    assert!(actions.iter().any(|a| matches!(a, Action::WriteFailed { write, refusal, .. } if *write == w2 && refusal.detail.code == "invalid_transition")));
    assert_eq!(l.task("t").unwrap().status, TaskStatus::Todo);
    assert_eq!(l.outbox_len(), 0);
    // a saved outbox comes back after a "reload"
    let saved = saved.unwrap();
    let mut again = link(false);
    again.restore_outbox(0, &saved).unwrap();
    assert_eq!(again.outbox_len(), 2);
    // ... before a write made while it loaded, once however often it is
    // loaded, with ids of its own (two earlier clients may have used the same)
    let mut third = Link::new(Options {
        client_id: "other".into(),
        ..link(false).opts
    });
    third.handle(0, Input::Online(false));
    let mine = third.write(0, WriteCmd::DeleteTask { id: "x".into() });
    third.restore_outbox(0, &saved).unwrap();
    third.restore_outbox(0, &saved).unwrap();
    assert_eq!(third.outbox_len(), 3);
    let last_save = drain(&mut third)
        .into_iter()
        .filter_map(|a| match a {
            Action::SaveOutbox(text) => Some(text),
            _ => None,
        })
        .next_back()
        .unwrap();
    let kept: Vec<serde_json::Value> = serde_json::from_str(&last_save).unwrap();
    let old: Vec<serde_json::Value> = serde_json::from_str(&saved).unwrap();
    assert_eq!(kept[0]["key"], old[0]["key"], "{kept:?}");
    assert_eq!(kept[1]["key"], old[1]["key"]);
    assert_eq!(kept[2]["cmd"]["op"], "deleteTask");
    let ids: std::collections::BTreeSet<u64> =
        kept.iter().map(|q| q["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(kept[2]["id"].as_u64() == Some(mine));
}

#[test]
fn a_slow_consumer_close_is_reported_and_resumed() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 3, vec![]);
    l.handle(1, Input::Closed { conn, code: 4008 });
    let actions = drain(&mut l);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Report(m) if m.contains("4008")))
    );
    l.handle(l.retry_at().unwrap(), Input::Tick);
    let (_, url) = opened(&drain(&mut l)).unwrap();
    assert!(url.contains("since=3"), "{url}");
}

#[test]
fn brought_frames_and_snapshots_use_the_same_machine() {
    let mut l = link(true);
    l.handle(0, Input::Message(&hello(1, false)));
    l.handle(0, Input::Message(&status_frame(2, "t", "working", 2)));
    l.handle(0, Input::LoadSnapshot(&snapshot(1, vec![task("t", 1)])));
    assert_eq!(l.seq(), 2);
    assert_eq!(l.task("t").unwrap().session_progress.len(), 1);
    // nothing goes out over HTTP for a snapshot the caller brings
    let actions = drain(&mut l);
    assert!(
        requests(&actions)
            .iter()
            .all(|r| r.1.path != "/api/snapshot")
    );
    l.handle(0, Input::Message("not json"));
    assert!(drain(&mut l).iter().any(|a| matches!(a, Action::Report(_))));
}

/// A connection carries every event in order, or is closed (the stream's
/// promise). An event after a gap, or before the hello, means the stream is
/// broken: the engine drops it and resumes from the last event it holds,
/// rather than jumping its seq past events it never applied.
#[test]
fn a_gap_or_an_event_before_the_hello_resumes_from_the_last_event_held() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 3, vec![task("a", 1)]);
    frame(&mut l, 1, conn, &status_frame(4, "a", "queued", 2));
    assert_eq!(l.seq(), 4);
    // seq 5 never came
    frame(&mut l, 2, conn, &status_frame(6, "a", "blocked", 4));
    let actions = drain(&mut l);
    assert!(
        actions.contains(&Action::Close { conn, code: 1000 }),
        "{actions:?}"
    );
    assert_eq!(l.seq(), 4, "the event after the gap is not applied");
    assert_eq!(l.state(), ConnState::Reconnecting);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Report(m) if m.contains("after a gap")))
    );

    // The next socket resumes from 4; an event before its hello is refused too.
    l.handle(60_000, Input::Tick);
    let (conn, url) = opened(&drain(&mut l)).expect("reconnects");
    assert!(url.contains("since=4"), "{url}");
    frame(&mut l, 60_001, conn, &status_frame(5, "a", "working", 3));
    assert_eq!(l.seq(), 4);
    assert_eq!(l.state(), ConnState::Reconnecting);
}

/// On the caller's own transport the caller owns the stream: a gap is
/// reported, and the event applied.
#[test]
fn a_gap_on_the_callers_own_transport_is_reported_and_applied() {
    let mut l = link(false);
    l.handle(0, Input::Message(&hello(1, false)));
    l.handle(0, Input::LoadSnapshot(&snapshot(1, vec![task("a", 1)])));
    drain(&mut l);
    l.handle(1, Input::Message(&status_frame(3, "a", "blocked", 2)));
    let actions = drain(&mut l);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Report(m) if m.contains("events 2..2 are missing"))),
        "{actions:?}"
    );
    assert_eq!(l.seq(), 3);
}

/// A pending auto-transition cannot go out while the link is down or after
/// `close()`, so it sets no deadline then: a caller arming a timer for a
/// past deadline would spin. It goes out once the link is back.
#[test]
fn a_waiting_auto_transition_sets_no_deadline_while_it_cannot_be_sent() {
    let mut l = link(true);
    let conn = live(&mut l, 0, 1, vec![task("t", 1)]);
    frame(&mut l, 100, conn, &status_frame(2, "t", "working", 2));
    drain(&mut l);
    l.handle(101, Input::Closed { conn, code: 1006 });
    let retry = l.retry_at().expect("reconnecting");
    assert_eq!(
        l.next_deadline(),
        Some(retry),
        "only the reconnect, not the auto"
    );
    l.handle(retry.max(400), Input::Tick);
    assert!(opened(&drain(&mut l)).is_some(), "tries again");
    assert_eq!(l.next_deadline(), Some(retry.max(400) + HANDSHAKE_MS));
    l.handle(500, Input::Close);
    assert_eq!(l.next_deadline(), None, "nothing after close()");
    assert_eq!(
        l.task("t").unwrap().status,
        TaskStatus::Inprogress,
        "still shown"
    );
    // connected again, it goes out
    l.handle(600, Input::Connect);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    frame(&mut l, 601, conn, &hello(2, true));
    assert_eq!(l.state(), ConnState::Live);
    // (it was due long ago: it goes out at once)
    let reqs = requests(&drain(&mut l));
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].1.if_match, Some(2));
}

/// A write naming an id the server would refuse is refused at once, and
/// nothing is shown or kept for it.
#[test]
fn a_write_with_an_invalid_id_is_refused_before_it_is_shown() {
    let mut l = link(false);
    live(&mut l, 0, 1, vec![]);
    drain(&mut l);
    let new = crate::wire::NewTask {
        id: Some("a\nb".into()),
        title: "x".into(),
        ..Default::default()
    };
    let w = l.write(1, WriteCmd::CreateTask { task: new });
    let actions = drain(&mut l);
    assert!(actions.iter().any(|a| matches!(a, Action::Settled { write, result: Err(r) } if *write == w && r.status == 400 && r.detail.code == "validation_failed")), "{actions:?}");
    assert!(requests(&actions).is_empty());
    assert_eq!(l.outbox_len(), 0);
    assert!(l.tasks().is_empty());
}

/// A frame that makes one change to an entity shown as the server has it is
/// named (`take_plain`), so the caller can build the object from its own
/// parse; anything less simple is not, and stays on the changes list.
#[test]
fn one_plain_change_per_frame_is_named_and_taken_off_the_changes_list() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 1, vec![task("a", 1), task("b", 1)]);
    l.take_changes();
    assert_eq!(l.take_plain(), None, "a snapshot is not a plain change");

    // a new session's status: appended, and its id is new
    frame(&mut l, 1, conn, &status_frame(2, "a", "blocked", 2));
    assert_eq!(
        l.take_plain(),
        Some(Plain::Progress {
            index: 0,
            new_id: true
        })
    );
    assert!(!l.has_changes(), "taken off the changes list");
    // the same session again: replaced in place
    frame(&mut l, 2, conn, &status_frame(3, "a", "queued", 3));
    assert_eq!(
        l.take_plain(),
        Some(Plain::Progress {
            index: 0,
            new_id: false
        })
    );
    // a whole task
    let mut b = task("b", 2);
    b.title = "B2".into();
    frame(&mut l, 3, conn, &updated_frame(4, &b));
    assert_eq!(l.take_plain(), Some(Plain::TaskPut));
    assert_eq!(l.task("b").unwrap().title, "B2");

    // nothing applied (a replay, a stale version): nothing named
    frame(&mut l, 4, conn, &status_frame(4, "a", "working", 9));
    frame(&mut l, 5, conn, &status_frame(5, "a", "working", 3));
    assert_eq!(l.take_plain(), None);

    // changes the caller has not taken yet: not plain, everything listed
    frame(&mut l, 6, conn, &status_frame(6, "b", "working", 3));
    l.take_plain(); // (taken: the list is clean again)
    l.write(
        7,
        WriteCmd::UpdateTask {
            id: "b".into(),
            patch: TaskPatch {
                title: Some("mine".into()),
                ..Default::default()
            },
            if_match: None,
        },
    );
    assert!(l.has_changes());
    frame(&mut l, 8, conn, &status_frame(7, "a", "working", 4));
    assert_eq!(l.take_plain(), None);
    assert_eq!(l.take_changes().tasks, vec!["a".to_owned(), "b".to_owned()]);
    // a task under a pending write is not shown as the server has it
    frame(&mut l, 9, conn, &status_frame(8, "b", "blocked", 4));
    assert_eq!(l.take_plain(), None);
    assert_eq!(l.task("b").unwrap().title, "mine");
    assert_eq!(l.take_changes().tasks, vec!["b".to_owned()]);
}

/// An event the caller decoded itself is the same input as its frame's text:
/// on the socket, on the caller's own transport, while catching up (it is
/// buffered) and for `on()` listeners (its text is made) — owned
/// (`Input::Event`) or borrowed (`Input::Status`).
#[test]
fn an_event_passed_decoded_is_handled_as_its_text() {
    decoded_is_text(false);
}

#[test]
fn a_status_passed_borrowed_is_handled_as_its_text() {
    decoded_is_text(true);
}

fn decoded_is_text(borrowed: bool) {
    let decoded = |seq: u64, version: u64| {
        serde_json::from_str::<Envelope>(&status_frame(seq, "a", "blocked", version)).unwrap()
    };
    let pass = |l: &mut Link, now: Millis, conn: Option<ConnId>, seq: u64, version: u64| {
        let env = decoded(seq, version);
        match (&env.event, borrowed) {
            (Event::TaskSessionStatus(p), true) => l.handle(
                now,
                Input::Status {
                    conn,
                    seq,
                    status: p.as_ref(),
                },
            ),
            _ => l.handle(now, Input::Event { conn, env }),
        }
    };

    let (mut by_text, mut by_event) = (link(false), link(false));
    let c1 = live(&mut by_text, 0, 1, vec![task("a", 1)]);
    let c2 = live(&mut by_event, 0, 1, vec![task("a", 1)]);
    drain(&mut by_text);
    drain(&mut by_event);
    frame(&mut by_text, 1, c1, &status_frame(2, "a", "blocked", 2));
    pass(&mut by_event, 1, Some(c2), 2, 2);
    // a replay, and an event on a socket that is not the current one: ignored alike
    frame(&mut by_text, 2, c1, &status_frame(2, "a", "blocked", 2));
    pass(&mut by_event, 2, Some(c2), 2, 2);
    pass(&mut by_event, 2, Some(c2 + 7), 3, 3);
    assert_eq!(by_text.task("a"), by_event.task("a"));
    assert_eq!(by_event.seq(), 2);
    assert_eq!(drain(&mut by_text), drain(&mut by_event));

    // listeners get the event's text, made from the decoded event
    by_event.set_emit_events(true);
    pass(&mut by_event, 3, Some(c2), 3, 3);
    let texts: Vec<String> = drain(&mut by_event)
        .into_iter()
        .filter_map(|a| match a {
            Action::Event { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(texts.len(), 1);
    assert_eq!(
        serde_json::from_str::<Envelope>(&texts[0]).unwrap(),
        decoded(3, 3)
    );

    // while catching up after a new hello it waits with the frames, then applies
    by_event.handle(
        4,
        Input::Closed {
            conn: c2,
            code: 1006,
        },
    );
    by_event.handle(10_000, Input::Tick);
    let (c3, _) = opened(&drain(&mut by_event)).expect("reconnects");
    frame(&mut by_event, 10_001, c3, &hello(3, false));
    let snap = requests(&drain(&mut by_event));
    pass(&mut by_event, 10_002, Some(c3), 4, 4);
    let mut fresh = task("a", 3);
    fresh.set_progress("s1", crate::model::SessionStatus::Blocked, None, "t3");
    by_event.handle(
        10_003,
        Input::Answer {
            req: snap[0].0,
            status: 200,
            body: &snapshot(3, vec![fresh]),
        },
    );
    assert_eq!(
        (by_event.seq(), by_event.task("a").unwrap().version),
        (4, 4)
    );
}

/// A snapshot the caller read in pieces (`Input::Snapshot`, as the Store
/// feeds one) is handled as its text: the answer to the snapshot request,
/// or the caller's own; one for another request, or a malformed one, is
/// not taken.
#[test]
fn a_snapshot_read_in_pieces_is_handled_as_its_text() {
    let body = snapshot(4, vec![task("t", 1), task("u", 2)]);
    let pieces = |text: &str| {
        let mut feed = SnapshotFeed::new();
        for piece in text.as_bytes().chunks(5) {
            feed.push(piece);
        }
        feed.finish()
    };
    let mut by_text = link(true);
    let mut by_pieces = link(true);
    let mut reqs = vec![];
    for l in [&mut by_text, &mut by_pieces] {
        l.handle(0, Input::Connect);
        let (conn, _) = opened(&drain(l)).unwrap();
        frame(l, 1, conn, &hello(4, false));
        frame(l, 2, conn, &status_frame(5, "t", "working", 2));
        let req = requests(&drain(l))[0].0;
        assert!(l.is_snapshot_request(req));
        assert!(!l.is_snapshot_request(req + 1));
        reqs.push(req);
    }
    let req = reqs[0];
    by_text.handle(
        3,
        Input::Answer {
            req,
            status: 200,
            body: &body,
        },
    );
    // an answer to no such request changes nothing
    by_pieces.handle(
        3,
        Input::Snapshot {
            req: Some(req + 7),
            snapshot: pieces(&body),
        },
    );
    assert_eq!(by_pieces.state(), ConnState::Syncing);
    by_pieces.handle(
        3,
        Input::Snapshot {
            req: Some(req),
            snapshot: pieces(&body),
        },
    );
    assert!(!by_pieces.is_snapshot_request(req));
    assert_eq!(by_pieces.state(), ConnState::Live);
    assert_eq!(drain(&mut by_pieces), drain(&mut by_text));
    assert_eq!(by_pieces.seq(), 5);
    for l in [&by_text, &by_pieces] {
        assert_eq!(l.tasks().len(), 2);
        assert_eq!(
            l.task("t").unwrap().status,
            TaskStatus::Inprogress,
            "auto-transition shown"
        );
    }
    // the caller's own, malformed: reported, nothing loaded
    let mut own = link(false);
    own.handle(0, Input::Message(&hello(4, false)));
    own.handle(
        0,
        Input::Snapshot {
            req: None,
            snapshot: pieces(&body[..body.len() - 1]),
        },
    );
    assert!(
        drain(&mut own)
            .iter()
            .any(|a| matches!(a, Action::Report(r) if r.contains("malformed snapshot")))
    );
    assert_eq!(own.snapshots_loaded(), 0);
    own.handle(
        0,
        Input::Snapshot {
            req: None,
            snapshot: pieces(&body),
        },
    );
    assert_eq!((own.snapshots_loaded(), own.tasks().len()), (1, 2));
}

/// A snapshot changes everything at once: the change list says so rather
/// than listing every id, and every overlay is laid again on the new copy.
#[test]
fn after_a_snapshot_everything_changed_and_overlays_are_laid_on_the_new_copy() {
    let mut l = link(false);
    let conn = live(&mut l, 0, 1, vec![task("t", 1), task("u", 1)]);
    assert!(l.take_changes().all, "the first snapshot");
    assert!(!l.has_changes());
    l.handle(5, Input::Closed { conn, code: 1006 });
    // a write held while the link is down: shown at once, over the server's copy
    l.write(
        6,
        WriteCmd::UpdateTask {
            id: "t".into(),
            patch: TaskPatch::status(TaskStatus::Cancelled),
            if_match: None,
        },
    );
    assert_eq!(l.take_changes().tasks, vec!["t".to_owned()]);
    // back on a new epoch: a snapshot where t has a new title and u is gone
    let at = l.retry_at().unwrap();
    l.handle(at, Input::Tick);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    frame(&mut l, at, conn, &hello(9, false));
    let req = requests(&drain(&mut l))[0].0;
    let mut t = task("t", 4);
    t.title = "renamed on the server".into();
    let body = snapshot(9, vec![t, task("v", 1)]);
    l.handle(
        at,
        Input::Answer {
            req,
            status: 200,
            body: &body,
        },
    );
    let changes = l.take_changes();
    assert!(changes.all && changes.tasks.is_empty() && changes.sessions.is_empty());
    let shown = l.task("t").unwrap();
    assert_eq!(
        (shown.title.as_str(), shown.status),
        ("renamed on the server", TaskStatus::Cancelled),
        "the pending write is laid on the new copy"
    );
    assert!(l.task("u").is_none() && l.task("v").is_some());
    assert!(!l.shows_confirmed());
    // one event after it lists its one task again
    frame(&mut l, at, conn, &status_frame(10, "v", "queued", 2));
    assert_eq!(l.take_changes().tasks, vec!["v".to_owned()]);
}

/// After a snapshot in list order the tasks' order is taken as it came
/// (no sort), and equals the sorted one; not while a task is overlaid.
#[test]
fn the_order_a_snapshot_came_in_is_taken_unless_a_task_is_overlaid() {
    let mut l = link(false);
    let tasks = vec![task("a", 1), task("b", 1), task("c", 1)];
    let conn = live(&mut l, 0, 1, tasks.clone());
    let listing = l.take_task_listing().expect("the server lists in order");
    let shown = l.tasks();
    let sorted: Vec<&str> = shown.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(listing.joined, sorted.join("\n"));
    assert_eq!(l.take_task_listing(), None, "once");
    // a resync while a write is pending: the overlay may show or hide tasks
    l.write(1, WriteCmd::DeleteTask { id: "b".into() });
    l.handle(2, Input::Closed { conn, code: 1006 });
    let at = l.retry_at().unwrap();
    l.handle(at, Input::Tick);
    let (conn, _) = opened(&drain(&mut l)).unwrap();
    frame(&mut l, at, conn, &hello(1, false));
    let req = requests(&drain(&mut l))
        .into_iter()
        .find(|r| r.1.path == "/api/snapshot")
        .unwrap()
        .0;
    l.handle(
        at,
        Input::Answer {
            req,
            status: 200,
            body: &snapshot(1, tasks),
        },
    );
    assert!(l.task("b").is_none(), "the pending delete is shown");
    assert_eq!(l.take_task_listing(), None);
}
