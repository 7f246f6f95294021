//! Resume cost: with `tasks` tasks, a client that missed 10 events catches
//! up (a) by resuming from its seq and (b) by the seed's full refetch (hello
//! plus GET /api/snapshot). Bytes received and time, both measured here.

use crate::server::Server;
use anyhow::{Context, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

pub struct ResumeResult {
    pub tasks: usize,
    pub missed: usize,
    pub resume_bytes: usize,
    pub resume_ms: f64,
    pub snapshot_bytes: usize,
    pub snapshot_ms: f64,
}

pub async fn run(server: &Server, tasks: usize, missed: usize) -> Result<ResumeResult> {
    let base = format!("http://{}", server.addr);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http();
    let send = |method: &'static str, path: String, body: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let req = Request::builder()
                .method(method)
                .uri(url)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))?;
            let resp = client.request(req).await?;
            anyhow::Ok(resp.into_body().collect().await?.to_bytes())
        }
    };
    let mut pending = futures_util::stream::iter((0..tasks).map(|i| {
        send(
            "POST",
            "/api/tasks".into(),
            format!(r#"{{"id":"r{i}","title":"Task number {i} with a title of ordinary length"}}"#),
        )
    }))
    .buffer_unordered(64);
    while let Some(r) = pending.next().await {
        r?;
    }
    drop(pending);
    // The client is in sync at (epoch, seq), then misses `missed` events.
    let url = format!("ws://{}/ws", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
    let hello: serde_json::Value =
        serde_json::from_str(ws.next().await.context("hello")??.to_text()?)?;
    let (epoch, seq) = (
        hello["payload"]["epoch"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        hello["payload"]["seq"].as_u64().unwrap_or(0),
    );
    drop(ws);
    for i in 0..missed {
        send(
            "PATCH",
            format!("/api/tasks/r{i}"),
            r#"{"priority":"high"}"#.into(),
        )
        .await?;
    }

    // (a) resume from seq
    let t0 = Instant::now();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{url}?since={seq}&epoch={epoch}")).await?;
    let mut resume_bytes = 0;
    let mut events = 0;
    while events < missed {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await?
            .context("frame")??;
        if let Message::Text(t) = msg {
            resume_bytes += t.len();
            if t.contains("\"seq\":") && !t.starts_with("{\"type\":\"sync:") {
                events += 1;
            }
        }
    }
    let resume_ms = t0.elapsed().as_secs_f64() * 1000.0;
    drop(ws);

    // (b) full refetch: hello, then the snapshot
    let t0 = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
    let hello = ws.next().await.context("hello")??;
    let snapshot = send("GET", "/api/snapshot".into(), String::new()).await?;
    let snapshot_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let snapshot_bytes = hello.len() + snapshot.len();
    Ok(ResumeResult {
        tasks,
        missed,
        resume_bytes,
        resume_ms,
        snapshot_bytes,
        snapshot_ms,
    })
}
