//! The WebSocket event stream at `/ws` (docs/architecture.md): `sync:hello` first,
//! then, with a resume, the retained events after `since`, then live events,
//! each connection in seq order with no gap and no duplicate — or closed
//! (4008 for a slow consumer) so the client resumes. Heartbeats both ways.

use super::body::{Resp, query_param, query_u64};
use super::error::ApiError;
use super::heartbeat::{Due, Heartbeat};
use crate::app::App;
use crate::stream::log::{Batch, LoggedEvent, Subscription};
use crate::stream::scope::{Delivery, exit_frame};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tasksync_sdk::wire::{self, Hello};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// Largest frame or message a client may send.
pub const MAX_CLIENT_FRAME: usize = 64 << 10;

/// How long a resume from a seq this node has not reached yet waits for it
/// before the client is told `resumed: false` (and loads a snapshot).
const RESUME_WAIT: Duration = Duration::from_secs(1);

/// Close code for a client that fell too far behind.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;

/// How long a closing connection may take to get its close frame out; a
/// slow consumer must still learn why it was closed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of frames gathered before they are written to the socket.
const WRITE_BUFFER: usize = 4 << 10;

/// Most events written before one flush.
const WRITE_BATCH: usize = 256;

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

fn socket_config() -> WebSocketConfig {
    // Small buffers: an idle connection should cost a few KB, not 128 KiB.
    // Clients send little (pongs, rare pings), so 1 KiB reads are plenty.
    // Frames fed before a flush gather in up to 4 KiB, so a batch of events
    // goes out in a few sends rather than one per event (0 would mean one
    // send per frame: the whole cost of a fan-out, measured).
    WebSocketConfig::default()
        .read_buffer_size(1 << 10)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(MAX_CLIENT_FRAME))
        .max_frame_size(Some(MAX_CLIENT_FRAME))
}

fn header_has(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Validates the upgrade, subscribes at once (so nothing committed after
/// this point is missed), answers 101 and starts the connection task.
pub fn upgrade(app: &Arc<App>, mut req: Request<Incoming>) -> Result<Resp, ApiError> {
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec());
    let is_upgrade = header_has(&req, header::CONNECTION, "upgrade")
        && header_has(&req, header::UPGRADE, "websocket");
    let (Some(key), true) = (key, is_upgrade) else {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "`/ws` takes a WebSocket upgrade request",
        ));
    };
    if req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(ApiError::bad_request(
            "only WebSocket version 13 is supported",
        ));
    }
    let query = req.uri().query();
    let since = query_u64(query, "since")?;
    let epoch = query_param(query, "epoch");
    let project: Option<Arc<str>> = match query_param(query, "projectId") {
        None => None,
        Some(p)
            if (1..=128).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) =>
        {
            Some(p.into())
        }
        Some(_) => {
            return Err(ApiError::validation(
                "projectId",
                "`projectId` must be 1–128 characters of A–Z a–z 0–9 . _ : -",
            ));
        }
    };
    if app.live_sockets.load(Ordering::Relaxed) >= app.config.max_connections {
        return Err(ApiError::unavailable(
            "too many connections; try again later",
        ));
    }
    let resume_from = since.filter(|_| epoch.as_deref() == Some(app.epoch.as_str()));
    let sub = app.log.subscribe(resume_from);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let conn_app = app.clone();
    app.live_sockets.fetch_add(1, Ordering::Relaxed);
    app.sockets.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(socket_config()),
                )
                .await;
                let sub = match resume_from {
                    // A seq this node has not reached: another node gave it
                    // (nodes on one PostgreSQL database). Wait for it briefly.
                    Some(since) if since > sub.head => {
                        conn_app.log.reach(since, RESUME_WAIT).await;
                        conn_app.log.subscribe(resume_from)
                    }
                    _ => sub,
                };
                serve(&conn_app, ws, sub, resume_from, project).await;
            }
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
        }
        conn_app.live_sockets.fetch_sub(1, Ordering::Relaxed);
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&derive_accept_key(&key)).expect("accept key is ascii"),
    );
    Ok(resp)
}

/// What a connection sends for an event: the event itself, or for a
/// connection scoped to a project, only its project's events, a removal for
/// a task that left it, nothing for the rest (`None`), or `Err` when the
/// event's project is not known.
fn frame(e: LoggedEvent, project: Option<&str>) -> Option<Result<Message, ()>> {
    let Some(want) = project else {
        return Some(Ok(Message::Text(e.json)));
    };
    match e.scope.for_project(want) {
        Delivery::Send => Some(Ok(Message::Text(e.json))),
        Delivery::Exit => e
            .task
            .as_deref()
            .map(|t| Ok(Message::text(exit_frame(t, e.seq)))),
        Delivery::Skip => None,
        Delivery::Unknown => Some(Err(())),
    }
}

/// Why a connection ends, and the close frame it gets.
fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }
}

/// Runs one connection until it closes.
async fn serve(
    app: &App,
    mut ws: Socket,
    sub: Subscription,
    resume_from: Option<u64>,
    project: Option<Arc<str>>,
) {
    let Subscription {
        mut live,
        head,
        backlog,
    } = sub;
    // A scoped resume needs every event's project: one read back at start
    // has none, so such a client resyncs instead.
    let backlog = backlog.filter(|b| {
        project.is_none()
            || b.iter()
                .all(|e| e.scope != crate::stream::scope::Scope::Unknown)
    });
    let resumed = backlog.is_some();
    let hello = Hello {
        epoch: app.epoch.clone(),
        seq: head,
        resumed,
    }
    .to_frame();
    // Everything up to `sent` has been written; live events at or below it are skipped.
    let mut sent = resume_from.filter(|_| resumed).unwrap_or(head);
    let send_timeout = app.config.send_timeout;
    let first = async {
        ws.feed(Message::text(hello)).await?;
        for e in backlog.unwrap_or_default() {
            sent = e.seq;
            if let Some(Ok(m)) = frame(e, project.as_deref()) {
                ws.feed(m).await?;
            }
        }
        ws.flush().await
    };
    if !matches!(timeout(send_timeout, first).await, Ok(Ok(()))) {
        return;
    }
    let mut stop = app.stop.clone();
    let mut beat = Heartbeat::new(
        Instant::now(),
        app.config.ping_interval,
        app.config.idle_timeout,
    );
    let close = loop {
        let deadline = beat.deadline();
        tokio::select! {
            _ = stop.changed() => break Some(close_frame(1001, "server shutting down")),
            received = live.recv() => {
                let (batch, mut flow) = collect_ready(received, &mut live, &mut sent);
                if app.log.behind(sent) {
                    flow = Flow::Lost;
                }
                let mut unknown = false;
                let written = async {
                    for e in batch {
                        match frame(e, project.as_deref()) {
                            Some(Ok(m)) => ws.feed(m).await?,
                            Some(Err(())) => unknown = true,
                            None => {}
                        }
                    }
                    ws.flush().await
                };
                match timeout(send_timeout, written).await {
                    Ok(Ok(())) => beat.sent(Instant::now()),
                    Ok(Err(_)) => break None,
                    Err(_) => break Some(close_frame(CLOSE_SLOW_CONSUMER, "slow consumer")),
                }
                if unknown {
                    // (after a node reloaded everything: this client resyncs)
                    flow = Flow::Lost;
                }
                match flow {
                    Flow::More => {}
                    // Fell behind (or, defensively, saw a gap): close, never skip silently.
                    Flow::Lost => break Some(close_frame(CLOSE_SLOW_CONSUMER, "slow consumer")),
                    Flow::Closed => break Some(close_frame(1001, "server shutting down")),
                }
            }
            incoming = ws.next() => {
                beat.heard(Instant::now());
                match incoming {
                    None => break None,
                    Some(Ok(Message::Text(text))) => match client_message_type(&text) {
                        Some(t) if t == "sync:ping" => {
                            let pong = Message::text(wire::pong_frame());
                            if timeout(send_timeout, ws.send(pong)).await.map_or(true, |r| r.is_err()) { break None }
                            beat.sent(Instant::now());
                        }
                        Some(_) => {}
                        None => break Some(close_frame(1008, "malformed message: expected a JSON object with a string `type`")),
                    },
                    Some(Ok(Message::Binary(_))) => break Some(close_frame(1003, "binary frames are not supported")),
                    Some(Ok(Message::Ping(_))) => {
                        // tungstenite queued the pong; send it now.
                        if timeout(send_timeout, ws.flush()).await.map_or(true, |r| r.is_err()) { break None }
                    }
                    Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(_))) => {
                        // tungstenite answers the close; drain until the stream ends.
                        let _ = timeout(Duration::from_secs(1), async { while ws.next().await.is_some() {} }).await;
                        break None;
                    }
                    Some(Err(WsError::Capacity(_))) => break Some(close_frame(1009, "frames are limited to 64 KiB")),
                    Some(Err(WsError::Utf8(_))) => break Some(close_frame(1007, "text frames must be valid UTF-8")),
                    Some(Err(WsError::Protocol(_))) => break Some(close_frame(1002, "WebSocket protocol error")),
                    Some(Err(_)) => break None,
                }
            }
            _ = sleep_until(deadline) => {
                let now = Instant::now();
                match beat.due(now) {
                    Due::Close => break Some(close_frame(1001, "idle timeout")),
                    Due::Nothing => continue,
                    Due::Ping => {}
                }
                let ping = async {
                    ws.feed(Message::text(wire::ping_frame())).await?;
                    ws.feed(Message::Ping(Bytes::new())).await?;
                    ws.flush().await
                };
                if timeout(send_timeout, ping).await.map_or(true, |r| r.is_err()) { break None }
                beat.sent(now);
            }
        }
    };
    if let Some(frame) = close {
        tracing::debug!(code = u16::from(frame.code), reason = %frame.reason, "closing WebSocket");
        let _ = timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
    }
}

enum Flow {
    More,
    Lost,
    Closed,
}

/// The events to write now: those of `first` and of whatever batches are
/// already waiting (up to `WRITE_BATCH` events, or one batch if larger),
/// skipping any at or below `sent` and advancing it. `Flow::Lost` when the
/// subscriber lagged or the next event is not `sent + 1`.
fn collect_ready(
    first: Result<Batch, RecvError>,
    live: &mut broadcast::Receiver<Batch>,
    sent: &mut u64,
) -> (Vec<LoggedEvent>, Flow) {
    let mut out = Vec::new();
    let mut item = first;
    loop {
        match item {
            Ok(batch) => {
                for e in batch.iter() {
                    if e.seq > *sent + 1 {
                        return (out, Flow::Lost);
                    }
                    if e.seq == *sent + 1 {
                        *sent = e.seq;
                        out.push(e.clone());
                    }
                }
            }
            Err(RecvError::Lagged(_)) => return (out, Flow::Lost),
            Err(RecvError::Closed) => return (out, Flow::Closed),
        }
        if out.len() >= WRITE_BATCH {
            return (out, Flow::More);
        }
        item = match live.try_recv() {
            Ok(b) => Ok(b),
            Err(TryRecvError::Empty) => return (out, Flow::More),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
    }
}

/// The `type` of a client message, or `None` if it is not a JSON object with a string `type`.
fn client_message_type(text: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(text).ok()? {
        serde_json::Value::Object(mut m) => match m.remove("type")? {
            serde_json::Value::String(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}
