//! Project scopes: `/ws?projectId=P` delivers only P's events, a task that
//! leaves P as a removal and one that enters as an upsert, resumes within
//! the scope; `GET /api/snapshot?projectId=P` holds only P.
mod common;

use common::TestServer;
use serde_json::{Value, json};

async fn hello(ws: &mut common::Ws) -> Value {
    let h = ws.next().await;
    assert_eq!(h["type"], "sync:hello", "{h}");
    h["payload"].clone()
}

/// (type, task or session id) of an event.
fn what(e: &Value) -> (String, String) {
    let p = &e["payload"];
    let id = p["taskId"]
        .as_str()
        .or(p["task"]["id"].as_str())
        .or(p["sessionId"].as_str())
        .or(p["session"]["id"].as_str())
        .unwrap_or("?");
    (e["type"].as_str().unwrap().to_owned(), id.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_stream_carries_its_project_and_the_moves_in_and_out() {
    let s = TestServer::start().await;
    let mut a = s.ws("?projectId=A").await;
    let h = hello(&mut a).await;
    let epoch = h["epoch"].as_str().unwrap().to_owned();
    s.post(
        "/api/tasks",
        json!({"id": "a1", "title": "in A", "projectId": "A"}),
    )
    .await;
    s.post(
        "/api/tasks",
        json!({"id": "b1", "title": "in B", "projectId": "B"}),
    )
    .await;
    s.post("/api/tasks", json!({"id": "n1", "title": "no project"}))
        .await;
    s.post(
        "/api/sessions",
        json!({"id": "sa", "projectId": "A", "taskIds": ["a1"]}),
    )
    .await;
    s.post(
        "/api/sessions",
        json!({"id": "sb", "projectId": "B", "taskIds": ["b1"]}),
    )
    .await;
    s.put(
        "/api/tasks/b1/sessions/sb/status",
        json!({"status": "working"}),
    )
    .await;
    s.put(
        "/api/tasks/a1/sessions/sa/status",
        json!({"status": "working"}),
    )
    .await;
    // moves: b1 into A, then a1 out to B
    s.patch("/api/tasks/b1", json!({"projectId": "A"})).await;
    s.put(
        "/api/tasks/b1/sessions/sb/status",
        json!({"status": "blocked", "notes": "now in A"}),
    )
    .await;
    s.patch("/api/tasks/a1", json!({"projectId": "B"})).await;
    s.put(
        "/api/tasks/a1/sessions/sa/status",
        json!({"status": "blocked"}),
    )
    .await;
    s.delete("/api/tasks/b1").await;
    s.post(
        "/api/tasks",
        json!({"id": "a2", "title": "last", "projectId": "A"}),
    )
    .await;
    let mut got = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let e = a.next().await;
        seqs.push(e["seq"].as_u64().unwrap());
        let w = what(&e);
        got.push(w.clone());
        if w == ("task:created".into(), "a2".into()) {
            break;
        }
    }
    let w = |t: &str, id: &str| (t.to_owned(), id.to_owned());
    eprintln!("{got:?}");
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "rising: {seqs:?}");
    // nothing of B's or of no project's tasks, except the moves
    for (t, id) in &got {
        assert!(id != "n1" && id != "sb", "{t} {id}");
    }
    let pos = |x: (String, String)| got.iter().position(|g| *g == x).unwrap_or(usize::MAX);
    assert!(
        pos(w("task:created", "b1")) == usize::MAX,
        "b1 was created in B"
    );
    assert!(
        pos(w("task:updated", "b1")) < pos(w("task:session_status", "b1")),
        "b1 entered"
    );
    // a1 left A: a removal, and nothing of a1 after it
    let exit = pos(w("task:deleted", "a1"));
    assert!(exit < got.len());
    assert!(got[exit + 1..].iter().all(|(_, id)| id != "a1"), "{got:?}");
    assert!(
        pos(w("task:deleted", "b1")) < got.len(),
        "b1 deleted while in A"
    );

    // the snapshot of A holds exactly A's
    let (_, snap) = s.get("/api/snapshot?projectId=A").await;
    let ids: Vec<&str> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a2"]);
    assert_eq!(snap["sessions"].as_array().unwrap().len(), 1);

    // resume within the scope: after the entry of b1, the same events again
    let from = seqs[pos(w("task:updated", "b1"))];
    let mut again = s
        .ws(&format!("?projectId=A&since={from}&epoch={epoch}"))
        .await;
    assert_eq!(hello(&mut again).await["resumed"], true);
    let mut resumed = Vec::new();
    while resumed.len() < got.len() - pos(w("task:updated", "b1")) - 1 {
        resumed.push(what(&again.next().await));
    }
    assert_eq!(resumed[..], got[pos(w("task:updated", "b1")) + 1..]);
    // a bad scope is refused
    let r = s
        .client
        .get(s.url("/ws?projectId=bad%20id"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_scoped_resume_resyncs() {
    let mut s = TestServer::start().await;
    s.post(
        "/api/tasks",
        json!({"id": "a1", "title": "x", "projectId": "A"}),
    )
    .await;
    let epoch = s.get("/api/snapshot").await.1["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = s.keep_dir();
    let db = s.db.clone();
    s.stop().await;
    let s = TestServer::start_on(&db, None, |_| {}).await;
    s.post(
        "/api/tasks",
        json!({"id": "a2", "title": "y", "projectId": "A"}),
    )
    .await;
    // the events read back at start have no known project: resync
    let mut ws = s.ws(&format!("?projectId=A&since=0&epoch={epoch}")).await;
    assert_eq!(hello(&mut ws).await["resumed"], false);
    // unscoped, the same resume works
    let mut ws = s.ws(&format!("?since=0&epoch={epoch}")).await;
    assert_eq!(hello(&mut ws).await["resumed"], true);
    drop(dir);
}
