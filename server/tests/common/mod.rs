//! Test harness: the real server on 127.0.0.1:0 with a temporary database,
//! an HTTP client, a raw-socket client for malformed requests, and a
//! WebSocket client.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tasksync::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub db: PathBuf,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// Creates an empty database on the PostgreSQL server at `base` and returns
/// its URL. (The sync client runs on a blocking thread: it has its own runtime.)
async fn fresh_pg_database(base: String) -> String {
    tokio::task::spawn_blocking(move || {
        let name = format!("t{}", uuid::Uuid::new_v4().simple());
        let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
            .expect("TASKSYNC_TEST_PG: PostgreSQL answers");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("a test database");
        format!("{base}/{name}")
    })
    .await
    .unwrap()
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server on a fresh temporary database, with `tweak` applied to its
    /// config: SQLite in a temporary directory, or, when `TASKSYNC_TEST_PG`
    /// names a PostgreSQL server (`postgres://user@host:port`, as
    /// `scripts/test.sh` sets it), a new database on it.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = match std::env::var("TASKSYNC_TEST_PG") {
            Ok(base) => PathBuf::from(fresh_pg_database(base).await),
            Err(_) => dir.path().join("test.db"),
        };
        let mut s = Self::start_on(&db, None, tweak).await;
        s._dir = Some(dir);
        s
    }

    /// A server on `db`, optionally on a given address (to restart in place).
    pub async fn start_on(
        db: &Path,
        addr: Option<SocketAddr>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::new(db);
        tweak(&mut config);
        let listener = TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            tasksync::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let server = TestServer {
            addr,
            base: format!("http://{addr}"),
            db: db.to_owned(),
            client,
            stop: Some(stop),
            handle: Some(handle),
            _dir: None,
        };
        // The listener is bound already; wait until the database is open.
        for _ in 0..200 {
            if server
                .client
                .get(server.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server did not come up");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully and waits for it; keeps the temp dir.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(12), h)
                .await
                .expect("server stops in time")
                .unwrap();
        }
    }

    /// Takes the temp dir so the database outlives this server.
    pub fn keep_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("PUT", path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("PATCH", path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, None).await
    }

    /// Creates a task with the given id; panics unless 201.
    pub async fn task(&self, id: &str) -> Value {
        let (s, v) = self
            .post(
                "/api/tasks",
                serde_json::json!({"id": id, "title": format!("Task {id}")}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }
    /// Creates a session with the given id; panics unless 201.
    pub async fn session(&self, id: &str, tasks: &[&str]) -> Value {
        let (s, v) = self
            .post(
                "/api/sessions",
                serde_json::json!({"id": id, "taskIds": tasks}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }

    /// Sends raw bytes on a new connection and returns (status, body) of the answer.
    pub async fn raw(&self, request: &[u8]) -> (u16, String) {
        raw(self.addr, request).await
    }

    pub async fn ws(&self, query: &str) -> Ws {
        Ws::connect(&format!("ws://{}/ws{query}", self.addr)).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends raw bytes and reads the response until the server closes
/// (requests should say `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    raw_inner(addr, request, false).await
}

/// Like `raw`, then closes the write side at once (a client that gives up mid-request).
pub async fn raw_half_closed(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    raw_inner(addr, request, true).await
}

async fn raw_inner(addr: SocketAddr, request: &[u8], half_close: bool) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    if half_close {
        let _ = s.shutdown().await;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub struct Ws {
    pub inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a WebSocket read produced.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed(Option<u16>),
}

impl Ws {
    pub async fn connect(url: &str) -> Ws {
        let (inner, _) = connect_async(url).await.unwrap();
        Ws { inner }
    }

    /// The next text frame as JSON, skipping `sync:ping`; or how the socket closed.
    pub async fn next_frame(&mut self) -> Frame {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.inner.next())
                .await
                .expect("a frame within 10 s");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "sync:ping" {
                        return Frame::Json(v);
                    }
                }
                Some(Ok(Message::Close(c))) => return Frame::Closed(c.map(|c| u16::from(c.code))),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Frame::Closed(None),
            }
        }
    }

    /// The next JSON frame; panics on close.
    pub async fn next(&mut self) -> Value {
        match self.next_frame().await {
            Frame::Json(v) => v,
            Frame::Closed(c) => panic!("socket closed ({c:?}) while a frame was expected"),
        }
    }

    /// The next `n` events (frames with a seq).
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let v = self.next().await;
            if v.get("seq").is_some() {
                out.push(v);
            }
        }
        out
    }

    pub async fn send_text(&mut self, text: &str) {
        self.inner.send(Message::text(text)).await.unwrap();
    }

    /// Waits for the close code (skipping other frames).
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Frame::Closed(c) = self.next_frame().await {
                return c;
            }
        }
    }
}

/// The real `tasksync serve` binary as a child process on `addr` (use
/// `127.0.0.1:0` the first time, then the printed address to restart in place).
/// Returns the child and its base URL.
pub fn spawn_server(db: &Path, addr: &str) -> (std::process::Child, String) {
    spawn_server_with(db, addr, &[])
}

/// `spawn_server` with extra `serve` arguments.
pub fn spawn_server_with(db: &Path, addr: &str, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tasksync"))
        .args(["serve", "--addr", addr, "--db"])
        .arg(db)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}
