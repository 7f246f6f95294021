//! The CLI's HTTP client (reqwest) and its error type, which decides the
//! exit code: 1 the server refused, 2 usage, 3 the server is unreachable.

use clap::Args;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tasksync_sdk::wire::ErrorBody;

/// Options every client command takes.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Server URL.
    #[arg(
        long,
        global = true,
        env = "TASKSYNC_URL",
        default_value = "http://127.0.0.1:7878"
    )]
    pub server: String,
    /// Bearer token, if the server requires one.
    #[arg(long, global = true, env = "TASKSYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Why a command failed, and so its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the tasksync server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Refused { .. } => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable { .. } => 3,
        }
    }
}

/// A connection to one server.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(args: &ClientArgs) -> Result<Client, CliError> {
        Self::new_with_timeout(args, std::time::Duration::from_secs(30))
    }

    /// A client whose every request gives up after `timeout`.
    pub fn new_with_timeout(
        args: &ClientArgs,
        timeout: std::time::Duration,
    ) -> Result<Client, CliError> {
        let base = args.server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::Usage(format!(
                "--server must be an http:// or https:// URL, not `{base}`"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .build()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(Client {
            base,
            token: args.token.clone().filter(|t| !t.is_empty()),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// One request; the parsed body on 2xx (`Value::Null` when empty).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<u64>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(v) = if_match {
            req = req.header(reqwest::header::IF_MATCH, format!("\"{v}\""));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: root_cause(&e),
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: root_cause(&e),
        })?;
        if status.is_success() {
            return Ok(if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            });
        }
        Err(refusal(status, &text))
    }

    /// A request as the sync engine asks for it: status and body, status 0
    /// when no answer came.
    pub async fn exchange(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> (u16, String) {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return (0, String::new());
        };
        let mut req = self.http.request(method, url);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.text().await {
                    Ok(text) => (status, text),
                    Err(_) => (0, String::new()),
                }
            }
            Err(_) => (0, String::new()),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let v = self.send(Method::GET, path, None, None).await?;
        serde_json::from_value(v).map_err(bad_response)
    }
}

/// A 2xx answer that is not what the API documents.
pub fn bad_response(e: serde_json::Error) -> CliError {
    CliError::Refused {
        status: 200,
        code: "bad_response".into(),
        message: format!("unexpected answer from the server: {e}"),
    }
}

pub fn refusal(status: StatusCode, text: &str) -> CliError {
    let e = ErrorBody::parse(status.as_u16(), text);
    CliError::Refused {
        status: status.as_u16(),
        code: e.code,
        message: e.message,
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A request body from one of the wire types.
pub fn body(value: &impl serde::Serialize) -> Option<Value> {
    Some(serde_json::to_value(value).expect("wire bodies serialize"))
}

/// A path segment with anything outside the id alphabet percent-encoded.
pub fn seg(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
