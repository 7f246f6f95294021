//! Storage: what is kept on disk and read back at start, behind one trait so
//! that a second backend can sit beside SQLite (`sqlite`, the default).

mod backend;
mod sqlite;

pub use backend::{KeptAnswer, Storage, StorageError};
pub use sqlite::Sqlite;
