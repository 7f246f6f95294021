//! `tasksync watch`: the live event stream as readable lines (or raw JSON
//! envelopes with `--json`). Resume, catch-up by history, backoff and the
//! dead-link watchdog are the SDK's sync engine (`tasksync_sdk::link`, the
//! same one the browser Store runs); this file only executes its actions
//! with tokio: sockets, HTTP requests, one timer, and printing.

use super::client::{CliError, Client, ClientArgs};
use clap::Args;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tasksync_sdk::frame::{Frame, parse_frame};
use tasksync_sdk::link::{Action, ConnId, ConnState, Input, Link, Millis, Options, ReqId, Resync};
use tasksync_sdk::{Envelope, Event};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Start from history: print retained events after this seq first.
    #[arg(long)]
    pub since: Option<u64>,
}

/// What the sockets and requests report back to the loop.
enum Net {
    Frame(ConnId, String),
    Closed(ConnId, u16),
    /// The handshake failed (unreachable, or refused with an HTTP status).
    Failed(ConnId, CliError),
    Answer(ReqId, u16, String),
}

fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

pub async fn run(args: WatchArgs) -> Result<(), CliError> {
    let c = Client::new(&args.client)?;
    if let Some(since) = args.since {
        // A clear error now, rather than a note later, if that history is gone.
        c.send(
            reqwest::Method::GET,
            &format!("/api/events?since={since}&limit=1"),
            None,
            None,
        )
        .await?;
    }
    let mut link = Link::new(Options {
        base_url: c.base().to_owned(),
        token: c.token().map(str::to_owned),
        auto_transition: false,
        resync: Resync::History,
        client_id: format!("watch-{}", std::process::id()),
        seed: now_ms() ^ u64::from(std::process::id()).rotate_left(32),
        since: args.since,
        project_id: None,
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sockets: HashMap<ConnId, tokio::task::AbortHandle> = HashMap::new();
    let mut live_once = false;
    link.handle(now_ms(), Input::Connect);
    loop {
        while let Some(action) = link.poll_action() {
            match action {
                Action::Open { conn, url } => {
                    let task = tokio::spawn(socket(conn, url, c.base().to_owned(), tx.clone()));
                    sockets.insert(conn, task.abort_handle());
                }
                Action::Close { conn, .. } => {
                    if let Some(task) = sockets.remove(&conn) {
                        task.abort();
                    }
                }
                Action::Request {
                    req,
                    url,
                    http,
                    headers,
                } => {
                    let (c, tx) = (c.clone(), tx.clone());
                    tokio::spawn(async move {
                        let (status, body) =
                            c.exchange(http.method, &url, &headers, http.body).await;
                        let _ = tx.send(Net::Answer(req, status, body));
                    });
                }
                Action::Event { text, .. } => print_event(&text, args.client.json),
                Action::State(ConnState::Live) => live_once = true,
                Action::State(ConnState::Reconnecting) => {
                    let wait = link.retry_at().unwrap_or(0).saturating_sub(now_ms());
                    eprintln!(
                        "tasksync watch: connection lost; reconnecting in {:.1}s",
                        wait as f64 / 1000.0
                    );
                }
                Action::Report(message) => eprintln!("tasksync watch: {message}"),
                _ => {}
            }
        }
        let timer = link
            .next_deadline()
            .map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(at.saturating_sub(now_ms()))
            });
        let net = tokio::select! {
            net = rx.recv() => net,
            () = tokio::time::sleep(timer) => None,
        };
        let now = now_ms();
        match net {
            None => link.handle(now, Input::Tick),
            Some(Net::Frame(conn, text)) => link.handle(now, Input::Frame { conn, text: &text }),
            Some(Net::Closed(conn, code)) => link.handle(now, Input::Closed { conn, code }),
            // The first connection failing is the command failing (exit 3,
            // or 1 when refused); later ones are a server restarting.
            Some(Net::Failed(_, e)) if !live_once => return Err(e),
            Some(Net::Failed(conn, _)) => link.handle(now, Input::Closed { conn, code: 1006 }),
            Some(Net::Answer(req, status, body)) => link.handle(
                now,
                Input::Answer {
                    req,
                    status,
                    body: &body,
                },
            ),
        }
        sockets.retain(|_, task| !task.is_finished());
    }
}

/// One WebSocket: its text frames, then how it closed.
async fn socket(conn: ConnId, url: String, base: String, tx: mpsc::UnboundedSender<Net>) {
    let mut ws = match tokio_tungstenite::connect_async(&url).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            let e = match e {
                tokio_tungstenite::tungstenite::Error::Http(resp) => {
                    let body = resp
                        .body()
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default();
                    super::client::refusal(resp.status(), &body)
                }
                other => CliError::Unreachable {
                    url: base,
                    reason: other.to_string(),
                },
            };
            let _ = tx.send(Net::Failed(conn, e));
            return;
        }
    };
    let mut code = 1006;
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(text)) => {
                if tx.send(Net::Frame(conn, text.as_str().to_owned())).is_err() {
                    return;
                }
            }
            Ok(Message::Close(frame)) => {
                code = frame.map_or(1005, |f| u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(Net::Closed(conn, code));
}

fn print_event(raw: &str, json_out: bool) {
    let line = if json_out {
        raw.to_owned()
    } else {
        match parse_frame(raw) {
            Ok(Frame::Event(Envelope { event, .. })) => describe(&event),
            _ => return,
        }
    };
    // A closed stdout (e.g. `| head`) ends the command.
    let mut out = std::io::stdout().lock();
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
