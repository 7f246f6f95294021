//! The domain, the innermost layer: the server's state, the write commands
//! and their rules. No HTTP, SQL or socket types; everything else builds on it.

pub mod command;
pub mod error;
pub mod state;
