//! `tasksync hook claude|codex`: agents report by themselves. Claude Code
//! runs `tasksync hook claude` on its hook events with the event's JSON on
//! stdin; Codex runs `tasksync hook codex '<json>'` as its `notify` program.
//!
//! What an event means (`Report`) is decided by plain functions from the
//! payload alone; `apply` then brings the server in line (the session made
//! and activated if needed, the status set on each of its open tasks). A hook
//! must never hold an agent up: whatever happens it exits 0 within 2 s,
//! prints nothing, and writes failures to its log file.

use super::client::{Client, ClientArgs, body, seg};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;
use tasksync_sdk::{Session, SessionStatus, Task};

/// The whole hook, reading included, ends within this.
const DEADLINE: Duration = Duration::from_millis(1800);
/// A task made from a prompt is titled with at most this many characters.
const TITLE_MAX: usize = 100;
/// Notes are shortened to this many characters.
const NOTES_MAX: usize = 280;
/// Largest hook payload read.
const INPUT_MAX: u64 = 1 << 20;

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub agent: Agent,
    /// Where failures are written (default: $TASKSYNC_HOOK_LOG, else
    /// $XDG_STATE_HOME/tasksync/hooks.log, else ~/.local/state/tasksync/hooks.log).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Subcommand)]
pub enum Agent {
    /// Claude Code command hook: the event's JSON on stdin.
    Claude,
    /// Codex `notify` program: the event's JSON as the last argument.
    Codex {
        /// The notification JSON Codex passes.
        #[arg(value_name = "JSON")]
        payload: Option<String>,
    },
}

/// What one agent event asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub session: String,
    /// The folder the agent works in (the session's name when it is made).
    pub cwd: Option<String>,
    /// What the person asked (a prompt): the title of the task made for a
    /// session that has none open.
    pub prompt: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The agent session began: the session is made active.
    Start,
    /// The agent's status on its open tasks.
    Status {
        status: SessionStatus,
        notes: Option<String>,
    },
    /// The agent is running (a tool call): a heartbeat; and a session
    /// waiting on a permission prompt that then uses a tool was answered,
    /// so it is working again.
    Running,
    /// The agent session ended: the session is stopped.
    End,
    /// An event this hook does not report.
    Ignored,
}

#[derive(Debug, Deserialize)]
struct ClaudeEvent {
    session_id: Option<String>,
    cwd: Option<String>,
    hook_event_name: String,
    message: Option<String>,
    prompt: Option<String>,
}

/// The report for a Claude Code hook payload. `session` overrides the
/// agent's own session id (`TASKSYNC_SESSION_ID`).
pub fn claude(payload: &str, session: Option<&str>) -> Result<Report, String> {
    let e: ClaudeEvent =
        serde_json::from_str(payload).map_err(|e| format!("malformed hook JSON: {e}"))?;
    let kind = match e.hook_event_name.as_str() {
        "SessionStart" => Kind::Start,
        "UserPromptSubmit" => Kind::Status {
            status: SessionStatus::Working,
            notes: None,
        },
        "Notification" => Kind::Status {
            status: SessionStatus::NeedsInput,
            notes: Some(shorten(
                e.message.as_deref().unwrap_or("needs your attention"),
            )),
        },
        "Stop" => Kind::Status {
            status: SessionStatus::NeedsInput,
            notes: Some("waiting for you".to_owned()),
        },
        "PreToolUse" | "PostToolUse" => Kind::Running,
        "SessionEnd" => Kind::End,
        _ => Kind::Ignored,
    };
    let session = session
        .map(str::to_owned)
        .or(e.session_id)
        .filter(|s| !s.is_empty())
        .ok_or("no session: the payload has no session_id and TASKSYNC_SESSION_ID is not set")?;
    Ok(Report {
        session,
        cwd: e.cwd,
        prompt: e
            .prompt
            .map(|p| shorten_to(&p, TITLE_MAX))
            .filter(|p| !p.is_empty()),
        kind,
    })
}

#[derive(Debug, Deserialize)]
struct CodexEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "thread-id")]
    thread_id: Option<String>,
    cwd: Option<String>,
    #[serde(rename = "last-assistant-message")]
    last_message: Option<String>,
}

/// The report for a Codex `notify` payload.
pub fn codex(payload: &str, session: Option<&str>) -> Result<Report, String> {
    let e: CodexEvent =
        serde_json::from_str(payload).map_err(|e| format!("malformed notify JSON: {e}"))?;
    let kind = match e.kind.as_str() {
        "agent-turn-complete" => Kind::Status {
            status: SessionStatus::NeedsInput,
            notes: Some(shorten(
                e.last_message.as_deref().unwrap_or("waiting for you"),
            )),
        },
        _ => Kind::Ignored,
    };
    let session = session
        .map(str::to_owned)
        .or(e.thread_id)
        .filter(|s| !s.is_empty())
        .ok_or("no session: the payload has no thread-id and TASKSYNC_SESSION_ID is not set")?;
    Ok(Report {
        session,
        cwd: e.cwd,
        prompt: None,
        kind,
    })
}

/// One line, at most `NOTES_MAX` characters (an ellipsis marks a cut).
pub fn shorten(text: &str) -> String {
    shorten_to(text, NOTES_MAX)
}

fn shorten_to(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Runs the hook; always returns exit code 0.
pub fn run(args: HookArgs) -> i32 {
    let log = args.log.clone().or_else(default_log);
    let (agent, outcome) = match &args.agent {
        Agent::Claude => ("claude", read_stdin().and_then(|p| report(&args, &p))),
        Agent::Codex { payload } => (
            "codex",
            payload
                .clone()
                .ok_or_else(|| "no notify JSON argument".to_owned())
                .and_then(|p| report(&args, &p)),
        ),
    };
    let result = outcome.and_then(|r| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = Client::new_with_timeout(&args.client, Duration::from_millis(1500))
                .map_err(|e| e.to_string())?;
            match tokio::time::timeout(DEADLINE, apply(&client, &r)).await {
                Ok(r) => r,
                Err(_) => Err("the server did not answer in time".to_owned()),
            }
        })
    });
    if let Err(e) = result {
        write_log(log, agent, &e);
    }
    0
}

fn report(args: &HookArgs, payload: &str) -> Result<Report, String> {
    let session = std::env::var("TASKSYNC_SESSION_ID").ok();
    let session = session.as_deref().filter(|s| !s.is_empty());
    match args.agent {
        Agent::Claude => claude(payload, session),
        Agent::Codex { .. } => codex(payload, session),
    }
}

/// Stdin, read on its own thread so a hook never waits for an input that
/// does not end.
fn read_stdin() -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let r = std::io::stdin()
            .take(INPUT_MAX)
            .read_to_string(&mut text)
            .map(|_| text);
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_millis(500)) {
        Ok(Ok(text)) if text.trim().is_empty() => Err("empty input".to_owned()),
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(format!("cannot read the hook input: {e}")),
        Err(_) => Err("the hook input did not end".to_owned()),
    }
}

fn default_log() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TASKSYNC_HOOK_LOG").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("tasksync/hooks.log"))
}

/// For arguments that do not parse: a hook still exits 0, and says why in
/// the log at its default place.
pub fn bad_arguments(message: &str) -> i32 {
    let first = message.lines().next().unwrap_or(message);
    write_log(default_log(), "arguments", first);
    0
}

fn write_log(path: Option<PathBuf>, agent: &str, message: &str) {
    let Some(path) = path else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ = writeln!(f, "{now} hook {agent}: {message}");
    }
}

/// Brings the server in line with `report`.
pub async fn apply(client: &Client, report: &Report) -> Result<(), String> {
    let sid = &report.session;
    match &report.kind {
        Kind::Ignored => Ok(()),
        Kind::Start => active_session(client, report).await.map(drop),
        Kind::End => {
            let session = active_session(client, report).await?;
            if session.status.as_str() == "active" {
                post(client, &format!("/api/sessions/{}/stop", seg(sid)), None).await?;
            }
            Ok(())
        }
        Kind::Status { status, notes } => {
            let session = active_session(client, report).await?;
            let mut tasks = open_tasks(client, &session).await?;
            if tasks.is_empty()
                && let Some(title) = &report.prompt
            {
                tasks.push(task_for(client, sid, title).await?);
            }
            for task in tasks {
                set_status(client, &task, sid, *status, notes.as_deref()).await?;
            }
            Ok(())
        }
        Kind::Running => {
            let session = active_session(client, report).await?;
            for task in open_tasks(client, &session).await? {
                if progress_of(&task, sid) == Some(SessionStatus::NeedsInput) {
                    set_status(client, &task, sid, SessionStatus::Working, None).await?;
                }
            }
            Ok(())
        }
    }
}

async fn post(client: &Client, path: &str, body: Option<Value>) -> Result<Value, String> {
    client
        .send(Method::POST, path, body, None)
        .await
        .map_err(|e| e.to_string())
}

/// The session, made (named after the agent's folder) if the server does
/// not know it, and moved to `active` if it is not.
async fn active_session(client: &Client, report: &Report) -> Result<Session, String> {
    let sid = &report.session;
    let path = format!("/api/sessions/{}", seg(sid));
    let mut session: Session = match client.get(&path).await {
        Ok(s) => s,
        Err(super::client::CliError::Refused { status: 404, .. }) => {
            let name = report
                .cwd
                .as_deref()
                .and_then(|c| std::path::Path::new(c).file_name())
                .map(|n| n.to_string_lossy().into_owned());
            let mut new = json!({"id": sid, "spawnSource": "session"});
            if let Some(name) = name {
                new["name"] = Value::String(name);
            }
            let v = post(client, "/api/sessions", Some(new)).await?;
            serde_json::from_value(v).map_err(|e| e.to_string())?
        }
        Err(e) => return Err(e.to_string()),
    };
    let step = |s: &Session| match s.status.as_str() {
        "spawning" => Some("activate"),
        "stopped" | "failed" => Some("restart"),
        _ => None,
    };
    while let Some(verb) = step(&session) {
        let v = post(client, &format!("{path}/{verb}"), None).await?;
        session = serde_json::from_value(v).map_err(|e| e.to_string())?;
    }
    // Every hook event is a sign of life (kept in the server's memory).
    post(client, &format!("{path}/heartbeat"), None).await?;
    Ok(session)
}

/// The tasks this session reports on: `TASKSYNC_TASK_ID` if set, else every
/// task it is on that it has not finished (completed or cancelled there).
async fn open_tasks(client: &Client, session: &Session) -> Result<Vec<Task>, String> {
    let ids: Vec<String> = match std::env::var("TASKSYNC_TASK_ID") {
        Ok(id) if !id.is_empty() => vec![id],
        _ => session.task_ids.clone(),
    };
    let mut tasks = Vec::new();
    for id in ids {
        let task: Task = client
            .get(&format!("/api/tasks/{}", seg(&id)))
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(
            progress_of(&task, &session.id),
            Some(SessionStatus::Completed | SessionStatus::Cancelled)
        ) {
            tasks.push(task);
        }
    }
    Ok(tasks)
}

fn progress_of(task: &Task, sid: &str) -> Option<SessionStatus> {
    task.session_progress
        .iter()
        .find(|p| p.session_id == sid)
        .map(|p| p.status)
}

/// A new task for a session that has none open, titled with the prompt,
/// queued for the session: so an agent nobody gave a task still shows on
/// the board with what it was asked.
async fn task_for(client: &Client, sid: &str, title: &str) -> Result<Task, String> {
    let task: Task =
        serde_json::from_value(post(client, "/api/tasks", Some(json!({"title": title}))).await?)
            .map_err(|e| e.to_string())?;
    let queued = post(
        client,
        &format!("/api/tasks/{}/queue", seg(&task.id)),
        Some(json!({"sessionId": sid})),
    )
    .await?;
    serde_json::from_value(queued).map_err(|e| e.to_string())
}

/// Sets the session's status on the task, through `working` first where the
/// rules need it (from `queued`, or from no entry, to a waiting status).
async fn set_status(
    client: &Client,
    task: &Task,
    sid: &str,
    status: SessionStatus,
    notes: Option<&str>,
) -> Result<(), String> {
    let path = format!("/api/tasks/{}/sessions/{}/status", seg(&task.id), seg(sid));
    let current = progress_of(task, sid);
    let waiting = matches!(
        status,
        SessionStatus::NeedsInput | SessionStatus::Blocked | SessionStatus::Completed
    );
    if waiting && matches!(current, None | Some(SessionStatus::Queued)) {
        let b = body(&json!({"status": "working"}));
        client
            .send(Method::PUT, &path, b, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut b = json!({"status": status.as_str()});
    if let Some(n) = notes {
        b["notes"] = Value::String(n.to_owned());
    }
    let task = client
        .send(Method::PUT, &path, Some(b), None)
        .await
        .map_err(|e| e.to_string())?;
    super::task::after_report(client, task)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_events_map_to_reports() {
        let k = |json: &str| claude(json, None).unwrap().kind;
        assert_eq!(
            k(r#"{"session_id":"s1","hook_event_name":"SessionStart","source":"startup"}"#),
            Kind::Start
        );
        assert_eq!(
            k(r#"{"session_id":"s1","hook_event_name":"UserPromptSubmit","prompt":"go"}"#),
            Kind::Status {
                status: SessionStatus::Working,
                notes: None
            }
        );
        assert_eq!(
            k(
                r#"{"session_id":"s1","hook_event_name":"Notification","message":"Claude needs your permission to use Bash","notification_type":"permission_prompt"}"#
            ),
            Kind::Status {
                status: SessionStatus::NeedsInput,
                notes: Some("Claude needs your permission to use Bash".into())
            }
        );
        assert_eq!(
            k(r#"{"session_id":"s1","hook_event_name":"Stop","stop_hook_active":false}"#),
            Kind::Status {
                status: SessionStatus::NeedsInput,
                notes: Some("waiting for you".into())
            }
        );
        assert_eq!(
            k(r#"{"session_id":"s1","hook_event_name":"PostToolUse"}"#),
            Kind::Running
        );
        assert_eq!(
            k(r#"{"session_id":"s1","hook_event_name":"SessionEnd","reason":"exit"}"#),
            Kind::End
        );
        assert_eq!(
            k(r#"{"session_id":"s1","hook_event_name":"PreCompact"}"#),
            Kind::Ignored
        );
    }

    #[test]
    fn the_session_comes_from_the_environment_first() {
        let r = claude(
            r#"{"session_id":"agent","hook_event_name":"Stop","cwd":"/w/app"}"#,
            Some("mine"),
        )
        .unwrap();
        assert_eq!(
            (r.session.as_str(), r.cwd.as_deref()),
            ("mine", Some("/w/app"))
        );
        assert!(claude(r#"{"hook_event_name":"Stop"}"#, None).is_err());
    }

    #[test]
    fn bad_payloads_are_errors_not_panics() {
        for bad in ["", "{", "[]", "null", r#"{"session_id":"s"}"#, "\u{0}"] {
            assert!(claude(bad, None).is_err(), "{bad:?}");
            assert!(codex(bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codex_turn_complete_is_needs_input_with_the_last_message_shortened() {
        let long = "word ".repeat(200);
        let r = codex(
            &json!({"type": "agent-turn-complete", "thread-id": "t-1", "cwd": "/w",
                "last-assistant-message": format!("Done.\n\n{long}")})
            .to_string(),
            None,
        )
        .unwrap();
        let Kind::Status { status, notes } = r.kind else {
            panic!()
        };
        let notes = notes.unwrap();
        assert_eq!(status, SessionStatus::NeedsInput);
        assert!(notes.starts_with("Done. word word"), "{notes}");
        assert_eq!(notes.chars().count(), NOTES_MAX);
        assert!(notes.ends_with('…') && !notes.contains('\n'));
        assert_eq!(r.session, "t-1");
        assert_eq!(
            codex(r#"{"type":"other","thread-id":"t"}"#, None)
                .unwrap()
                .kind,
            Kind::Ignored
        );
    }
}
