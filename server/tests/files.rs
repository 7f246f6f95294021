//! `--static DIR`: the board's files with the right content types, and
//! nothing outside the folder, however the path is spelled.

mod common;

use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_folder_and_nothing_outside_it() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let site = outside.path().join("site");
    std::fs::create_dir_all(site.join("vendor/pkg")).unwrap();
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><title>board</title>",
    )
    .unwrap();
    std::fs::write(site.join("board.js"), "export {}").unwrap();
    std::fs::write(site.join("vendor/pkg/x_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), site.join("link.txt")).unwrap();
    let s = TestServer::start_with(|c| c.static_dir = Some(site.clone())).await;

    let get = |path: &str| {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let addr = s.addr;
        async move { common::raw(addr, req.as_bytes()).await }
    };
    let r = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.text().await.unwrap().contains("<title>board</title>"));
    let r = s.client.get(s.url("/board.js")).send().await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let r = s
        .client
        .get(s.url("/vendor/pkg/x_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-type"].to_str().unwrap()
        ),
        (200, "application/wasm")
    );
    let r = s.client.head(s.url("/board.js")).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-length"].to_str().unwrap()
        ),
        (200, "9")
    );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/vendor"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (301, "/vendor/")
    );

    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/vendor/../../secret.txt",
        "/vendor/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/link.txt",
        "/board.js%00.html",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/nope.html",
    ] {
        let (st, body) = get(path).await;
        assert_eq!(st, 404, "{path}: {body}");
        assert!(
            !body.contains("top secret") && !body.contains("root:"),
            "{path}"
        );
    }
    // the API is still the API; POST is not a file operation
    assert_eq!(s.get("/api/tasks").await.0, 200);
    assert_eq!(s.get("/api/nope").await.0, 404);
    assert_eq!(s.post("/board.js", serde_json::json!({})).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_static_the_board_built_into_the_binary_is_served() {
    let s = TestServer::start().await;
    let page = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>tasksync — live board</title>")
    );
    for (path, kind) in [
        ("/board.js", "text/javascript; charset=utf-8"),
        ("/board.css", "text/css; charset=utf-8"),
        (
            "/vendor/tasksync/pkg/wasm.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(
            (r.status().as_u16(), &r.headers()["content-type"]),
            (200, &kind.parse().unwrap()),
            "{path}"
        );
    }
    let head = s.client.head(s.url("/index.html")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(
        head.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 500
    );
    let dir = s.client.get(s.url("/vendor")).send().await.unwrap();
    assert_eq!(
        dir.status(),
        404,
        "a folder redirects to its index, and there is none: no listing"
    );
    for bad in [
        "/nope.js",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/vendor/../../x",
        "/a%00b",
    ] {
        assert_eq!(s.get(bad).await.0, 404, "{bad}");
    }
    assert_eq!(s.get("/api/nope").await.0, 404);
}

/// The board built into the binary (`server/board`) is built from the
/// sources as they are: `scripts/embed-board.sh` records their hashes in
/// `server/board.sha256`; this recomputes them (the list is the one
/// `scripts/board-sources.sh` prints).
#[test]
fn the_built_in_board_is_current_with_its_sources() {
    use sha2::{Digest, Sha256};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    fn walk(root: &std::path::Path, dir: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let entry = entry.unwrap();
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(root, &rel, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root, "sdk/src", &mut files);
    walk(&root, "examples/board", &mut files);
    files.extend(
        [
            "sdk/Cargo.toml",
            "npm/build.sh",
            "npm/package.json",
            "npm/index.js",
            "npm/store.js",
            "npm/engine.js",
            "scripts/board.sh",
        ]
        .map(String::from),
    );
    files.sort();
    let now: String = files
        .iter()
        .map(|f| {
            let hash = Sha256::digest(std::fs::read(root.join(f)).unwrap());
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}  {f}\n")
        })
        .collect();
    let recorded = std::fs::read_to_string(root.join("server/board.sha256")).unwrap();
    assert!(
        now == recorded,
        "the board built into the binary is older than its sources: run ./scripts/embed-board.sh and commit server/board"
    );
}
