use super::apply;
use super::command::*;
use super::error::DomainError;
use super::state::State;
use tasksync_sdk::{Event, SessionLifecycle, SessionStatus, TaskStatus};

struct TestClock(u64);

impl Clock for TestClock {
    fn now(&mut self) -> String {
        self.0 += 1;
        format!("2026-01-01T00:00:{:02}.000Z", self.0 % 60)
    }
    fn new_id(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}-{}", self.0)
    }
}

fn run(state: &mut State, cmd: Command) -> Result<Outcome, DomainError> {
    apply(state, cmd, &mut TestClock(0))
}

fn new_task(id: &str) -> Command {
    Command::CreateTask(NewTask {
        id: Some(id.into()),
        title: "T".into(),
        ..Default::default()
    })
}

fn new_session(id: &str, tasks: &[&str]) -> Command {
    Command::CreateSession(NewSession {
        id: Some(id.into()),
        task_ids: tasks.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
}

fn set(task: &str, session: &str, status: SessionStatus) -> Command {
    Command::SetSessionStatus {
        task_id: task.into(),
        session_id: session.into(),
        status,
        notes: None,
    }
}

fn types(out: &Outcome) -> Vec<&'static str> {
    out.events.iter().map(Event::type_name).collect()
}

#[test]
fn session_spawned_with_tasks_queues_them_consistently() {
    let mut st = State::default();
    run(&mut st, new_task("t1")).unwrap();
    let out = run(&mut st, new_session("s1", &["t1", "t1"])).unwrap();
    assert_eq!(types(&out), ["session:spawn", "task:session_status"]);
    assert_eq!(st.sessions["s1"].task_ids, ["t1"]);
    assert_eq!(st.tasks["t1"].session_ids, ["s1"]);
    assert_eq!(
        st.tasks["t1"].session_progress[0].status,
        SessionStatus::Queued
    );
    assert_eq!(st.tasks["t1"].version, 2);
}

#[test]
fn refused_commands_leave_state_untouched() {
    let mut st = State::default();
    run(&mut st, new_task("t1")).unwrap();
    run(&mut st, new_session("s1", &[])).unwrap();
    let before = (st.tasks["t1"].clone(), st.sessions["s1"].clone());
    // blocked is not a valid first status
    let e = run(&mut st, set("t1", "s1", SessionStatus::Blocked)).unwrap_err();
    assert_eq!(e.kind.code(), "invalid_transition");
    assert!(e.message.contains("queued, working"), "{}", e.message);
    // unknown task in taskIds: nothing is created
    let e = run(&mut st, new_session("s2", &["t1", "nope"])).unwrap_err();
    assert_eq!(
        (e.kind.code(), e.field.as_deref()),
        ("not_found", Some("taskIds"))
    );
    assert!(!st.sessions.contains_key("s2"));
    // stale If-Match
    let patch = TaskPatch {
        title: Some("x".into()),
        ..Default::default()
    };
    let e = run(
        &mut st,
        Command::UpdateTask {
            id: "t1".into(),
            patch,
            if_match: Some(7),
        },
    )
    .unwrap_err();
    assert_eq!(e.kind.code(), "precondition_failed");
    assert_eq!((st.tasks["t1"].clone(), st.sessions["s1"].clone()), before);
    assert!(run(&mut st, new_task("t1")).unwrap_err().kind.code() == "conflict");
}

#[test]
fn same_status_is_a_no_op_but_new_notes_are_a_change() {
    let mut st = State::default();
    run(&mut st, new_task("t1")).unwrap();
    run(&mut st, new_session("s1", &[])).unwrap();
    let out = run(&mut st, set("t1", "s1", SessionStatus::Working)).unwrap();
    assert_eq!(types(&out), ["task:session_status", "session:updated"]);
    let v = st.tasks["t1"].version;
    assert!(
        run(&mut st, set("t1", "s1", SessionStatus::Working))
            .unwrap()
            .events
            .is_empty()
    );
    assert_eq!(st.tasks["t1"].version, v);
    let notes = Command::SetSessionStatus {
        task_id: "t1".into(),
        session_id: "s1".into(),
        status: SessionStatus::Working,
        notes: Some("halfway".into()),
    };
    assert_eq!(
        types(&run(&mut st, notes).unwrap()),
        ["task:session_status"]
    );
    assert_eq!(st.tasks["t1"].version, v + 1);
    let patch = TaskPatch {
        status: Some(TaskStatus::Todo),
        ..Default::default()
    };
    let out = run(
        &mut st,
        Command::UpdateTask {
            id: "t1".into(),
            patch,
            if_match: None,
        },
    )
    .unwrap();
    assert!(out.events.is_empty() && out.tasks.is_empty());
}

#[test]
fn deleting_keeps_both_sides_consistent() {
    let mut st = State::default();
    run(&mut st, new_task("t1")).unwrap();
    run(&mut st, new_task("t2")).unwrap();
    run(&mut st, new_session("s1", &["t1", "t2"])).unwrap();
    run(&mut st, new_session("s2", &["t1"])).unwrap();
    let out = run(&mut st, Command::DeleteSession { id: "s1".into() }).unwrap();
    assert_eq!(
        types(&out),
        ["session:deleted", "task:updated", "task:updated"]
    );
    assert!(
        st.tasks
            .values()
            .all(|t| t.session_ids.iter().all(|s| s != "s1"))
    );
    let out = run(&mut st, Command::DeleteTask { id: "t1".into() }).unwrap();
    assert_eq!(types(&out), ["task:deleted", "session:updated"]);
    assert!(st.sessions["s2"].task_ids.is_empty());
    let out = run(
        &mut st,
        Command::RemoveSession {
            task_id: "t2".into(),
            session_id: "s2".into(),
        },
    );
    assert_eq!(out.unwrap_err().kind.code(), "not_found");
}

#[test]
fn lifecycle_restart_clears_the_error() {
    let mut st = State::default();
    run(&mut st, new_session("s1", &[])).unwrap();
    let fail = Command::Lifecycle {
        id: "s1".into(),
        to: SessionLifecycle::Failed,
        error: Some("OOM".into()),
    };
    assert_eq!(types(&run(&mut st, fail).unwrap()), ["session:failed"]);
    assert_eq!(st.sessions["s1"].error.as_deref(), Some("OOM"));
    let stop = Command::Lifecycle {
        id: "s1".into(),
        to: SessionLifecycle::Stopped,
        error: None,
    };
    assert_eq!(
        run(&mut st, stop).unwrap_err().kind.code(),
        "invalid_transition"
    );
    let restart = Command::Lifecycle {
        id: "s1".into(),
        to: SessionLifecycle::Spawning,
        error: None,
    };
    assert_eq!(types(&run(&mut st, restart).unwrap()), ["session:spawn"]);
    assert_eq!(
        (
            st.sessions["s1"].error.as_deref(),
            st.sessions["s1"].version
        ),
        (None, 3)
    );
}
