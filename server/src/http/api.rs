//! The REST API (docs/openapi.json): a plain `match` over method and path
//! segments. Reads come from the committed view; writes become commands for
//! the writer. Handlers only translate between HTTP and those two.

use super::body::{Resp, json, json_value, query_param, query_u64, read_json};
use super::error::ApiError;
use crate::app::App;
use crate::auth::{Grant, Refused, Role, TokenRecord};
use crate::domain::command::{Command, NewSession, NewTask, Reply, TaskPatch};
use crate::domain::error::DomainError;
use crate::stream::writer::{Committed, Idempotency};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use std::sync::Arc;
use tasksync_sdk::SessionLifecycle;
use tasksync_sdk::id::is_valid_id;
use tasksync_sdk::wire::{self, EmptyBody, FailBody, QueueBody, Snapshot, StatusBody};

/// Fields a client may never set on a task or session.
const READ_ONLY: &[&str] = &[
    "version",
    "createdAt",
    "updatedAt",
    "sessionIds",
    "sessionProgress",
    "taskIds",
];
const READ_ONLY_UPDATE: &[&str] = &[
    "id",
    "version",
    "createdAt",
    "updatedAt",
    "sessionIds",
    "sessionProgress",
    "taskIds",
];
const READ_ONLY_SESSION: &[&str] = &[
    "version",
    "createdAt",
    "updatedAt",
    "sessionIds",
    "sessionProgress",
    "status",
    "error",
    "lastSeenAt",
    "stale",
];

/// Default and largest page of `GET /api/events`.
const EVENTS_DEFAULT_LIMIT: usize = 1000;
const EVENTS_MAX_LIMIT: usize = 10_000;

/// Routes one request.
pub async fn route(
    app: &Arc<App>,
    req: Request<Incoming>,
    grant: &Grant,
) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_owned();
    let idem = idempotency(&req)?;
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let is_api = matches!(
        segments.first(),
        Some(&"api") | Some(&"ws") | Some(&"healthz")
    );
    if is_api && segments.iter().any(|s| s.is_empty()) {
        return Err(unknown_route(&path));
    }
    let method = req.method().clone();
    let m = &method;
    permit(app, grant, m, &segments, req.uri().query())?;
    match segments.as_slice() {
        ["healthz"] => only(m, &[Method::GET]).map(|_| json(StatusCode::OK, r#"{"status":"ok"}"#)),
        ["ws"] => {
            only(m, &[Method::GET])?;
            super::ws::upgrade(app, req)
        }
        ["api", "tasks"] => match *m {
            Method::GET => Ok(list_tasks(app, req.uri().query())),
            Method::POST => {
                let body: NewTask = read_json(req, true, READ_ONLY).await?;
                grant
                    .allows(true, body.project_id.as_deref())
                    .map_err(forbidden)?;
                write(app, &idem, Command::CreateTask(body)).await
            }
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "tasks", id] => {
            let id = path_id(id)?;
            match *m {
                Method::GET => task(app, &id),
                Method::PATCH | Method::PUT => {
                    let if_match = if_match(req.headers())?;
                    let patch: TaskPatch = read_json(req, true, READ_ONLY_UPDATE).await?;
                    if let Some(to) = &patch.project_id {
                        // (moving it: the new project must be covered too)
                        grant.allows(true, to.as_deref()).map_err(forbidden)?;
                    }
                    write(
                        app,
                        &idem,
                        Command::UpdateTask {
                            id,
                            patch,
                            if_match,
                        },
                    )
                    .await
                }
                Method::DELETE => write(app, &idem, Command::DeleteTask { id }).await,
                _ => Err(not_allowed("GET, PATCH, PUT, DELETE")),
            }
        }
        ["api", "tasks", id, "events"] => {
            only(m, &[Method::GET])?;
            task_events(app, &path_id(id)?, req.uri().query())
        }
        ["api", "tasks", id, "queue"] => {
            only(m, &[Method::POST])?;
            let task_id = path_id(id)?;
            let body: QueueBody = read_json(req, true, &[]).await?;
            write(
                app,
                &idem,
                Command::QueueTask {
                    task_id,
                    session_id: body.session_id,
                },
            )
            .await
        }
        ["api", "tasks", id, "sessions", sid] => {
            only(m, &[Method::DELETE])?;
            let (task_id, session_id) = (path_id(id)?, path_id(sid)?);
            write(
                app,
                &idem,
                Command::RemoveSession {
                    task_id,
                    session_id,
                },
            )
            .await
        }
        ["api", "tasks", id, "sessions", sid, "status"] => {
            only(m, &[Method::PUT])?;
            let (task_id, session_id) = (path_id(id)?, path_id(sid)?);
            let body: StatusBody = read_json(req, true, &[]).await?;
            let written = write(
                app,
                &idem,
                Command::SetSessionStatus {
                    task_id,
                    session_id: session_id.clone(),
                    status: body.status,
                    notes: body.notes,
                },
            )
            .await?;
            app.heard(&session_id).await;
            Ok(written)
        }
        ["api", "sessions"] => match *m {
            Method::GET => Ok(list_sessions(app, req.uri().query())),
            Method::POST => {
                let body: NewSession = read_json(req, false, READ_ONLY_SESSION).await?;
                grant
                    .allows(true, body.project_id.as_deref())
                    .map_err(forbidden)?;
                write(app, &idem, Command::CreateSession(body)).await
            }
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "sessions", id] => {
            let id = path_id(id)?;
            match *m {
                Method::GET => session(app, &id),
                Method::DELETE => write(app, &idem, Command::DeleteSession { id }).await,
                _ => Err(not_allowed("GET, DELETE")),
            }
        }
        [
            "api",
            "sessions",
            id,
            action @ ("activate" | "stop" | "fail" | "restart"),
        ] => {
            only(m, &[Method::POST])?;
            let id = path_id(id)?;
            let (to, error) = match *action {
                "fail" => (
                    SessionLifecycle::Failed,
                    read_json::<FailBody>(req, false, &[]).await?.error,
                ),
                other => {
                    read_json::<EmptyBody>(req, false, &[]).await?;
                    let to = match other {
                        "activate" => SessionLifecycle::Active,
                        "stop" => SessionLifecycle::Stopped,
                        _ => SessionLifecycle::Spawning,
                    };
                    (to, None)
                }
            };
            let written = write(
                app,
                &idem,
                Command::Lifecycle {
                    id: id.clone(),
                    to,
                    error,
                },
            )
            .await?;
            app.heard(&id).await;
            Ok(written)
        }
        ["api", "sessions", id, "heartbeat"] => {
            only(m, &[Method::POST])?;
            let id = path_id(id)?;
            read_json::<EmptyBody>(req, false, &[]).await?;
            if !app
                .view
                .read()
                .expect("view lock")
                .state
                .sessions
                .contains_key(&id)
            {
                return Err(DomainError::session_not_found(&id).into());
            }
            app.heard(&id).await;
            Ok(no_content())
        }
        ["api", "whoami"] => {
            only(m, &[Method::GET])?;
            let mut v = serde_json::json!({"role": grant.role, "projects": grant.projects});
            if let Some(id) = &grant.token {
                v["tokenId"] = serde_json::Value::String(id.clone());
            }
            Ok(json_value(StatusCode::OK, &v))
        }
        ["api", "tokens"] => match *m {
            Method::GET => Ok(list_tokens(app)),
            Method::POST => {
                let body: NewTokenBody = read_json(req, true, &[]).await?;
                create_token(app, body).await
            }
            _ => Err(not_allowed("GET, POST")),
        },
        ["api", "tokens", id] => {
            only(m, &[Method::DELETE])?;
            revoke_token(app, &path_id(id)?).await
        }
        ["api", "snapshot"] => {
            only(m, &[Method::GET])?;
            Ok(snapshot(app, req.uri().query()))
        }
        ["api", "events"] => {
            only(m, &[Method::GET])?;
            events(app, req.uri().query())
        }
        _ => match (&app.config.static_dir, m) {
            (Some(root), &Method::GET | &Method::HEAD) if segments.first() != Some(&"api") => {
                super::files::serve(root, &path, *m == Method::HEAD).await
            }
            (None, &Method::GET | &Method::HEAD) if segments.first() != Some(&"api") => {
                super::files::embedded(&path, *m == Method::HEAD)
            }
            _ => Err(unknown_route(&path)),
        },
    }
}

fn only(method: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(method) {
        Ok(())
    } else {
        let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        Err(not_allowed(&names.join(", ")))
    }
}

fn not_allowed(allow: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this path allows only {allow}"),
    );
    e.allow = Some(allow.to_owned());
    e
}

/// `204`, with no body and so no content type.
fn no_content() -> Resp {
    let mut r = json(StatusCode::NO_CONTENT, "");
    r.headers_mut().remove(header::CONTENT_TYPE);
    r
}

fn forbidden(r: Refused) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", r.0)
}

/// Whether `grant` covers the request, as far as its method and path (and
/// the entities they name) tell; a new task's or session's project, and a
/// task's new project, are checked once the body is read.
fn permit(
    app: &App,
    grant: &Grant,
    m: &Method,
    segments: &[&str],
    query: Option<&str>,
) -> Result<(), ApiError> {
    if grant.role == Role::Admin && grant.everywhere() {
        return Ok(());
    }
    let write = !matches!(*m, Method::GET | Method::HEAD);
    let view = app.view.read().expect("view lock");
    let task_project = |id: &str| view.state.tasks.get(id).and_then(|t| t.project_id.clone());
    let session_project = |id: &str| {
        view.state
            .sessions
            .get(id)
            .and_then(|s| s.project_id.clone())
    };
    let named = query_param(query, "projectId");
    let check = match segments {
        ["healthz"] | ["api", "whoami"] => Ok(()),
        ["api", "tokens", ..] => grant.may_manage_tokens(),
        // lists, snapshot and stream: the project named (all, if none)
        ["ws"] | ["api", "snapshot"] => grant.allows(false, named.as_deref()),
        ["api", "tasks"] | ["api", "sessions"] if !write => grant.allows(false, named.as_deref()),
        // a new one's project is checked once its body is read
        ["api", "tasks"] | ["api", "sessions"] if grant.role == Role::Read => {
            Err(Refused("this token may only read".into()))
        }
        ["api", "tasks"] | ["api", "sessions"] => Ok(()),
        ["api", "events"] => grant.allows(false, None),
        ["api", "tasks", id, ..] => {
            grant.allows(write, task_project(&percent_decoded(id)).as_deref())
        }
        ["api", "sessions", id, ..] => {
            grant.allows(write, session_project(&percent_decoded(id)).as_deref())
        }
        _ => Ok(()),
    };
    check.map_err(forbidden)
}

fn percent_decoded(id: &str) -> String {
    percent_encoding::percent_decode_str(id)
        .decode_utf8_lossy()
        .into_owned()
}

/// `POST /api/tokens`: a role token, shown once.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    role: String,
    #[serde(default)]
    projects: Vec<String>,
    #[serde(default)]
    name: Option<String>,
}

/// A token's record as listed: never its hash.
fn token_view(r: &TokenRecord) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": r.id, "role": r.role, "projects": r.projects,
        "createdAt": r.created_at, "revoked": r.revoked,
    });
    if let Some(n) = &r.name {
        v["name"] = serde_json::Value::String(n.clone());
    }
    v
}

fn list_tokens(app: &App) -> Resp {
    let tokens = app.tokens.read().expect("tokens lock");
    let list: Vec<serde_json::Value> = tokens.0.list().into_iter().map(token_view).collect();
    json_value(StatusCode::OK, &list)
}

async fn create_token(app: &App, body: NewTokenBody) -> Result<Resp, ApiError> {
    if app.config.token.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "role tokens need a server started with --token (without it, loopback clients may do everything)",
        ));
    }
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::validation("role", "`role` must be read, write or admin"))?;
    for p in &body.projects {
        path_id(p).map_err(|_| {
            ApiError::validation(
                "projects",
                "each project must be 1–128 characters of A–Z a–z 0–9 . _ : -",
            )
        })?;
    }
    if let Some(n) = &body.name
        && (n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control))
    {
        return Err(ApiError::validation(
            "name",
            "`name` must be 1–200 printable characters",
        ));
    }
    let (token, id) = crate::auth::new_token();
    let record = TokenRecord {
        id,
        hash: crate::auth::hash(&token),
        role,
        projects: body.projects,
        name: body.name,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        revoked: false,
    };
    app.refresh_tokens(Some(&record))
        .await
        .map_err(|e| ApiError::unavailable(format!("the token could not be stored: {e}")))?;
    let mut v = token_view(&record);
    v["token"] = serde_json::Value::String(token);
    Ok(json_value(StatusCode::CREATED, &v))
}

async fn revoke_token(app: &App, id: &str) -> Result<Resp, ApiError> {
    let found = app.tokens.read().expect("tokens lock").0.by_id(id).cloned();
    let Some(mut record) = found else {
        return Err(ApiError::not_found(format!("no token with id `{id}`")));
    };
    record.revoked = true;
    app.refresh_tokens(Some(&record))
        .await
        .map_err(|e| ApiError::unavailable(format!("the token could not be revoked: {e}")))?;
    Ok(no_content())
}

fn unknown_route(path: &str) -> ApiError {
    ApiError::not_found(format!("no route for `{path}`"))
}

/// An id from a path segment, percent-decoded first (`encodeURIComponent`
/// turns `:` into `%3A`).
fn path_id(id: &str) -> Result<String, ApiError> {
    let decoded = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .unwrap_or_default();
    if is_valid_id(&decoded) {
        Ok(decoded.into_owned())
    } else {
        Err(ApiError::validation(
            "id",
            "the id in the path must be 1-128 characters of A-Z a-z 0-9 . _ : -",
        ))
    }
}

/// `If-Match: 3`, `"3"` or `W/"3"`; `*` matches any version.
fn if_match(headers: &hyper::HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse()
        .map(Some)
        .map_err(|_| ApiError::bad_request("If-Match must be a version number, such as \"3\""))
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("etag is ascii")
}

fn entity<T: serde::Serialize>(status: StatusCode, value: &T, version: u64) -> Resp {
    let mut r = json_value(status, value);
    r.headers_mut().insert(header::ETAG, etag(version));
    r
}

/// The request's `Idempotency-Key`, with the request it names.
fn idempotency(req: &Request<Incoming>) -> Result<Option<Idempotency>, ApiError> {
    let Some(v) = req.headers().get(wire::IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(key) if wire::is_valid_idempotency_key(key) => Ok(Some(Idempotency {
            key: key.to_owned(),
            request: format!("{} {}", req.method(), req.uri().path()),
        })),
        _ => Err(ApiError::validation(
            "Idempotency-Key",
            "Idempotency-Key must be 1-255 visible ASCII characters",
        )),
    }
}

async fn write(app: &App, idem: &Option<Idempotency>, cmd: Command) -> Result<Resp, ApiError> {
    let Committed {
        reply,
        created,
        replayed,
    } = app.writer.submit(cmd, idem.clone()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = match &reply {
        Reply::Task(t) => entity(status, &**t, t.version),
        Reply::Session(s) => entity(status, &**s, s.version),
        Reply::Deleted => no_content(),
    };
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if created {
        let location = match &reply {
            Reply::Task(t) => format!("/api/tasks/{}", t.id),
            Reply::Session(s) => format!("/api/sessions/{}", s.id),
            Reply::Deleted => String::new(),
        };
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

fn list_tasks(app: &App, query: Option<&str>) -> Resp {
    let project = query_param(query, "projectId");
    let view = app.view.read().expect("view lock");
    json_value(StatusCode::OK, &view.state.tasks_sorted(project.as_deref()))
}

fn list_sessions(app: &App, query: Option<&str>) -> Resp {
    let project = query_param(query, "projectId");
    let view = app.view.read().expect("view lock");
    json_value(
        StatusCode::OK,
        &view.state.sessions_sorted(project.as_deref()),
    )
}

fn task(app: &App, id: &str) -> Result<Resp, ApiError> {
    let view = app.view.read().expect("view lock");
    let t = view
        .state
        .tasks
        .get(id)
        .ok_or_else(|| DomainError::task_not_found(id))?;
    Ok(entity(StatusCode::OK, &**t, t.version))
}

fn session(app: &App, id: &str) -> Result<Resp, ApiError> {
    let view = app.view.read().expect("view lock");
    let s = view
        .state
        .sessions
        .get(id)
        .ok_or_else(|| DomainError::session_not_found(id))?;
    Ok(entity(StatusCode::OK, &**s, s.version))
}

/// Tasks and sessions read under one lock, at one `seq`.
fn snapshot(app: &App, query: Option<&str>) -> Resp {
    // `?projectId=P`: only that project's tasks and sessions, for a scoped client.
    let project = query_param(query, "projectId");
    let view = app.view.read().expect("view lock");
    let snap = Snapshot {
        epoch: app.epoch.clone(),
        seq: view.seq,
        tasks: view.state.tasks_sorted(project.as_deref()),
        sessions: view.state.sessions_sorted(project.as_deref()),
    };
    json_value(StatusCode::OK, &snap)
}

/// `since` and `limit` of a page of events.
fn page(query: Option<&str>) -> Result<(u64, usize), ApiError> {
    // Any non-negative integer: one past u64 is simply "ahead of the head".
    let since = match query_param(query, "since") {
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().unwrap_or(u64::MAX)
        }
        Some(_) => {
            return Err(ApiError::validation(
                "since",
                "`since` must be a non-negative integer",
            ));
        }
        None => 0,
    };
    let limit = match query_u64(query, "limit")? {
        None => EVENTS_DEFAULT_LIMIT,
        Some(n) if (1..=EVENTS_MAX_LIMIT as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::validation(
                "limit",
                format!("`limit` must be between 1 and {EVENTS_MAX_LIMIT}"),
            ));
        }
    };
    Ok((since, limit))
}

/// A task's history: its retained events in seq order, paged.
fn task_events(app: &App, id: &str, query: Option<&str>) -> Result<Resp, ApiError> {
    let (since, limit) = page(query)?;
    let (events, more, oldest) = app.log.of_task(id, since, limit);
    if events.is_empty()
        && since == 0
        && !app
            .view
            .read()
            .expect("view lock")
            .state
            .tasks
            .contains_key(id)
    {
        return Err(DomainError::task_not_found(id).into());
    }
    let mut body = Vec::with_capacity(128 + events.iter().map(|e| e.json.len() + 1).sum::<usize>());
    body.extend_from_slice(b"{\"epoch\":");
    serde_json::to_writer(&mut body, &app.epoch).expect("epoch serializes");
    body.extend_from_slice(b",\"taskId\":");
    serde_json::to_writer(&mut body, id).expect("id serializes");
    body.extend_from_slice(
        format!(",\"oldestRetained\":{oldest},\"more\":{more},\"events\":[").as_bytes(),
    );
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(e.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    Ok(json(StatusCode::OK, body))
}

fn events(app: &App, query: Option<&str>) -> Result<Resp, ApiError> {
    let (since, limit) = page(query)?;
    let events = app.log.range(since, limit).map_err(|gone| {
        ApiError::new(
            StatusCode::GONE,
            "gone",
            format!("events after {since} are no longer retained (oldest is {}); resync from /api/snapshot", gone.oldest_retained),
        )
    })?;
    let mut body = Vec::with_capacity(64 + events.iter().map(|e| e.json.len() + 1).sum::<usize>());
    body.extend_from_slice(b"{\"epoch\":");
    serde_json::to_writer(&mut body, &app.epoch).expect("epoch serializes");
    body.extend_from_slice(b",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(e.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    Ok(json(StatusCode::OK, body))
}
