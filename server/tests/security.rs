//! Security defaults: token, Host, Origin, and the bind refusal.

mod common;

use common::TestServer;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_required_on_api_and_ws_when_set() {
    let s = TestServer::start_with(|c| c.token = Some("s3cret-token".into())).await;
    let get = |auth: Option<&str>| {
        let mut r = s.client.get(s.url("/api/tasks"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = get(None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(get(Some("Bearer wrong")).await.unwrap().status(), 401);
    assert_eq!(
        get(Some("Bearer s3cret-token-and-more"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        get(Some("Basic czNjcmV0LXRva2Vu")).await.unwrap().status(),
        401
    );
    assert_eq!(
        get(Some("Bearer s3cret-token")).await.unwrap().status(),
        200
    );
    // ?token= is for /ws only
    assert_eq!(
        s.client
            .get(s.url("/api/tasks?token=s3cret-token"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // writes too
    let r = s
        .client
        .post(s.url("/api/tasks"))
        .json(&serde_json::json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // health is open
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // WebSocket: refused without, accepted with ?token= or the header
    let err = tokio_tungstenite::connect_async(format!("ws://{}/ws", s.addr))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let mut ws = s.ws("?token=s3cret-token").await;
    assert_eq!(ws.next().await["type"], "sync:hello");
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", s.addr).into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer s3cret-token".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_and_origin_are_refused() {
    let s = TestServer::start().await;
    let req = |host: &str, origin: Option<&str>| {
        let mut r = format!("GET /api/tasks HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(o) = origin {
            r.push_str(&format!("Origin: {o}\r\n"));
        }
        r.push_str("\r\n");
        r.into_bytes()
    };
    let port = s.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".into(),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(s.raw(&req(&host, None)).await.0, 200, "{host}");
    }
    for host in [
        "evil.example",
        "evil.example:80",
        "127.0.0.1.evil.example",
        "192.168.1.10:7878",
        "",
    ] {
        let (st, body) = s.raw(&req(host, None)).await;
        assert!(st == 403 || st == 400, "{host}: {st} {body}");
    }
    // same origin is fine; a foreign page is not; nor a null origin
    let own = format!("http://127.0.0.1:{port}");
    assert_eq!(
        s.raw(&req(&format!("127.0.0.1:{port}"), Some(&own)))
            .await
            .0,
        200
    );
    for origin in [
        "http://evil.example",
        "null",
        "https://127.0.0.1.evil.example",
        &format!("http://localhost:{port}"),
    ] {
        let (st, body) = s
            .raw(&req(&format!("127.0.0.1:{port}"), Some(origin)))
            .await;
        assert_eq!(st, 403, "{origin}");
        assert!(body.contains("\"forbidden\""), "{body}");
    }
    // a cross-site WebSocket is refused as well
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut ws_req = format!("ws://{}/ws", s.addr).into_client_request().unwrap();
    ws_req
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(ws_req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_and_hosts_get_cors() {
    let s = TestServer::start_with(|c| {
        c.allow_origins = vec!["http://localhost:5173".into()];
        c.allow_hosts = vec!["tasks.internal".into()];
    })
    .await;
    let port = s.addr.port();
    let (st, _) = s.raw(format!("GET /api/tasks HTTP/1.1\r\nHost: tasks.internal:{port}\r\nConnection: close\r\n\r\n").as_bytes()).await;
    assert_eq!(st, 200);
    let r = s
        .client
        .get(s.url("/api/tasks"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let pre = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/api/tasks/x"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert!(
        pre.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PATCH")
    );
    let other = s
        .client
        .get(s.url("/api/tasks"))
        .header("origin", "http://localhost:5174")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
}

#[test]
fn non_loopback_bind_without_token_is_refused_at_startup() {
    let out = Command::new(env!("CARGO_BIN_EXE_tasksync"))
        .args(["serve", "--addr", "0.0.0.0:0", "--db"])
        .arg(std::env::temp_dir().join("never-created.db"))
        .env_remove("TASKSYNC_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "it never started listening");
}
