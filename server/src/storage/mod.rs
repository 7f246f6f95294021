//! Storage: what is kept on disk and how it is read back at start.

mod sqlite;

pub use sqlite::*;
