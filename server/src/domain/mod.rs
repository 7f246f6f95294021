//! The domain, the innermost layer: the server's state, the write commands
//! and their rules. No HTTP, SQL or socket types; everything else builds on it.
//! Within it: `command` (types) ← `rules` (shared checks) ← `tasks`,
//! `sessions` (each write's rules) ← `apply` (one command).

mod apply;
pub mod command;
pub mod error;
pub mod liveness;
mod rules;
mod sessions;
pub mod state;
mod tasks;

pub use apply::apply;

#[cfg(test)]
mod tests;
