//! `tasksync hooks install`: wires agents to `tasksync hook`. Merges the
//! hook entries into Claude Code's `.claude/settings.json` (the project's,
//! or with `--user` the user's) and sets `notify` in Codex's
//! `config.toml`. Every existing key and hook is kept, a second run changes
//! nothing, a changed file is backed up first (`<file>.tasksync.bak`), and
//! `--dry-run` prints what would be written instead of writing it.

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The command Claude Code runs.
pub const CLAUDE_COMMAND: &str = "tasksync hook claude";
/// The Claude Code events reported, and the matcher of each (tool events
/// match every tool; the others take none).
pub const CLAUDE_EVENTS: &[(&str, Option<&str>)] = &[
    ("SessionStart", None),
    ("UserPromptSubmit", None),
    ("Notification", None),
    ("Stop", None),
    ("PreToolUse", Some("*")),
    ("PostToolUse", Some("*")),
    ("SessionEnd", None),
];
/// Codex's `notify` program.
pub const CODEX_NOTIFY: &[&str] = &["tasksync", "hook", "codex"];

#[derive(Debug, Args)]
pub struct HooksArgs {
    #[command(subcommand)]
    pub action: HooksAction,
}

#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Add tasksync's hooks to Claude Code and Codex (both unless one is named).
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Claude Code's settings.
    #[arg(long)]
    pub claude: bool,
    /// Codex's config ($CODEX_HOME/config.toml, else ~/.codex/config.toml).
    #[arg(long)]
    pub codex: bool,
    /// Claude Code: the user's settings (~/.claude/settings.json).
    #[arg(long, conflicts_with = "project")]
    pub user: bool,
    /// Claude Code: this project's settings (DIR/.claude/settings.json; the
    /// default, with the current folder).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Print what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Claude Code's settings with tasksync's hooks merged in; `None` when they
/// are all there already.
pub fn merge_claude(existing: Option<&str>) -> Result<Option<String>, String> {
    let mut root: Value = match existing.map(str::trim) {
        None | Some("") => json!({}),
        Some(text) => serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?,
    };
    let Some(root_map) = root.as_object_mut() else {
        return Err("the settings are not a JSON object".into());
    };
    let hooks = root_map
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(hooks) = hooks.as_object_mut() else {
        return Err("`hooks` is not a JSON object".into());
    };
    let mut changed = false;
    for (event, matcher) in CLAUDE_EVENTS {
        let groups = hooks
            .entry(*event)
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(groups) = groups.as_array_mut() else {
            return Err(format!("`hooks.{event}` is not a JSON array"));
        };
        let present = groups.iter().any(|g| {
            g["hooks"].as_array().is_some_and(|hs| {
                hs.iter().any(|h| {
                    h["command"]
                        .as_str()
                        .is_some_and(|c| c.trim() == CLAUDE_COMMAND)
                })
            })
        });
        if !present {
            let mut group =
                json!({"hooks": [{"type": "command", "command": CLAUDE_COMMAND, "timeout": 5}]});
            if let Some(m) = matcher {
                group["matcher"] = Value::String((*m).to_owned());
            }
            groups.push(group);
            changed = true;
        }
    }
    Ok(changed.then(|| serde_json::to_string_pretty(&root).expect("JSON serializes") + "\n"))
}

/// Codex's config with `notify` set to tasksync; `None` when it is already.
/// A `notify` set to another program is left alone (Codex runs only one):
/// that is an error that says so.
pub fn merge_codex(existing: Option<&str>) -> Result<Option<String>, String> {
    let mut doc: toml_edit::DocumentMut = existing
        .unwrap_or("")
        .parse()
        .map_err(|e| format!("not valid TOML: {e}"))?;
    let wanted: Vec<&str> = CODEX_NOTIFY.to_vec();
    if let Some(item) = doc.get("notify") {
        let current: Option<Vec<&str>> = item
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect());
        if current.as_deref() == Some(&wanted[..]) {
            return Ok(None);
        }
        return Err(format!(
            "`notify` is already set to {}; Codex runs one notify program — remove it, or call `tasksync hook codex \"$1\"` from it",
            item.to_string().trim()
        ));
    }
    let mut array = toml_edit::Array::new();
    for part in CODEX_NOTIFY {
        array.push(*part);
    }
    // (top-level keys must come before the first table: insert at the top)
    let mut text = format!("notify = {array}\n");
    if !doc.to_string().is_empty() {
        text.push_str(&doc.to_string());
    }
    doc = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    Ok(Some(doc.to_string()))
}

fn home() -> Result<PathBuf, String> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| "HOME is not set".to_owned())
}

/// Installs; returns the exit code (1 when a file could not be merged).
pub fn run(args: HooksArgs) -> i32 {
    let HooksAction::Install(args) = args.action;
    let both = !args.claude && !args.codex;
    let mut code = 0;
    if args.claude || both {
        let path = if args.user {
            home().map(|h| h.join(".claude/settings.json"))
        } else {
            Ok(args
                .project
                .clone()
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".claude/settings.json"))
        };
        code |= install("Claude Code hooks", path, merge_claude, args.dry_run);
    }
    if args.codex || both {
        let path = std::env::var_os("CODEX_HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .map_or_else(|| home().map(|h| h.join(".codex")), Ok)
            .map(|d| d.join("config.toml"));
        code |= install("Codex notify", path, merge_codex, args.dry_run);
    }
    code
}

fn install(
    what: &str,
    path: Result<PathBuf, String>,
    merge: fn(Option<&str>) -> Result<Option<String>, String>,
    dry_run: bool,
) -> i32 {
    let result = path.and_then(|path| {
        let existing = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let merged = merge(existing.as_deref()).map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(text) = merged else {
            println!("{what}: already in {}", path.display());
            return Ok(());
        };
        if dry_run {
            println!("{what}: would write {}:\n{text}", path.display());
            return Ok(());
        }
        write(&path, existing.is_some(), &text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{what}: installed in {}", path.display());
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {what}: {e}");
            1
        }
    }
}

/// Backs the old file up, then replaces it whole (a temporary file renamed
/// over it, so a crash leaves the old or the new one, never half).
fn write(path: &Path, existed: bool, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if existed {
        let mut backup = path.as_os_str().to_owned();
        backup.push(".tasksync.bak");
        std::fs::copy(path, backup)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tasksync.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_hooks_are_merged_keeping_everything_else() {
        let before = json!({
            "model": "opus",
            "permissions": {"allow": ["Bash(ls)"]},
            "hooks": {
                "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./check.sh"}]}],
                "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]
            }
        })
        .to_string();
        let after = merge_claude(Some(&before)).unwrap().expect("a change");
        let v: Value = serde_json::from_str(&after).unwrap();
        assert_eq!(v["model"], "opus");
        assert_eq!(v["permissions"]["allow"][0], "Bash(ls)");
        assert_eq!(
            v["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
            "./check.sh"
        );
        assert_eq!(v["hooks"]["Stop"][0]["hooks"][0]["command"], "say done");
        for (event, matcher) in CLAUDE_EVENTS {
            let ours: Vec<&Value> = v["hooks"][event]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["hooks"][0]["command"] == CLAUDE_COMMAND)
                .collect();
            assert_eq!(ours.len(), 1, "{event}");
            assert_eq!(ours[0]["hooks"][0]["timeout"], 5);
            assert_eq!(ours[0]["matcher"].as_str(), *matcher);
        }
        // twice = once
        assert_eq!(merge_claude(Some(&after)).unwrap(), None);
        // from nothing
        assert!(merge_claude(None).unwrap().is_some());
        // what cannot be merged is refused, not overwritten
        for bad in ["[1]", "{", r#"{"hooks": 3}"#, r#"{"hooks": {"Stop": {}}}"#] {
            assert!(merge_claude(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn codex_notify_is_set_once_and_another_program_is_left_alone() {
        let before = "# my config\nmodel = \"o3\"\n\n[tui]\nnotifications = true\n";
        let after = merge_codex(Some(before)).unwrap().expect("a change");
        let doc: toml_edit::DocumentMut = after.parse().unwrap();
        assert_eq!(doc["model"].as_str(), Some("o3"));
        assert_eq!(doc["tui"]["notifications"].as_bool(), Some(true));
        assert!(after.contains("# my config"));
        let notify: Vec<&str> = doc["notify"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(notify, CODEX_NOTIFY);
        assert_eq!(merge_codex(Some(&after)).unwrap(), None);
        assert!(merge_codex(None).unwrap().is_some());
        let other = merge_codex(Some("notify = [\"notify-send\"]\n")).unwrap_err();
        assert!(other.contains("notify-send"), "{other}");
        assert!(merge_codex(Some("notify = [")).is_err());
    }
}
