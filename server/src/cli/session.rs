//! `tasksync session …`: spawn, list, show, and the lifecycle actions.

use super::client::{CliError, Client, ClientArgs, bad_response, body, seg};
use super::output::{self, paint};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use tasksync_sdk::wire::{EmptyBody, FailBody, NewSession};
use tasksync_sdk::{Session, SpawnSource};

#[derive(Debug, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub verb: SessionVerb,
}

#[derive(Debug, Subcommand)]
pub enum SessionVerb {
    /// Register a new session (status spawning), optionally queueing tasks for it.
    Spawn {
        #[arg(long)]
        name: Option<String>,
        /// Use this id instead of a generated one.
        #[arg(long)]
        id: Option<String>,
        /// Queue this task for the session (repeatable).
        #[arg(long = "task", value_name = "TASK_ID")]
        tasks: Vec<String>,
        #[arg(long)]
        project: Option<String>,
    },
    /// List sessions.
    List {
        #[arg(long)]
        project: Option<String>,
    },
    /// Show one session.
    Show { id: String },
    /// spawning -> active.
    Activate { id: String },
    /// active -> stopped.
    Stop { id: String },
    /// spawning|active -> failed.
    Fail {
        id: String,
        #[arg(long)]
        error: Option<String>,
    },
    /// stopped|failed -> spawning.
    Restart { id: String },
    /// Delete a session (it is removed from every task).
    Delete { id: String },
}

pub async fn run(args: SessionArgs) -> Result<(), CliError> {
    let c = Client::new(&args.client)?;
    let json_out = args.client.json;
    let action = |id: &str, what: &str| format!("/api/sessions/{}/{what}", seg(id));
    let session = match args.verb {
        SessionVerb::Spawn {
            name,
            id,
            tasks,
            project,
        } => {
            let new = NewSession {
                id,
                name,
                project_id: project,
                task_ids: tasks,
                spawn_source: Some(SpawnSource::Session),
            };
            c.send(Method::POST, "/api/sessions", body(&new), None)
                .await?
        }
        SessionVerb::List { project } => {
            let path = match project {
                Some(p) => format!("/api/sessions?projectId={}", seg(&p)),
                None => "/api/sessions".into(),
            };
            let sessions: Vec<Session> = c.get(&path).await?;
            if json_out {
                output::json(&sessions);
            } else {
                print_list(&sessions);
            }
            return Ok(());
        }
        SessionVerb::Show { id } => {
            c.send(
                Method::GET,
                &format!("/api/sessions/{}", seg(&id)),
                None,
                None,
            )
            .await?
        }
        SessionVerb::Activate { id } => {
            c.send(
                Method::POST,
                &action(&id, "activate"),
                body(&EmptyBody {}),
                None,
            )
            .await?
        }
        SessionVerb::Stop { id } => {
            c.send(
                Method::POST,
                &action(&id, "stop"),
                body(&EmptyBody {}),
                None,
            )
            .await?
        }
        SessionVerb::Fail { id, error } => {
            let fail = FailBody { error };
            c.send(Method::POST, &action(&id, "fail"), body(&fail), None)
                .await?
        }
        SessionVerb::Restart { id } => {
            c.send(
                Method::POST,
                &action(&id, "restart"),
                body(&EmptyBody {}),
                None,
            )
            .await?
        }
        SessionVerb::Delete { id } => {
            c.send(
                Method::DELETE,
                &format!("/api/sessions/{}", seg(&id)),
                None,
                None,
            )
            .await?;
            if json_out {
                output::json(&json!({ "deleted": id }));
            } else {
                println!("deleted {id}");
            }
            return Ok(());
        }
    };
    print_session(&session, json_out)
}

fn print_session(v: &Value, json_out: bool) -> Result<(), CliError> {
    if json_out {
        output::json(v);
        return Ok(());
    }
    let s: Session = serde_json::from_value(v.clone()).map_err(bad_response)?;
    let on = output::colour();
    let name = s
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let error = s
        .error
        .as_deref()
        .map(|e| format!(" — {e}"))
        .unwrap_or_default();
    let seen = last_seen(&s, on);
    let seen = if seen.is_empty() {
        seen
    } else {
        format!(" — last seen {seen}")
    };
    println!(
        "{}{name} {}{error}{seen}",
        s.id,
        paint(s.status.as_str(), s.status.as_str(), on)
    );
    if !s.task_ids.is_empty() {
        println!("  tasks: {}", s.task_ids.join(", "));
    }
    Ok(())
}

fn print_list(sessions: &[Session]) {
    if sessions.is_empty() {
        println!("no sessions");
        return;
    }
    let on = output::colour();
    let mut rows = vec![vec![
        "ID".into(),
        "STATUS".into(),
        "NAME".into(),
        "TASKS".into(),
        "LAST SEEN".into(),
        "ERROR".into(),
    ]];
    for s in sessions {
        rows.push(vec![
            s.id.clone(),
            paint(s.status.as_str(), s.status.as_str(), on),
            s.name.clone().unwrap_or_default(),
            s.task_ids.len().to_string(),
            last_seen(s, on),
            s.error.clone().unwrap_or_default(),
        ]);
    }
    output::table(&rows);
}

/// `12s ago`, or `STALE 14m ago` for a session not heard from for too long.
fn last_seen(s: &Session, on: bool) -> String {
    let ago = s
        .last_seen_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .num_seconds()
                .max(0);
            match secs {
                0..60 => format!("{secs}s ago"),
                60..3600 => format!("{}m ago", secs / 60),
                3600..86400 => format!("{}h ago", secs / 3600),
                _ => format!("{}d ago", secs / 86400),
            }
        })
        .unwrap_or_default();
    if s.stale {
        format!("{} {ago}", paint("STALE", "failed", on))
    } else {
        ago
    }
}
