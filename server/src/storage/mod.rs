//! Storage: what is kept on disk and read back at start, behind one trait so
//! that a second backend can sit beside SQLite (`sqlite`, the default).

mod backend;
mod postgres;
mod sqlite;

pub use backend::{KeptAnswer, Loaded, News, Storage, StorageError, Wake};
pub use postgres::Postgres;
pub use sqlite::Sqlite;

use std::path::Path;

/// Opens the database `db` names: a `postgres://` or `postgresql://` URL, or
/// else a SQLite file (the default).
pub fn open(db: &Path, retain: usize) -> Result<(Box<dyn Storage>, Loaded), StorageError> {
    match db.to_str().filter(|d| postgres::is_url(d)) {
        Some(url) => {
            let (pg, loaded) = Postgres::open(url, retain)?;
            Ok((Box::new(pg), loaded))
        }
        None => {
            let (sqlite, loaded) = Sqlite::open(db, retain)?;
            Ok((Box::new(sqlite), loaded))
        }
    }
}

/// `db` for logs: a URL without its password.
pub fn shown(db: &Path) -> String {
    let text = db.display().to_string();
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if postgres::is_url(&text) && at > scheme => {
            let user_end = text[scheme + 3..at]
                .find(':')
                .map_or(at, |c| scheme + 3 + c);
            format!("{}{}", &text[..user_end], &text[at..])
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::shown;
    use std::path::Path;

    #[test]
    fn database_urls_are_logged_without_their_password() {
        let s = |d: &str| shown(Path::new(d));
        assert_eq!(
            s("postgres://app:s3cret@db:5432/tasks"),
            "postgres://app@db:5432/tasks"
        );
        assert_eq!(s("postgresql://app@db/tasks"), "postgresql://app@db/tasks");
        assert_eq!(s("./tasksync.db"), "./tasksync.db");
    }
}
