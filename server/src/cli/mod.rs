//! The `tasksync` command line: one clap command with a subcommand group per
//! file. `serve` runs the server; `task`, `session` and `watch` talk to one.

pub mod client;
pub mod output;
pub mod serve;
pub mod session;
pub mod task;
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
}

/// Parses the arguments, runs the command, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let client_command = match cli.verb {
        Verb::Serve(args) => return serve::run(args),
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
            Verb::Serve(_) => unreachable!("handled above"),
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
