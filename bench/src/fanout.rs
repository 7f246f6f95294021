//! Fan-out: `subscribers` WebSocket clients and one writer at rising rates.
//! Each write renames one task to `f<i>`; every subscriber notes when it sees
//! `f<i>`. Latency of write i = from sending it until the *last* subscriber
//! has it. Deliveries/s = events delivered to all subscribers per second.
//! With several nodes, the subscribers are spread over them and the writes
//! go to each node in turn.

use crate::server::{Server, cpu_of, cpu_seconds};
use anyhow::{Context, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub struct RateResult {
    pub rate: u32,
    pub writes: usize,
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub complete: f64,
    pub server_cpu: f64,
    pub client_cpu: f64,
}

/// Receive times per write index, per subscriber.
type Seen = Arc<Mutex<Vec<Vec<Option<Instant>>>>>;

pub async fn run(
    servers: &[Server],
    subscribers: usize,
    rates: &[u32],
    seconds: u64,
) -> Result<Vec<RateResult>> {
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}", s.addr))
        .collect();
    let base = &bases[0];
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build_http();
    let post = Request::post(format!("{base}/api/tasks"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"id":"fan","title":"f"}"#,
        )))?;
    client.request(post).await?.into_body().collect().await?;

    // Write indices run on across all rates.
    let max_writes: usize = rates
        .iter()
        .map(|r| *r as usize * seconds as usize)
        .sum::<usize>()
        + 16;
    let seen: Seen = Arc::new(Mutex::new(vec![vec![None; max_writes]; subscribers]));
    let mut readers = Vec::new();
    let config = WebSocketConfig::default().read_buffer_size(16 << 10);
    for s in 0..subscribers {
        let url = format!("ws://{}/ws", servers[s % servers.len()].addr);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
            .await
            .context("subscriber")?;
        let seen = seen.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    // Find `"title":"f<i>"` without parsing the JSON (cheap for 1,000 readers).
                    if let Some(pos) = t.find("\"title\":\"f") {
                        let digits: String = t[pos + 10..]
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .collect();
                        if let Ok(i) = digits.parse::<usize>() {
                            let mut seen = seen.lock().unwrap();
                            if let Some(slot) = seen[s].get_mut(i) {
                                *slot = Some(Instant::now());
                            }
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut results = Vec::new();
    let mut next_index = 1usize;
    for &rate in rates {
        let n = rate as usize * seconds as usize;
        let first = next_index;
        let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; max_writes]));
        let server_cpu0 = cpu_of(servers)?;
        let client_cpu0 = cpu_seconds("/proc/self/stat")?;
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let inflight = Arc::new(tokio::sync::Semaphore::new(128));
        let mut handles = Vec::with_capacity(n);
        for k in 0..n {
            tick.tick().await;
            let i = first + k;
            let permit = inflight.clone().acquire_owned().await?;
            let (client, base, sent) =
                (client.clone(), bases[k % bases.len()].clone(), sent.clone());
            handles.push(tokio::spawn(async move {
                let body = format!(r#"{{"title":"f{i}"}}"#);
                let req = Request::patch(format!("{base}/api/tasks/fan"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)));
                sent.lock().unwrap()[i] = Some(Instant::now());
                if let Ok(req) = req
                    && let Ok(resp) = client.request(req).await
                {
                    let _ = resp.into_body().collect().await;
                }
                drop(permit);
            }));
        }
        for h in handles {
            h.await?;
        }
        // Give the last deliveries a moment, then read the clocks.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let elapsed = start.elapsed().as_secs_f64() - 1.0;
        let server_cpu = (cpu_of(servers)? - server_cpu0) / (elapsed + 1.0);
        let client_cpu = (cpu_seconds("/proc/self/stat")? - client_cpu0) / (elapsed + 1.0);
        let seen = seen.lock().unwrap();
        let sent = sent.lock().unwrap();
        let mut latencies = Vec::with_capacity(n);
        let mut delivered = 0usize;
        for i in first..first + n {
            let Some(t0) = sent[i] else { continue };
            let mut last = None::<Instant>;
            let mut all = true;
            for sub in seen.iter() {
                match sub[i] {
                    Some(t) => {
                        delivered += 1;
                        last = Some(last.map_or(t, |l| l.max(t)));
                    }
                    None => all = false,
                }
            }
            if all && let Some(l) = last {
                latencies.push(l.saturating_duration_since(t0).as_secs_f64() * 1000.0);
            }
        }
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        results.push(RateResult {
            rate,
            writes: n,
            deliveries_per_s: delivered as f64 / elapsed,
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            complete: latencies.len() as f64 / n as f64,
            server_cpu,
            client_cpu,
        });
        next_index += n;
    }
    for r in readers {
        r.abort();
    }
    Ok(results)
}
