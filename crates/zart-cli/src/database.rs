//! Opening the database named by `--db` / `ZART_DATABASE_URL`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use zart::core::Store;

/// Opens the store at `url`, applying any pending migrations.
pub(crate) async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    zart::connect(url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(url)))
}

/// `url` without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            if parsed.set_password(Some("***")).is_ok() {
                parsed.to_string()
            } else {
                "<database URL>".to_owned()
            }
        }
        _ => url.to_owned(),
    }
}

/// The file of a `sqlite://PATH` URL; `None` for other URLs and in-memory databases.
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_of_a_postgres_url() {
        let shown = redact("postgres://app:hunter2@db.internal:5432/zart");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.internal"), "{shown}");
    }

    #[test]
    fn redact_keeps_a_sqlite_url() {
        assert_eq!(redact("sqlite://zart.db"), "sqlite://zart.db");
    }

    #[test]
    fn sqlite_file_reads_relative_and_absolute_paths() {
        assert_eq!(
            sqlite_file("sqlite://zart.db"),
            Some(PathBuf::from("zart.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/z.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/z.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}
