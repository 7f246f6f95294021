//! Durability with the real binary: cycles of SIGKILL mid-load and restart on
//! the same file; every acknowledged write (and its event) is there, with the
//! same epoch and seq continuing. Also graceful shutdown in-process.

mod common;

use common::{TestServer, spawn_server_with};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn get(client: &reqwest::Client, url: String) -> Value {
    for _ in 0..100 {
        if let Ok(r) = client.get(&url).send().await {
            return r.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no answer from {url}");
}

/// Cycles of SIGKILL under load: `TASKSYNC_CRASH_CYCLES` (default 3; 20 for the full run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_cycles() {
    let cycles: usize = std::env::var("TASKSYNC_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let retain = ["--retain", "10000000"];
    let (mut child, url) = spawn_server_with(&db, "127.0.0.1:0", &retain);
    let epoch = get(&client, format!("{url}/api/snapshot")).await["epoch"].clone();
    // One task and session per writer, for status updates.
    const WRITERS: usize = 32;
    for w in 0..WRITERS {
        let r = client
            .post(format!("{url}/api/tasks"))
            .json(&json!({"id": format!("w{w}"), "title": "durable"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = client
            .post(format!("{url}/api/sessions"))
            .json(&json!({"id": format!("s{w}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let mut url = url;
    let mut all_acked = BTreeSet::new();
    // The newest version each writer's task was acknowledged at.
    let mut acked_version = vec![0u64; WRITERS];
    for cycle in 0..cycles {
        // Kill after a different number of acknowledged writes each time.
        let kill_after = 100
            + (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as usize
                % 700);
        let acked = Arc::new(Mutex::new((BTreeSet::new(), vec![0u64; WRITERS], 0usize)));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
            writers.push(tokio::spawn(async move {
                for j in 0.. {
                    let result = if j % 2 == 0 {
                        let id = format!("c{cycle}-w{w}-{j}");
                        client
                            .post(format!("{url}/api/tasks"))
                            .json(&json!({"id": id, "title": "durable"}))
                            .send()
                            .await
                            .map(|r| (r, Some(id)))
                    } else {
                        let status = if j % 4 == 1 { "working" } else { "blocked" };
                        let body =
                            json!({"status": status, "notes": format!("cycle {cycle} step {j}")});
                        client
                            .put(format!("{url}/api/tasks/w{w}/sessions/s{w}/status"))
                            .json(&body)
                            .send()
                            .await
                            .map(|r| (r, None))
                    };
                    match result {
                        Ok((r, id)) if r.status().is_success() => {
                            let v: Value = r.json().await.unwrap_or_default();
                            let mut a = acked.lock().unwrap();
                            match id {
                                Some(id) => {
                                    a.0.insert(id);
                                }
                                None => a.1[w] = a.1[w].max(v["version"].as_u64().unwrap()),
                            }
                            a.2 += 1;
                        }
                        Ok((r, _)) => panic!("unexpected status {}", r.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            }));
        }
        while acked.lock().unwrap().2 < kill_after {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for w in writers {
            w.await.unwrap();
        }
        let (ids, versions, n) = acked.lock().unwrap().clone();
        all_acked.extend(ids);
        for w in 0..WRITERS {
            acked_version[w] = acked_version[w].max(versions[w]);
        }

        // Restart on the same file and port.
        let addr = url.trim_start_matches("http://").to_owned();
        let (c, u) = spawn_server_with(&db, &addr, &retain);
        (child, url) = (c, u);
        let snap = get(&client, format!("{url}/api/snapshot")).await;
        assert_eq!(
            snap["epoch"], epoch,
            "cycle {cycle}: same database, same epoch"
        );
        let tasks: Vec<Value> = snap["tasks"].as_array().unwrap().clone();
        let present: BTreeSet<String> = tasks
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        let missing: Vec<_> = all_acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "cycle {cycle}: {} acknowledged creates lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(3)]
        );
        for (w, &version) in acked_version.iter().enumerate() {
            let t = tasks.iter().find(|t| t["id"] == format!("w{w}")).unwrap();
            assert!(
                t["version"].as_u64().unwrap() >= version,
                "cycle {cycle}: w{w} went back before an acknowledged update"
            );
        }
        // Every event since the start is there, seq 1..=head with no gap.
        let head = snap["seq"].as_u64().unwrap();
        let mut seqs = Vec::new();
        let mut since = 0;
        while since < head {
            let page = get(
                &client,
                format!("{url}/api/events?since={since}&limit=10000"),
            )
            .await;
            let events = page["events"].as_array().unwrap();
            assert!(
                !events.is_empty(),
                "cycle {cycle}: events after {since} missing"
            );
            seqs.extend(events.iter().map(|e| e["seq"].as_u64().unwrap()));
            since = *seqs.last().unwrap();
        }
        assert_eq!(
            seqs,
            (1..=head).collect::<Vec<_>>(),
            "cycle {cycle}: gapless seq"
        );
        eprintln!("cycle {cycle}: killed after {n} acknowledged writes; all present; head {head}");
    }
    // The sequence continues after the last restart.
    let head = get(&client, format!("{url}/api/snapshot")).await["seq"]
        .as_u64()
        .unwrap();
    let r = client
        .post(format!("{url}/api/tasks"))
        .json(&json!({"title": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        get(&client, format!("{url}/api/snapshot")).await["seq"].as_u64(),
        Some(head + 1)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_sockets_with_1001_and_keeps_every_write() {
    let mut s = TestServer::start().await;
    let dir = s.keep_dir();
    let db = s.db.clone();
    let mut ws = s.ws("").await;
    let epoch = ws.next().await["payload"]["epoch"].clone();
    let (client, base) = (s.client.clone(), s.base.clone());
    let writer = tokio::spawn(async move {
        let mut acked = Vec::new();
        for j in 0..100_000 {
            match client
                .post(format!("{base}/api/tasks"))
                .json(&json!({"id": format!("g{j}"), "title": "g"}))
                .send()
                .await
            {
                Ok(r) if r.status() == 201 => acked.push(format!("g{j}")),
                Ok(r) => {
                    assert_eq!(r.status(), 503, "only 'shutting down' is acceptable");
                    break;
                }
                Err(_) => break,
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    s.stop().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(ws.closed().await, Some(1001));
    let acked = writer.await.unwrap();
    assert!(!acked.is_empty());

    let s = TestServer::start_on(&db, None, |_| {}).await;
    let snap = s.get("/api/snapshot").await.1;
    assert_eq!(snap["epoch"], epoch);
    let ids: BTreeSet<&str> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(acked.iter().all(|a| ids.contains(a.as_str())));
    assert_eq!(snap["seq"].as_u64(), Some(ids.len() as u64));
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_gets_a_new_epoch() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    let ea = a.get("/api/snapshot").await.1["epoch"].clone();
    let eb = b.get("/api/snapshot").await.1["epoch"].clone();
    assert!(ea.is_string() && ea != eb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    let (mut child, url) = spawn_server_with(&db, "127.0.0.1:0", &[]);
    let mut ws = common::Ws::connect(&format!("{}/ws", url.replacen("http", "ws", 1))).await;
    ws.next().await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{url}/api/tasks"))
        .json(&json!({"id": "kept", "title": "before SIGTERM"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let started = std::time::Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert_eq!(
        ws.closed().await,
        Some(1001),
        "open sockets are told the server is going away"
    );
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exited within 10 s"
    );
    let (mut child, url) = spawn_server_with(&db, "127.0.0.1:0", &[]);
    assert_eq!(
        get(&client, format!("{url}/api/tasks/kept")).await["title"],
        "before SIGTERM"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
