//! The engine alone, natively, on the SDK bench's stream (npm/bench/stream.jsonl):
//! nanoseconds per event for `handle()` and for parsing alone.
//! `cargo run --release -p tasksync-sdk --example replay [stream.jsonl]`
use tasksync_sdk::link::{Input, Link, Options, Resync};

/// A link for the caller's own transport, with no listeners.
fn quiet_link() -> Link {
    let mut l = Link::new(Options {
        base_url: "http://h:1".into(),
        token: None,
        auto_transition: false,
        resync: Resync::Snapshot,
        client_id: "c".into(),
        seed: 1,
        since: None,
        project_id: None,
    });
    l.set_emit_events(false);
    l
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("npm/bench/stream.jsonl".into());
    let text = std::fs::read_to_string(&path).expect("the stream (npm run bench records it)");
    let lines: Vec<&str> = text.lines().collect();
    let per = |d: std::time::Duration| d.as_nanos() as f64 / lines.len() as f64;
    for _ in 0..5 {
        let mut l = quiet_link();
        let t0 = std::time::Instant::now();
        for line in &lines {
            l.handle(1, Input::Message(line));
            while l.poll_action().is_some() {}
            let _ = l.take_plain();
            let _ = l.next_deadline();
        }
        let engine = t0.elapsed();
        // the same, each event passed decoded (as the Store passes most):
        // what the engine costs beyond parsing
        let decoded: Vec<_> = lines
            .iter()
            .map(|l| serde_json::from_str::<tasksync_sdk::Envelope>(l).unwrap())
            .collect();
        let mut l = quiet_link();
        let t0 = std::time::Instant::now();
        for env in decoded {
            l.handle(1, Input::Event { conn: None, env });
            while l.poll_action().is_some() {}
            let _ = l.take_plain();
            let _ = l.next_deadline();
        }
        let bookkeeping = t0.elapsed();
        let t0 = std::time::Instant::now();
        let parsed = lines
            .iter()
            .filter(|l| tasksync_sdk::frame::parse_frame(l).is_ok())
            .count();
        let parse = t0.elapsed();
        assert_eq!(parsed, lines.len());
        println!(
            "handle(): {:.0} ns/event, of which parsing {:.0}; decoded events: {:.0}",
            per(engine),
            per(parse),
            per(bookkeeping)
        );
    }
}
