//! What only PostgreSQL has: a second node on a database another node serves
//! is refused at start (one node per database for now). Runs when
//! `TASKSYNC_TEST_PG` names a PostgreSQL server, as `scripts/test.sh` sets it;
//! the rest of the server's tests run on PostgreSQL the same way.
mod common;

use common::TestServer;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_database_is_refused() {
    if std::env::var("TASKSYNC_TEST_PG").is_err() {
        eprintln!("skipped: TASKSYNC_TEST_PG is not set (scripts/test.sh sets it)");
        return;
    }
    let mut first = TestServer::start().await;
    assert!(first.db.to_string_lossy().starts_with("postgres://"));
    let (status, _) = first
        .send(
            "POST",
            "/api/tasks",
            Some(serde_json::json!({"id": "pg-1", "title": "On PostgreSQL"})),
        )
        .await;
    assert_eq!(status, 201);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = tasksync::run(listener, tasksync::Config::new(&first.db), async {}).await;
    let e = second.expect_err("a second node is refused");
    assert!(e.to_string().contains("another tasksync node"), "{e}");
    // the first is unharmed, and once it stops a new node may take over
    first.stop().await;
    let again = TestServer::start_on(&first.db, None, |_| {}).await;
    let (status, task) = again.send("GET", "/api/tasks/pg-1", None).await;
    assert_eq!(
        (status, task["title"].as_str()),
        (200, Some("On PostgreSQL"))
    );
}

/// The node's connection is killed (as when PostgreSQL restarts): no write
/// is lost or answered 500 — one may be refused (503), nothing of it is
/// committed, and the next write connects again and lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_made_again_and_loses_nothing() {
    let Ok(base) = std::env::var("TASKSYNC_TEST_PG") else {
        eprintln!("skipped: TASKSYNC_TEST_PG is not set (scripts/test.sh sets it)");
        return;
    };
    let s = TestServer::start().await;
    let (status, _) = s
        .send(
            "POST",
            "/api/tasks",
            Some(serde_json::json!({"id": "before", "title": "Before"})),
        )
        .await;
    assert_eq!(status, 201);
    let db =
        s.db.to_string_lossy()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
    let killed = tokio::task::spawn_blocking(move || {
        let mut admin =
            postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls).unwrap();
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&db],
            )
            .unwrap()
            .len()
    })
    .await
    .unwrap();
    assert!(killed >= 1, "the node's connection was found");
    let mut statuses = Vec::new();
    for i in 0..5 {
        let (status, _) = s
            .send(
                "POST",
                "/api/tasks",
                Some(serde_json::json!({"id": format!("after-{i}"), "title": "After"})),
            )
            .await;
        statuses.push(status);
        if status == 201 {
            break;
        }
    }
    assert!(
        statuses.iter().all(|&c| c == 201 || c == 503),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&201),
        "a later write lands: {statuses:?}"
    );
    let (_, tasks) = s.send("GET", "/api/tasks", None).await;
    let ids: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"before"), "{ids:?}");
    // what was refused is not there; what was answered 201 is
    for (i, status) in statuses.iter().enumerate() {
        assert_eq!(
            ids.contains(&format!("after-{i}").as_str()),
            *status == 201,
            "{ids:?} {statuses:?}"
        );
    }
}
