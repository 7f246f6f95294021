use super::*;
use crate::event::SessionStatusPayload;
use crate::frame::{Frame, parse_frame};
use crate::model::{SessionLifecycle, SpawnSource};

use crate::replica::tests_support::task;

fn session(id: &str, version: u64) -> Session {
    Session {
        id: id.into(),
        name: None,
        status: SessionLifecycle::Spawning,
        task_ids: vec![],
        project_id: None,
        spawn_source: SpawnSource::Ui,
        error: None,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
        version,
        last_seen_at: None,
        stale: false,
    }
}

fn env(seq: u64, event: Event) -> Envelope {
    Envelope { event, seq }
}

fn status(
    task_id: &str,
    sid: &str,
    status: SessionStatus,
    notes: Option<&str>,
    version: u64,
) -> Event {
    Event::TaskSessionStatus(SessionStatusPayload {
        task_id: task_id.into(),
        session_id: sid.into(),
        status,
        notes: notes.map(Into::into),
        last_updated: format!("2026-01-01T00:00:{version:02}.000Z"),
        version,
    })
}

#[test]
fn applies_every_event_type_as_the_seed_does() {
    let mut r = Replica::new();
    assert!(r.apply(env(
        1,
        Event::TaskCreated {
            task: task("t1", 1)
        }
    )));
    assert!(r.apply(env(
        2,
        Event::SessionSpawn {
            session: session("s1", 1)
        }
    )));
    // session_status appends, then updates in place (notes replaced, not merged)
    assert!(r.apply(env(
        3,
        status("t1", "s1", SessionStatus::Working, Some("go"), 2)
    )));
    assert!(r.apply(env(
        4,
        status("t1", "s1", SessionStatus::Blocked, Some("Need API key"), 3)
    )));
    let t = r.task("t1").unwrap().unpack();
    assert_eq!(t.session_progress.len(), 1);
    assert_eq!(
        (
            t.session_progress[0].status,
            t.session_progress[0].notes.as_deref()
        ),
        (SessionStatus::Blocked, Some("Need API key"))
    );
    assert_eq!(
        (t.version, t.session_ids.clone(), t.updated_at.as_str()),
        (3, vec!["s1".to_owned()], "2026-01-01T00:00:03.000Z")
    );
    assert!(r.apply(env(5, status("t1", "s1", SessionStatus::Working, None, 4))));
    assert_eq!(
        r.task("t1").unwrap().unpack().session_progress[0].notes,
        None
    );
    // task:updated replaces the whole task
    let mut t2 = task("t1", 5);
    t2.title = "renamed".into();
    assert!(r.apply(env(6, Event::TaskUpdated { task: t2.clone() })));
    assert_eq!(r.task("t1").map(PackedTask::unpack), Some(t2));
    // session lifecycle events replace the session
    let mut s = session("s1", 2);
    s.status = SessionLifecycle::Active;
    assert!(r.apply(env(
        7,
        Event::SessionActive {
            session_id: "s1".into(),
            session: s.clone()
        }
    )));
    s.status = SessionLifecycle::Failed;
    s.version = 3;
    assert!(r.apply(env(
        8,
        Event::SessionFailed {
            session_id: "s1".into(),
            error: Some("x".into()),
            session: s.clone()
        }
    )));
    assert_eq!(r.session("s1").unwrap().status, SessionLifecycle::Failed);
    s.version = 4;
    s.task_ids = vec!["t1".into()];
    assert!(r.apply(env(9, Event::SessionUpdated { session: s.clone() })));
    assert!(r.apply(env(
        10,
        Event::SessionStopped {
            session_id: "s1".into(),
            session: session("s1", 5)
        }
    )));
    assert!(r.apply(env(
        11,
        Event::SessionDeleted {
            session_id: "s1".into()
        }
    )));
    assert!(r.apply(env(
        12,
        Event::TaskDeleted {
            task_id: "t1".into()
        }
    )));
    assert!(r.task("t1").is_none() && r.session("s1").is_none());
    assert_eq!(r.seq(), 12);
    // status for an unknown task is ignored, as in the original handler
    assert!(!r.apply(env(
        13,
        status("nope", "s1", SessionStatus::Working, None, 2)
    )));
}

#[test]
fn ignores_replayed_seqs_and_stale_versions() {
    let mut r = Replica::new();
    r.apply(env(1, Event::TaskCreated { task: task("t", 1) }));
    r.apply(env(2, Event::TaskUpdated { task: task("t", 3) }));
    assert!(
        !r.apply(env(2, Event::TaskUpdated { task: task("t", 9) })),
        "same seq twice"
    );
    assert!(
        !r.apply(env(
            1,
            Event::TaskDeleted {
                task_id: "t".into()
            }
        )),
        "older seq"
    );
    assert!(
        !r.apply(env(3, Event::TaskUpdated { task: task("t", 2) })),
        "older version"
    );
    assert!(
        !r.apply(env(4, status("t", "s", SessionStatus::Working, None, 3))),
        "not newer than held"
    );
    assert_eq!((r.task("t").unwrap().version(), r.seq()), (3, 4));
    // The event after a write's answer (or the answer after its event)
    // carries the version already held: no change, so nothing re-renders.
    r.take_changes();
    assert!(!r.observe_task(task("t", 3)), "same version again");
    assert!(!r.apply(env(5, Event::TaskUpdated { task: task("t", 3) })));
    assert_eq!(r.take_changes(), Changes::default());
    r.apply(env(
        6,
        Event::SessionUpdated {
            session: session("s", 4),
        },
    ));
    assert!(!r.apply(env(
        7,
        Event::SessionSpawn {
            session: session("s", 1)
        }
    )));
    assert_eq!(r.session("s").unwrap().version, 4);
}

#[test]
fn snapshot_replaces_everything_and_events_at_or_below_it_are_ignored() {
    let mut r = Replica::new();
    r.apply(env(
        1,
        Event::TaskCreated {
            task: task("old", 1),
        },
    ));
    r.take_changes();
    r.load_snapshot(Snapshot {
        epoch: "e2".into(),
        seq: 10,
        tasks: vec![task("a", 2)],
        sessions: vec![session("s", 1)],
    });
    assert!(r.task("old").is_none());
    assert_eq!((r.epoch(), r.seq()), (Some("e2"), 10));
    // everything changed: no ids listed (a snapshot of 10,000 would list them all)
    assert_eq!(
        r.take_changes(),
        Changes {
            all: true,
            ..Changes::default()
        }
    );
    assert!(!r.has_changes());
    // an event after it, before the take, is covered by `all`
    r.load_snapshot(Snapshot {
        epoch: "e2".into(),
        seq: 10,
        tasks: vec![task("a", 2)],
        sessions: vec![],
    });
    r.apply(env(11, Event::TaskCreated { task: task("b", 1) }));
    assert!(r.take_changes().all);
    r.apply(env(12, Event::TaskCreated { task: task("c", 1) }));
    assert_eq!(r.take_changes().tasks, vec!["c".to_owned()]);
    assert!(!r.apply(env(
        12,
        Event::TaskDeleted {
            task_id: "a".into()
        }
    )));
    assert!(r.apply(env(
        13,
        Event::TaskDeleted {
            task_id: "a".into()
        }
    )));
}

#[test]
fn the_state_rule_wants_a_working_session_on_a_todo_task() {
    let mut t = task("t", 3);
    assert_eq!(auto_transition(&t), None, "no sessions");
    t.set_progress("s1", SessionStatus::Queued, None, "x");
    assert_eq!(auto_transition(&t), None, "queued is not working");
    t.set_progress("s1", SessionStatus::Working, None, "x");
    assert_eq!(auto_transition(&t), Some(3));
    t.status = TaskStatus::Completed;
    assert_eq!(auto_transition(&t), None);
}

#[test]
fn frames_from_the_wire_apply() {
    let mut r = Replica::new();
    let text = r#"{"type":"task:created","payload":{"task":{"id":"task-1","title":"Fix auth bug","status":"todo","priority":"medium","sessionIds":[],"sessionProgress":[],"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z","version":1}},"seq":1}"#;
    let Frame::Event(e) = parse_frame(text).unwrap() else {
        panic!()
    };
    assert!(r.apply(e));
    let text = r#"{"type":"task:session_status","payload":{"taskId":"task-1","sessionId":"session-1","status":"blocked","notes":"Need API key","lastUpdated":"2024-01-15T10:30:00Z","version":2},"seq":2}"#;
    let Frame::Event(e) = parse_frame(text).unwrap() else {
        panic!()
    };
    assert!(r.apply(e));
    assert_eq!(
        r.task("task-1").unwrap().unpack().session_progress[0]
            .notes
            .as_deref(),
        Some("Need API key")
    );
}

#[test]
fn members_changes_only_when_an_entity_comes_or_goes() {
    let mut r = Replica::new();
    let m0 = r.members();
    r.apply(env(1, Event::TaskCreated { task: task("t", 1) }));
    let m1 = r.members();
    assert_ne!(m1, m0, "a task came");
    r.apply(env(2, Event::TaskUpdated { task: task("t", 2) }));
    r.apply(env(3, status("t", "s", SessionStatus::Working, None, 3)));
    assert_eq!(r.members(), m1, "changes to a task keep the list");
    r.apply(env(
        4,
        Event::TaskDeleted {
            task_id: "t".into(),
        },
    ));
    assert_ne!(r.members(), m1, "a task went");
}

/// A snapshot read straight into maps (`SnapshotIn`, the engine's way) is
/// the same replica as one read into lists first, duplicates and scope
/// included; a malformed list is refused.
#[test]
fn a_snapshot_read_into_maps_equals_one_read_into_lists() {
    let mut dup = task("a", 2);
    dup.title = "the later one".into();
    let mut other = task("c", 1);
    other.project_id = Some("elsewhere".into());
    let snap: Snapshot = Snapshot {
        epoch: "e".into(),
        seq: 9,
        tasks: vec![task("a", 1), task("b", 1), dup, other],
        sessions: vec![],
    };
    let text = serde_json::to_string(&snap).unwrap();
    for scope in [None, Some("elsewhere".to_owned())] {
        let (mut lists, mut maps) = (Replica::new(), Replica::new());
        lists.set_scope(scope.clone());
        maps.set_scope(scope.clone());
        lists.load_snapshot(serde_json::from_str(&text).unwrap());
        maps.load(SnapshotIn::read(&text).unwrap());
        assert_eq!(lists.tasks(), maps.tasks(), "scope {scope:?}");
        assert_eq!((lists.seq(), lists.epoch()), (maps.seq(), maps.epoch()));
        assert_eq!(lists.take_changes(), maps.take_changes());
    }
    let mut maps = Replica::new();
    maps.load(SnapshotIn::read(&text).unwrap());
    assert_eq!(maps.task("a").unwrap().unpack().title, "the later one");
    assert_eq!(maps.tasks().len(), 3);
    for bad in [
        r#"{"epoch":"e","seq":1,"tasks":{},"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[{"id":"x"}],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[1]}"#,
    ] {
        assert!(SnapshotIn::read(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_emptied_id_set_keeps_only_a_small_room() {
    // (emptying a hash set costs time in its capacity: the hot path empties
    // one after every event, so one a snapshot grew is not kept)
    let many = || (0..10_000).map(|i| format!("t{i}"));
    let mut set = IdSet::default();
    set.extend(many());
    empty(&mut set);
    assert!(set.is_empty() && set.capacity() <= KEPT_ROOM);
    set.extend((0..10).map(|i| format!("t{i}")));
    let room = set.capacity();
    empty(&mut set);
    assert_eq!(
        (set.len(), set.capacity()),
        (0, room),
        "a small room is kept"
    );
    set.extend(many());
    assert_eq!(sorted(&mut set).len(), 10_000);
    assert!(set.is_empty() && set.capacity() <= KEPT_ROOM);
}

/// What a replica holds after loading `snap`: to compare two reads.
fn loaded(snap: SnapshotIn) -> (String, u64, Vec<Task>, Vec<Session>) {
    let mut r = Replica::new();
    r.load(snap);
    let tasks = r.tasks().into_iter().map(PackedTask::unpack).collect();
    let sessions = r.sessions().into_iter().cloned().collect();
    (r.epoch().unwrap().to_owned(), r.seq(), tasks, sessions)
}

/// The same read through serde's own path (`Snapshot`, lists), for the
/// differential checks below.
fn loaded_by_serde(text: &str) -> Option<(String, u64, Vec<Task>, Vec<Session>)> {
    let snap: Snapshot = serde_json::from_str(text).ok()?;
    let mut r = Replica::new();
    r.load_snapshot(snap);
    let tasks = r.tasks().into_iter().map(PackedTask::unpack).collect();
    let sessions = r.sessions().into_iter().cloned().collect();
    Some((r.epoch().unwrap().to_owned(), r.seq(), tasks, sessions))
}

/// `text` pushed in pieces of `size` bytes (cutting characters apart).
fn fed(text: &str, size: usize) -> Result<SnapshotIn, String> {
    let mut feed = SnapshotFeed::new();
    for piece in text.as_bytes().chunks(size) {
        feed.push(piece);
    }
    feed.finish()
}

/// A snapshot with what can go wrong at a cut: multi-byte characters, an
/// escape, a surrogate pair, numbers, white space between every token,
/// keys in another order, keys the client does not know, a duplicate id.
fn awkward_snapshot() -> String {
    let mut a = task("a", 3);
    a.title = "Fix the “auth” bug — née \"quoted\" \\ 🦀".into();
    a.description = Some("line\nbreak\ttab \u{0}".into());
    a.session_progress = vec![crate::model::SessionProgress {
        session_id: "s1".into(),
        status: SessionStatus::Blocked,
        last_updated: "2026-01-01T00:00:01.000Z".into(),
        notes: Some("Need an API key ✋".into()),
    }];
    a.session_ids = vec!["s1".into()];
    let mut dup = task("b", 7);
    dup.title = "the later b".into();
    let tasks = serde_json::to_value(vec![a, task("b", 1), dup, task("c", 12345678901)]).unwrap();
    let sessions = serde_json::to_value(vec![session("s1", 2), session("s2", 1)]).unwrap();
    let body = serde_json::json!({
        "tasks": tasks,
        "future": {"nested": [1, 2.5e-3, -7, true, null, "x\u{e9}"], "n": 123456789},
        "sessions": sessions,
        "epoch": "ep-ö",
        "seq": 9876543210_u64,
        "more": 42,
    });
    serde_json::to_string_pretty(&body).unwrap()
}

/// A snapshot pushed in pieces of any size is read as the whole body is,
/// and as serde reads it into lists.
#[test]
fn a_snapshot_read_in_pieces_equals_one_read_whole() {
    let text = awkward_snapshot();
    let whole = loaded(SnapshotIn::read(&text).unwrap());
    assert_eq!(Some(&whole), loaded_by_serde(&text).as_ref());
    assert_eq!(whole.2.len(), 3, "the later b wins");
    assert_eq!(whole.2[1].title, "the later b");
    for size in 1..=text.len() {
        assert_eq!(loaded(fed(&text, size).unwrap()), whole, "pieces of {size}");
    }
    // compact, as the server writes it
    let compact =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
    for size in [1, 2, 3, 5, 64, 4096] {
        assert_eq!(
            loaded(fed(&compact, size).unwrap()),
            whole,
            "compact, pieces of {size}"
        );
    }
    let empty = r#" {"epoch":"e","seq":0,"tasks":[ ],"sessions":[]} "#;
    for size in 1..=empty.len() {
        assert_eq!(
            loaded(fed(empty, size).unwrap()),
            loaded_by_serde(empty).unwrap()
        );
    }
}

/// A snapshot of random tasks as the server writes it (its tasks read by
/// hand, `model::layout`, but for those with an escape) is read as serde
/// reads it, whole and in pieces of any size.
#[test]
fn a_snapshot_in_the_servers_layout_reads_as_serde_reads_it() {
    let mut rng = crate::replica::tests_support::Random::new(3);
    let tasks: Vec<Task> = (0..400)
        .map(|i| {
            rng.escapes = i % 4 == 0;
            let mut t = rng.task();
            t.id = format!("t{i}"); // (each id once: the map holds a duplicate once)
            t
        })
        .filter(|t| t.title.len() < 1_000 && t.description.as_ref().is_none_or(|d| d.len() < 1_000))
        .collect();
    let text = serde_json::to_string(&Snapshot::<Task, Session> {
        epoch: "e".into(),
        seq: 7,
        tasks: tasks.clone(),
        sessions: vec![session("s1", 2)],
    })
    .unwrap();
    let whole = loaded(SnapshotIn::read(&text).unwrap());
    assert_eq!(Some(&whole), loaded_by_serde(&text).as_ref());
    assert_eq!(whole.2.len(), tasks.len());
    for size in [1, 2, 7, 100, 1_000, 16_384] {
        assert_eq!(loaded(fed(&text, size).unwrap()), whole, "pieces of {size}");
    }
}

/// Whatever serde refuses as a snapshot the feed refuses too, whole or in
/// pieces, with a message; and so is every body cut short.
#[test]
fn a_malformed_or_cut_snapshot_is_refused_whole_or_in_pieces() {
    let ok = r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[]}"#;
    let bad = [
        "",
        "   ",
        "[]",
        "{}",
        "null",
        r#"{"epoch":"e","seq":1,"tasks":[]}"#,
        r#"{"seq":1,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[],"tasks":[]}"#,
        r#"{"epoch":"e","epoch":"f","seq":1,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":-1,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1.5,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":"1","tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":01,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":1,"seq":1,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":{},"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":null,"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[{"id":"x"}],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[1]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[,],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[],}"#,
        r#"{"epoch":"e" "seq":1,"tasks":[],"sessions":[]}"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[]} x"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[]}{}"#,
        r#"{"epoch":"e","seq":1,"tasks":[],"sessions":[],"x":[1,}"#,
        r#"{"epoch":"e\u12","seq":1,"tasks":[],"sessions":[]}"#,
        "{\"epoch\":\"e\tf\",\"seq\":1,\"tasks\":[],\"sessions\":[]}",
        r#"{epoch:"e","seq":1,"tasks":[],"sessions":[]}"#,
    ];
    for text in bad {
        assert!(loaded_by_serde(text).is_none(), "serde takes {text}");
        for size in [text.len().max(1), 1, 2, 7] {
            let e = fed(text, size).expect_err(text);
            assert!(!e.is_empty());
        }
    }
    let body = awkward_snapshot();
    for cut in [ok, body.as_str()] {
        for end in 0..cut.len() {
            if cut.is_char_boundary(end) && !cut[end..].trim().is_empty() {
                assert!(
                    SnapshotIn::read(&cut[..end]).is_err(),
                    "cut at {end}: {}",
                    &cut[..end]
                );
            }
        }
    }
    // not UTF-8
    let mut bytes = ok.as_bytes().to_vec();
    bytes[11] = 0xff;
    let mut feed = SnapshotFeed::new();
    feed.push(&bytes);
    assert!(feed.finish().is_err());
    // an entity's message says which
    let e = SnapshotIn::read(r#"{"epoch":"e","seq":1,"tasks":[{"id":"x"}],"sessions":[]}"#)
        .unwrap_err();
    assert!(e.contains("entity 1") && e.contains("missing field"), "{e}");
}

/// A value far larger than a piece (a task with megabytes of notes) is
/// read a few times over, not once per piece: the bytes read stay a small
/// multiple of the body, however finely it is cut.
#[test]
fn a_huge_entity_in_small_pieces_is_read_in_linear_time() {
    let mut big = task("big", 1);
    big.description = Some("é".repeat(400_000));
    big.session_progress = (0..50)
        .map(|i| crate::model::SessionProgress {
            session_id: format!("s{i}"),
            status: SessionStatus::Working,
            last_updated: "t".into(),
            notes: Some("n".repeat(10_000)),
        })
        .collect();
    let text = serde_json::to_string(&Snapshot {
        epoch: "e".into(),
        seq: 1,
        tasks: vec![task("a", 1), big, task("z", 1)],
        sessions: vec![session("s", 1)],
    })
    .unwrap();
    for size in [1_000, 49_152] {
        let mut feed = SnapshotFeed::new();
        for piece in text.as_bytes().chunks(size) {
            feed.push(piece);
        }
        let scanned = feed.scanned();
        assert!(
            scanned <= 4 * text.len(),
            "pieces of {size}: {scanned} bytes read for {}",
            text.len()
        );
        assert_eq!(
            loaded(feed.finish().unwrap()),
            loaded_by_serde(&text).unwrap()
        );
    }
}

/// A snapshot that lists its tasks in list order (as the server does)
/// gives that order, so a list needs no sort; one that does not, lists an
/// id twice, or loses tasks to the scope gives none; and it holds only
/// while no task comes or goes.
#[test]
fn a_snapshot_in_list_order_gives_its_order() {
    let at = |id: &str, created: &str| Task {
        created_at: created.into(),
        ..task(id, 1)
    };
    let body = |tasks: Vec<Task>| {
        serde_json::to_string(&Snapshot::<Task, Session> {
            epoch: "e".into(),
            seq: 1,
            tasks,
            sessions: vec![],
        })
        .unwrap()
    };
    let sorted = body(vec![at("b", "1"), at("a", "2"), at("c", "2"), at("0", "3")]);
    let snap = SnapshotIn::read(&sorted).unwrap();
    let listing = snap.task_listing.clone().expect("in order");
    assert_eq!((listing.joined.as_str(), listing.count), ("b\na\nc\n0", 4));
    assert_eq!(listing.last, Some(("3".to_owned(), "0".to_owned())));
    let mut r = Replica::new();
    r.load(snap);
    let ids: Vec<&str> = r.tasks().iter().map(|t| t.id()).collect();
    assert_eq!(ids.join("\n"), listing.joined, "the order a sort gives");
    assert_eq!(r.take_listing(), Some(listing.clone()));
    assert_eq!(r.take_listing(), None, "once");
    // a status event changes no membership: still good; a new task: not
    r.load(SnapshotIn::read(&sorted).unwrap());
    r.apply(env(2, status("a", "s", SessionStatus::Working, None, 2)));
    assert!(r.take_listing().is_some());
    r.load(SnapshotIn::read(&sorted).unwrap());
    r.apply(env(2, Event::TaskCreated { task: at("d", "4") }));
    assert_eq!(r.take_listing(), None);
    // out of order, an id twice, an equal key: none
    for tasks in [
        vec![at("a", "2"), at("b", "1")],
        vec![at("a", "1"), at("a", "2")],
        vec![at("a", "1"), at("a", "1")],
    ] {
        assert_eq!(SnapshotIn::read(&body(tasks)).unwrap().task_listing, None);
    }
    // the scope leaves one out: none
    let mut other = at("e", "5");
    other.project_id = Some("elsewhere".into());
    let mut scoped = Replica::new();
    scoped.set_scope(Some("proj".into()));
    let mut mine = at("f", "6");
    mine.project_id = Some("proj".into());
    scoped.load(SnapshotIn::read(&body(vec![other, mine])).unwrap());
    assert_eq!(scoped.take_listing(), None);
    // pieces: the same listing
    let mut feed = SnapshotFeed::new();
    for piece in sorted.as_bytes().chunks(3) {
        feed.push(piece);
    }
    assert_eq!(feed.finish().unwrap().task_listing, Some(listing));
}

/// Entities are found by the id they hold: put in place of the one with
/// the same id, taken out, kept or dropped, among many.
#[test]
fn entities_are_found_by_their_own_id() {
    let mut map = ById::default();
    for i in 0..2_000 {
        assert!(map.insert(Box::new(task(&format!("t{i}"), 1))).is_none());
    }
    assert_eq!(map.len(), 2_000);
    let old = map.insert(Box::new(task("t7", 2))).expect("replaced");
    assert_eq!(
        (old.version, map.get("t7").unwrap().version, map.len()),
        (1, 2, 2_000)
    );
    map.get_mut("t8").unwrap().title = "changed".into();
    assert_eq!(map.get("t8").unwrap().title, "changed");
    assert_eq!(map.remove("t9").map(|t| t.id), Some("t9".to_owned()));
    assert!(map.remove("t9").is_none() && map.get("t9").is_none() && map.get("").is_none());
    map.retain(|t| t.id.ends_with('0'));
    assert_eq!(map.len(), 200);
    assert!(map.values().all(|t| t.id.ends_with('0')));
    assert!(map.get("t10").is_some() && map.get("t11").is_none());
}
