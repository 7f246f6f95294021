//! Durability with the real binary: SIGKILL mid-load, restart on the same
//! file, and every acknowledged write (and its event) is there, with the
//! same epoch and seq continuing. Also graceful shutdown in-process.

mod common;

use common::{TestServer, spawn_server};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (mut child, url) = spawn_server(&db, "127.0.0.1:0");
    let before = get(&client, format!("{url}/api/snapshot")).await;
    let epoch = before["epoch"].clone();

    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut writers = Vec::new();
    for w in 0..32 {
        let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for j in 0.. {
                let id = format!("w{w}-{j}");
                match client
                    .post(format!("{url}/api/tasks"))
                    .json(&json!({"id": id, "title": "durable"}))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 201 => {
                        acked.lock().unwrap().insert(id);
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Kill once a good number of writes are acknowledged (not at a fixed time).
    while acked.lock().unwrap().len() < 500 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let (mut child, url) = spawn_server(&db, "127.0.0.1:0");
    let snap = get(&client, format!("{url}/api/snapshot")).await;
    assert_eq!(snap["epoch"], epoch, "same database, same epoch");
    let present: BTreeSet<String> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = acked.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let head = snap["seq"].as_u64().unwrap();
    assert_eq!(
        head as usize,
        present.len(),
        "one event per created task, no gaps"
    );
    // every acknowledged write's event is retained and seqs are 1..=head
    let mut seqs = Vec::new();
    let mut created = BTreeSet::new();
    let mut since = 0;
    loop {
        let page = get(
            &client,
            format!("{url}/api/events?since={since}&limit=10000"),
        )
        .await;
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for e in events {
            seqs.push(e["seq"].as_u64().unwrap());
            created.insert(e["payload"]["task"]["id"].as_str().unwrap().to_owned());
        }
        since = *seqs.last().unwrap();
    }
    assert_eq!(seqs, (1..=head).collect::<Vec<_>>());
    assert!(acked.is_subset(&created));
    // and the sequence continues
    let r: Value = client
        .post(format!("{url}/api/tasks"))
        .json(&json!({"title": "after"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["version"], 1);
    let next = get(&client, format!("{url}/api/snapshot")).await;
    assert_eq!(next["seq"].as_u64(), Some(head + 1));
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "acknowledged {} writes before SIGKILL; {} present after restart",
        acked.len(),
        present.len()
    );
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
