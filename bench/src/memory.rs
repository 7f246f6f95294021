//! Memory per idle WebSocket: the server's RSS before and after opening
//! `n` connections that each received their `sync:hello` and then sit idle.

use crate::server::Server;
use anyhow::{Context, Result};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub struct MemoryResult {
    pub connections: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub bytes_per_connection: f64,
}

pub async fn run(server: &Server, n: usize) -> Result<MemoryResult> {
    let url = format!("ws://{}/ws", server.addr);
    // Warm up: the first connections allocate runtime structures that are not per-connection.
    let mut warm = Vec::new();
    for _ in 0..50 {
        warm.push(connect(&url).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib()?;
    let mut conns = Vec::with_capacity(n);
    let mut pending =
        futures_util::stream::iter((0..n).map(|_| connect(&url))).buffer_unordered(128);
    while let Some(c) = pending.next().await {
        conns.push(c.context("opening a WebSocket")?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib()?;
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    drop(conns);
    drop(warm);
    Ok(MemoryResult {
        connections: n,
        rss_before_kib: before,
        rss_after_kib: after,
        bytes_per_connection: per,
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Result<Socket> {
    // Small client buffers so 10,000 clients fit comfortably in this process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
    let hello = ws.next().await.context("hello")??;
    anyhow::ensure!(hello.to_text()?.contains("sync:hello"));
    Ok(ws)
}
