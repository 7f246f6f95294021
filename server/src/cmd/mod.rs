//! The `tasksync` command line: one clap command with a subcommand per file.
//! `serve` runs the server; the task/session/watch commands come with the CLI.

pub mod serve;

use clap::{Parser, Subcommand};

/// tasksync — keep task status, session lifecycle and progress in sync.
#[derive(Debug, Parser)]
#[command(name = "tasksync", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (REST API, WebSocket event stream, SQLite storage).
    Serve(serve::ServeArgs),
}

/// Parses the arguments, runs the command, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
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
