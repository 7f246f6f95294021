//! `tasksync mcp`: a Model Context Protocol server over stdio, so an agent
//! can read and change tasks with tools instead of shell commands. Built on
//! the official Rust SDK (`rmcp`); each tool is one or two REST calls to the
//! tasksync server (`TASKSYNC_URL`, `TASKSYNC_TOKEN`), and a refusal comes
//! back as a tool error carrying the server's message, never as a crash.
//! Logs go to stderr: stdout carries the protocol.

use super::client::{CliError, Client, ClientArgs, seg};
use clap::Args;
use reqwest::Method;
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tasksync_sdk::Task;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Clone)]
pub struct Tasksync {
    client: Client,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListTasks {
    /// Only tasks with this status: todo, inprogress, completed or cancelled.
    pub status: Option<String>,
    /// Only tasks of this project.
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskId {
    /// The task's id.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewTask {
    /// What is to be done.
    pub title: String,
    pub description: Option<String>,
    /// low, medium (default), high or urgent.
    pub priority: Option<String>,
    pub project_id: Option<String>,
    /// An id of your choosing (1–128 of A–Z a–z 0–9 . _ : -); else the server makes one.
    pub id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetTaskStatus {
    pub id: String,
    /// todo, inprogress, completed or cancelled (the allowed moves are the server's).
    pub status: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReportStatus {
    pub task_id: String,
    /// The reporting session (default: TASKSYNC_SESSION_ID).
    pub session_id: Option<String>,
    /// queued, working, needs_input, blocked, completed, failed or cancelled.
    pub status: String,
    /// What the person should know, e.g. "need an API key".
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueueTask {
    pub task_id: String,
    /// The session to queue it for (default: TASKSYNC_SESSION_ID).
    pub session_id: Option<String>,
}

type ToolResult = Result<String, String>;

fn shown(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn refused(e: CliError) -> String {
    match e {
        CliError::Refused { code, message, .. } => format!("{message} ({code})"),
        other => other.to_string(),
    }
}

fn session_or_env(given: Option<String>) -> Result<String, String> {
    given
        .or_else(|| std::env::var("TASKSYNC_SESSION_ID").ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "no session: pass session_id, or set TASKSYNC_SESSION_ID".to_owned())
}

#[tool_router]
impl Tasksync {
    pub fn new(client: Client) -> Self {
        Tasksync {
            client,
            tool_router: Self::tool_router(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> ToolResult {
        self.client
            .send(method, path, body, None)
            .await
            .map(|v| shown(&v))
            .map_err(refused)
    }

    #[tool(description = "List tasks, optionally only those with a status or in a project.")]
    async fn list_tasks(&self, Parameters(p): Parameters<ListTasks>) -> ToolResult {
        let path = match &p.project_id {
            Some(project) => format!("/api/tasks?projectId={}", seg(project)),
            None => "/api/tasks".to_owned(),
        };
        let tasks: Vec<Task> = self.client.get(&path).await.map_err(refused)?;
        let tasks: Vec<&Task> = tasks
            .iter()
            .filter(|t| p.status.as_deref().is_none_or(|s| t.status.as_str() == s))
            .collect();
        Ok(serde_json::to_string_pretty(&tasks).unwrap_or_default())
    }

    #[tool(description = "Get one task by id, with its sessions' progress and notes.")]
    async fn get_task(&self, Parameters(p): Parameters<TaskId>) -> ToolResult {
        self.call(Method::GET, &format!("/api/tasks/{}", seg(&p.id)), None)
            .await
    }

    #[tool(description = "Create a task.")]
    async fn create_task(&self, Parameters(p): Parameters<NewTask>) -> ToolResult {
        let mut body = json!({"title": p.title});
        for (key, value) in [
            ("description", p.description),
            ("priority", p.priority),
            ("projectId", p.project_id),
            ("id", p.id),
        ] {
            if let Some(v) = value {
                body[key] = Value::String(v);
            }
        }
        self.call(Method::POST, "/api/tasks", Some(body)).await
    }

    #[tool(description = "Set a task's status (todo, inprogress, completed, cancelled).")]
    async fn set_task_status(&self, Parameters(p): Parameters<SetTaskStatus>) -> ToolResult {
        self.call(
            Method::PATCH,
            &format!("/api/tasks/{}", seg(&p.id)),
            Some(json!({"status": p.status})),
        )
        .await
    }

    #[tool(
        description = "Report a session's status on a task (working, needs_input, blocked, completed, failed, …) with optional notes for the person."
    )]
    async fn report_session_status(&self, Parameters(p): Parameters<ReportStatus>) -> ToolResult {
        let session = session_or_env(p.session_id)?;
        let mut body = json!({"status": p.status});
        if let Some(n) = p.notes {
            body["notes"] = Value::String(n);
        }
        let path = format!(
            "/api/tasks/{}/sessions/{}/status",
            seg(&p.task_id),
            seg(&session)
        );
        let task = self
            .client
            .send(Method::PUT, &path, Some(body), None)
            .await
            .map_err(refused)?;
        // the one automatic transition, as `task update` makes it
        super::task::after_report(&self.client, task)
            .await
            .map(|t| shown(&t))
            .map_err(refused)
    }

    #[tool(description = "Queue a task for a session (its progress there starts as queued).")]
    async fn queue_task(&self, Parameters(p): Parameters<QueueTask>) -> ToolResult {
        let session = session_or_env(p.session_id)?;
        self.call(
            Method::POST,
            &format!("/api/tasks/{}/queue", seg(&p.task_id)),
            Some(json!({"sessionId": session})),
        )
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tasksync {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tasksync", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tasks and agent sessions of a tasksync server: list and read tasks, create them, \
                 set their status, report your session's status on a task with notes, queue tasks.",
            )
    }
}

/// Serves MCP on stdin/stdout until the client goes away.
pub fn run(args: McpArgs) -> i32 {
    let client = match Client::new(&args.client) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        match Tasksync::new(client).serve(rmcp::transport::stdio()).await {
            Ok(service) => {
                let _ = service.waiting().await;
                0
            }
            Err(e) => {
                eprintln!("error: MCP session could not start: {e}");
                1
            }
        }
    })
}
