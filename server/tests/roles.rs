//! Roles: the admin token (`--token`) and role tokens (read, write, admin;
//! optionally per project) made through `/api/tokens` — 401 without a valid
//! token, 403 when the role or project does not allow it, on REST and `/ws`
//! alike; the CLI prints the server's message and exits 1.
mod common;

use common::TestServer;
use serde_json::{Value, json};

const ADMIN: &str = "admin-secret-token";

async fn call(
    s: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = s.client.request(m, s.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap().status().as_u16()
}

async fn ws_status(s: &TestServer, query: &str) -> u16 {
    match tokio_tungstenite::connect_async(format!("ws://{}/ws{query}", s.addr)).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

async fn make(s: &TestServer, role: &str, projects: &[&str]) -> (String, String) {
    let r = s
        .client
        .post(s.url("/api/tokens"))
        .bearer_auth(ADMIN)
        .json(&json!({"role": role, "projects": projects, "name": format!("{role} {projects:?}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("hash").is_none());
    (
        v["token"].as_str().unwrap().to_owned(),
        v["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_by_role_and_project() {
    let s = TestServer::start_with(|c| c.token = Some(ADMIN.into())).await;
    let admin = Some(ADMIN);
    for (id, p) in [("a1", "A"), ("b1", "B")] {
        assert_eq!(
            call(
                &s,
                admin,
                "POST",
                "/api/tasks",
                Some(json!({"id": id, "title": "t", "projectId": p}))
            )
            .await,
            201
        );
    }
    assert_eq!(
        call(
            &s,
            admin,
            "POST",
            "/api/sessions",
            Some(json!({"id": "sa", "projectId": "A", "taskIds": ["a1"]}))
        )
        .await,
        201
    );
    assert_eq!(
        call(
            &s,
            admin,
            "POST",
            "/api/sessions",
            Some(json!({"id": "sb", "projectId": "B", "taskIds": ["b1"]}))
        )
        .await,
        201
    );
    let (read, _) = make(&s, "read", &[]).await;
    let (write, _) = make(&s, "write", &[]).await;
    let (read_a, _) = make(&s, "read", &["A"]).await;
    let (write_a, _) = make(&s, "write", &["A"]).await;
    let (gone, gone_id) = make(&s, "admin", &[]).await;
    assert_eq!(
        call(&s, admin, "DELETE", &format!("/api/tokens/{gone_id}"), None).await,
        204
    );

    // (method, path, body) → expected status for: none, read, write, read A, write A, revoked, admin
    let rows: Vec<(&str, String, Option<Value>, [u16; 7])> = vec![
        (
            "GET",
            "/api/tasks".into(),
            None,
            [401, 200, 200, 403, 403, 401, 200],
        ),
        (
            "GET",
            "/api/tasks?projectId=A".into(),
            None,
            [401, 200, 200, 200, 200, 401, 200],
        ),
        (
            "GET",
            "/api/tasks?projectId=B".into(),
            None,
            [401, 200, 200, 403, 403, 401, 200],
        ),
        (
            "GET",
            "/api/tasks/a1".into(),
            None,
            [401, 200, 200, 200, 200, 401, 200],
        ),
        (
            "GET",
            "/api/tasks/b1".into(),
            None,
            [401, 200, 200, 403, 403, 401, 200],
        ),
        (
            "GET",
            "/api/tasks/a1/events".into(),
            None,
            [401, 200, 200, 200, 200, 401, 200],
        ),
        (
            "GET",
            "/api/sessions?projectId=A".into(),
            None,
            [401, 200, 200, 200, 200, 401, 200],
        ),
        (
            "GET",
            "/api/sessions/sb".into(),
            None,
            [401, 200, 200, 403, 403, 401, 200],
        ),
        (
            "GET",
            "/api/snapshot".into(),
            None,
            [401, 200, 200, 403, 403, 401, 200],
        ),
        (
            "GET",
            "/api/snapshot?projectId=A".into(),
            None,
            [401, 200, 200, 200, 200, 401, 200],
        ),
        (
            "GET",
            "/api/events".into(),
            None,
            [401, 200, 200, 403, 403, 401, 200],
        ),
        (
            "PATCH",
            "/api/tasks/a1".into(),
            Some(json!({"description": "x"})),
            [401, 403, 200, 403, 200, 401, 200],
        ),
        (
            "PATCH",
            "/api/tasks/b1".into(),
            Some(json!({"description": "y"})),
            [401, 403, 200, 403, 403, 401, 200],
        ),
        (
            "PATCH",
            "/api/tasks/a1".into(),
            Some(json!({"projectId": "B"})),
            [401, 403, 200, 403, 403, 401, 200],
        ),
        (
            "PATCH",
            "/api/tasks/a1".into(),
            Some(json!({"projectId": "A"})),
            [401, 403, 200, 403, 200, 401, 200],
        ),
        (
            "POST",
            "/api/tasks".into(),
            Some(json!({"title": "new", "projectId": "A"})),
            [401, 403, 201, 403, 201, 401, 201],
        ),
        (
            "POST",
            "/api/tasks".into(),
            Some(json!({"title": "new", "projectId": "B"})),
            [401, 403, 201, 403, 403, 401, 201],
        ),
        (
            "POST",
            "/api/tasks".into(),
            Some(json!({"title": "no project"})),
            [401, 403, 201, 403, 403, 401, 201],
        ),
        (
            "PUT",
            "/api/tasks/a1/sessions/sa/status".into(),
            Some(json!({"status": "working"})),
            [401, 403, 200, 403, 200, 401, 200],
        ),
        (
            "PUT",
            "/api/tasks/b1/sessions/sb/status".into(),
            Some(json!({"status": "working"})),
            [401, 403, 200, 403, 403, 401, 200],
        ),
        (
            "POST",
            "/api/sessions/sa/activate".into(),
            None,
            [401, 403, 200, 403, 200, 401, 200],
        ),
        (
            "POST",
            "/api/sessions/sb/heartbeat".into(),
            None,
            [401, 403, 204, 403, 403, 401, 204],
        ),
        (
            "POST",
            "/api/sessions".into(),
            Some(json!({"projectId": "B"})),
            [401, 403, 201, 403, 403, 401, 201],
        ),
        (
            "GET",
            "/api/tokens".into(),
            None,
            [401, 403, 403, 403, 403, 401, 200],
        ),
        (
            "POST",
            "/api/tokens".into(),
            Some(json!({"role": "read"})),
            [401, 403, 403, 403, 403, 401, 201],
        ),
        (
            "GET",
            "/healthz".into(),
            None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
    ];
    let who = [
        None,
        Some(read.as_str()),
        Some(write.as_str()),
        Some(read_a.as_str()),
        Some(write_a.as_str()),
        Some(gone.as_str()),
        admin,
    ];
    let mut wrong = Vec::new();
    for (method, path, body, want) in &rows {
        for (i, token) in who.iter().enumerate() {
            let got = call(&s, *token, method, path, body.clone()).await;
            if got != want[i] {
                wrong.push(format!("{method} {path} as #{i}: {got}, want {}", want[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // a refusal says why
    let r = s
        .client
        .post(s.url("/api/tasks"))
        .bearer_auth(&read)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["message"], "this token may only read");
    // the stream alike (the token in the query, as browsers send it)
    for (query, want) in [
        (String::new(), 401),
        (format!("?token={read}"), 101),
        (format!("?token={read_a}"), 403),
        (format!("?token={read_a}&projectId=A"), 101),
        (format!("?token={read_a}&projectId=B"), 403),
        (format!("?token={gone}"), 401),
        ("?token=tsk_forged_0000".into(), 401),
        (format!("?token={ADMIN}"), 101),
    ] {
        assert_eq!(ws_status(&s, &query).await, want, "/ws{query}");
    }
    // tokens are listed without themselves or their hashes
    let list: Value = s
        .client
        .get(s.url("/api/tokens"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 6);
    assert!(
        list.iter()
            .all(|t| t.get("token").is_none() && t.get("hash").is_none())
    );
    assert_eq!(list.iter().filter(|t| t["revoked"] == true).count(), 1);
    // hostile token requests
    for bad in [
        json!({"role": "root"}),
        json!({"role": "read", "projects": ["bad id"]}),
        json!({"role": "read", "x": 1}),
        json!({"role": "read", "name": ""}),
    ] {
        assert_eq!(
            call(&s, admin, "POST", "/api/tokens", Some(bad.clone())).await,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        call(&s, admin, "DELETE", "/api/tokens/nope", None).await,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_survive_a_restart_are_stored_hashed_and_the_cli_says_why() {
    let mut s = TestServer::start_with(|c| c.token = Some(ADMIN.into())).await;
    let url = s.base.clone();
    let cli = move |token: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tasksync"))
            .args(args)
            .env("TASKSYNC_URL", &url)
            .env("TASKSYNC_TOKEN", token)
            .output()
            .unwrap()
    };
    let cli2 = cli.clone();
    let (made, denied, listed) = tokio::task::spawn_blocking(move || {
        let made = cli2(
            ADMIN,
            &[
                "token",
                "create",
                "--role",
                "read",
                "--project",
                "P",
                "--name",
                "phone",
            ],
        );
        let token = String::from_utf8(made.stdout.clone())
            .unwrap()
            .trim()
            .to_owned();
        let denied = cli2(&token, &["task", "create", "Not allowed", "--project", "P"]);
        let listed = cli2(ADMIN, &["token", "list"]);
        ((made, token), denied, listed)
    })
    .await
    .unwrap();
    let ((made, token), denied, listed) = (made, denied, listed);
    assert!(made.status.success());
    assert!(token.starts_with("tsk_"), "{token}");
    assert!(String::from_utf8_lossy(&made.stderr).contains("not shown again"));
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("this token may only read"),
        "{denied:?}"
    );
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("read") && listed.contains("phone") && !listed.contains(&token),
        "{listed}"
    );
    // stored hashed: the token itself is nowhere in the database file
    if !s.db.to_string_lossy().starts_with("postgres") {
        let bytes = std::fs::read(&s.db).unwrap_or_default();
        let wal = std::fs::read(s.db.with_extension("db-wal")).unwrap_or_default();
        let needle = token.as_bytes();
        for b in [bytes, wal] {
            assert!(
                !b.windows(needle.len()).any(|w| w == needle),
                "token stored in clear"
            );
        }
    }
    // still valid after a restart
    let dir = s.keep_dir();
    let db = s.db.clone();
    s.stop().await;
    let s = TestServer::start_on(&db, None, |c| c.token = Some(ADMIN.into())).await;
    assert_eq!(
        call(&s, Some(&token), "GET", "/api/tasks?projectId=P", None).await,
        200
    );
    assert_eq!(call(&s, Some(&token), "GET", "/api/tasks", None).await, 403);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_tokens_need_a_server_with_a_token() {
    let s = TestServer::start().await;
    assert_eq!(
        call(
            &s,
            None,
            "POST",
            "/api/tokens",
            Some(json!({"role": "read"}))
        )
        .await,
        409
    );
}
