//! `Idempotency-Key`: a retried write is applied once and answered with the
//! first answer — across concurrent duplicates, a restart of the server, and
//! hostile keys.

mod common;

use common::TestServer;
use serde_json::{Value, json};

async fn send_keyed(
    s: &TestServer,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s
        .client
        .request(m, s.url(path))
        .header("Idempotency-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, replayed, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_is_applied_once_and_answered_with_the_first_answer() {
    let mut s = TestServer::start().await;
    let new = json!({"title": "once"});
    let (st, replayed, first) =
        send_keyed(&s, "POST", "/api/tasks", "k-create", Some(new.clone())).await;
    assert_eq!((st, replayed), (201, None));
    let id = first["id"].as_str().unwrap().to_owned();
    // the retry after a "lost" answer: same answer, nothing new
    let (st, replayed, again) =
        send_keyed(&s, "POST", "/api/tasks", "k-create", Some(new.clone())).await;
    assert_eq!((st, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again, first);
    let (_, tasks) = s.get("/api/tasks").await;
    assert_eq!(tasks.as_array().unwrap().len(), 1, "created once");

    // twenty concurrent duplicates of one status change: one version bump
    let path = format!("/api/tasks/{id}");
    let sends = (0..20).map(|_| {
        send_keyed(
            &s,
            "PATCH",
            &path,
            "k-move",
            Some(json!({"status": "inprogress"})),
        )
    });
    let answers = futures_util::future::join_all(sends).await;
    assert!(
        answers
            .iter()
            .all(|(st, _, v)| *st == 200 && v["version"] == 2),
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|a| a.1.is_none()).count(),
        1,
        "one first answer"
    );
    let (_, events) = s.get("/api/events?since=0").await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["task:created", "task:updated"]);

    // the kept answer is durable: it survives a restart
    let dir = s.keep_dir();
    s.stop().await;
    let s2 = TestServer::start_on(&s.db, None, |_| {}).await;
    let (st, replayed, v) = send_keyed(
        &s2,
        "PATCH",
        &path,
        "k-move",
        Some(json!({"status": "inprogress"})),
    )
    .await;
    assert_eq!(
        (st, replayed.as_deref(), v["version"].clone()),
        (200, Some("true"), json!(2))
    );
    let (_, t) = s2.get(&path).await;
    assert_eq!(t["version"], 2, "not applied again after the restart");
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_not_kept_and_a_key_cannot_name_another_request() {
    let s = TestServer::start().await;
    s.post("/api/tasks", json!({"title": "t", "id": "t1"}))
        .await;
    let (st, v) = s
        .post("/api/sessions", json!({"id": "s1", "taskIds": ["t1"]}))
        .await;
    assert_eq!(st, 201, "{v}");
    // a refusal changed nothing, so it is not remembered: the retry is judged afresh
    let (st, _, e) = send_keyed(
        &s,
        "PUT",
        "/api/tasks/t1/sessions/s1/status",
        "k1",
        Some(json!({"status": "completed"})),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (st, replayed, _) = send_keyed(
        &s,
        "PUT",
        "/api/tasks/t1/sessions/s1/status",
        "k1",
        Some(json!({"status": "working"})),
    )
    .await;
    assert_eq!((st, replayed), (200, None));
    // the same key for another request is refused and changes nothing
    let (st, _, e) = send_keyed(&s, "DELETE", "/api/tasks/t1", "k1", None).await;
    assert_eq!(st, 409, "{e}");
    assert_eq!(e["error"]["field"], "Idempotency-Key");
    assert_eq!(s.get("/api/tasks/t1").await.0, 200);
    // hostile keys: empty, too long, spaces, non-ASCII bytes
    for key in ["", &"k".repeat(256), "a key"] {
        let (st, _, e) = send_keyed(&s, "DELETE", "/api/tasks/t1", key, None).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("validation_failed")),
            "{key:?}"
        );
    }
    let resp = s
        .client
        .delete(s.url("/api/tasks/t1"))
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(s.get("/api/tasks/t1").await.0, 200, "nothing deleted");
    // a keyed delete, repeated: 204 both times, deleted once
    let (a, _, _) = send_keyed(&s, "DELETE", "/api/tasks/t1", "k-del", None).await;
    let (b, replayed, _) = send_keyed(&s, "DELETE", "/api/tasks/t1", "k-del", None).await;
    assert_eq!((a, b, replayed.as_deref()), (204, 204, Some("true")));
}
