//! PostgreSQL test support, shared by every crate's PostgreSQL tests: the test
//! database's URL (or a skip), and a fresh schema per test.
//!
//! Key decisions:
//! - Without `ZART_TEST_POSTGRES_URL` a PostgreSQL test prints a notice naming itself
//!   and passes, so `cargo test` works on a machine without a server; with
//!   `ZART_REQUIRE_POSTGRES=1` (as in CI) it fails instead, so the tests cannot be
//!   skipped silently.
//! - Every test works in a schema of its own ([`FreshSchema`]), so tests (and several
//!   test runs) share one database without seeing each other. The schema is dropped
//!   when the test passes and kept when it fails, with its name printed, so the state
//!   that failed can be inspected with `psql`.
//!
//! Behind the `postgres` feature: it needs a database driver the SQLite side does not.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::skip::{current_test, skip_notice};

/// The variable naming the test database, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`.
pub const URL_VAR: &str = "ZART_TEST_POSTGRES_URL";

/// Set to `1` to make a missing [`URL_VAR`] a failure instead of a skip.
pub const REQUIRE_VAR: &str = "ZART_REQUIRE_POSTGRES";

/// Longest tag kept in a schema name: with the process id, a counter and the clock's
/// nanoseconds the name stays within the 58 bytes `PgOptions` accepts.
const MAX_TAG: usize = 24;

/// The test database's URL, or `None` after a notice that the running test is skipped.
///
/// # Panics
///
/// When the URL is unset and `ZART_REQUIRE_POSTGRES=1`.
pub fn database_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let test = current_test();
            if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
                panic!("{test}: {REQUIRE_VAR}=1 but {URL_VAR} is not set");
            }
            skip_notice(
                &test,
                &format!("{URL_VAR} is not set (it needs PostgreSQL)"),
            );
            None
        }
    }
}

/// A schema of one test's own on the test database: dropped (with everything in it)
/// when the guard is dropped while the test passes, kept when it is dropped while the
/// test panics, with a line naming the schema.
///
/// The guard reserves a unique name; whoever connects first creates the schema
/// (`PgStore` creates a missing schema on connect), so a test of connecting to a
/// fresh schema still finds none. Keep the guard alive for the whole test, and declare
/// it before the stores that use the schema so it is dropped after them.
///
/// ```ignore
/// let Some(schema) = FreshSchema::new("claims") else { return };
/// let options = PgOptions::default().schema(schema.name());
/// let store = PgStore::connect_with(schema.database_url(), options).await?;
/// ```
#[derive(Debug)]
pub struct FreshSchema {
    url: String,
    name: String,
    test: String,
}

impl FreshSchema {
    /// A fresh schema for the running test, its name starting `zt_{tag}_`; `None`
    /// (after the skip notice of [`database_url`]) without a test database.
    pub fn new(tag: &str) -> Option<FreshSchema> {
        let url = database_url()?;
        Some(FreshSchema {
            url,
            name: unique_name(tag),
            test: current_test(),
        })
    }

    /// The schema's name: lowercase letters, digits and `_`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test database's URL, as given (without the schema).
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The database URL with `key=value` added to its query string.
    pub fn url_with(&self, key: &str, value: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{key}={value}", self.url)
    }

    /// The database URL naming this schema (`schema=NAME`), for what is configured by
    /// URL alone (`PgStore::connect`, `zart serve`).
    pub fn schema_url(&self) -> String {
        self.url_with("schema", &self.name)
    }
}

impl FreshSchema {
    /// Runs `sql` (which may name the schema as `{schema}`) on a connection of its own
    /// to the test database: for tests that must change rows behind a store's back.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached or the statement fails.
    pub async fn execute(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sql.replace("{schema}", &format!("\"{}\"", self.name));
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }
}

impl Drop for FreshSchema {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{} failed: kept its PostgreSQL schema {:?} for inspection \
                 (remove it with DROP SCHEMA \"{}\" CASCADE)",
                self.test, self.name, self.name
            );
            return;
        }
        if let Err(e) = drop_schema(&self.url, &self.name) {
            eprintln!("could not drop the test schema {:?}: {e}", self.name);
        }
    }
}

/// `zt_{tag}_{pid}_{n}_{nanos}`: unique within the process by the counter, across runs
/// by the process id and the clock.
fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tag: String = tag
        .chars()
        .take(MAX_TAG)
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '_',
        })
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("zt_{tag}_{}_{n}_{nanos}", std::process::id())
}

/// Drops `schema` over a connection of its own, on a thread with its own runtime:
/// `Drop` cannot await, and the test's runtime may be the one shutting down.
fn drop_schema(url: &str, schema: &str) -> Result<(), String> {
    let (url, sql) = (
        url.to_owned(),
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
    );
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join();
    dropped.unwrap_or_else(|_| Err("the dropping thread panicked".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_valid_and_short() {
        let long = "A Very-Long tag, longer than any schema name allows";
        let (a, b) = (unique_name(long), unique_name(long));
        assert_ne!(a, b);
        for name in [a, b, unique_name("")] {
            assert!(name.len() <= 58, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn url_with_adds_to_the_query_string() {
        let mut schema = FreshSchema {
            url: "postgres://h/db".into(),
            name: "zt_x".into(),
            test: "t".into(),
        };
        assert_eq!(schema.schema_url(), "postgres://h/db?schema=zt_x");
        schema.url.push_str("?sslmode=disable");
        assert_eq!(
            schema.url_with("application_name", "a"),
            "postgres://h/db?sslmode=disable&application_name=a"
        );
        // Not a real schema: nothing to drop.
        std::mem::forget(schema);
    }
}
