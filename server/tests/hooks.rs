//! Agents report by themselves: recorded Claude Code hook payloads and a
//! Codex notify payload (`tests/fixtures/`) fed to the real binary against
//! the real server; the hook never holds an agent up (exit 0 within 2 s,
//! nothing on stdout, a line in its log) whatever goes wrong; and `hooks
//! install` merges into existing settings, idempotently.
mod common;

use common::TestServer;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    took: Duration,
}

/// `tasksync <args>` with `stdin` (None: stdin closed at once) and env.
fn tasksync(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Ran {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasksync"))
        .args(args)
        .env_remove("TASKSYNC_SESSION_ID")
        .env_remove("TASKSYNC_TASK_ID")
        .env_remove("TASKSYNC_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        took: t0.elapsed(),
    }
}

/// Runs the Claude hook on a fixture; asserts it behaved as a hook must.
fn claude_hook(name: &str, url: &str, log: &Path) {
    let ran = tasksync(
        &["hook", "claude"],
        Some(&fixture(&format!("claude/{name}.json"))),
        &[
            ("TASKSYNC_URL", url),
            ("TASKSYNC_HOOK_LOG", log.to_str().unwrap()),
        ],
    );
    assert_eq!(ran.code, Some(0), "{name}");
    assert_eq!(ran.stdout, "", "{name}: nothing on stdout");
    assert!(ran.took < Duration::from_secs(2), "{name}: {:?}", ran.took);
}

const SID: &str = "0b3f4c2e-8a1d-4f6b-9c2e-5d7a1e9f3b21";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claude_session_reports_its_whole_life_through_the_hook() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let url = s.base.clone();
    let run = |name: &'static str| {
        let (url, log) = (url.clone(), log.clone());
        tokio::task::spawn_blocking(move || claude_hook(name, &url, &log))
    };
    let progress = |task: Value| {
        let p = task["sessionProgress"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["sessionId"] == SID)
            .cloned()
            .unwrap_or(Value::Null);
        (
            p["status"].as_str().map(str::to_owned),
            p["notes"].as_str().map(str::to_owned),
        )
    };

    run("1-SessionStart").await.unwrap();
    let (status, session) = s.get(&format!("/api/sessions/{SID}")).await;
    assert_eq!(status, 200, "the session was made");
    assert_eq!(session["status"], "active");
    assert_eq!(session["name"], "app", "named after its folder");
    // someone queues a task for it
    s.task("rate-limit").await;
    let (code, _) = s
        .post("/api/tasks/rate-limit/queue", json!({"sessionId": SID}))
        .await;
    assert_eq!(code, 200);

    let steps: [(&str, &str, Option<&str>); 5] = [
        ("2-UserPromptSubmit", "working", None),
        ("3-PreToolUse", "working", None),
        (
            "4-Notification",
            "needs_input",
            Some("Claude needs your permission to use Bash"),
        ),
        ("5-PostToolUse", "working", None),
        ("6-Stop", "needs_input", Some("waiting for you")),
    ];
    for (name, status, notes) in steps {
        run(name).await.unwrap();
        let (s_, notes_) = progress(s.get("/api/tasks/rate-limit").await.1);
        assert_eq!(s_.as_deref(), Some(status), "after {name}");
        if notes.is_some() {
            assert_eq!(notes_.as_deref(), notes, "after {name}");
        }
    }
    let task = s.get("/api/tasks/rate-limit").await.1;
    assert_eq!(
        task["status"], "inprogress",
        "the task moved when work began"
    );
    run("7-SessionEnd").await.unwrap();
    assert_eq!(
        s.get(&format!("/api/sessions/{SID}")).await.1["status"],
        "stopped"
    );
    // a new start brings it back
    run("1-SessionStart").await.unwrap();
    assert_eq!(
        s.get(&format!("/api/sessions/{SID}")).await.1["status"],
        "active"
    );
    assert!(
        !log.exists(),
        "nothing failed: {:?}",
        std::fs::read_to_string(&log)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_turn_complete_is_needs_input_with_its_last_message() {
    let s = TestServer::start().await;
    let sid = "b5f6c1c2-1111-2222-3333-444455556666";
    s.task("rename").await;
    s.session(sid, &["rename"]).await;
    let url = s.base.clone();
    let ran = tokio::task::spawn_blocking(move || {
        tasksync(
            &["hook", "codex", &fixture("codex/agent-turn-complete.json")],
            None,
            &[("TASKSYNC_URL", &url), ("TASKSYNC_HOOK_LOG", "/dev/null")],
        )
    })
    .await
    .unwrap();
    assert_eq!((ran.code, ran.stdout.as_str()), (Some(0), ""));
    let task = s.get("/api/tasks/rename").await.1;
    let p = &task["sessionProgress"][0];
    assert_eq!(p["status"], "needs_input");
    assert_eq!(
        p["notes"],
        "Rename complete and verified `cargo build` succeeds. Should I also update the docs?"
    );
    // the session was spawning: the report made it active
    assert_eq!(
        s.get(&format!("/api/sessions/{sid}")).await.1["status"],
        "active"
    );
}

#[test]
fn the_hook_never_holds_an_agent_up() {
    let dir = tempfile::tempdir().unwrap();
    // a server that accepts connections and never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    // a port nobody listens on
    let closed_url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let stop = fixture("claude/6-Stop.json");
    let cases: [(&str, &str, Option<&str>); 6] = [
        ("server down", closed_url.as_str(), Some(&stop)),
        ("server silent", silent_url.as_str(), Some(&stop)),
        ("wrong URL", "not a url", Some(&stop)),
        (
            "malformed JSON",
            closed_url.as_str(),
            Some("{\"hook_event_name\": "),
        ),
        ("empty stdin", closed_url.as_str(), None),
        ("not an object", closed_url.as_str(), Some("[1, 2]")),
    ];
    for (i, (what, url, input)) in cases.into_iter().enumerate() {
        let log: PathBuf = dir.path().join(format!("state/{i}/hooks.log"));
        let ran = tasksync(
            &["hook", "claude"],
            input,
            &[
                ("TASKSYNC_URL", url),
                ("TASKSYNC_HOOK_LOG", log.to_str().unwrap()),
            ],
        );
        assert_eq!(ran.code, Some(0), "{what}");
        assert_eq!(ran.stdout, "", "{what}");
        assert!(ran.took < Duration::from_secs(2), "{what}: {:?}", ran.took);
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            logged.lines().count(),
            1,
            "{what}: one line in the log: {logged:?}"
        );
        assert!(logged.contains("hook claude: "), "{logged}");
        eprintln!("{what}: {:?}, logged {}", ran.took, logged.trim());
    }
    // bad arguments too
    let log = dir.path().join("args.log");
    let ran = tasksync(
        &["hook", "claude", "--no-such-flag"],
        None,
        &[("TASKSYNC_HOOK_LOG", log.to_str().unwrap())],
    );
    assert_eq!((ran.code, ran.stdout.as_str()), (Some(0), ""));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("--no-such-flag")
    );
    // the log's place without TASKSYNC_HOOK_LOG, in --help
    let help = tasksync(&["hook", "--help"], None, &[]);
    assert!(help.stdout.contains("hooks.log"), "{}", help.stdout);
    drop(silent);
}

#[test]
fn hooks_install_keeps_what_is_there_and_runs_twice_as_once() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("app");
    let codex_home = dir.path().join("codex");
    std::fs::create_dir_all(project.join(".claude")).unwrap();
    std::fs::create_dir_all(&codex_home).unwrap();
    let settings = project.join(".claude/settings.json");
    let config = codex_home.join("config.toml");
    let before = json!({
        "model": "sonnet",
        "env": {"FOO": "1"},
        "hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "prettier --write"}]}]}
    })
    .to_string();
    std::fs::write(&settings, &before).unwrap();
    std::fs::write(
        &config,
        "model = \"o3\"\n[profiles.fast]\nmodel = \"o4-mini\"\n",
    )
    .unwrap();
    let env = [("CODEX_HOME", codex_home.to_str().unwrap())];
    let install = |extra: &[&str]| {
        let mut args = vec!["hooks", "install", "--project", project.to_str().unwrap()];
        args.extend_from_slice(extra);
        tasksync(&args, None, &env)
    };

    // --dry-run writes nothing
    let dry = install(&["--dry-run"]);
    assert_eq!(dry.code, Some(0));
    assert!(
        dry.stdout.contains("tasksync hook claude"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("notify"), "{}", dry.stdout);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), before);
    assert!(!project.join(".claude/settings.json.tasksync.bak").exists());

    let first = install(&[]);
    assert_eq!(first.code, Some(0), "{}", first.stdout);
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(after["model"], "sonnet");
    assert_eq!(after["env"]["FOO"], "1");
    assert_eq!(
        after["hooks"]["PostToolUse"][0]["hooks"][0]["command"],
        "prettier --write"
    );
    assert_eq!(
        after["hooks"]["PostToolUse"][1]["hooks"][0]["command"],
        "tasksync hook claude"
    );
    for event in [
        "SessionStart",
        "UserPromptSubmit",
        "Notification",
        "Stop",
        "PreToolUse",
        "SessionEnd",
    ] {
        assert_eq!(
            after["hooks"][event][0]["hooks"][0]["command"], "tasksync hook claude",
            "{event}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(project.join(".claude/settings.json.tasksync.bak")).unwrap(),
        before,
        "backed up"
    );
    let toml = std::fs::read_to_string(&config).unwrap();
    assert!(
        toml.contains("notify = [\"tasksync\", \"hook\", \"codex\"]"),
        "{toml}"
    );
    assert!(toml.contains("model = \"o4-mini\""), "{toml}");

    // twice = once
    let (s1, c1) = (
        std::fs::read_to_string(&settings).unwrap(),
        std::fs::read_to_string(&config).unwrap(),
    );
    let second = install(&[]);
    assert_eq!(second.code, Some(0));
    assert!(second.stdout.contains("already"), "{}", second.stdout);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), s1);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), c1);

    // a settings file that is not JSON is refused, not overwritten
    std::fs::write(&settings, "{ not json").unwrap();
    let bad = install(&["--claude"]);
    assert_eq!(bad.code, Some(1));
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{ not json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_nobody_gave_a_task_shows_with_what_it_was_asked() {
    let s = TestServer::start().await;
    let url = s.base.clone();
    let ran = tokio::task::spawn_blocking(move || {
        [
            "1-SessionStart",
            "2-UserPromptSubmit",
            "6-Stop",
            "2-UserPromptSubmit",
        ]
        .map(|name| {
            tasksync(
                &["hook", "claude"],
                Some(&fixture(&format!("claude/{name}.json"))),
                &[
                    ("TASKSYNC_URL", &url),
                    ("TASKSYNC_HOOK_LOG", "/dev/null"),
                    ("TASKSYNC_SESSION_ID", "agent-7"),
                ],
            )
            .code
        })
    })
    .await
    .unwrap();
    assert_eq!(ran, [Some(0); 4]);
    let tasks = s.get("/api/tasks").await.1;
    let tasks = tasks.as_array().unwrap();
    assert_eq!(
        tasks.len(),
        1,
        "one task, reused by the second prompt: {tasks:?}"
    );
    assert_eq!(tasks[0]["title"], "Add rate limiting to the login endpoint");
    assert_eq!(tasks[0]["sessionProgress"][0]["sessionId"], "agent-7");
    assert_eq!(tasks[0]["sessionProgress"][0]["status"], "working");
    let session = s.get("/api/sessions/agent-7").await.1;
    assert_eq!(session["taskIds"][0], tasks[0]["id"]);
}
