//! Hostile input: each gets its documented status and error code, none
//! produces a 500, nothing is lost, and the server keeps serving.

mod common;

use common::TestServer;
use futures_util::SinkExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    }) {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

async fn expect(s: &TestServer, req: Vec<u8>, status: u16, code: &str) -> Value {
    let (st, body) = s.raw(&req).await;
    let v: Value = serde_json::from_str(&body)
        .unwrap_or_else(|_| panic!("JSON error body, got {st} {body:?}"));
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        String::from_utf8_lossy(&req[..req.len().min(200)])
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_clear_errors_and_change_nothing() {
    let s = TestServer::start().await;
    s.task("t1").await;
    s.session("s1", &["t1"]).await;
    let (_, before) = s.get("/api/snapshot").await;

    let cases: Vec<(&str, &str, &[u8], u16, &str)> = vec![
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\"",
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\",}",
            400,
            "bad_request",
        ),
        ("POST", "/api/tasks", b"not json at all", 400, "bad_request"),
        ("POST", "/api/tasks", b"[1,2,3]", 400, "bad_request"),
        ("POST", "/api/tasks", b"\"title\"", 400, "bad_request"),
        ("POST", "/api/tasks", b"null", 400, "bad_request"),
        ("POST", "/api/tasks", b"", 400, "bad_request"),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"\xff\xfe\"}",
            400,
            "bad_request",
        ),
        ("POST", "/api/tasks", b"{}", 400, "validation_failed"),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": 5}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"   \"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"priority\": \"critical\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"status\": \"done\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"colour\": \"red\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"version\": 3}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"sessionIds\": []}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"id\": \"has space\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks",
            b"{\"title\": \"x\", \"id\": \"\"}",
            400,
            "validation_failed",
        ),
        (
            "PATCH",
            "/api/tasks/t1",
            b"{\"id\": \"t2\"}",
            400,
            "validation_failed",
        ),
        (
            "PATCH",
            "/api/tasks/t1",
            b"{\"createdAt\": \"2020-01-01T00:00:00Z\"}",
            400,
            "validation_failed",
        ),
        (
            "PATCH",
            "/api/tasks/t1",
            b"{\"status\": \"inprogress\", \"sessionProgress\": []}",
            400,
            "validation_failed",
        ),
        (
            "PATCH",
            "/api/tasks/t1",
            b"{\"status\": 1}",
            400,
            "validation_failed",
        ),
        (
            "PATCH",
            "/api/tasks/t1",
            b"{\"parentId\": \"t1\"}",
            409,
            "conflict",
        ),
        (
            "PUT",
            "/api/tasks/t1/sessions/s1/status",
            b"{}",
            400,
            "validation_failed",
        ),
        (
            "PUT",
            "/api/tasks/t1/sessions/s1/status",
            b"{\"status\": \"sleeping\"}",
            400,
            "validation_failed",
        ),
        (
            "PUT",
            "/api/tasks/t1/sessions/s1/status",
            b"{\"status\": \"working\", \"notes\": 7}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks/t1/queue",
            b"{}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/tasks/t1/queue",
            b"{\"sessionId\": \"../etc\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/sessions",
            b"{\"taskIds\": \"t1\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/sessions",
            b"{\"status\": \"active\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/sessions",
            b"{\"spawnSource\": \"cron\"}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/sessions/s1/fail",
            b"{\"error\": {\"nested\": true}}",
            400,
            "validation_failed",
        ),
        (
            "POST",
            "/api/sessions/s1/activate",
            b"{\"force\": true}",
            400,
            "validation_failed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let v = expect(&s, request(method, path, &[JSON], body), status, code).await;
        if code == "validation_failed" {
            assert!(
                v["error"]["field"].is_string(),
                "validation errors name the field: {v}"
            );
        }
    }
    // the field is named for unknown and read-only fields
    let v = expect(
        &s,
        request(
            "POST",
            "/api/tasks",
            &[JSON],
            b"{\"title\":\"x\",\"colour\":1}",
        ),
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(v["error"]["field"], "colour");
    let v = expect(
        &s,
        request("PATCH", "/api/tasks/t1", &[JSON], b"{\"version\":9}"),
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(v["error"]["field"], "version");

    // deep nesting is refused, not a stack overflow
    let deep = format!(
        "{{\"title\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    expect(
        &s,
        request("POST", "/api/tasks", &[JSON], deep.as_bytes()),
        400,
        "bad_request",
    )
    .await;
    // bad If-Match
    expect(
        &s,
        request(
            "PATCH",
            "/api/tasks/t1",
            &[JSON, ("If-Match", "\"abc\"")],
            b"{\"title\":\"y\"}",
        ),
        400,
        "bad_request",
    )
    .await;
    expect(
        &s,
        request(
            "PATCH",
            "/api/tasks/t1",
            &[JSON, ("If-Match", "99999999999999999999999")],
            b"{\"title\":\"y\"}",
        ),
        400,
        "bad_request",
    )
    .await;

    let (_, after) = s.get("/api/snapshot").await;
    assert_eq!(before, after, "no refused request changed anything");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_sizes_routes_and_methods() {
    let s = TestServer::start().await;
    s.task("t1").await;
    // content type
    expect(
        &s,
        request("POST", "/api/tasks", &[], b"{\"title\":\"x\"}"),
        415,
        "unsupported_media_type",
    )
    .await;
    expect(
        &s,
        request(
            "POST",
            "/api/tasks",
            &[("Content-Type", "text/plain")],
            b"{\"title\":\"x\"}",
        ),
        415,
        "unsupported_media_type",
    )
    .await;
    expect(
        &s,
        request(
            "PATCH",
            "/api/tasks/t1",
            &[("Content-Type", "application/xml")],
            b"<x/>",
        ),
        415,
        "unsupported_media_type",
    )
    .await;
    let (st, _) = s
        .raw(&request(
            "POST",
            "/api/tasks",
            &[("Content-Type", "application/json; charset=utf-8")],
            b"{\"title\":\"x\"}",
        ))
        .await;
    assert_eq!(st, 201, "parameters on the JSON content type are fine");
    // size: declared, chunked, and exactly at the limit
    let big = format!("{{\"title\": \"{}\"}}", "a".repeat(1 << 20));
    expect(
        &s,
        request("POST", "/api/tasks", &[JSON], big.as_bytes()),
        413,
        "payload_too_large",
    )
    .await;
    expect(
        &s,
        request(
            "POST",
            "/api/tasks",
            &[JSON, ("Content-Length", "5000000000")],
            b"",
        ),
        413,
        "payload_too_large",
    )
    .await;
    let mut chunked = Vec::new();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n{}\r\n", 65536, "a".repeat(65536)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    expect(
        &s,
        request(
            "POST",
            "/api/tasks",
            &[JSON, ("Transfer-Encoding", "chunked")],
            &chunked,
        ),
        413,
        "payload_too_large",
    )
    .await;
    let within = format!(
        "{{\"title\": \"t\", \"description\": \"{}\"}}",
        "a".repeat(9_000)
    );
    assert_eq!(
        s.raw(&request("POST", "/api/tasks", &[JSON], within.as_bytes()))
            .await
            .0,
        201
    );
    // bad ids in paths
    for path in [
        "/api/tasks/has%20space",
        "/api/tasks/a%2Fb",
        "/api/tasks/%FF",
        &format!("/api/tasks/{}", "x".repeat(129)),
        "/api/sessions/a*b",
    ] {
        expect(&s, request("GET", path, &[], b""), 400, "validation_failed").await;
    }
    // ids are percent-decoded (encodeURIComponent writes `:` as %3A); `..` is a valid id, not a path step
    s.task("ns:task-1").await;
    assert_eq!(s.get("/api/tasks/ns%3Atask-1").await.1["id"], "ns:task-1");
    expect(
        &s,
        request("GET", "/api/tasks/%2e%2e", &[], b""),
        404,
        "not_found",
    )
    .await;
    // unknown routes and methods
    // (`/` is the board built into the binary: tests/files.rs)
    for path in [
        "/api",
        "/api/",
        "/api/tasks/",
        "/api/nope",
        "/api/tasks/t1/nope",
        "/api/tasks/t1/sessions",
        "/wss",
        "/api//tasks",
    ] {
        expect(&s, request("GET", path, &[], b""), 404, "not_found").await;
    }
    for (m, path) in [
        ("DELETE", "/api/tasks"),
        ("POST", "/api/tasks/t1"),
        ("GET", "/api/tasks/t1/queue"),
        ("PATCH", "/api/sessions/x"),
        ("POST", "/api/snapshot"),
        ("PUT", "/healthz"),
        ("BREW", "/api/tasks"),
    ] {
        expect(&s, request(m, path, &[], b""), 405, "method_not_allowed").await;
    }
    let r = s.client.delete(s.url("/api/tasks")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "GET, POST");
    // plain GET on /ws is not an upgrade
    expect(&s, request("GET", "/ws", &[], b""), 426, "upgrade_required").await;
    // a truncated body (connection closed early) and garbage request lines do not hurt
    let mut truncated = request(
        "POST",
        "/api/tasks",
        &[JSON, ("Content-Length", "100")],
        b"",
    );
    truncated.extend_from_slice(b"{\"title\": \"tr");
    let (st, _) = common::raw_half_closed(s.addr, &truncated).await;
    assert!(st == 0 || st == 400, "{st}");
    let (st, _) = s.raw(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").await;
    assert!(st == 0 || st == 400, "{st}");
    assert_eq!(s.get("/healthz").await.0, 200, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_abuse_closes_only_the_abuser() {
    let s = TestServer::start().await;
    let mut bystander = s.ws("").await;
    bystander.next().await;

    // oversized frame: 1009
    let mut ws = s.ws("").await;
    ws.next().await;
    let _ = ws.inner.send(Message::text("x".repeat(70 * 1024))).await;
    assert_eq!(ws.closed().await, Some(1009));
    // a large frame within the limit is read fine (and its unknown type ignored)
    let mut ws = s.ws("").await;
    ws.next().await;
    ws.send_text(&format!(
        "{{\"type\":\"client:note\",\"pad\":\"{}\"}}",
        "p".repeat(60 * 1024)
    ))
    .await;
    ws.send_text("{\"type\": \"sync:ping\"}").await;
    assert_eq!(ws.next().await["type"], "sync:pong");
    // non-JSON text: 1008
    let mut ws = s.ws("").await;
    ws.next().await;
    ws.send_text("hello?").await;
    assert_eq!(ws.closed().await, Some(1008));
    // JSON without a string type: 1008
    let mut ws = s.ws("").await;
    ws.next().await;
    ws.send_text("{\"type\": 5}").await;
    assert_eq!(ws.closed().await, Some(1008));
    // binary: 1003
    let mut ws = s.ws("").await;
    ws.next().await;
    ws.inner
        .send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    assert_eq!(ws.closed().await, Some(1003));
    // unknown message types are ignored; sync:ping is answered
    let mut ws = s.ws("").await;
    ws.next().await;
    ws.send_text("{\"type\": \"client:whatever\", \"payload\": {}}")
        .await;
    ws.send_text("{\"type\": \"sync:ping\"}").await;
    assert_eq!(ws.next().await["type"], "sync:pong");
    // a flood of client messages does not disturb others
    for _ in 0..2000 {
        ws.inner
            .feed(Message::text("{\"type\":\"noise\"}"))
            .await
            .unwrap();
    }
    ws.inner.flush().await.unwrap();
    // bad query
    let bad = tokio_tungstenite::connect_async(format!("ws://{}/ws?since=abc", s.addr)).await;
    assert!(bad.is_err());

    s.task("after").await;
    let e = bystander.next().await;
    assert_eq!(
        (e["type"].as_str(), e["seq"].as_u64()),
        (Some("task:created"), Some(1))
    );
    let e = ws.events(1).await;
    assert_eq!(e[0]["seq"], 1, "the flooder still gets its events");
    assert_eq!(s.get("/healthz").await.0, 200);
}

/// A text frame whose payload is not UTF-8, sent as raw bytes (client
/// libraries refuse to): the server closes with 1007 and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_text_frame_is_closed_with_1007() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start().await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .unwrap();
    let payload = [0xffu8, 0xfe, 0x41, 0xc3];
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    // Read everything the server sends until it closes; find the close frame's code.
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut buf),
    )
    .await;
    let body = &buf[buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let mut i = 0;
    let mut close_code = None;
    while i + 2 <= body.len() {
        let (opcode, len) = (body[i] & 0x0f, (body[i + 1] & 0x7f) as usize);
        let (start, len) = match len {
            126 => (
                i + 4,
                u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize,
            ),
            127 => break,
            n => (i + 2, n),
        };
        if opcode == 0x8 && len >= 2 {
            close_code = Some(u16::from_be_bytes([body[start], body[start + 1]]));
        }
        i = start + len;
    }
    assert_eq!(close_code, Some(1007));
    assert_eq!(s.get("/healthz").await.0, 200);
}
