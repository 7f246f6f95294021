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
