//! `tasksync watch`: the live event stream as readable lines (or raw JSON
//! envelopes with `--json`). After a dropped connection it reconnects with
//! backoff and resumes from its last seq, so nothing is missed or printed twice.

use super::client::{CliError, Client, ClientArgs};
use clap::Args;
use futures_util::StreamExt;
use std::io::Write;
use std::time::Duration;
use tasksync_sdk::frame::{Frame, parse_frame};
use tasksync_sdk::{Envelope, Event};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Start from history: print retained events after this seq first.
    #[arg(long)]
    pub since: Option<u64>,
}

/// Where the stream stands: the epoch and the last seq printed.
struct Position {
    epoch: Option<String>,
    last: Option<u64>,
}

pub async fn run(args: WatchArgs) -> Result<(), CliError> {
    let c = Client::new(&args.client)?;
    let json_out = args.client.json;
    let mut pos = Position {
        epoch: None,
        last: args.since,
    };
    if let Some(since) = args.since {
        // The epoch this history belongs to (and a clear error if it is gone).
        let page = c
            .send(
                reqwest::Method::GET,
                &format!("/api/events?since={since}&limit=1"),
                None,
                None,
            )
            .await?;
        pos.epoch = page["epoch"].as_str().map(str::to_owned);
    }
    let mut attempt: u32 = 0;
    let mut connected_once = false;
    loop {
        match stream_once(&c, &mut pos, json_out).await {
            Ok(()) => {
                connected_once = true;
                attempt = 0;
            }
            Err(e) if !connected_once => return Err(e),
            Err(_) => {}
        }
        let cap = (500.0 * 2f64.powi(attempt.min(6) as i32)).min(30_000.0);
        let delay = Duration::from_millis((rand_unit() * cap) as u64);
        attempt += 1;
        eprintln!(
            "tasksync watch: connection lost; reconnecting in {:.1}s",
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
    }
}

/// A number in [0, 1) that differs between calls (full jitter needs no crypto).
fn rand_unit() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(n % 1_000_000) / 1_000_000.0
}

/// One connection: hello, catch-up, then live events until it drops.
/// `Ok` once the connection was established (it always ends eventually).
async fn stream_once(c: &Client, pos: &mut Position, json_out: bool) -> Result<(), CliError> {
    let ws_base = c.base().replacen("http", "ws", 1);
    let mut query = Vec::new();
    if let (Some(epoch), Some(last)) = (&pos.epoch, pos.last) {
        query.push(format!("since={last}&epoch={epoch}"));
    }
    if let Some(t) = c.token() {
        query.push(format!("token={}", super::client::seg(t)));
    }
    let url = if query.is_empty() {
        format!("{ws_base}/ws")
    } else {
        format!("{ws_base}/ws?{}", query.join("&"))
    };
    // A handshake that hangs (a server killed mid-handshake) must not stall watch.
    let connecting = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(&url),
    )
    .await
    .map_err(|_| CliError::Unreachable {
        url: c.base().to_owned(),
        reason: "the WebSocket handshake timed out".into(),
    })?;
    let (mut ws, _) = connecting.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            super::client::refusal(resp.status(), &body)
        }
        other => CliError::Unreachable {
            url: c.base().to_owned(),
            reason: other.to_string(),
        },
    })?;
    let mut out = std::io::stdout().lock();
    while let Some(msg) = ws.next().await {
        let Ok(Message::Text(text)) = msg else {
            if matches!(msg, Ok(Message::Ping(_) | Message::Pong(_))) {
                continue;
            }
            break;
        };
        match parse_frame(&text) {
            Ok(Frame::Hello(h)) => {
                let same_epoch = pos.epoch.as_deref() == Some(h.epoch.as_str());
                if !h.resumed {
                    match (pos.last, same_epoch) {
                        (Some(_), false) if pos.epoch.is_some() => {
                            eprintln!(
                                "tasksync watch: the server has a new database; printing its events from the start"
                            );
                            pos.last = Some(0);
                            pos.epoch = Some(h.epoch.clone());
                            catch_up(c, pos, h.seq, json_out, &mut out).await?;
                        }
                        (Some(last), _) if last < h.seq => {
                            eprintln!(
                                "tasksync watch: events {}..={} are no longer retained; continuing from {}",
                                last + 1,
                                h.seq,
                                h.seq
                            );
                        }
                        _ => {}
                    }
                    if pos.last.is_none_or(|l| l < h.seq) {
                        pos.last = Some(h.seq);
                    }
                }
                pos.epoch = Some(h.epoch);
            }
            Ok(Frame::Event(env)) => {
                if pos.last.is_some_and(|l| env.seq <= l) {
                    continue;
                }
                pos.last = Some(env.seq);
                print_event(&env, &text, json_out, &mut out);
            }
            Ok(_) => {}
            Err(e) => eprintln!("tasksync watch: skipped a message: {e}"),
        }
    }
    Ok(())
}

/// Prints retained events from `pos.last` up to `until` (after a new epoch).
async fn catch_up(
    c: &Client,
    pos: &mut Position,
    until: u64,
    json_out: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    while pos.last.unwrap_or(0) < until {
        let since = pos.last.unwrap_or(0);
        let page = c
            .send(
                reqwest::Method::GET,
                &format!("/api/events?since={since}&limit=1000"),
                None,
                None,
            )
            .await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if events.is_empty() {
            break;
        }
        for e in events {
            let text = e.to_string();
            if let Ok(Frame::Event(env)) = parse_frame(&text)
                && env.seq <= until
            {
                pos.last = Some(env.seq);
                print_event(&env, &text, json_out, out);
            }
        }
    }
    Ok(())
}

fn print_event(env: &Envelope, raw: &str, json_out: bool, out: &mut impl Write) {
    let line = if json_out {
        raw.to_owned()
    } else {
        describe(&env.event)
    };
    // A closed stdout (e.g. `| head`) ends the command.
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// `12:03:04 task-1 session-a blocked — Need API key`
pub fn describe(event: &Event) -> String {
    let at = |ts: &str| {
        chrono::DateTime::parse_from_rfc3339(ts)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|_| chrono::Local::now().format("%H:%M:%S").to_string())
    };
    let now = || chrono::Local::now().format("%H:%M:%S").to_string();
    let dash = |s: &Option<String>| s.as_deref().map(|n| format!(" — {n}")).unwrap_or_default();
    match event {
        Event::TaskSessionStatus(p) => format!(
            "{} {} {} {}{}",
            at(&p.last_updated),
            p.task_id,
            p.session_id,
            p.status,
            dash(&p.notes)
        ),
        Event::TaskCreated { task } => format!(
            "{} {} created: {}",
            at(&task.updated_at),
            task.id,
            task.title
        ),
        Event::TaskUpdated { task } => format!(
            "{} {} {}: {}",
            at(&task.updated_at),
            task.id,
            task.status,
            task.title
        ),
        Event::TaskDeleted { task_id } => format!("{} {task_id} deleted", now()),
        Event::SessionSpawn { session } => {
            format!("{} {} spawning", at(&session.updated_at), session.id)
        }
        Event::SessionActive { session, .. } | Event::SessionStopped { session, .. } => {
            format!(
                "{} {} {}",
                at(&session.updated_at),
                session.id,
                session.status
            )
        }
        Event::SessionFailed { session, error, .. } => format!(
            "{} {} failed{}",
            at(&session.updated_at),
            session.id,
            dash(error)
        ),
        Event::SessionUpdated { session } => {
            format!(
                "{} {} tasks: {}",
                at(&session.updated_at),
                session.id,
                session.task_ids.join(", ")
            )
        }
        Event::SessionDeleted { session_id } => format!("{} {session_id} deleted", now()),
    }
}
