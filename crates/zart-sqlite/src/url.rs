//! Parsing `sqlite://` URLs.

use std::path::PathBuf;

use zart_core::StoreError;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A file, created if absent.
    File(PathBuf),
    /// A private in-memory database.
    Memory,
}

const EXPECTED: &str =
    "expected sqlite://path/to/file.db, sqlite:///absolute/path.db or sqlite::memory:";

/// Parses `sqlite://relative.db`, `sqlite:///abs/path.db`, `sqlite:relative.db`,
/// `sqlite::memory:` (also `sqlite://:memory:`). A `?mode=rwc` suffix, common in
/// sqlx-style URLs, is accepted and ignored; other query parameters are rejected.
pub(crate) fn parse(url: &str) -> Result<Location, StoreError> {
    let invalid = |why: &str| {
        StoreError::InvalidInput(format!("invalid SQLite URL {url:?}: {why}; {EXPECTED}"))
    };
    let rest = url
        .strip_prefix("sqlite:")
        .ok_or_else(|| invalid("it must start with sqlite:"))?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if let Some(query) = query {
        if query != "mode=rwc" {
            return Err(invalid("unsupported query parameters"));
        }
    }
    match path {
        ":memory:" => Ok(Location::Memory),
        "" => Err(invalid("the path is empty")),
        p if p.chars().any(char::is_control) => {
            Err(invalid("the path contains control characters"))
        }
        p => Ok(Location::File(PathBuf::from(p))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str) -> Location {
        Location::File(PathBuf::from(p))
    }

    #[test]
    fn accepts_relative_absolute_and_memory_forms() {
        assert_eq!(parse("sqlite://zart.db").unwrap(), file("zart.db"));
        assert_eq!(
            parse("sqlite://data/zart.db").unwrap(),
            file("data/zart.db")
        );
        assert_eq!(
            parse("sqlite:///var/lib/zart.db").unwrap(),
            file("/var/lib/zart.db")
        );
        assert_eq!(parse("sqlite:zart.db").unwrap(), file("zart.db"));
        assert_eq!(parse("sqlite://zart.db?mode=rwc").unwrap(), file("zart.db"));
        assert_eq!(parse("sqlite::memory:").unwrap(), Location::Memory);
        assert_eq!(parse("sqlite://:memory:").unwrap(), Location::Memory);
    }

    #[test]
    fn rejects_other_schemes_empty_paths_and_unknown_parameters() {
        for bad in [
            "postgres://x",
            "zart.db",
            "sqlite://",
            "sqlite:",
            "sqlite://a.db?cache=shared",
        ] {
            match parse(bad) {
                Err(StoreError::InvalidInput(msg)) => {
                    assert!(msg.contains("sqlite::memory:"), "{msg}")
                }
                other => panic!("{bad}: expected InvalidInput, got {other:?}"),
            }
        }
    }
}
