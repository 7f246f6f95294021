//! The session status and session lifecycle transition tables, enforced
//! end to end over HTTP (each pair from a fresh task and session).

mod common;

use common::TestServer;
use serde_json::json;

const STATUSES: [&str; 7] = [
    "queued",
    "working",
    "needs_input",
    "blocked",
    "completed",
    "failed",
    "cancelled",
];

fn status_allowed(from: Option<&str>, to: &str) -> bool {
    match from {
        None => matches!(to, "queued" | "working"),
        Some(f) if f == to => true, // no-op
        Some(_) if to == "cancelled" => true,
        Some("queued") => to == "working",
        Some("working") => matches!(to, "completed" | "blocked" | "needs_input" | "failed"),
        Some("blocked" | "needs_input" | "failed") => to == "working",
        _ => false,
    }
}

/// Statuses to set, in order, to bring a fresh session to `target`.
fn path_to(target: &str) -> Vec<&str> {
    match target {
        "queued" | "working" => vec![target],
        other => vec!["working", other],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_status_table_over_http() {
    let s = TestServer::start().await;
    let froms = std::iter::once(None).chain(STATUSES.iter().copied().map(Some));
    let mut n = 0;
    for from in froms {
        for to in STATUSES {
            n += 1;
            let (task, sess) = (format!("t{n}"), format!("s{n}"));
            s.task(&task).await;
            s.session(&sess, &[]).await;
            let url = format!("/api/tasks/{task}/sessions/{sess}/status");
            for step in from.map(path_to).unwrap_or_default() {
                assert_eq!(
                    s.put(&url, json!({"status": step})).await.0,
                    200,
                    "setup {step}"
                );
            }
            let (st, v) = s.put(&url, json!({"status": to})).await;
            if status_allowed(from, to) {
                assert_eq!(st, 200, "{from:?} -> {to}: {v}");
                assert_eq!(v["sessionProgress"][0]["status"], to);
            } else {
                assert_eq!(
                    (st, v["error"]["code"].as_str()),
                    (409, Some("invalid_transition")),
                    "{from:?} -> {to}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_table_over_http() {
    let s = TestServer::start().await;
    let states = ["spawning", "active", "stopped", "failed"];
    let action = |to: &str| match to {
        "spawning" => "restart",
        "active" => "activate",
        "stopped" => "stop",
        _ => "fail",
    };
    let path_to = |target: &str| -> Vec<&'static str> {
        match target {
            "spawning" => vec![],
            "active" => vec!["activate"],
            "stopped" => vec!["activate", "stop"],
            _ => vec!["fail"],
        }
    };
    let allowed = [
        ("spawning", "active"),
        ("spawning", "failed"),
        ("active", "stopped"),
        ("active", "failed"),
        ("failed", "spawning"),
        ("stopped", "spawning"),
    ];
    for (i, from) in states.iter().enumerate() {
        for (j, to) in states.iter().enumerate() {
            let id = format!("s{i}{j}");
            s.session(&id, &[]).await;
            for step in path_to(from) {
                assert_eq!(
                    s.post(&format!("/api/sessions/{id}/{step}"), json!({}))
                        .await
                        .0,
                    200
                );
            }
            let (st, v) = s
                .post(&format!("/api/sessions/{id}/{}", action(to)), json!({}))
                .await;
            if from == to || allowed.contains(&(*from, *to)) {
                assert_eq!(
                    (st, v["status"].as_str()),
                    (200, Some(*to)),
                    "{from} -> {to}"
                );
                if from == to {
                    assert_eq!(
                        v["version"],
                        1 + path_to(from).len(),
                        "no-op keeps the version"
                    );
                }
            } else {
                assert_eq!(
                    (st, v["error"]["code"].as_str()),
                    (409, Some("invalid_transition")),
                    "{from} -> {to}"
                );
            }
        }
    }
}
