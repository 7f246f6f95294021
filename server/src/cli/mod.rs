//! The `tasksync` command line: one clap command with a subcommand group per
//! file. `serve` runs the server; `task`, `session`, `watch` and `hook`
//! talk to one.

pub mod client;
pub mod hook;
pub mod hooks;
pub mod mcp;
pub mod output;
pub mod serve;
pub mod session;
pub mod task;
pub mod token;
pub mod watch;

use clap::{Parser, Subcommand};

/// tasksync — keep task status, session lifecycle and progress in sync.
#[derive(Debug, Parser)]
#[command(name = "tasksync", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
/// What to do (the domain's `Command` is a write; these are the CLI's verbs).
pub enum Verb {
    /// Run the server (REST API, WebSocket event stream, SQLite storage).
    Serve(serve::ServeArgs),
    /// Create, list and change tasks; report a session's status on one.
    Task(task::TaskArgs),
    /// Spawn sessions and move them through their lifecycle.
    Session(session::SessionArgs),
    /// Print the live event stream (resumes after drops).
    Watch(watch::WatchArgs),
    /// Make, list and revoke role tokens (read, write, admin; per project).
    Token(token::TokenArgs),
    /// Report an agent's event (Claude Code hook, Codex notify); always exits 0.
    Hook(hook::HookArgs),
    /// Wire Claude Code and Codex to `tasksync hook` (merges their settings).
    Hooks(hooks::HooksArgs),
    /// Serve the Model Context Protocol over stdio (tools for tasks and sessions).
    Mcp(mcp::McpArgs),
}

/// Parses the arguments, runs the command, and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A hook must never fail its agent, not even on bad arguments.
        Err(e) if std::env::args().nth(1).as_deref() == Some("hook") && e.use_stderr() => {
            return hook::bad_arguments(&e.to_string());
        }
        Err(e) => e.exit(),
    };
    let client_command = match cli.verb {
        Verb::Serve(args) => return serve::run(args),
        Verb::Hook(args) => return hook::run(args),
        Verb::Hooks(args) => return hooks::run(args),
        Verb::Mcp(args) => return mcp::run(args),
        other => other,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async move {
        match client_command {
            Verb::Task(args) => task::run(args).await,
            Verb::Session(args) => session::run(args).await,
            Verb::Watch(args) => watch::run(args).await,
            Verb::Token(args) => token::run(args).await,
            Verb::Serve(_) | Verb::Hook(_) | Verb::Hooks(_) | Verb::Mcp(_) => {
                unreachable!("handled above")
            }
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            match &e {
                client::CliError::Refused { code, message, .. } => {
                    eprintln!("error: {message} ({code})")
                }
                other => eprintln!("error: {other}"),
            }
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
