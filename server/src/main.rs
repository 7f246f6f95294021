//! The `tasksync` binary: everything lives in the library.

fn main() {
    std::process::exit(tasksync_server::cmd::main());
}
