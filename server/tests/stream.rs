//! The event stream: ordering under concurrent writers, resume and its
//! fallbacks, snapshot plus buffered events, slow consumers, heartbeats.

mod common;

use common::{TestServer, Ws};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Applies events to a (tasks, sessions) map as a client would.
fn apply(tasks: &mut BTreeMap<String, Value>, sessions: &mut BTreeMap<String, Value>, e: &Value) {
    let p = &e["payload"];
    match e["type"].as_str().unwrap() {
        "task:created" | "task:updated" => {
            tasks.insert(p["task"]["id"].as_str().unwrap().into(), p["task"].clone());
        }
        "task:deleted" => {
            tasks.remove(p["taskId"].as_str().unwrap());
        }
        "task:session_status" => {
            let t = tasks.get_mut(p["taskId"].as_str().unwrap()).unwrap();
            let sid = &p["sessionId"];
            let progress = t["sessionProgress"].as_array_mut().unwrap();
            let mut entry =
                json!({"sessionId": sid, "status": p["status"], "lastUpdated": p["lastUpdated"]});
            if let Some(n) = p.get("notes") {
                entry["notes"] = n.clone();
            }
            match progress.iter_mut().find(|x| &x["sessionId"] == sid) {
                Some(x) => *x = entry,
                None => progress.push(entry),
            }
            if !t["sessionIds"].as_array().unwrap().contains(sid) {
                t["sessionIds"].as_array_mut().unwrap().push(sid.clone());
            }
            t["version"] = p["version"].clone();
            t["updatedAt"] = p["lastUpdated"].clone();
        }
        "session:spawn" | "session:active" | "session:stopped" | "session:failed"
        | "session:updated" => {
            sessions.insert(
                p["session"]["id"].as_str().unwrap().into(),
                p["session"].clone(),
            );
        }
        "session:deleted" => {
            sessions.remove(p["sessionId"].as_str().unwrap());
        }
        other => panic!("unexpected event type {other}"),
    }
}

fn by_id(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_every_subscriber_sees_one_gapless_order() {
    let s = TestServer::start().await;
    for i in 0..8 {
        s.task(&format!("t{i}")).await;
        s.session(&format!("s{i}"), &[&format!("t{i}")]).await;
    }
    let head = s.get("/api/snapshot").await.1["seq"].as_u64().unwrap();
    let mut subs = Vec::new();
    for _ in 0..4 {
        let mut ws = s.ws("").await;
        assert_eq!(ws.next().await["payload"]["seq"], head);
        subs.push(ws);
    }
    // 16 writers, 25 writes each, all kinds of commands
    let mut writers = Vec::new();
    for w in 0..16 {
        let s2 = (s.client.clone(), s.base.clone());
        writers.push(tokio::spawn(async move {
            let (client, base) = s2;
            let mut ok = 0;
            for j in 0..25 {
                let i = (w + j) % 8;
                let req = match j % 4 {
                    0 => client
                        .post(format!("{base}/api/tasks"))
                        .json(&json!({"title": format!("w{w}-{j}")})),
                    1 => client
                        .put(format!("{base}/api/tasks/t{i}/sessions/s{i}/status"))
                        .json(&json!({"status": "working", "notes": format!("{w}-{j}")})),
                    2 => client
                        .patch(format!("{base}/api/tasks/t{i}"))
                        .json(&json!({"title": format!("renamed {w}-{j}")})),
                    _ => client
                        .post(format!("{base}/api/sessions"))
                        .json(&json!({"name": format!("n{w}{j}")})),
                };
                let st = req.send().await.unwrap().status();
                assert!(st.is_success(), "{st}");
                ok += 1;
            }
            ok
        }));
    }
    let mut total = 0;
    for w in writers {
        total += w.await.unwrap();
    }
    assert_eq!(total, 400);
    let snap = s.get("/api/snapshot").await.1;
    let end = snap["seq"].as_u64().unwrap();
    assert!(end >= head + 400, "every write made at least one event");
    for ws in &mut subs {
        let events = ws.events((end - head) as usize).await;
        let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs,
            (head + 1..=end).collect::<Vec<_>>(),
            "seq head+1..end with no gap or duplicate"
        );
    }
    // replaying the whole history from zero gives the snapshot's state
    let mut tasks = BTreeMap::new();
    let mut sessions = BTreeMap::new();
    let history = s.get("/api/events?since=0&limit=10000").await.1;
    for e in history["events"].as_array().unwrap() {
        apply(&mut tasks, &mut sessions, e);
    }
    assert_eq!(tasks, by_id(&snap["tasks"]));
    assert_eq!(sessions, by_id(&snap["sessions"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_replays_what_was_missed_then_goes_live() {
    let s = TestServer::start().await;
    s.task("a").await;
    let mut ws = s.ws("").await;
    let hello = ws.next().await;
    let epoch = hello["payload"]["epoch"].as_str().unwrap().to_owned();
    s.task("b").await;
    let last = ws.events(1).await[0]["seq"].as_u64().unwrap();
    drop(ws); // the link drops
    s.task("c").await;
    s.patch("/api/tasks/a", json!({"status": "inprogress"}))
        .await;
    let mut ws = s.ws(&format!("?since={last}&epoch={epoch}")).await;
    let hello = ws.next().await;
    assert_eq!(
        hello["payload"],
        json!({"epoch": epoch, "seq": 4, "resumed": true})
    );
    let replay = ws.events(2).await;
    assert_eq!(
        (replay[0]["seq"].as_u64(), replay[0]["type"].as_str()),
        (Some(3), Some("task:created"))
    );
    assert_eq!(
        (replay[1]["seq"].as_u64(), replay[1]["type"].as_str()),
        (Some(4), Some("task:updated"))
    );
    s.task("d").await;
    assert_eq!(ws.events(1).await[0]["seq"], 5, "then live, no duplicate");
    // resuming at the head replays nothing
    let mut ws = s.ws(&format!("?since=5&epoch={epoch}")).await;
    assert_eq!(ws.next().await["payload"]["resumed"], true);
    s.task("e").await;
    assert_eq!(ws.events(1).await[0]["seq"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_is_refused_for_another_epoch_or_lost_history() {
    let s = TestServer::start_with(|c| c.retain = 3).await;
    let epoch = s.get("/api/snapshot").await.1["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..6 {
        s.task(&format!("t{i}")).await;
    }
    for query in [
        "?since=2&epoch=some-other-epoch".to_owned(),
        format!("?since=1&epoch={epoch}"), // older than retained (4..6)
        format!("?since=99&epoch={epoch}"), // from the future
        "?since=5".to_owned(),             // no epoch
    ] {
        let mut ws = s.ws(&query).await;
        let hello = ws.next().await;
        assert_eq!(hello["payload"]["resumed"], false, "{query}");
        assert_eq!(hello["payload"]["seq"], 6);
    }
    let mut ws = s.ws(&format!("?since=3&epoch={epoch}")).await;
    assert_eq!(
        ws.next().await["payload"]["resumed"],
        true,
        "exactly the oldest retained boundary"
    );
    assert_eq!(
        ws.events(3)
            .await
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [4, 5, 6]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_plus_buffered_live_events_equals_the_state() {
    let s = TestServer::start().await;
    for i in 0..5 {
        s.task(&format!("t{i}")).await;
    }
    // a writer keeps going while a client does the resync dance
    let (client, base) = (s.client.clone(), s.base.clone());
    let writer = tokio::spawn(async move {
        for j in 0..150 {
            let i = j % 5;
            let _ = client
                .patch(format!("{base}/api/tasks/t{i}"))
                .json(&json!({"title": format!("v{j}")}))
                .send()
                .await;
        }
    });
    let mut ws = s.ws("?since=0&epoch=stale").await;
    assert_eq!(ws.next().await["payload"]["resumed"], false);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let snap = s.get("/api/snapshot").await.1;
    writer.await.unwrap();
    let final_snap = s.get("/api/snapshot").await.1;
    let snap_seq = snap["seq"].as_u64().unwrap();
    let end = final_snap["seq"].as_u64().unwrap();
    let mut tasks = by_id(&snap["tasks"]);
    let mut sessions = by_id(&snap["sessions"]);
    let mut applied = 0;
    let mut last = 0;
    while last < end {
        let e = ws.events(1).await.remove(0);
        last = e["seq"].as_u64().unwrap();
        if last > snap_seq {
            apply(&mut tasks, &mut sessions, &e);
            applied += 1;
        }
    }
    assert_eq!(tasks, by_id(&final_snap["tasks"]));
    assert_eq!(sessions, by_id(&final_snap["sessions"]));
    assert_eq!(applied, end - snap_seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_with_4008_and_others_are_unaffected() {
    let s = TestServer::start_with(|c| {
        c.lag_limit = 16;
        c.send_timeout = Duration::from_millis(500);
    })
    .await;
    s.task("t").await;
    // The slow consumer, with a tiny receive buffer, connects and stops reading.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(s.addr).await.unwrap();
    let slow = tokio_tungstenite::client_async(
        format!("ws://{}/ws", s.addr),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap()
    .0;
    let mut fast = s.ws("").await;
    fast.next().await;
    let big = "x".repeat(9000);
    let mut n = 0;
    for i in 0..400 {
        let (st, _) = s
            .patch("/api/tasks/t", json!({"description": format!("{big}{i}")}))
            .await;
        assert_eq!(st, 200);
        n += 1;
        // keep the fast reader current so only the slow one lags
        let e = fast.events(1).await;
        assert_eq!(e[0]["seq"], 1 + n);
    }
    // The slow one gets its 4008 once it finally reads.
    let mut slow = Ws { inner: slow };
    let mut seen = 0u64;
    let code = loop {
        match slow.next_frame().await {
            common::Frame::Json(v) => {
                if let Some(q) = v["seq"].as_u64() {
                    assert_eq!(q, seen + 2, "events before the close are still gapless");
                    seen = q - 1;
                }
            }
            common::Frame::Closed(c) => break c,
        }
    };
    assert_eq!(code, Some(4008));
    assert!(seen < n, "it was cut off before the end");
    assert_eq!(s.get("/healthz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_and_idle_timeout() {
    let s = TestServer::start_with(|c| {
        c.ping_interval = Duration::from_millis(200);
        c.idle_timeout = Duration::from_millis(1500);
    })
    .await;
    // A client that answers WebSocket pings (tungstenite does) stays connected.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", s.addr))
        .await
        .unwrap();
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if m.to_text().is_ok_and(|t| t.contains("\"sync:ping\"")) {
            pings += 1;
        }
        assert!(!m.is_close(), "a responsive client is not closed");
    }
    assert!(
        pings >= 3,
        "sync:ping every interval of silence (saw {pings})"
    );
    // A client that sends nothing at all (raw TCP after the handshake) is closed.
    let mut silent = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    silent
        .write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match silent.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert_eq!(
        closed,
        Ok(true),
        "the silent client is disconnected after the idle timeout"
    );
}
