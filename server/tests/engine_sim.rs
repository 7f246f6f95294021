//! Three to five client sync engines (`tasksync_sdk::link`) against a model of the
//! server built from the server's own rules (`domain::apply`), under
//! thousands of seeded random schedules with a fake clock: frames delayed,
//! duplicated and replayed out of order, sockets killed, HTTP answers lost
//! after the change was made, the server restarted on a new epoch. After
//! each schedule the network heals, and every engine must equal the model,
//! every `working` a client saw live on a `todo` task must have moved it,
//! no task may be left `todo` with a working session, and no task may have
//! moved to `inprogress` twice. A failing seed is printed;
//! `ENGINE_SIM_SEED=N` replays just that one (`ENGINE_SIM_DEBUG=1` traces
//! it), `ENGINE_SIM_SEEDS=N` runs seeds 1..=N (default 2000).

use std::collections::{HashMap, VecDeque};
use tasksync::ApiError;
use tasksync::domain::apply;
use tasksync::domain::command::{Clock, Command, Reply};
use tasksync::domain::state::State;
use tasksync_sdk::link::{
    Action, ConnId, ConnState, HttpRequest, Input, Link, Options, ReqId, Resync,
};
use tasksync_sdk::rng::SplitMix64;
use tasksync_sdk::wire::{self, Snapshot, TaskPatch};
use tasksync_sdk::{Envelope, Session, SessionStatus, Task};

struct SimClock(u64);
impl Clock for SimClock {
    fn now(&mut self) -> String {
        self.0 += 1;
        format!("2026-01-01T00:00:00.{:03}Z", self.0 % 1000)
    }
    fn new_id(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}-{}", self.0)
    }
}

struct Model {
    state: State,
    clock: SimClock,
    epoch: String,
    log: Vec<String>,
    keys: HashMap<String, (u16, String)>,
    moves: HashMap<String, u32>,
}

impl Model {
    fn apply(&mut self, cmd: Command) -> Result<Reply, (u16, String)> {
        let out = apply(&mut self.state, cmd, &mut self.clock).map_err(|e| {
            let e = ApiError::from(e);
            (e.status.as_u16(), String::from_utf8(e.body()).unwrap())
        })?;
        for event in out.events {
            if let tasksync_sdk::Event::TaskUpdated { task } = &event
                && task.status == tasksync_sdk::TaskStatus::Inprogress
            {
                *self.moves.entry(task.id.clone()).or_default() += 1;
            }
            let seq = self.log.len() as u64 + 1;
            self.log
                .push(serde_json::to_string(&Envelope { event, seq }).unwrap());
        }
        Ok(out.reply.unwrap())
    }

    /// The HTTP answer to a request from an engine (only what engines send here).
    fn http(&mut self, http: &HttpRequest, headers: &[(&'static str, String)]) -> (u16, String) {
        if http.path == "/api/snapshot" {
            let mut tasks: Vec<&Task> = self.state.tasks.values().map(|t| &**t).collect();
            let mut sessions: Vec<&Session> = self.state.sessions.values().map(|s| &**s).collect();
            wire::sort_listed(&mut tasks);
            wire::sort_listed(&mut sessions);
            let snap = Snapshot {
                epoch: self.epoch.clone(),
                seq: self.log.len() as u64,
                tasks,
                sessions,
            };
            return (200, serde_json::to_string(&snap).unwrap());
        }
        let key = headers
            .iter()
            .find(|(k, _)| *k == wire::IDEMPOTENCY_KEY)
            .map(|(_, v)| v.clone());
        if let Some(kept) = key.as_ref().and_then(|k| self.keys.get(k)) {
            return kept.clone();
        }
        let id = http
            .path
            .strip_prefix("/api/tasks/")
            .expect("engines only patch tasks here");
        assert_eq!(http.method, "PATCH");
        let patch: TaskPatch = serde_json::from_str(http.body.as_deref().unwrap()).unwrap();
        let answer = match self.apply(Command::UpdateTask {
            id: id.into(),
            patch,
            if_match: http.if_match,
        }) {
            Ok(Reply::Task(t)) => (200, serde_json::to_string(&*t).unwrap()),
            Ok(_) => unreachable!(),
            Err(e) => e,
        };
        if let (Some(k), 200) = (key, answer.0) {
            self.keys.insert(k, answer.clone());
        }
        answer
    }
}

type Pending = (ReqId, HttpRequest, Vec<(&'static str, String)>);

struct Client {
    link: Link,
    conn: Option<ConnId>,
    frames: VecDeque<String>,
    seen: Vec<String>,
    requests: Vec<Pending>,
}

fn opened(model: &Model, url: &str) -> VecDeque<String> {
    let query = url.split_once('?').map_or("", |q| q.1);
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
    };
    let head = model.log.len() as u64;
    let since = param("since").and_then(|s| s.parse::<u64>().ok());
    let resumed = param("epoch") == Some(model.epoch.as_str()) && since.is_some_and(|s| s <= head);
    let hello = wire::Hello {
        epoch: model.epoch.clone(),
        seq: head,
        resumed,
    }
    .to_frame();
    let mut frames = VecDeque::from([hello]);
    if resumed {
        frames.extend(model.log[since.unwrap() as usize..].iter().cloned());
    }
    frames
}

fn drive(c: &mut Client, model: &Model) {
    while let Some(a) = c.link.poll_action() {
        match a {
            Action::Open { conn, url } => {
                c.conn = Some(conn);
                c.frames = opened(model, &url);
            }
            Action::Close { conn, .. } if c.conn == Some(conn) => {
                c.conn = None;
                c.frames.clear();
            }
            Action::Request {
                req, http, headers, ..
            } => c.requests.push((req, http, headers)),
            _ => {}
        }
    }
}

/// Delivers a frame, noting a `working` report this client sees live on a
/// `todo` task (the seed's trigger: that task must end up `inprogress`).
fn deliver(
    c: &mut Client,
    now: u64,
    conn: ConnId,
    text: &str,
    worked: &mut std::collections::BTreeSet<String>,
) {
    if let Ok(tasksync_sdk::frame::Frame::Event(env)) = tasksync_sdk::frame::parse_frame(text)
        && env.seq > c.link.seq()
        && c.link.state() != ConnState::Syncing
        && let tasksync_sdk::Event::TaskSessionStatus(p) = &env.event
        && p.status == SessionStatus::Working
        && c.link
            .confirmed()
            .task(&p.task_id)
            .is_some_and(|t| t.status() == tasksync_sdk::TaskStatus::Todo)
    {
        worked.insert(p.task_id.clone());
    }
    c.link.handle(now, Input::Frame { conn, text });
}

/// New events reach every open socket, in order.
fn fan_out(clients: &mut [Client], model: &Model, before: usize) {
    for c in clients {
        if c.conn.is_some() {
            c.frames.extend(model.log[before..].iter().cloned());
        }
    }
}

fn run(seed: u64) -> Result<(), String> {
    let mut rng = SplitMix64(seed);
    let mut model = Model {
        state: State::default(),
        clock: SimClock(0),
        epoch: "e1".into(),
        log: vec![],
        keys: HashMap::new(),
        moves: HashMap::new(),
    };
    let tasks = 4;
    for t in 0..tasks {
        let new = wire::NewTask {
            id: Some(format!("t{t}")),
            title: "T".into(),
            ..Default::default()
        };
        model.apply(Command::CreateTask(new)).unwrap();
    }
    let session = wire::NewSession {
        id: Some("s".into()),
        ..Default::default()
    };
    model.apply(Command::CreateSession(session)).unwrap();
    // three to five engines, racing the same auto-transitions
    let mut clients: Vec<Client> = (0..3 + seed % 3)
        .map(|i| Client {
            link: Link::new(Options {
                base_url: "http://sim".into(),
                token: None,
                auto_transition: true,
                resync: Resync::Snapshot,
                client_id: format!("c{i}"),
                seed: seed * 31 + i,
                since: None,
                project_id: None,
            }),
            conn: None,
            frames: VecDeque::new(),
            seen: vec![],
            requests: vec![],
        })
        .collect();
    let mut now = 0;
    for c in &mut clients {
        c.link.handle(now, Input::Connect);
        drive(c, &model);
    }
    let statuses = [
        SessionStatus::Queued,
        SessionStatus::Working,
        SessionStatus::Blocked,
        SessionStatus::Working,
        SessionStatus::NeedsInput,
    ];
    let mut worked_while_todo = std::collections::BTreeSet::new();
    let steps = 300;
    for step in 0..steps + 2000 {
        let healing = step >= steps;
        let i = rng.below(clients.len() as u64) as usize;
        let op = rng.below(if healing { 4 } else { 10 });
        if std::env::var("ENGINE_SIM_DEBUG").is_ok() {
            eprintln!(
                "step {step}: client {i} op {op} state {:?} seq {} tasks {} reqs {:?} frames {:?}",
                clients[i].link.state(),
                clients[i].link.seq(),
                clients[i].link.confirmed().tasks().len(),
                clients[i]
                    .requests
                    .iter()
                    .map(|r| &r.1.path)
                    .collect::<Vec<_>>(),
                clients[i]
                    .frames
                    .iter()
                    .map(|f| &f[..f.len().min(60)])
                    .collect::<Vec<_>>()
            );
        }
        match op {
            0 | 1 => {
                let c = &mut clients[i];
                if let (Some(conn), Some(text)) = (c.conn, c.frames.pop_front()) {
                    c.seen.push(text.clone());
                    deliver(c, now, conn, &text, &mut worked_while_todo);
                }
            }
            2 if !clients[i].requests.is_empty() => {
                {
                    let k = rng.below(clients[i].requests.len() as u64) as usize;
                    let (req, http, headers) = clients[i].requests.swap_remove(k);
                    let before = model.log.len();
                    let (status, body) = model.http(&http, &headers);
                    fan_out(&mut clients, &model, before);
                    // Sometimes the change is made but the answer is lost.
                    let lost = !healing && rng.below(5) == 0;
                    let status = if lost { 0 } else { status };
                    clients[i].link.handle(
                        now,
                        Input::Answer {
                            req,
                            status,
                            body: &body,
                        },
                    );
                }
            }
            3 => {
                now += rng.below(if healing { 2_000 } else { 400 });
                for c in &mut clients {
                    c.link.handle(now, Input::Tick);
                    drive(c, &model);
                }
            }
            4 | 5 => {
                let t = format!("t{}", rng.below(tasks));
                let status = statuses[rng.below(statuses.len() as u64) as usize];
                let before = model.log.len();
                let cmd = Command::SetSessionStatus {
                    task_id: t.clone(),
                    session_id: "s".into(),
                    status,
                    notes: None,
                };
                let _ = model.apply(cmd);
                fan_out(&mut clients, &model, before);
            }
            6 => {
                let c = &mut clients[i];
                if let Some(conn) = c.conn.take() {
                    c.frames.clear();
                    c.link.handle(
                        now,
                        Input::Closed {
                            conn,
                            code: if rng.below(2) == 0 { 1006 } else { 4008 },
                        },
                    );
                }
            }
            7 => {
                // a duplicate or an old frame again
                let c = &mut clients[i];
                if let (Some(conn), false) = (c.conn, c.seen.is_empty()) {
                    let text = c.seen[rng.below(c.seen.len() as u64) as usize].clone();
                    if !text.contains("sync:hello") {
                        c.link.handle(now, Input::Frame { conn, text: &text });
                    }
                }
            }
            8 if rng.below(40) == 0 => {
                // the server restarts on a new database holding the same state
                model.epoch = format!("e{}", step + 2);
                let keep = std::mem::take(&mut model.log);
                model.log = keep; // same history, new epoch: clients must resync
                for c in &mut clients {
                    if let Some(conn) = c.conn.take() {
                        c.frames.clear();
                        c.link.handle(now, Input::Closed { conn, code: 1001 });
                    }
                }
            }
            _ => {}
        }
        drive(&mut clients[i], &model);
        if std::env::var("ENGINE_SIM_DEBUG").is_ok() {
            for (j, c) in clients.iter().enumerate() {
                if c.link.state() == ConnState::Live
                    && c.link.confirmed().tasks().len() != tasks as usize
                {
                    eprintln!(
                        "step {step}: client {j} has {} tasks at seq {}",
                        c.link.confirmed().tasks().len(),
                        c.link.seq()
                    );
                }
            }
        }
    }
    // Healed: drain everything. Events made by answers reach every open
    // socket, as in the steps above.
    for _ in 0..200 {
        now += 2_000;
        for i in 0..clients.len() {
            let c = &mut clients[i];
            // the server's heartbeat
            if c.conn.is_some() {
                c.frames.push_back(wire::ping_frame());
            }
            c.link.handle(now, Input::Tick);
            drive(c, &model);
            while let Some(text) = clients[i].frames.pop_front() {
                let c = &mut clients[i];
                let conn = c.conn.unwrap();
                deliver(c, now, conn, &text, &mut worked_while_todo);
                drive(c, &model);
            }
            while let Some((req, http, headers)) = clients[i].requests.pop() {
                let before = model.log.len();
                let (status, body) = model.http(&http, &headers);
                fan_out(&mut clients, &model, before);
                let c = &mut clients[i];
                c.link.handle(
                    now,
                    Input::Answer {
                        req,
                        status,
                        body: &body,
                    },
                );
                drive(c, &model);
            }
        }
    }
    let mut truth: Vec<&Task> = model.state.tasks.values().map(|t| &**t).collect();
    wire::sort_listed(&mut truth);
    let truth = serde_json::to_string(&truth).unwrap();
    for (i, c) in clients.iter().enumerate() {
        if c.link.state() != ConnState::Live {
            return Err(format!("client {i} ended {:?}", c.link.state()));
        }
        let seen = serde_json::to_string(&c.link.tasks()).unwrap();
        if seen != truth {
            return Err(format!(
                "client {i} differs:\n  {seen}\n  {truth}\n{:#?}",
                if std::env::var("ENGINE_SIM_DEBUG").is_ok() {
                    Some(&c.link)
                } else {
                    None
                }
            ));
        }
    }
    // The seed's trigger, event-based: every `working` a client saw live
    // on a `todo` task moved that task, whatever came after.
    for t in &worked_while_todo {
        if model.state.tasks[t].status != tasksync_sdk::TaskStatus::Inprogress {
            return Err(format!(
                "{t} had a working session while todo but is {:?}",
                model.state.tasks[t].status
            ));
        }
    }
    // And state-based: no task is left `todo` while its session is working.
    for t in model.state.tasks.values() {
        if t.status == tasksync_sdk::TaskStatus::Todo
            && t.session_progress
                .iter()
                .any(|p| p.status == SessionStatus::Working)
        {
            return Err(format!("{} is todo with a working session", t.id));
        }
    }
    if let Some((t, n)) = model.moves.iter().find(|(_, n)| **n > 1) {
        return Err(format!("{t} moved to inprogress {n} times"));
    }
    Ok(())
}

#[test]
fn random_schedules_converge_to_the_model() {
    let seeds: Vec<u64> = match std::env::var("ENGINE_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("ENGINE_SIM_SEED is a number")],
        // ENGINE_SIM_SEEDS=N runs seeds 1..=N (default 2000, about 15 s).
        Err(_) => {
            let n = std::env::var("ENGINE_SIM_SEEDS").map_or(2000, |n| n.parse().unwrap());
            (1..=n).collect()
        }
    };
    for seed in seeds {
        if let Err(e) = run(seed) {
            panic!("seed {seed} failed (replay: ENGINE_SIM_SEED={seed}): {e}");
        }
    }
}
