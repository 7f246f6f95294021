//! The `tasksync` binary: the command line (`cli/`), over the server library
//! (`tasksync`) for `serve` and the SDK's wire types for the rest.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
