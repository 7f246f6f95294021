//! Liveness against the real server: a session whose agent goes silent
//! (killed without `SessionEnd`) becomes stale — on the entity, in an event,
//! in `session list` — and fresh again on its next heartbeat; heartbeats
//! cost no durable write each.
mod common;

use common::{TestServer, spawn_server_with};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The next `session:updated` event, skipping others.
async fn next_session_update(ws: &mut common::Ws) -> Value {
    loop {
        let e = ws.next().await;
        if e["type"] == "session:updated" {
            return e["payload"]["session"].clone();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_session_becomes_stale_and_a_heartbeat_makes_it_fresh() {
    let s = TestServer::start_with(|c| c.stale_after = Duration::from_millis(800)).await;
    s.session("agent", &[]).await;
    let (code, active) = s.send("POST", "/api/sessions/agent/activate", None).await;
    assert_eq!(code, 200);
    assert!(active["lastSeenAt"].is_string(), "{active}");
    assert!(active.get("stale").is_none());
    let mut ws = s.ws("").await;
    ws.next().await; // hello
    let t0 = Instant::now();
    let stale = next_session_update(&mut ws).await;
    let took = t0.elapsed();
    assert_eq!(stale["stale"], true, "{stale}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(s.get("/api/sessions/agent").await.1["stale"], true);
    // its next heartbeat makes it fresh at once
    let (code, _) = s.send("POST", "/api/sessions/agent/heartbeat", None).await;
    assert_eq!(code, 204);
    let fresh = next_session_update(&mut ws).await;
    assert!(fresh.get("stale").is_none(), "{fresh}");
    assert!(fresh["lastSeenAt"].as_str() > stale["lastSeenAt"].as_str());
    // a stopped session is never stale
    s.send("POST", "/api/sessions/agent/stop", None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped = s.get("/api/sessions/agent").await.1;
    assert_eq!(stopped["status"], "stopped");
    assert!(stopped.get("stale").is_none(), "{stopped}");
    // hostile: an unknown session, a body that is not empty
    assert_eq!(
        s.send("POST", "/api/sessions/nobody/heartbeat", None)
            .await
            .0,
        404
    );
    assert_eq!(
        s.post("/api/sessions/agent/heartbeat", serde_json::json!({"x": 1}))
            .await
            .0,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_heartbeats_a_second_cost_a_handful_of_writes() {
    let s = TestServer::start().await; // the default --stale-after (10 min)
    s.session("busy", &[]).await;
    let seq = |v: Value| v["seq"].as_u64().unwrap();
    let before = seq(s.get("/api/snapshot").await.1);
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (http, url) = (s.client.clone(), s.url("/api/sessions/busy/heartbeat"));
        workers.push(tokio::spawn(async move {
            for _ in 0..250 {
                let r = http.post(&url).send().await.unwrap();
                assert_eq!(r.status(), 204);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let took = t0.elapsed();
    let after = seq(s.get("/api/snapshot").await.1);
    eprintln!(
        "1,000 heartbeats in {took:?}: {} durable writes",
        after - before
    );
    assert!(after - before <= 2, "{} writes", after - before);
}

/// `tasksync hook claude` on a recorded payload, as Claude Code runs it.
fn hook(url: &str, name: &str) {
    let payload = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/claude/{name}.json")),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasksync"))
        .args(["hook", "claude"])
        .env("TASKSYNC_URL", url)
        .env("TASKSYNC_HOOK_LOG", "/dev/null")
        .env_remove("TASKSYNC_SESSION_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&payload).unwrap();
    assert!(child.wait().unwrap().success());
}

fn session_list(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tasksync"))
        .args(["session", "list"])
        .env("TASKSYNC_URL", url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_agent_killed_without_session_end_goes_stale_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = spawn_server_with(
        &dir.path().join("t.db"),
        "127.0.0.1:0",
        &["--stale-after", "1s"],
    );
    let sid = "0b3f4c2e-8a1d-4f6b-9c2e-5d7a1e9f3b21";
    hook(&url, "1-SessionStart");
    hook(&url, "2-UserPromptSubmit");
    let get = |_: &str| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_tasksync"))
            .args(["session", "show", sid, "--json"])
            .env("TASKSYNC_URL", &url)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert!(get(&format!("/api/sessions/{sid}")).get("stale").is_none());
    // the agent is gone: no more hook events
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(&format!("/api/sessions/{sid}"))["stale"] != true {
        assert!(Instant::now() < deadline, "stale within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let list = session_list(&url);
    assert!(list.contains("STALE"), "{list}");
    // it was only asleep: its next tool call makes it fresh
    hook(&url, "3-PreToolUse");
    assert!(get(&format!("/api/sessions/{sid}")).get("stale").is_none());
    assert!(!session_list(&url).contains("STALE"));
    server.kill().unwrap();
    server.wait().unwrap();
}
