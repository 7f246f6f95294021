//! Every REST endpoint against the real server, with the events each emits.

mod common;

use common::TestServer;
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_crud_with_etags_and_events() {
    let s = TestServer::start().await;
    let mut ws = s.ws("").await;
    let hello = ws.next().await;
    assert_eq!(hello["type"], "sync:hello");
    assert_eq!(hello["payload"]["seq"], 0);
    assert_eq!(hello["payload"]["resumed"], false);
    assert!(hello.get("seq").is_none(), "control frames carry no seq");

    // create, generated id
    let resp = s
        .client
        .post(s.url("/api/tasks"))
        .json(&json!({"title": "Fix auth bug", "priority": "high"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["etag"], "\"1\"");
    let t: Value = resp.json().await.unwrap();
    let id = t["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("task-"), "{id}");
    assert_eq!(
        keys(&t),
        [
            "createdAt",
            "id",
            "priority",
            "sessionIds",
            "sessionProgress",
            "status",
            "title",
            "updatedAt",
            "version"
        ]
    );
    assert_eq!(
        (
            t["status"].as_str(),
            t["priority"].as_str(),
            t["version"].as_u64()
        ),
        (Some("todo"), Some("high"), Some(1))
    );
    assert!(t["createdAt"].as_str().unwrap().ends_with('Z'));
    let e = ws.next().await;
    assert_eq!(
        e,
        json!({"type": "task:created", "payload": {"task": t}, "seq": 1})
    );

    // get, list, projectId filter
    assert_eq!(s.get(&format!("/api/tasks/{id}")).await, (200, t.clone()));
    s.post(
        "/api/tasks",
        json!({"id": "p1", "title": "In project", "projectId": "proj-a", "description": "d"}),
    )
    .await;
    ws.events(1).await;
    let (st, list) = s.get("/api/tasks").await;
    assert_eq!((st, list.as_array().unwrap().len()), (200, 2));
    let (_, list) = s.get("/api/tasks?projectId=proj-a").await;
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect::<Vec<_>>(),
        [json!("p1")]
    );

    // update with If-Match, quoted and bare; PUT works like PATCH
    let resp = s
        .client
        .patch(s.url(&format!("/api/tasks/{id}")))
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Fix the auth bug", "description": "login fails"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            resp.headers()["etag"].to_str().unwrap()
        ),
        (200, "\"2\"")
    );
    let e = ws.next().await;
    assert_eq!(
        (
            e["type"].as_str(),
            e["seq"].as_u64(),
            e["payload"]["task"]["version"].as_u64()
        ),
        (Some("task:updated"), Some(3), Some(2))
    );
    assert_eq!(e["payload"]["task"]["description"], "login fails");
    let resp = s
        .client
        .put(s.url(&format!("/api/tasks/{id}")))
        .header("if-match", "1")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "precondition_failed");
    let (st, v) = s
        .send(
            "PUT",
            &format!("/api/tasks/{id}"),
            Some(json!({"description": null})),
        )
        .await;
    assert_eq!(
        (st, v.get("description")),
        (200, None),
        "null clears an optional field"
    );
    ws.events(1).await;

    // no-op: 200, same version, no event
    let (st, v) = s
        .patch(
            &format!("/api/tasks/{id}"),
            json!({"status": "todo", "title": "Fix the auth bug"}),
        )
        .await;
    assert_eq!((st, v["version"].as_u64()), (200, Some(3)));

    // delete
    let (st, body) = s.delete(&format!("/api/tasks/{id}")).await;
    assert_eq!((st, body), (204, Value::Null));
    let e = ws.next().await;
    assert_eq!(
        e,
        json!({"type": "task:deleted", "payload": {"taskId": id}, "seq": 5}),
        "no event for the no-op"
    );
    assert_eq!(s.get(&format!("/api/tasks/{id}")).await.0, 404);
    assert_eq!(s.delete(&format!("/api/tasks/{id}")).await.0, 404);
    // duplicate id
    let (st, v) = s
        .post("/api/tasks", json!({"id": "p1", "title": "again"}))
        .await;
    assert_eq!((st, v["error"]["code"].as_str()), (409, Some("conflict")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_transition_is_enforced() {
    let s = TestServer::start().await;
    let all = ["todo", "inprogress", "completed", "cancelled"];
    let allowed = [
        ("todo", "inprogress"),
        ("todo", "completed"),
        ("todo", "cancelled"),
        ("inprogress", "completed"),
        ("inprogress", "todo"),
        ("inprogress", "cancelled"),
        ("completed", "inprogress"),
        ("cancelled", "todo"),
    ];
    for from in all {
        for to in all {
            let id = format!("t-{from}-{to}");
            let (st, _) = s
                .post(
                    "/api/tasks",
                    json!({"id": id, "title": "t", "status": from}),
                )
                .await;
            assert_eq!(st, 201);
            let (st, v) = s
                .patch(&format!("/api/tasks/{id}"), json!({"status": to}))
                .await;
            if from == to {
                assert_eq!(
                    (st, v["version"].as_u64()),
                    (200, Some(1)),
                    "{from}->{to} is a no-op"
                );
            } else if allowed.contains(&(from, to)) {
                assert_eq!(
                    (st, v["status"].as_str(), v["version"].as_u64()),
                    (200, Some(to), Some(2)),
                    "{from}->{to}"
                );
            } else {
                assert_eq!(
                    (st, v["error"]["code"].as_str()),
                    (409, Some("invalid_transition")),
                    "{from}->{to}"
                );
                let msg = v["error"]["message"].as_str().unwrap();
                assert!(msg.contains(&format!("allowed from `{from}`")), "{msg}");
                let (_, t) = s.get(&format!("/api/tasks/{id}")).await;
                assert_eq!(t["status"], from, "refused change left the task as it was");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_progress_flow_matches_the_seed_payloads() {
    let s = TestServer::start().await;
    s.task("task-1").await;
    let mut ws = s.ws("").await;
    ws.next().await;
    let (st, sess) = s
        .post(
            "/api/sessions",
            json!({"id": "session-1", "name": "agent A"}),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(
        (
            sess["status"].as_str(),
            sess["spawnSource"].as_str(),
            sess["taskIds"].clone()
        ),
        (Some("spawning"), Some("ui"), json!([]))
    );
    assert_eq!(
        ws.next().await,
        json!({"type": "session:spawn", "payload": {"session": sess}, "seq": 2})
    );

    // queue: progress queued, both sides consistent, two events
    let (st, t) = s
        .post("/api/tasks/task-1/queue", json!({"sessionId": "session-1"}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(t["sessionIds"], json!(["session-1"]));
    assert_eq!(t["sessionProgress"][0]["status"], "queued");
    let ev = ws.events(2).await;
    assert_eq!(ev[0]["type"], "task:session_status");
    assert_eq!(
        keys(&ev[0]["payload"]),
        ["lastUpdated", "sessionId", "status", "taskId", "version"]
    );
    assert_eq!(ev[0]["payload"]["version"], t["version"]);
    assert_eq!(ev[1]["type"], "session:updated");
    assert_eq!(ev[1]["payload"]["session"]["taskIds"], json!(["task-1"]));
    // queueing again is a no-op
    let (st, t2) = s
        .post("/api/tasks/task-1/queue", json!({"sessionId": "session-1"}))
        .await;
    assert_eq!((st, t2["version"].clone()), (200, t["version"].clone()));

    // the seed's example payload, exactly, plus version
    let (st, t) = s
        .put(
            "/api/tasks/task-1/sessions/session-1/status",
            json!({"status": "working"}),
        )
        .await;
    assert_eq!(
        (st, t["sessionProgress"][0]["status"].as_str()),
        (200, Some("working"))
    );
    ws.events(1).await;
    let (st, t) = s
        .put(
            "/api/tasks/task-1/sessions/session-1/status",
            json!({"status": "blocked", "notes": "Need API key"}),
        )
        .await;
    assert_eq!(st, 200);
    let e = ws.next().await;
    let p = &t["sessionProgress"][0];
    assert_eq!(
        e,
        json!({"type": "task:session_status", "payload": {"taskId": "task-1", "sessionId": "session-1", "status": "blocked",
            "notes": "Need API key", "lastUpdated": p["lastUpdated"], "version": t["version"]}, "seq": 6})
    );
    assert_eq!(t["updatedAt"], p["lastUpdated"]);
    // refused: blocked -> completed
    let (st, v) = s
        .put(
            "/api/tasks/task-1/sessions/session-1/status",
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("working, cancelled"),
        "{v}"
    );
    // same status, same notes: no-op; new notes: a change
    let (_, same) = s
        .put(
            "/api/tasks/task-1/sessions/session-1/status",
            json!({"status": "blocked", "notes": "Need API key"}),
        )
        .await;
    assert_eq!(same["version"], t["version"]);
    let (_, renoted) = s
        .put(
            "/api/tasks/task-1/sessions/session-1/status",
            json!({"status": "blocked", "notes": "Still need it"}),
        )
        .await;
    assert_eq!(
        renoted["version"].as_u64(),
        t["version"].as_u64().map(|v| v + 1)
    );
    assert_eq!(ws.next().await["seq"], 7);

    // a session with no entry starts at working directly, and is added to the task
    s.session("session-2", &[]).await;
    let (st, t) = s
        .put(
            "/api/tasks/task-1/sessions/session-2/status",
            json!({"status": "working"}),
        )
        .await;
    assert_eq!(
        (st, t["sessionIds"].clone()),
        (200, json!(["session-1", "session-2"]))
    );
    let (_, s2) = s.get("/api/sessions/session-2").await;
    assert_eq!(s2["taskIds"], json!(["task-1"]));
    // ...but not at blocked
    s.task("task-2").await;
    let (st, _) = s
        .put(
            "/api/tasks/task-2/sessions/session-2/status",
            json!({"status": "blocked"}),
        )
        .await;
    assert_eq!(st, 409);
    // unknown task / session
    assert_eq!(
        s.put(
            "/api/tasks/nope/sessions/session-2/status",
            json!({"status": "working"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        s.put(
            "/api/tasks/task-2/sessions/nope/status",
            json!({"status": "working"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        s.post("/api/tasks/task-2/queue", json!({"sessionId": "nope"}))
            .await
            .0,
        404
    );

    // remove a session from a task
    let (st, t) = s.delete("/api/tasks/task-1/sessions/session-2").await;
    assert_eq!((st, t["sessionIds"].clone()), (200, json!(["session-1"])));
    assert!(
        t["sessionProgress"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["sessionId"] != "session-2")
    );
    let (_, s2) = s.get("/api/sessions/session-2").await;
    assert_eq!(s2["taskIds"], json!([]));
    assert_eq!(
        s.delete("/api/tasks/task-1/sessions/session-2").await.0,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_and_deletes_keep_both_sides_consistent() {
    let s = TestServer::start().await;
    s.task("a").await;
    s.task("b").await;
    let sess = s.session("s1", &["a", "b"]).await;
    assert_eq!(sess["taskIds"], json!(["a", "b"]));
    let mut ws = s.ws("").await;
    ws.next().await;

    let (st, v) = s.post("/api/sessions/s1/activate", json!({})).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("active")));
    let e = ws.next().await;
    assert_eq!(
        (e["type"].as_str(), e["payload"]["sessionId"].as_str()),
        (Some("session:active"), Some("s1"))
    );
    assert_eq!(e["payload"]["session"], v);
    // empty body is fine for lifecycle actions
    let resp = s
        .client
        .post(s.url("/api/sessions/s1/stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(ws.next().await["type"], "session:stopped");
    let (st, v) = s
        .post("/api/sessions/s1/fail", json!({"error": "OOM"}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("invalid_transition")),
        "stopped -> failed is refused"
    );
    let (st, v) = s.post("/api/sessions/s1/restart", json!({})).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("spawning")));
    assert_eq!(ws.next().await["type"], "session:spawn");
    let (st, v) = s
        .post("/api/sessions/s1/fail", json!({"error": "OOM"}))
        .await;
    assert_eq!((st, v["error"].as_str()), (200, Some("OOM")));
    let e = ws.next().await;
    assert_eq!(
        (e["type"].as_str(), e["payload"]["error"].as_str()),
        (Some("session:failed"), Some("OOM"))
    );
    let (st, v) = s.post("/api/sessions/s1/restart", json!({})).await;
    assert_eq!(
        (st, v.get("error")),
        (200, None),
        "restart clears the error"
    );
    ws.events(1).await;
    assert_eq!(
        s.post("/api/sessions/nope/activate", json!({})).await.0,
        404
    );

    let (st, list) = s.get("/api/sessions").await;
    assert_eq!((st, list.as_array().unwrap().len()), (200, 1));

    // delete the session: removed from every task
    assert_eq!(s.delete("/api/sessions/s1").await.0, 204);
    let ev = ws.events(3).await;
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["session:deleted", "task:updated", "task:updated"]);
    for t in ["a", "b"] {
        let (_, task) = s.get(&format!("/api/tasks/{t}")).await;
        assert_eq!(
            (task["sessionIds"].clone(), task["sessionProgress"].clone()),
            (json!([]), json!([]))
        );
    }
    // delete a task: removed from every session
    s.session("s2", &["a"]).await;
    ws.events(2).await;
    assert_eq!(s.delete("/api/tasks/a").await.0, 204);
    let ev = ws.events(2).await;
    assert_eq!(
        (ev[0]["type"].as_str(), ev[1]["type"].as_str()),
        (Some("task:deleted"), Some("session:updated"))
    );
    let (_, s2) = s.get("/api/sessions/s2").await;
    assert_eq!(s2["taskIds"], json!([]));
    // spawning with an unknown task creates nothing
    let (st, v) = s
        .post("/api/sessions", json!({"id": "s3", "taskIds": ["zzz"]}))
        .await;
    assert_eq!((st, v["error"]["field"].as_str()), (404, Some("taskIds")));
    assert_eq!(s.get("/api/sessions/s3").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_events_and_health() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/healthz").await, (200, json!({"status": "ok"})));
    s.task("a").await;
    s.session("s", &["a"]).await;
    let (st, snap) = s.get("/api/snapshot").await;
    assert_eq!(st, 200);
    assert_eq!(keys(&snap), ["epoch", "seq", "sessions", "tasks"]);
    assert_eq!(snap["seq"], 3);
    assert_eq!(snap["tasks"][0]["sessionIds"], json!(["s"]));
    let (st, ev) = s.get("/api/events?since=1").await;
    assert_eq!(st, 200);
    assert_eq!(ev["epoch"], snap["epoch"]);
    let seqs: Vec<u64> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3]);
    let (_, ev) = s.get("/api/events?since=0&limit=1").await;
    assert_eq!(ev["events"].as_array().unwrap().len(), 1);
    let (_, ev) = s.get("/api/events?since=3").await;
    assert_eq!(ev["events"], json!([]));
    // ahead of the head (e.g. history of another database): nothing, with the epoch to notice
    let (st, ev) = s.get("/api/events?since=99").await;
    assert_eq!(
        (st, ev["events"].clone(), ev["epoch"].clone()),
        (200, json!([]), snap["epoch"].clone())
    );
    assert_eq!(s.get("/api/events?since=-1").await.0, 400);
    assert_eq!(s.get("/api/events?limit=0").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_retention_are_gone() {
    let s = TestServer::start_with(|c| c.retain = 5).await;
    for i in 0..12 {
        s.task(&format!("t{i}")).await;
    }
    let (st, v) = s.get("/api/events?since=2").await;
    assert_eq!((st, v["error"]["code"].as_str()), (410, Some("gone")));
    let (st, v) = s.get("/api/events?since=7").await;
    assert_eq!((st, v["events"].as_array().unwrap().len()), (200, 5));
}
