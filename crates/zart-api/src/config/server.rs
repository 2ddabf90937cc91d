//! [`ServerConfig`]: the connection limits of [`serve_with`](crate::serve_with).

use std::time::Duration;

/// The default time a client has to send a request's headers: 10 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a keep-alive connection may sit idle between requests: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default most connections served at once: 512, well under the usual limit of
/// 1,024 open files, so that the database and the worker keep theirs.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The largest accepted [`ServerConfig::max_connections`].
pub const MAX_MAX_CONNECTIONS: usize = 1_000_000;

/// How the server treats connections: how long a client may take to send headers,
/// how long an idle keep-alive connection is kept, and how many connections are served
/// at once (past the cap, new connections wait in the listen backlog until one closes).
///
/// The time to send a request body is the router's
/// [`ApiConfig::body_timeout`](crate::ApiConfig::body_timeout).
///
/// ```
/// use std::time::Duration;
/// use zart_api::ServerConfig;
///
/// let config = ServerConfig::default()
///     .header_timeout(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(30))
///     .max_connections(256);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// A connection that has not sent a complete request head this long after it opened
    /// (or after the first byte of a later request) is closed without an answer.
    pub header_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed. A request in
    /// flight (a `wait` long-poll, say) is not idle.
    pub idle_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// An invalid [`ServerConfig`] value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name}: {reason}")]
pub struct ServerConfigError {
    /// The setting.
    pub name: &'static str,
    /// What a valid value is.
    pub reason: &'static str,
}

impl ServerConfig {
    /// Sets the header timeout.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets the idle keep-alive timeout.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the most connections served at once.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Checks every value: timeouts are positive, the cap is between 1 and
    /// [`MAX_MAX_CONNECTIONS`]. [`serve_with`](crate::serve_with) returns this error as
    /// an `InvalidInput` I/O error.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        if self.header_timeout.is_zero() {
            return Err(invalid("header timeout", "must be positive"));
        }
        if self.idle_timeout.is_zero() {
            return Err(invalid("idle timeout", "must be positive"));
        }
        if !(1..=MAX_MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(invalid("max connections", "must be between 1 and 1000000"));
        }
        Ok(())
    }
}

fn invalid(name: &'static str, reason: &'static str) -> ServerConfigError {
    ServerConfigError { name, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zeroes_are_not() {
        assert!(ServerConfig::default().validate().is_ok());
        let zero = ServerConfig::default().header_timeout(Duration::ZERO);
        assert_eq!(zero.validate().unwrap_err().name, "header timeout");
        let zero = ServerConfig::default().idle_timeout(Duration::ZERO);
        assert_eq!(zero.validate().unwrap_err().name, "idle timeout");
        let none = ServerConfig::default().max_connections(0);
        assert_eq!(none.validate().unwrap_err().name, "max connections");
    }
}
