//! Connection options: pool size, schema, LISTEN on or off, acquire timeout.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use zart_core::StoreError;

/// The schema used when neither [`PgOptions::schema`] nor the URL names one.
pub const DEFAULT_SCHEMA: &str = "zart";

/// Longest schema name: the notification channel `zart_<schema>` must fit in
/// PostgreSQL's 63-byte identifier limit.
const MAX_SCHEMA_LEN: usize = 58;

/// Options of [`PgStore::connect_with`](crate::PgStore::connect_with).
///
/// ```
/// use std::time::Duration;
/// use zart_postgres::PgOptions;
///
/// let options = PgOptions::default()
///     .schema("billing")
///     .max_connections(20)
///     .listen(false)
///     .acquire_timeout(Duration::from_secs(2));
/// assert_eq!(options.schema.as_deref(), Some("billing"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// The schema holding Zart's tables, created if absent, so several applications
    /// can share one database. `None` means the URL's `schema` query parameter, or
    /// [`DEFAULT_SCHEMA`]. Lowercase letters, digits and `_`, at most 58 characters,
    /// not starting with a digit or `pg_`.
    pub schema: Option<String>,
    /// The most connections the store opens (default 10). With group commit and
    /// `listen` on, a quarter of them (at least one) are the batched writes' own,
    /// the rest serve claims, reads and other writes. The LISTEN connection, if any,
    /// comes on top.
    pub max_connections: u32,
    /// Whether to hold one connection in `LISTEN` for wake-up hints (default true).
    /// Turn it off behind a transaction-mode pooler (pgbouncer): the store then
    /// signals only its own writes, and other processes' writes are found by the
    /// runtime's polling.
    pub listen: bool,
    /// How long a call waits for a free connection before failing with
    /// `StoreError::Unavailable` (default 5 s).
    pub acquire_timeout: Duration,
    /// Whether concurrent step saves, execution inserts, execution finishes and event
    /// offers are written together, one commit per batch (default true). Each caller
    /// still returns only after the commit holding its write; turning it off writes
    /// every call in its own commit (with the same statement, as a batch of one).
    pub group_commit: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: None,
            max_connections: 10,
            listen: true,
            acquire_timeout: Duration::from_secs(5),
            group_commit: true,
        }
    }
}

impl PgOptions {
    /// Sets [`PgOptions::schema`].
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets [`PgOptions::max_connections`].
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`PgOptions::listen`].
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// Sets [`PgOptions::group_commit`].
    pub fn group_commit(mut self, on: bool) -> Self {
        self.group_commit = on;
        self
    }

    /// Sets [`PgOptions::acquire_timeout`].
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// Splits the `schema` query parameter off `url` and parses the rest, so the
/// driver never sees (and warns about) a parameter it does not know. The schema
/// in `options` wins; naming two different schemas is an error.
pub(crate) fn resolve(
    url: &str,
    options: &PgOptions,
) -> Result<(PgConnectOptions, String), StoreError> {
    let (url, from_url) = split_schema_param(url);
    let schema = match (&options.schema, from_url) {
        (Some(a), Some(b)) if *a != b => {
            return Err(StoreError::InvalidInput(format!(
                "schema {a:?} in the options and {b:?} in the URL differ"
            )))
        }
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b,
        (None, None) => DEFAULT_SCHEMA.to_owned(),
    };
    validate_schema(&schema)?;
    let connect = PgConnectOptions::from_str(&url)
        .map_err(|e| StoreError::InvalidInput(format!("invalid PostgreSQL connection URL: {e}")))?;
    let connect = match connect.get_application_name() {
        Some(_) => connect,
        None => connect.application_name("zart"),
    };
    Ok((connect, schema))
}

/// The query parameters Zart reads itself and removes before the URL reaches the driver.
const ZART_PARAMS: [&str; 3] = ["schema", "listen", "max_connections"];

/// Splits Zart's own query parameters off a connection URL.
fn split_zart_params(url: &str) -> (String, Vec<(&'static str, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut found = Vec::new();
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            for name in ZART_PARAMS {
                if let Some(value) = pair.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                    found.push((name, value.to_owned()));
                    return false;
                }
            }
            !pair.is_empty()
        })
        .collect();
    if kept.is_empty() {
        (base.to_owned(), found)
    } else {
        (format!("{base}?{}", kept.join("&")), found)
    }
}

fn split_schema_param(url: &str) -> (String, Option<String>) {
    let (rest, found) = split_zart_params(url);
    let schema = found
        .into_iter()
        .rev()
        .find(|(n, _)| *n == "schema")
        .map(|(_, v)| v);
    (rest, schema)
}

impl PgOptions {
    /// Default options, with `listen=true|false` and `max_connections=N` taken from the
    /// URL's query parameters when present (for example
    /// `postgres://host/db?schema=app&listen=false&max_connections=4`), so a URL alone
    /// can configure `zart serve`.
    pub fn from_url(url: &str) -> Result<PgOptions, StoreError> {
        let mut options = PgOptions::default();
        for (name, value) in split_zart_params(url).1 {
            match name {
                "listen" => {
                    options.listen = value.parse().map_err(|_| {
                        StoreError::InvalidInput(format!(
                            "listen={value:?} in the URL: expected true or false"
                        ))
                    })?;
                }
                "max_connections" => {
                    options.max_connections =
                        value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            StoreError::InvalidInput(format!(
                                "max_connections={value:?} in the URL: expected a positive integer"
                            ))
                        })?;
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

fn validate_schema(schema: &str) -> Result<(), StoreError> {
    let valid_chars = schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_ok = schema.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if valid_chars && starts_ok && schema.len() <= MAX_SCHEMA_LEN && !schema.starts_with("pg_") {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "invalid schema name {schema:?}: use 1-{MAX_SCHEMA_LEN} lowercase letters, digits \
             or '_', not starting with a digit or 'pg_'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_param_is_taken_from_url_and_removed() {
        let url = "postgres://u@h/db?sslmode=disable&schema=app_1";
        let (rest, schema) = split_schema_param(url);
        assert_eq!(rest, "postgres://u@h/db?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("app_1"));
        let (rest, schema) = split_schema_param("postgres://u@h/db?schema=x");
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(schema.as_deref(), Some("x"));
    }

    #[test]
    fn listen_and_pool_size_are_read_from_the_url_and_removed() {
        let url = "postgres://u@h/db?listen=false&sslmode=disable&max_connections=4&schema=s";
        let options = PgOptions::from_url(url).unwrap();
        assert!(!options.listen);
        assert_eq!(options.max_connections, 4);
        let (rest, schema) = split_schema_param(url);
        assert_eq!(rest, "postgres://u@h/db?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("s"));
        for bad in ["listen=maybe", "max_connections=0", "max_connections=x"] {
            let err = PgOptions::from_url(&format!("postgres://u@h/db?{bad}")).unwrap_err();
            assert!(matches!(err, StoreError::InvalidInput(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn schema_defaults_and_conflicts_are_reported() {
        let (_, schema) = resolve("postgres://u@h/db", &PgOptions::default()).unwrap();
        assert_eq!(schema, DEFAULT_SCHEMA);
        let both = PgOptions::default().schema("a");
        assert!(resolve("postgres://u@h/db?schema=a", &both).is_ok());
        let err = resolve("postgres://u@h/db?schema=b", &both).unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
    }

    #[test]
    fn bad_schema_names_are_rejected() {
        for bad in ["", "Zart", "1abc", "pg_x", "a-b", "a\"b", &"x".repeat(59)] {
            let options = PgOptions::default().schema(bad);
            let err = resolve("postgres://u@h/db", &options).unwrap_err();
            assert!(matches!(err, StoreError::InvalidInput(_)), "{bad}: {err}");
        }
        for good in ["zart", "_x", "app_2", &"x".repeat(58)] {
            validate_schema(good).unwrap();
        }
    }
}
