//! A task's history: `GET /api/tasks/:id/events` (its events in seq order,
//! paged, from the retained log) and `tasksync task log`.
mod common;

use common::TestServer;
use serde_json::{Value, json};

fn seqs(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tasks_events_in_order_paged_and_nothing_of_other_tasks() {
    let s = TestServer::start().await;
    s.task("t").await;
    s.task("other").await;
    s.session("agent", &["t", "other"]).await;
    let status = |task: &'static str, status: &'static str, notes: Option<&'static str>| {
        let mut b = json!({"status": status});
        if let Some(n) = notes {
            b["notes"] = json!(n);
        }
        let path = format!("/api/tasks/{task}/sessions/agent/status");
        let s = &s;
        async move { s.put(&path, b).await }
    };
    assert_eq!(status("t", "working", None).await.0, 200);
    assert_eq!(status("other", "working", None).await.0, 200);
    assert_eq!(status("t", "blocked", Some("Need API key")).await.0, 200);
    assert_eq!(
        s.patch("/api/tasks/t", json!({"title": "Renamed"})).await.0,
        200
    );

    let (code, all) = s.get("/api/tasks/t/events").await;
    assert_eq!(code, 200, "{all}");
    assert_eq!(all["taskId"], "t");
    assert_eq!(all["more"], false);
    assert_eq!(all["oldestRetained"], 1);
    let types: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "task:created",
            "task:session_status", // queued by the session's spawn
            "task:session_status",
            "task:session_status",
            "task:updated"
        ]
    );
    for e in all["events"].as_array().unwrap() {
        let p = &e["payload"];
        assert!(p["taskId"] == "t" || p["task"]["id"] == "t", "{e}");
    }
    let s_ = seqs(&all);
    assert!(s_.windows(2).all(|w| w[0] < w[1]), "{s_:?}");
    assert_eq!(all["events"][3]["payload"]["notes"], "Need API key");

    // pages
    let (_, first) = s.get("/api/tasks/t/events?limit=2").await;
    assert_eq!(
        (seqs(&first), first["more"].clone()),
        (s_[..2].to_vec(), json!(true))
    );
    let (_, rest) = s
        .get(&format!("/api/tasks/t/events?since={}&limit=10", s_[1]))
        .await;
    assert_eq!(
        (seqs(&rest), rest["more"].clone()),
        (s_[2..].to_vec(), json!(false))
    );

    // a deleted task keeps its history
    assert_eq!(s.delete("/api/tasks/t").await.0, 204);
    let (code, after) = s.get("/api/tasks/t/events").await;
    assert_eq!(code, 200);
    assert_eq!(
        after["events"].as_array().unwrap().last().unwrap()["type"],
        "task:deleted"
    );

    // hostile
    assert_eq!(s.get("/api/tasks/nope/events").await.0, 404);
    assert_eq!(s.get("/api/tasks/other/events?limit=0").await.0, 400);
    assert_eq!(s.get("/api/tasks/other/events?limit=99999").await.0, 400);
    assert_eq!(s.get("/api/tasks/other/events?since=-1").await.0, 400);
    assert_eq!(s.get("/api/tasks/bad%20id/events").await.0, 400);
    assert_eq!(s.send("POST", "/api/tasks/other/events", None).await.0, 405);
    let (code, ahead) = s
        .get("/api/tasks/other/events?since=99999999999999999999999")
        .await;
    assert_eq!((code, seqs(&ahead).len()), (200, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_log_prints_the_history() {
    let s = TestServer::start().await;
    s.task("t").await;
    s.session("agent", &["t"]).await;
    s.put(
        "/api/tasks/t/sessions/agent/status",
        json!({"status": "working"}),
    )
    .await;
    s.put(
        "/api/tasks/t/sessions/agent/status",
        json!({"status": "blocked", "notes": "Need API key"}),
    )
    .await;
    let url = s.base.clone();
    let run = move |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tasksync"))
            .args(args)
            .env("TASKSYNC_URL", &url)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let (human, json_out) = tokio::task::spawn_blocking(move || {
        (
            run(&["task", "log", "t"]),
            run(&["task", "log", "t", "--json"]),
        )
    })
    .await
    .unwrap();
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 4, "{human}");
    assert!(
        lines[0].starts_with("#1 ") && lines[0].ends_with("t created: Task t"),
        "{human}"
    );
    assert!(
        lines[3].ends_with("t agent blocked — Need API key"),
        "{human}"
    );
    let v: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
    // an unknown task: the server's message, exit 1
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tasksync"))
        .args(["task", "log", "nope"])
        .env("TASKSYNC_URL", &s.base)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no task with id `nope`"));
}
