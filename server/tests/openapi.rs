//! docs/openapi.json against the server: every documented operation is routed
//! and answers with a documented status; every other method on a documented
//! path is 405. (schemathesis, run by the test command, checks the bodies.)

mod common;

use common::TestServer;
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_agree() {
    let doc: Value = serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap();
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    let s = TestServer::start().await;
    s.task("x").await;
    s.session("x", &["x"]).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.len() >= 14,
        "every endpoint of SPEC section 3 is documented"
    );
    for (path, item) in paths {
        let concrete = path.replace("{id}", "x").replace("{sid}", "x");
        for method in METHODS {
            let op = &item[method.to_lowercase()];
            let body = (method != "GET" && method != "DELETE").then(|| serde_json::json!({}));
            let (status, value) = s.send(method, &concrete, body).await;
            if op.is_null() {
                assert_eq!(
                    status, 405,
                    "{method} {path} is not documented, so the server must refuse it: {value}"
                );
                continue;
            }
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                op["responses"].get(status.to_string()).is_some(),
                "{method} {path} answered {status}, which the document does not list: {value}"
            );
            if status >= 400 {
                assert!(
                    value["error"]["code"].is_string(),
                    "{method} {path}: error body {value}"
                );
            }
        }
    }
}
