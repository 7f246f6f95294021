//! Where a frame's time goes in the engine, natively: parse alone, then the
//! whole engine (`Link::handle` of each frame), per event type.
//! `cargo run --release -p tasksync-sdk --example replay_cost -- npm/bench/stream.jsonl`
use std::time::Instant;
use tasksync_sdk::frame::{Frame, parse_frame};
use tasksync_sdk::link::{Input, Link, Options, Resync};
use tasksync_sdk::{Envelope, Event};

/// As the Store makes it: no `on()` listeners, so events are not copied out.
fn new_link() -> Link {
    let mut link = Link::new(Options {
        base_url: "http://x".into(),
        token: None,
        auto_transition: false,
        resync: Resync::Snapshot,
        client_id: "a".into(),
        seed: 1,
        since: None,
        project_id: None,
    });
    link.set_emit_events(false);
    link
}

fn main() {
    if let Some(snapshot) = std::env::args().nth(2) {
        return snapshot_cost(&snapshot);
    }
    let path = std::env::args().nth(1).expect("a stream.jsonl");
    let text = std::fs::read_to_string(path).expect("readable");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0;
        for l in &lines {
            n += usize::from(parse_frame(l).is_ok());
        }
        let parse = t.elapsed().as_nanos() as f64 / lines.len() as f64;
        let mut link = new_link();
        let t = Instant::now();
        for l in &lines {
            link.handle(0, Input::Message(l));
            while link.poll_action().is_some() {}
            link.take_plain();
        }
        let all = t.elapsed().as_nanos() as f64 / lines.len() as f64;
        // Status events as the Store passes them (borrowed, `Input::Status`):
        // the engine's own cost, without a parse.
        let events: Vec<Envelope> = lines
            .iter()
            .filter_map(|l| match parse_frame(l) {
                Ok(Frame::Event(env)) => Some(env),
                _ => None,
            })
            .collect();
        let mut link = new_link();
        let (mut status, mut count) = (std::time::Duration::ZERO, 0);
        for env in events {
            let t = Instant::now();
            match &env.event {
                Event::TaskSessionStatus(p) => {
                    let (seq, status_ref) = (env.seq, p.as_ref());
                    link.handle(
                        0,
                        Input::Status {
                            conn: None,
                            seq,
                            status: status_ref,
                        },
                    );
                    while link.poll_action().is_some() {}
                    link.take_plain();
                    status += t.elapsed();
                    count += 1;
                }
                _ => {
                    link.handle(0, Input::Event { conn: None, env });
                    while link.poll_action().is_some() {}
                    link.take_plain();
                }
            }
        }
        let status = status.as_nanos() as f64 / f64::from(count);
        // Task frames as the Store passes them (text, `Input::Message`),
        // after the same stream's other frames.
        let mut link = new_link();
        let (mut task, mut tasks) = (std::time::Duration::ZERO, 0);
        for l in &lines {
            let is_task = l.starts_with(r#"{"type":"task:updated""#)
                || l.starts_with(r#"{"type":"task:created""#);
            let t = Instant::now();
            link.handle(0, Input::Message(l));
            while link.poll_action().is_some() {}
            link.take_plain();
            if is_task {
                task += t.elapsed();
                tasks += 1;
            }
        }
        let task = task.as_nanos() as f64 / f64::from(tasks);
        println!(
            "{n} frames: parse {parse:.0} ns, engine (parse included) {all:.0} ns per frame; a status event passed borrowed {status:.0} ns; a task frame as text {task:.0} ns"
        );
    }
}

/// With a second argument (a `GET /api/snapshot` body, e.g. the one
/// `npm/bench/sdk.js` writes): its parse alone, and the whole load.
fn snapshot_cost(path: &str) {
    let text = std::fs::read_to_string(path).expect("readable");
    for _ in 0..5 {
        let t = Instant::now();
        let snap = tasksync_sdk::replica::SnapshotIn::read(&text).expect("a snapshot");
        let parse = t.elapsed();
        drop(snap);
        let mut link = new_link();
        let t = Instant::now();
        link.handle(0, Input::LoadSnapshot(&text));
        let load = t.elapsed();
        let t = Instant::now();
        let n = link.tasks().len();
        let list = t.elapsed();
        let t = Instant::now();
        let changed = link.take_changes();
        let take = t.elapsed();
        println!(
            "{n} tasks: parse {parse:.1?}, load (parse included) {load:.1?}, tasks() {list:.1?}, take_changes() {take:.1?} (everything: {})",
            changed.all
        );
    }
}
