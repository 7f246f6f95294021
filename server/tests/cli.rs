//! The CLI: the real `tasksync` binary against a real server.

mod common;

use common::{TestServer, spawn_server};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tasksync");

fn cli(server: &str, session: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("TASKSYNC_URL", server)
        .env("NO_COLOR", "1")
        .env_remove("TASKSYNC_TOKEN");
    match session {
        Some(s) => cmd.env("TASKSYNC_SESSION_ID", s),
        None => cmd.env_remove("TASKSYNC_SESSION_ID"),
    };
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_in_human_and_json_form() {
    let s = TestServer::start().await;
    let url = s.base.clone();
    let run = move |session: Option<&'static str>, args: &'static [&'static str]| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || cli(&url, session, args))
                .await
                .unwrap()
        }
    };
    // task create / list / show
    let out = ok(&run(
        None,
        &[
            "task",
            "create",
            "Fix auth bug",
            "--priority",
            "high",
            "--id",
            "task-1",
        ],
    )
    .await);
    assert_eq!(out.trim(), "created task-1 [todo] Fix auth bug");
    let t = json(
        &run(
            None,
            &[
                "task",
                "create",
                "Second",
                "--json",
                "--description",
                "d",
                "--project",
                "p1",
            ],
        )
        .await,
    );
    assert_eq!(
        (
            t["title"].as_str(),
            t["projectId"].as_str(),
            t["version"].as_u64()
        ),
        (Some("Second"), Some("p1"), Some(1))
    );
    let list = ok(&run(None, &["task", "list"]).await);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].contains("TITLE"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("task-1  ")
            && lines[1].contains("· no_sessions")
            && lines[1].ends_with("Fix auth bug"),
        "{list}"
    );
    let col = lines[0].find("TITLE").unwrap();
    assert!(
        lines.iter().skip(1).all(|l| l.len() > col),
        "aligned columns:\n{list}"
    );
    let list = json(&run(None, &["task", "list", "--json"]).await);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let list = json(&run(None, &["task", "list", "--project", "p1", "--json"]).await);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // sessions
    let out = ok(&run(
        None,
        &["session", "spawn", "--id", "sess-a", "--name", "agent A"],
    )
    .await);
    assert!(
        out.trim()
            .starts_with("sess-a (agent A) spawning — last seen ")
            && out.trim().ends_with("s ago"),
        "{out}"
    );
    let sess = json(
        &run(
            None,
            &[
                "session", "spawn", "--id", "sess-b", "--task", "task-1", "--json",
            ],
        )
        .await,
    );
    assert_eq!(
        (sess["spawnSource"].as_str(), sess["taskIds"][0].as_str()),
        (Some("session"), Some("task-1"))
    );
    assert_eq!(
        json(&run(None, &["session", "activate", "sess-a", "--json"]).await)["status"],
        "active"
    );
    assert!(ok(&run(None, &["session", "list"]).await).contains("sess-a  active"));
    assert_eq!(
        json(&run(None, &["session", "show", "sess-a", "--json"]).await)["name"],
        "agent A"
    );
    assert_eq!(
        json(&run(None, &["session", "list", "--json"]).await)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // queue and report progress as a session
    assert_eq!(
        ok(&run(Some("sess-a"), &["task", "queue", "task-1"]).await).trim(),
        "queued task-1 for sess-a"
    );
    let out = ok(&run(
        Some("sess-a"),
        &["task", "update", "task-1", "--status", "working"],
    )
    .await);
    assert_eq!(
        out.trim(),
        "● sess-a working on task-1 (task inprogress)",
        "auto-transition done by the CLI"
    );
    let t = json(
        &run(
            Some("sess-a"),
            &[
                "task",
                "update",
                "task-1",
                "--status",
                "blocked",
                "--notes",
                "Need API key",
                "--json",
            ],
        )
        .await,
    );
    let p = t["sessionProgress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sessionId"] == "sess-a")
        .unwrap()
        .clone();
    assert_eq!(
        (p["status"].as_str(), p["notes"].as_str()),
        (Some("blocked"), Some("Need API key"))
    );
    let show = ok(&run(None, &["task", "show", "task-1"]).await);
    assert!(
        show.contains("⊘ sess-a blocked — Need API key") && show.contains("status    inprogress"),
        "{show}"
    );
    assert_eq!(
        json(&run(None, &["task", "show", "task-1", "--json"]).await)["id"],
        "task-1"
    );
    // --session beats the environment
    assert!(
        ok(&run(
            Some("nobody"),
            &["task", "queue", "task-1", "--session", "sess-b"]
        )
        .await)
        .contains("for sess-b")
    );
    // set-status, remove-session, lifecycle, delete
    assert_eq!(
        json(
            &run(
                None,
                &["task", "set-status", "task-1", "completed", "--json"]
            )
            .await
        )["status"],
        "completed"
    );
    let t = json(
        &run(
            None,
            &["task", "remove-session", "task-1", "sess-b", "--json"],
        )
        .await,
    );
    assert!(
        !t["sessionIds"]
            .as_array()
            .unwrap()
            .contains(&Value::from("sess-b"))
    );
    assert!(
        ok(&run(Some("sess-a"), &["task", "remove-session", "task-1"]).await)
            .starts_with("removed sess-a from task-1")
    );
    assert_eq!(
        json(
            &run(
                None,
                &["session", "fail", "sess-a", "--error", "OOM", "--json"]
            )
            .await
        )["error"],
        "OOM"
    );
    assert!(ok(&run(None, &["session", "restart", "sess-a"]).await).contains("spawning"));
    assert!(ok(&run(None, &["session", "fail", "sess-b"]).await).contains("failed"));
    assert!(ok(&run(None, &["session", "restart", "sess-b"]).await).contains("spawning"));
    assert_eq!(
        json(&run(None, &["session", "activate", "sess-b", "--json"]).await)["status"],
        "active"
    );
    assert!(ok(&run(None, &["session", "stop", "sess-b"]).await).contains("stopped"));
    assert_eq!(
        ok(&run(None, &["session", "delete", "sess-b"]).await).trim(),
        "deleted sess-b"
    );
    assert_eq!(
        json(&run(None, &["task", "delete", "task-1", "--json"]).await)["deleted"],
        "task-1"
    );
    assert_eq!(s.get("/api/tasks/task-1").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_exit_codes() {
    let s = TestServer::start().await;
    s.task("t1").await;
    let url = s.base.clone();
    tokio::task::spawn_blocking(move || {
        // session-only commands without a session
        for args in [
            &["task", "queue", "t1"][..],
            &["task", "update", "t1", "--status", "working"],
        ] {
            let out = cli(&url, None, args);
            assert_ne!(out.status.code(), Some(0));
            assert_eq!(
                String::from_utf8_lossy(&out.stderr).trim(),
                "error: No session found. This command must be run from a session."
            );
        }
        // refused by the server: exit 1, with its code and message
        let out = cli(&url, None, &["task", "set-status", "t1", "cancelled"]);
        assert_eq!(out.status.code(), Some(0));
        let out = cli(&url, None, &["task", "set-status", "t1", "completed"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid_transition") && err.contains("allowed from `cancelled`: todo"),
            "{err}"
        );
        let out = cli(&url, None, &["task", "show", "nope"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("(not_found)"));
        // unreachable: exit 3 naming the URL
        let out = cli("http://127.0.0.1:1", None, &["task", "list"]);
        assert_eq!(out.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&out.stderr).contains("http://127.0.0.1:1"));
        let out = cli("http://127.0.0.1:1", None, &["watch"]);
        assert_eq!(out.status.code(), Some(3));
        // usage errors: exit 2
        for args in [
            &["task", "bogus"][..],
            &["task", "create"],
            &["task", "update", "t1", "--status", "sleeping"],
            &["task", "set-status", "t1", "done"],
            &["task", "create", "x", "--priority", "critical"],
            &["nope"],
        ] {
            let out = cli(&url, Some("s"), args);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = cli("ftp://x", None, &["task", "list"]);
        assert_eq!(out.status.code(), Some(2));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_working_reports_make_one_transition() {
    let s = TestServer::start().await;
    for round in 0..5 {
        let task = format!("race-{round}");
        s.task(&task).await;
        s.session(&format!("a{round}"), &[]).await;
        s.session(&format!("b{round}"), &[]).await;
        let handles: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|who| {
                let (url, task, session) = (s.base.clone(), task.clone(), format!("{who}{round}"));
                std::thread::spawn(move || {
                    let out = Command::new(BIN)
                        .args([
                            "task",
                            "update",
                            &task,
                            "--status",
                            "working",
                            "--session",
                            &session,
                        ])
                        .env("TASKSYNC_URL", &url)
                        .output()
                        .unwrap();
                    assert_eq!(
                        out.status.code(),
                        Some(0),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let (_, t) = s.get(&format!("/api/tasks/{task}")).await;
        assert_eq!(t["status"], "inprogress");
        let (_, ev) = s.get("/api/events?since=0&limit=10000").await;
        let moves = ev["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "task:updated" && e["payload"]["task"]["id"] == task.as_str())
            .count();
        assert_eq!(moves, 1, "exactly one transition for {task}");
    }
}

/// A `tasksync watch` child whose stdout lines arrive on a channel.
struct Watch {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watch {
    fn start(url: &str, extra: &[&str]) -> Watch {
        let mut child = Command::new(BIN)
            .arg("watch")
            .args(extra)
            .env("TASKSYNC_URL", url)
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    fn take(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => out.push(l),
                Err(_) => panic!("watch printed only {out:?}"),
            }
        }
        out
    }

    fn nothing_more(&self) {
        assert!(
            self.lines.recv_timeout(Duration::from_millis(700)).is_err(),
            "no extra lines"
        );
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_prints_in_order_and_resumes_after_a_server_kill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let (mut server, url) = spawn_server(&db, "127.0.0.1:0");
    let run = |args: &[&str], session: Option<&str>| ok(&cli(&url, session, args));
    run(&["task", "create", "Before watch", "--id", "t0"], None);
    let watch = Watch::start(&url, &[]);
    let history = Watch::start(&url, &["--since", "0", "--json"]);
    std::thread::sleep(Duration::from_millis(300));
    run(&["task", "create", "Fix auth bug", "--id", "task-1"], None);
    run(
        &["session", "spawn", "--id", "session-a", "--task", "task-1"],
        None,
    );
    run(
        &["task", "update", "task-1", "--status", "working"],
        Some("session-a"),
    );
    run(
        &[
            "task",
            "update",
            "task-1",
            "--status",
            "blocked",
            "--notes",
            "Need API key",
        ],
        Some("session-a"),
    );
    let lines = watch.take(6);
    let tail: Vec<String> = lines
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.to_owned())
        .collect();
    assert_eq!(
        tail,
        [
            "task-1 created: Fix auth bug",
            "session-a spawning",
            "task-1 session-a queued",
            "task-1 session-a working",
            "task-1 inprogress: Fix auth bug",
            "task-1 session-a blocked — Need API key",
        ]
    );
    assert!(
        lines
            .iter()
            .all(|l| l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':'),
        "HH:MM:SS prefix: {lines:?}"
    );
    // --since 0 --json: history first (t0's creation), as raw envelopes in seq order
    let seqs: Vec<u64> = history
        .take(7)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());

    // kill the server; restart on the same database and port; write while watch is reconnecting
    server.kill().unwrap();
    server.wait().unwrap();
    let addr = url.trim_start_matches("http://").to_owned();
    let (mut server, _) = spawn_server(&db, &addr);
    run(
        &[
            "task",
            "update",
            "task-1",
            "--status",
            "working",
            "--notes",
            "Got the key",
        ],
        Some("session-a"),
    );
    run(&["task", "create", "After restart", "--id", "task-2"], None);
    let after = watch.take(2);
    assert!(
        after[0].ends_with("task-1 session-a working — Got the key"),
        "{after:?}"
    );
    assert!(
        after[1].ends_with("task-2 created: After restart"),
        "{after:?}"
    );
    watch.nothing_more();
    let seqs: Vec<u64> = history
        .take(2)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [8, 9], "resumed with no gap and no duplicate");
    history.nothing_more();
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A server that comes back on a new database (a new epoch) has a history of
/// its own: watch says so and prints that history from its start, once.
#[test]
fn watch_after_a_new_database_prints_its_events_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server(&dir.path().join("a.db"), "127.0.0.1:0");
    let run = |args: &[&str]| ok(&cli(&url, None, args));
    run(&["task", "create", "Old", "--id", "old-1"]);
    let watch = Watch::start(&url, &["--json"]);
    std::thread::sleep(Duration::from_millis(300));
    run(&["task", "create", "Old two", "--id", "old-2"]);
    let first = watch.take(1);
    assert!(first[0].contains("old-2"), "{first:?}");
    server.kill().unwrap();
    server.wait().unwrap();
    let addr = url.trim_start_matches("http://").to_owned();
    let (mut server, _) = spawn_server(&dir.path().join("b.db"), &addr);
    run(&["task", "create", "New one", "--id", "new-1"]);
    run(&["task", "create", "New two", "--id", "new-2"]);
    let lines = watch.take(2);
    let ids: Vec<(u64, String)> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["seq"].as_u64().unwrap(),
                v["payload"]["task"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ids, [(1, "new-1".into()), (2, "new-2".into())]);
    watch.nothing_more();
    server.kill().unwrap();
    server.wait().unwrap();
}
