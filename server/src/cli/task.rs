//! `tasksync task …`: create, list, show, log (its history), queue, update
//! (a session reports its status), set-status (the task's own status),
//! remove-session, delete.

use super::client::{CliError, Client, ClientArgs, bad_response, body, seg};
use super::output::{self, aggregate_icon, paint, status_icon};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use tasksync_sdk::replica::auto_transition;
use tasksync_sdk::wire::{NewTask, QueueBody, StatusBody, TaskPatch};
use tasksync_sdk::{Priority, SessionStatus, Task, TaskStatus, aggregate_status};

/// The message for session-only commands run outside a session.
pub const NO_SESSION: &str = "No session found. This command must be run from a session.";

#[derive(Debug, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub verb: TaskVerb,
}

#[derive(Debug, Args, Clone)]
pub struct SessionContext {
    /// The session this command runs as.
    #[arg(long, global = true, env = "TASKSYNC_SESSION_ID")]
    pub session: Option<String>,
}

impl SessionContext {
    fn require(&self) -> Result<&str, CliError> {
        self.session
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CliError::Usage(NO_SESSION.into()))
    }
}

fn parse_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(s).ok_or_else(|| format!("one of {}", names(Priority::ALL)))
}
fn parse_task_status(s: &str) -> Result<TaskStatus, String> {
    TaskStatus::parse(s).ok_or_else(|| format!("one of {}", names(TaskStatus::ALL)))
}
fn parse_session_status(s: &str) -> Result<SessionStatus, String> {
    SessionStatus::parse(s).ok_or_else(|| format!("one of {}", names(SessionStatus::ALL)))
}
fn names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Subcommand)]
pub enum TaskVerb {
    /// Create a task.
    Create {
        title: String,
        #[arg(long, value_parser = parse_priority)]
        priority: Option<Priority>,
        /// Use this id instead of a generated one.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        parent: Option<String>,
    },
    /// List tasks.
    List {
        #[arg(long)]
        project: Option<String>,
    },
    /// Show one task with its sessions' progress.
    Show { id: String },
    /// The task's history: its events in order (status changes, session notes).
    Log { id: String },
    /// Queue tasks for the current session.
    Queue {
        #[arg(required = true)]
        task_ids: Vec<String>,
        #[command(flatten)]
        ctx: SessionContext,
    },
    /// Report the current session's status on a task (working moves a todo task to inprogress).
    Update {
        task_id: String,
        #[arg(long, value_parser = parse_session_status)]
        status: SessionStatus,
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        ctx: SessionContext,
    },
    /// Set the task's own status (a user action).
    SetStatus {
        task_id: String,
        #[arg(value_parser = parse_task_status)]
        status: TaskStatus,
    },
    /// Remove a session (default: the current one) from a task.
    RemoveSession {
        task_id: String,
        session_id: Option<String>,
        #[command(flatten)]
        ctx: SessionContext,
    },
    /// Delete a task.
    Delete { id: String },
}

pub async fn run(args: TaskArgs) -> Result<(), CliError> {
    let c = Client::new(&args.client)?;
    let json_out = args.client.json;
    match args.verb {
        TaskVerb::Create {
            title,
            priority,
            id,
            description,
            project,
            parent,
        } => {
            let new = NewTask {
                id,
                title,
                description,
                priority,
                parent_id: parent,
                project_id: project,
                status: None,
            };
            let task = c.send(Method::POST, "/api/tasks", body(&new), None).await?;
            print_task_result(&task, json_out, "created")
        }
        TaskVerb::List { project } => {
            let path = match project {
                Some(p) => format!("/api/tasks?projectId={}", seg(&p)),
                None => "/api/tasks".into(),
            };
            let tasks: Vec<Task> = c.get(&path).await?;
            if json_out {
                output::json(&tasks);
            } else {
                print_list(&tasks);
            }
            Ok(())
        }
        TaskVerb::Show { id } => {
            let task = c
                .send(Method::GET, &format!("/api/tasks/{}", seg(&id)), None, None)
                .await?;
            if json_out {
                output::json(&task);
            } else {
                print_details(&serde_json::from_value(task).map_err(bad_response)?);
            }
            Ok(())
        }
        TaskVerb::Log { id } => {
            // every page, oldest first
            let mut events: Vec<Value> = Vec::new();
            let mut since = 0u64;
            let mut oldest = 0u64;
            loop {
                let page = c
                    .send(
                        Method::GET,
                        &format!("/api/tasks/{}/events?since={since}&limit=1000", seg(&id)),
                        None,
                        None,
                    )
                    .await?;
                oldest = page["oldestRetained"].as_u64().unwrap_or(oldest);
                let batch = page["events"].as_array().cloned().unwrap_or_default();
                since = batch
                    .last()
                    .and_then(|e| e["seq"].as_u64())
                    .unwrap_or(since);
                events.extend(batch);
                if page["more"] != true {
                    break;
                }
            }
            if json_out {
                output::json(&Value::Array(events));
                return Ok(());
            }
            let begins = events.first().is_some_and(|e| e["type"] == "task:created");
            if !begins && oldest > 1 {
                println!(
                    "(older events are no longer kept: the server keeps its newest --retain events)"
                );
            }
            for e in &events {
                let seq = e["seq"].as_u64().unwrap_or(0);
                match serde_json::from_value::<tasksync_sdk::Envelope>(e.clone()) {
                    Ok(env) => println!("#{seq} {}", super::watch::describe(&env.event)),
                    Err(_) => println!("#{seq} {e}"),
                }
            }
            Ok(())
        }
        TaskVerb::Queue { task_ids, ctx } => {
            let session = ctx.require()?.to_owned();
            let mut done = Vec::new();
            for t in task_ids {
                let task = c
                    .send(
                        Method::POST,
                        &format!("/api/tasks/{}/queue", seg(&t)),
                        body(&QueueBody {
                            session_id: session.clone(),
                        }),
                        None,
                    )
                    .await?;
                if !json_out {
                    println!("queued {t} for {session}");
                }
                done.push(task);
            }
            if json_out {
                output::json(&done);
            }
            Ok(())
        }
        TaskVerb::Update {
            task_id,
            status,
            notes,
            ctx,
        } => {
            let session = ctx.require()?.to_owned();
            let report = StatusBody { status, notes };
            let path = format!(
                "/api/tasks/{}/sessions/{}/status",
                seg(&task_id),
                seg(&session)
            );
            let task = c.send(Method::PUT, &path, body(&report), None).await?;
            let task = after_report(&c, task).await?;
            if json_out {
                output::json(&task);
            } else {
                let t: Task = serde_json::from_value(task).map_err(bad_response)?;
                println!(
                    "{} {} {} on {} (task {})",
                    status_icon(status),
                    session,
                    status,
                    t.id,
                    t.status
                );
            }
            Ok(())
        }
        TaskVerb::SetStatus { task_id, status } => {
            let task = c
                .send(
                    Method::PATCH,
                    &format!("/api/tasks/{}", seg(&task_id)),
                    body(&TaskPatch::status(status)),
                    None,
                )
                .await?;
            print_task_result(&task, json_out, "status set")
        }
        TaskVerb::RemoveSession {
            task_id,
            session_id,
            ctx,
        } => {
            let session = match session_id {
                Some(s) => s,
                None => ctx.require()?.to_owned(),
            };
            let path = format!("/api/tasks/{}/sessions/{}", seg(&task_id), seg(&session));
            let task = c.send(Method::DELETE, &path, None, None).await?;
            print_task_result(&task, json_out, &format!("removed {session} from"))
        }
        TaskVerb::Delete { id } => {
            c.send(
                Method::DELETE,
                &format!("/api/tasks/{}", seg(&id)),
                None,
                None,
            )
            .await?;
            if json_out {
                output::json(&json!({ "deleted": id }));
            } else {
                println!("deleted {id}");
            }
            Ok(())
        }
    }
}

fn print_task_result(task: &Value, json_out: bool, what: &str) -> Result<(), CliError> {
    if json_out {
        output::json(task);
    } else {
        let t: Task = serde_json::from_value(task.clone()).map_err(bad_response)?;
        println!("{what} {} [{}] {}", t.id, t.status, t.title);
    }
    Ok(())
}

fn print_list(tasks: &[Task]) {
    if tasks.is_empty() {
        println!("no tasks");
        return;
    }
    let on = output::colour();
    let mut rows = vec![vec![
        "ID".into(),
        "STATUS".into(),
        "PRIORITY".into(),
        "SESSIONS".into(),
        "TITLE".into(),
    ]];
    for t in tasks {
        let agg = aggregate_status(&t.session_progress);
        rows.push(vec![
            t.id.clone(),
            paint(t.status.as_str(), t.status.as_str(), on),
            t.priority.to_string(),
            paint(
                &format!("{} {}", aggregate_icon(agg), agg.as_str()),
                agg.as_str(),
                on,
            ),
            t.title.clone(),
        ]);
    }
    output::table(&rows);
}

fn print_details(t: &Task) {
    let on = output::colour();
    let agg = aggregate_status(&t.session_progress);
    println!("{}  {}", t.id, t.title);
    println!(
        "  status    {}",
        paint(t.status.as_str(), t.status.as_str(), on)
    );
    println!("  priority  {}", t.priority);
    println!("  sessions  {} {}", aggregate_icon(agg), agg.as_str());
    if let Some(d) = &t.description {
        println!("  about     {d}");
    }
    if let Some(p) = &t.project_id {
        println!("  project   {p}");
    }
    println!("  version   {}  (updated {})", t.version, t.updated_at);
    for p in &t.session_progress {
        let notes = p
            .notes
            .as_deref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        println!(
            "    {} {} {}{}",
            status_icon(p.status),
            p.session_id,
            paint(p.status.as_str(), p.status.as_str(), on),
            notes
        );
    }
}

/// The one automatic transition after a session's status report (a `todo`
/// task whose session works moves to `inprogress`), decided by the same code
/// as the store and sent with `If-Match`; returns the task as it now is.
pub async fn after_report(c: &Client, task: Value) -> Result<Value, CliError> {
    let parsed: Task = serde_json::from_value(task.clone()).map_err(bad_response)?;
    let Some(version) = auto_transition(&parsed) else {
        return Ok(task);
    };
    let path = format!("/api/tasks/{}", seg(&parsed.id));
    match c
        .send(
            Method::PATCH,
            &path,
            body(&TaskPatch::status(TaskStatus::Inprogress)),
            Some(version),
        )
        .await
    {
        Ok(t) => Ok(t),
        // Another client (a dashboard) made the same move first.
        Err(CliError::Refused {
            status: 412 | 409, ..
        }) => Ok(task),
        Err(e) => Err(e),
    }
}
