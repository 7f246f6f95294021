//! Many nodes on one PostgreSQL database: one seq across them, in commit
//! order; every node's clients see every node's writes; resume on any node;
//! a killed node, a crashed PostgreSQL and a cut listening connection lose
//! nothing. Runs when `TASKSYNC_TEST_PG` names a PostgreSQL server, as
//! `scripts/test.sh` sets it (the rest of the server's tests run on
//! PostgreSQL the same way); the crash test starts its own cluster with
//! `scripts/pg.sh`.
mod common;

use common::{TestServer, Ws, spawn_server};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn pg() -> Option<String> {
    let url = std::env::var("TASKSYNC_TEST_PG").ok();
    if url.is_none() {
        eprintln!("skipped: TASKSYNC_TEST_PG is not set (scripts/test.sh sets it)");
    }
    url
}

/// `n` nodes on one fresh database.
async fn nodes(n: usize) -> Vec<TestServer> {
    let first = TestServer::start().await;
    let db = first.db.clone();
    let mut all = vec![first];
    for _ in 1..n {
        all.push(TestServer::start_on(&db, None, |_| {}).await);
    }
    all
}

/// Runs SQL on the database `db` names (a blocking client on its own thread).
async fn sql(db: &Path, query: &'static str) -> Vec<postgres::Row> {
    let db = db.to_string_lossy().into_owned();
    tokio::task::spawn_blocking(move || {
        postgres::Client::connect(&db, postgres::NoTls)
            .unwrap()
            .query(query, &[])
            .unwrap()
    })
    .await
    .unwrap()
}

/// The database's head: the newest committed seq.
async fn db_head(db: &Path) -> u64 {
    sql(db, "SELECT seq FROM seq_head").await[0].get::<_, i64>(0) as u64
}

/// A stream client, past its hello.
async fn client(s: &TestServer, query: &str) -> (Ws, Value) {
    let mut ws = s.ws(query).await;
    let hello = ws.next().await;
    assert_eq!(hello["type"], "sync:hello", "{hello}");
    (ws, hello)
}

/// Reads events until `head`; asserts they are exactly `from + 1 ..= head`.
async fn events_until(ws: &mut Ws, from: u64, head: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seq = from;
    while seq < head {
        let e = ws.next().await;
        let Some(s) = e["seq"].as_u64() else { continue };
        assert_eq!(s, seq + 1, "gapless, no duplicate: {e}");
        seq = s;
        out.push(e);
    }
    out
}

/// The node's snapshot once it has reached `head`.
async fn snapshot_at(s: &TestServer, head: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, snap) = s.get("/api/snapshot").await;
        assert_eq!(status, 200);
        if snap["seq"].as_u64() == Some(head) {
            return snap;
        }
        assert!(Instant::now() < deadline, "node reaches seq {head}: {snap}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every task's newest version according to the events.
fn versions(events: &[Value]) -> BTreeMap<String, u64> {
    let mut v = BTreeMap::new();
    for e in events {
        let p = &e["payload"];
        let (id, version) = match e["type"].as_str().unwrap() {
            "task:created" | "task:updated" => (&p["task"]["id"], &p["task"]["version"]),
            "task:session_status" => (&p["taskId"], &p["version"]),
            _ => continue,
        };
        v.insert(id.as_str().unwrap().to_owned(), version.as_u64().unwrap());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_one_seq_in_commit_order() {
    if pg().is_none() {
        return;
    }
    let nodes = Arc::new(nodes(3).await);
    let mut clients = Vec::new();
    for n in nodes.iter() {
        clients.push(client(n, "").await.0);
    }
    nodes[0].task("shared").await;
    // Writers on every node at once: tasks, sessions and their statuses,
    // and updates of one task with If-Match, which only one at a time may win.
    let wins = Arc::new(Mutex::new(0u64));
    let mut writers = Vec::new();
    for node in 0..3 {
        for w in 0..3 {
            let nodes = nodes.clone();
            let wins = wins.clone();
            writers.push(tokio::spawn(async move {
                let s = &nodes[node];
                let sid = format!("s{node}{w}");
                for k in 0..12 {
                    let id = format!("t{node}{w}-{k}");
                    s.task(&id).await;
                    if k == 0 {
                        s.session(&sid, &[&id]).await;
                    }
                    let status = ["working", "blocked"][k % 2];
                    let first = format!("t{node}{w}-0");
                    let (code, body) = s
                        .put(
                            &format!("/api/tasks/{first}/sessions/{sid}/status"),
                            json!({"status": status, "notes": format!("step {k}")}),
                        )
                        .await;
                    assert_eq!(code, 200, "{body}");
                    let version = s.get("/api/tasks/shared").await.1["version"].clone();
                    let code = s
                        .client
                        .patch(s.url("/api/tasks/shared"))
                        .header("if-match", version.to_string())
                        .json(&json!({"description": format!("{node}{w}{k}")}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16();
                    assert!(code == 200 || code == 412, "{code}");
                    if code == 200 {
                        *wins.lock().unwrap() += 1;
                    }
                }
            }));
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let head = db_head(&nodes[0].db).await;
    let mut seen = Vec::new();
    for ws in clients.iter_mut() {
        seen.push(events_until(ws, 0, head).await);
    }
    assert!(
        seen.iter().all(|s| *s == seen[0]),
        "every node's clients see the same events in the same order"
    );
    let snaps = [
        snapshot_at(&nodes[0], head).await,
        snapshot_at(&nodes[1], head).await,
        snapshot_at(&nodes[2], head).await,
    ];
    assert_eq!(snaps[0], snaps[1]);
    assert_eq!(snaps[0], snaps[2]);
    let tasks = snaps[0]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1 + 3 * 3 * 12);
    assert_eq!(snaps[0]["sessions"].as_array().unwrap().len(), 9);
    // the snapshot is what the events say
    let from_events = versions(&seen[0]);
    for t in tasks {
        assert_eq!(
            from_events[t["id"].as_str().unwrap()],
            t["version"].as_u64().unwrap(),
            "{t}"
        );
    }
    // no update was lost to a node that had not seen the one before
    let shared = tasks.iter().find(|t| t["id"] == "shared").unwrap();
    let wins = *wins.lock().unwrap();
    assert!(wins >= 1);
    assert_eq!(shared["version"].as_u64().unwrap(), 1 + wins, "{shared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_node_from_a_seq_the_first_gave_it() {
    if pg().is_none() {
        return;
    }
    let nodes = nodes(2).await;
    let (mut on_a, hello) = client(&nodes[0], "").await;
    let epoch = hello["payload"]["epoch"].as_str().unwrap().to_owned();
    nodes[0].task("one").await;
    nodes[0].task("two").await;
    let got = events_until(&mut on_a, 0, 2).await;
    drop(on_a);
    // straight to the other node, which may not have caught up yet
    let (mut on_b, hello) = client(&nodes[1], &format!("?since=2&epoch={epoch}")).await;
    assert_eq!(hello["payload"]["resumed"], true, "{hello}");
    assert_eq!(hello["payload"]["epoch"], epoch.as_str());
    nodes[0].task("three").await;
    let next = events_until(&mut on_b, 2, 3).await;
    assert_eq!(next[0]["payload"]["task"]["id"], "three");
    // and from an older seq, with the backlog
    let (mut again, hello) = client(&nodes[1], &format!("?since=1&epoch={epoch}")).await;
    assert_eq!(hello["payload"]["resumed"], true);
    assert_eq!(events_until(&mut again, 1, 2).await[0], got[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_write_loses_no_acknowledged_write() {
    if pg().is_none() {
        return;
    }
    let b = TestServer::start().await;
    let (mut watcher, _) = client(&b, "").await;
    let (mut a, a_url) = spawn_server(&b.db, "127.0.0.1:0");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, http, base) = (acked.clone(), http.clone(), a_url.clone());
        writers.push(tokio::spawn(async move {
            for k in 0.. {
                let id = format!("a{w}-{k}");
                let r = http
                    .post(format!("{base}/api/tasks"))
                    .json(&json!({"id": id, "title": "On A"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acked.lock().unwrap().push(id),
                    Ok(r) => panic!("{}", r.status()),
                    Err(_) => return, // A is gone
                }
            }
        }));
    }
    // B writes too, before and after
    for k in 0..20 {
        b.task(&format!("b-{k}")).await;
    }
    while acked.lock().unwrap().len() < 150 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill().unwrap(); // SIGKILL, mid-write
    a.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    for k in 20..40 {
        b.task(&format!("b-{k}")).await;
    }
    let head = db_head(&b.db).await;
    let events = events_until(&mut watcher, 0, head).await;
    let snap = snapshot_at(&b, head).await;
    let ids: HashSet<&str> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "{} writes acknowledged by the killed node; head {head}",
        acked.len()
    );
    for id in acked.iter() {
        assert!(ids.contains(id.as_str()), "acknowledged {id} is present");
    }
    for k in 0..40 {
        assert!(ids.contains(format!("b-{k}").as_str()));
    }
    assert_eq!(events.len(), ids.len(), "one task:created per task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_listening_connection_is_made_again_and_caught_up_within_a_second() {
    if pg().is_none() {
        return;
    }
    let nodes = nodes(2).await;
    let (mut on_b, _) = client(&nodes[1], "").await;
    nodes[0].task("before").await;
    events_until(&mut on_b, 0, 1).await;
    let listening = "SELECT count(*) FROM pg_stat_activity \
        WHERE application_name = 'tasksync-listen' AND datname = current_database()";
    assert_eq!(sql(&nodes[0].db, listening).await[0].get::<_, i64>(0), 2);
    let cut = sql(
        &nodes[0].db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'tasksync-listen' AND datname = current_database()",
    )
    .await;
    assert_eq!(cut.len(), 2, "both nodes' listening connections cut");
    let t0 = Instant::now();
    nodes[0].task("after").await;
    let e = events_until(&mut on_b, 1, 2).await;
    let took = t0.elapsed();
    assert_eq!(e[0]["payload"]["task"]["id"], "after");
    assert!(
        took < Duration::from_secs(1),
        "caught up in {took:?} (within a second)"
    );
    // and both listen again
    let deadline = Instant::now() + Duration::from_secs(5);
    while sql(&nodes[0].db, listening).await[0].get::<_, i64>(0) != 2 {
        assert!(Instant::now() < deadline, "listening again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A throwaway cluster of its own (this test stops and starts PostgreSQL).
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
}

impl Cluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg.sh")
    }

    fn run(&self, cmd: &str) -> String {
        let out = std::process::Command::new("bash")
            .arg(Self::script())
            .arg(cmd)
            .arg(self.dir.path().join("pg"))
            .output()
            .unwrap();
        assert!(out.status.success(), "pg.sh {cmd}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Cluster {
            dir,
            url: String::new(),
        };
        c.url = c.run("start");
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_crashing_and_coming_back_loses_no_acknowledged_write() {
    if pg().is_none() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let db = PathBuf::from(format!("{}/postgres", cluster.url));
    let a = TestServer::start_on(&db, None, |_| {}).await;
    let b = TestServer::start_on(&db, None, |_| {}).await;
    let (mut on_a, _) = client(&a, "").await;
    let (mut on_b, _) = client(&b, "").await;
    let nodes = Arc::new([a, b]);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let crashed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    for node in 0..2 {
        let (nodes, acked, crashed) = (nodes.clone(), acked.clone(), crashed.clone());
        let refused = refused.clone();
        writers.push(tokio::spawn(async move {
            let s = &nodes[node];
            let mut after = 0;
            for k in 0.. {
                let id = format!("n{node}-{k}");
                let (code, body) = s.post("/api/tasks", json!({"id": id, "title": "x"})).await;
                match code {
                    201 => {
                        acked.lock().unwrap().push(id);
                        if crashed.load(std::sync::atomic::Ordering::Acquire) {
                            after += 1;
                        }
                    }
                    503 => {
                        refused.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    _ => panic!("{code} {body}"),
                }
                if after == 20 {
                    return k;
                }
            }
            unreachable!()
        }));
    }
    while acked.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = Arc::new(cluster);
    let c2 = c.clone();
    tokio::task::spawn_blocking(move || {
        c2.run("crash");
        std::thread::sleep(Duration::from_millis(500));
        c2.run("again");
    })
    .await
    .unwrap();
    crashed.store(true, std::sync::atomic::Ordering::Release);
    for w in writers {
        w.await.unwrap();
    }
    let head = db_head(&db).await;
    let seen_a = events_until(&mut on_a, 0, head).await;
    let seen_b = events_until(&mut on_b, 0, head).await;
    assert_eq!(seen_a, seen_b, "both nodes' clients saw the same, gapless");
    let snap = snapshot_at(&nodes[1], head).await;
    let ids: HashSet<&str> = snap["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "{} writes acknowledged around the crash, {} refused; head {head}",
        acked.len(),
        refused.load(std::sync::atomic::Ordering::Acquire)
    );
    for id in acked.iter() {
        assert!(ids.contains(id.as_str()), "acknowledged {id} is present");
    }
    let refused = refused.load(std::sync::atomic::Ordering::Acquire);
    assert!(refused > 0, "writes were refused while PostgreSQL was down");
    let other = snapshot_at(&nodes[0], head).await;
    if snap != other {
        let (x, y) = (
            snap["tasks"].as_array().unwrap(),
            other["tasks"].as_array().unwrap(),
        );
        let only = |a: &Vec<Value>, b: &Vec<Value>| {
            a.iter()
                .filter(|t| !b.contains(t))
                .cloned()
                .collect::<Vec<_>>()
        };
        panic!(
            "nodes differ: only on b {:?}; only on a {:?}",
            only(x, y),
            only(y, x)
        );
    }
}

/// A node stopped (SIGSTOP) while another writes past what is retained:
/// when it runs again it cannot catch up event by event, so it loads the
/// whole state again, and its clients are told to resync (4008, then
/// `resumed: false`) instead of missing events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_fell_behind_the_retained_events_loads_everything_again() {
    if pg().is_none() {
        return;
    }
    let a = TestServer::start_with(|c| c.retain = 50).await;
    let (mut b, b_url) = spawn_server(&a.db, "127.0.0.1:0");
    let b_ws = b_url.replace("http://", "ws://");
    a.task("first").await;
    let mut on_b = Ws::connect(&format!("{b_ws}/ws")).await;
    let hello = on_b.next().await;
    let epoch = hello["payload"]["epoch"].as_str().unwrap().to_owned();
    events_until(&mut on_b, hello["payload"]["seq"].as_u64().unwrap(), 1).await;
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &b.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    // past a pruning step (every 1,000 seqs), keeping only 50
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (http, base) = (a.client.clone(), a.base.clone());
            tokio::spawn(async move {
                for k in 0..130 {
                    let r = http
                        .post(format!("{base}/api/tasks"))
                        .json(&json!({"id": format!("w{w}-{k}"), "title": "x"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let head = db_head(&a.db).await;
    assert!(head > 1000);
    let oldest = sql(&a.db, "SELECT min(seq) FROM events").await[0].get::<_, i64>(0);
    assert!(oldest > 2, "pruned: the oldest retained is {oldest}");
    signal("-CONT");
    assert_eq!(
        on_b.closed().await,
        Some(4008),
        "the client is told to resync"
    );
    let (status, snap_b) = reqwest::get(format!("{b_url}/api/snapshot"))
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, 200);
    let snap_b: Value = snap_b.json().await.unwrap();
    assert_eq!(snap_b, snapshot_at(&a, head).await);
    let mut again = Ws::connect(&format!("{b_ws}/ws?since=1&epoch={epoch}")).await;
    let hello = again.next().await;
    assert_eq!(hello["payload"]["resumed"], false, "{hello}");
    assert_eq!(hello["payload"]["seq"].as_u64(), Some(head));
    b.kill().unwrap();
    b.wait().unwrap();
}

/// A database written by a version without `seq_head` (one node only) is
/// brought up to date on start: the seq goes on from its newest event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_database_is_brought_up_to_date_on_start() {
    if pg().is_none() {
        return;
    }
    let mut s = TestServer::start().await;
    s.task("old-1").await;
    s.task("old-2").await;
    s.stop().await;
    sql(&s.db, "DROP TABLE seq_head").await;
    let s = TestServer::start_on(&s.db, None, |_| {}).await;
    let (_, hello) = client(&s, "").await;
    assert_eq!(hello["payload"]["seq"], 2);
    s.task("new").await;
    assert_eq!(db_head(&s.db).await, 3);
    assert_eq!(
        s.get("/api/snapshot").await.1["tasks"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
