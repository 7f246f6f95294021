//! Output for people: aligned tables, status icons, and colour only on a
//! terminal and never when `NO_COLOR` is set.

use std::io::IsTerminal;
use tasksync_sdk::{AggregateStatus, SessionStatus};

/// Whether to colour stdout.
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// The icon of a session status, as in the original UI design.
pub fn status_icon(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Queued => "○",
        SessionStatus::Working => "●",
        SessionStatus::NeedsInput => "?",
        SessionStatus::Blocked => "⊘",
        SessionStatus::Completed => "✓",
        SessionStatus::Failed => "✗",
        SessionStatus::Cancelled => "○",
    }
}

pub fn aggregate_icon(a: AggregateStatus) -> &'static str {
    match a {
        AggregateStatus::NoSessions => "·",
        AggregateStatus::NeedsInput => "?",
        AggregateStatus::Blocked => "⊘",
        AggregateStatus::Working => "●",
        AggregateStatus::Queued => "○",
        AggregateStatus::AllCompleted => "✓",
        AggregateStatus::AllFailed => "✗",
    }
}

/// ANSI colour code for a word, by meaning.
fn code_for(word: &str) -> Option<&'static str> {
    Some(match word {
        "blocked" | "failed" | "all_failed" | "needs_input" => "31",
        "working" | "inprogress" | "active" => "33",
        "completed" | "all_completed" => "32",
        "cancelled" | "stopped" | "todo" | "queued" | "spawning" | "no_sessions" => "2",
        _ => return None,
    })
}

/// `text` coloured by the meaning of `word`, when colouring.
pub fn paint(text: &str, word: &str, on: bool) -> String {
    match (on, code_for(word)) {
        (true, Some(c)) => format!("\x1b[{c}m{text}\x1b[0m"),
        _ => text.to_owned(),
    }
}

/// Prints rows as an aligned table (the first row is the header). Cells may
/// carry colour codes; widths count visible characters only.
pub fn table(rows: &[Vec<String>]) {
    let visible = |s: &str| {
        let mut n = 0;
        let mut in_escape = false;
        for c in s.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                (false, _) => n += 1,
            }
        }
        n
    };
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| visible(s))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - visible(cell) + 2));
            }
        }
        println!("{}", line.trim_end());
    }
}

/// Prints a value as pretty JSON.
pub fn json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON output serializes")
    );
}
