//! [`ApiConfig`]: prefixes, tokens, body limit and timeout, and CORS origins, set with
//! a builder; and the server's [`ServerConfig`].
//!
//! This crate reads no environment variable: a binary maps its own settings (the
//! `zart` command's flags and `ZART_*` variables, say) onto these builders, and
//! [`router`](crate::router) refuses a configuration that fails
//! [`ApiConfig::validate`].

use std::fmt;
use std::time::Duration;

mod server;

pub use server::{
    ServerConfig, ServerConfigError, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, MAX_MAX_CONNECTIONS,
};

/// The default public API prefix.
pub const DEFAULT_API_PREFIX: &str = "/api/v1";
/// The default admin API prefix.
pub const DEFAULT_ADMIN_PREFIX: &str = "/zart/admin/v1";
/// The default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default time a client has to send a request body: 30 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Where the dashboard is served by default: the root.
pub const DEFAULT_DASHBOARD_PATH: &str = "/";

/// Configuration of the HTTP layer.
///
/// ```
/// use zart_api::ApiConfig;
///
/// let config = ApiConfig::default()
///     .api_prefix("/workflows/v2")
///     .api_token("s3cret")
///     .max_body_bytes(64 * 1024)
///     .cors_origins(["https://console.example.com"]);
/// assert_eq!(config.api_prefix, "/workflows/v2");
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Where the public routes live (default `/api/v1`): starts with `/`, no trailing `/`.
    pub api_prefix: String,
    /// Where the admin routes live (default `/zart/admin/v1`).
    pub admin_prefix: String,
    /// When set, every route except `/healthz` and `/readyz` requires
    /// `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// When set, admin routes require this token instead of the API token.
    pub admin_token: Option<String>,
    /// Request bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// A request body not fully received this long after its headers gets 408 (and the
    /// connection is closed), so a slow sender cannot hold a request open.
    pub body_timeout: Duration,
    /// Origins allowed by CORS (`*` for any); none by default.
    pub cors_origins: Vec<String>,
    /// Where the web dashboard is served (default `/`; its assets under
    /// `{path}/assets/`), or `None` for no dashboard. The page and its assets hold no
    /// secret and are served without a token; the page asks for the tokens it needs.
    pub dashboard_path: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            api_prefix: DEFAULT_API_PREFIX.to_owned(),
            admin_prefix: DEFAULT_ADMIN_PREFIX.to_owned(),
            api_token: None,
            admin_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            cors_origins: Vec::new(),
            dashboard_path: Some(DEFAULT_DASHBOARD_PATH.to_owned()),
        }
    }
}

// Tokens are secrets: never print them.
impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("ApiConfig")
            .field("api_prefix", &self.api_prefix)
            .field("admin_prefix", &self.admin_prefix)
            .field("api_token", &redact(&self.api_token))
            .field("admin_token", &redact(&self.admin_token))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("body_timeout", &self.body_timeout)
            .field("cors_origins", &self.cors_origins)
            .field("dashboard_path", &self.dashboard_path)
            .finish()
    }
}

/// An invalid configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A prefix is empty, `/`, or contains characters a route prefix cannot hold.
    #[error("invalid {name} {value:?}: {reason}")]
    InvalidPrefix {
        /// The setting (`ZART_API_PREFIX` or `ZART_ADMIN_PREFIX`).
        name: &'static str,
        /// The rejected value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The API and admin prefixes are the same.
    #[error("ZART_API_PREFIX and ZART_ADMIN_PREFIX must differ, both are {0:?}")]
    SamePrefixes(String),
    /// The body limit (`ZART_MAX_BODY_BYTES`) is not a positive number of bytes.
    #[error("invalid ZART_MAX_BODY_BYTES {0:?}: expected a positive number of bytes")]
    InvalidBodyLimit(String),
    /// The body timeout (`ZART_BODY_TIMEOUT_SECS`) is not a positive number of seconds.
    #[error("invalid ZART_BODY_TIMEOUT_SECS {0:?}: expected a positive number of seconds")]
    InvalidBodyTimeout(String),
    /// A token is empty or not valid in an HTTP header.
    #[error("invalid {0}: a token must be non-empty visible ASCII without spaces")]
    InvalidToken(&'static str),
    /// The dashboard path is not `/` or a valid prefix, or it overlaps another route.
    #[error("invalid ZART_DASHBOARD_PATH {value:?}: {reason}")]
    InvalidDashboardPath {
        /// The rejected value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A CORS origin is not `*` or an `http(s)://host[:port]` origin.
    #[error("invalid CORS origin {0:?}: expected `*` or an origin like https://example.com")]
    InvalidOrigin(String),
}

impl ApiConfig {
    /// Sets the public API prefix. A missing leading `/` is added and a trailing `/`
    /// removed; [`validate`](Self::validate) rejects what remains invalid.
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = normalize_prefix(prefix.into());
        self
    }

    /// Sets the admin API prefix (normalized like [`api_prefix`](Self::api_prefix)).
    pub fn admin_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.admin_prefix = normalize_prefix(prefix.into());
        self
    }

    /// Requires `Authorization: Bearer <token>` on every route except the health checks.
    pub fn api_token(mut self, token: impl Into<String>) -> Self {
        self.api_token = Some(token.into());
        self
    }

    /// Requires this token (and not the API token) on admin routes.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Rejects request bodies larger than `bytes` with 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Answers 408 to a request whose body is not fully received within `timeout`.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Allows these CORS origins (`*` for any).
    pub fn cors_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        self.cors_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Serves the dashboard at `path` (`/`, or a prefix such as `/ops/zart`; normalized
    /// like [`api_prefix`](Self::api_prefix)).
    ///
    /// ```
    /// let config = zart_api::ApiConfig::default().dashboard_path("/ops/zart/");
    /// assert_eq!(config.dashboard_path.as_deref(), Some("/ops/zart"));
    /// ```
    pub fn dashboard_path(mut self, path: impl Into<String>) -> Self {
        self.dashboard_path = Some(normalize_prefix(path.into()));
        self
    }

    /// Serves no dashboard (for an app that owns `/` and does not want one).
    pub fn without_dashboard(mut self) -> Self {
        self.dashboard_path = None;
        self
    }

    /// Checks every value; [`router`](crate::router) returns the error this gives.
    /// Errors name each setting by the `zart` command's environment variable
    /// (`ZART_API_PREFIX`, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_prefix("ZART_API_PREFIX", &self.api_prefix)?;
        check_prefix("ZART_ADMIN_PREFIX", &self.admin_prefix)?;
        if self.api_prefix == self.admin_prefix {
            return Err(ConfigError::SamePrefixes(self.api_prefix.clone()));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::InvalidBodyLimit("0".to_owned()));
        }
        if self.body_timeout.is_zero() {
            return Err(ConfigError::InvalidBodyTimeout("0".to_owned()));
        }
        check_token("ZART_API_TOKEN", self.api_token.as_deref())?;
        check_token("ZART_ADMIN_TOKEN", self.admin_token.as_deref())?;
        for origin in &self.cors_origins {
            check_origin(origin)?;
        }
        if let Some(path) = &self.dashboard_path {
            self.check_dashboard_path(path)?;
        }
        Ok(())
    }

    /// The dashboard lives at `/` or under a valid prefix that overlaps neither API
    /// prefix nor a root route.
    fn check_dashboard_path(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidDashboardPath {
            value: path.to_owned(),
            reason,
        };
        if path == "/" {
            return Ok(());
        }
        check_prefix("ZART_DASHBOARD_PATH", path).map_err(|e| match e {
            ConfigError::InvalidPrefix { reason, .. } => invalid(reason.to_owned()),
            other => other,
        })?;
        let within = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
        for prefix in [&self.api_prefix, &self.admin_prefix] {
            if within(path, prefix) || within(prefix, path) {
                return Err(invalid(format!("it overlaps the API prefix {prefix}")));
            }
        }
        let root = [
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
            "/swagger-ui",
        ];
        if root.iter().any(|r| within(path, r)) {
            return Err(invalid("it overlaps a root route".to_owned()));
        }
        Ok(())
    }
}

fn normalize_prefix(prefix: String) -> String {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

fn check_prefix(name: &'static str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason| ConfigError::InvalidPrefix {
        name,
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() || value == "/" {
        return Err(invalid(
            "the routes cannot live at the root: use a prefix such as /api/v1",
        ));
    }
    if !value.starts_with('/') || value.ends_with('/') || value.contains("//") {
        return Err(invalid(
            "a prefix starts with `/`, has no empty segment and no trailing `/`",
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '~');
    if !value.chars().all(allowed) {
        return Err(invalid(
            "a prefix may contain only letters, digits, `/`, `-`, `_`, `.` and `~`",
        ));
    }
    Ok(())
}

fn check_token(name: &'static str, token: Option<&str>) -> Result<(), ConfigError> {
    match token {
        Some(t) if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(ConfigError::InvalidToken(name))
        }
        _ => Ok(()),
    }
}

fn check_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let valid = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    });
    if valid {
        Ok(())
    } else {
        Err(ConfigError::InvalidOrigin(origin.to_owned()))
    }
}

#[cfg(test)]
mod tests;
