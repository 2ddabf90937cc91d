//! A small client for the Zart HTTP API, used by the `zart` client subcommands.

mod commands;
mod operator;
mod schedules;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde_json::Value;

use crate::args::ApiOptions;

pub(crate) use commands::run_command;

/// How long an ordinary request may take; `wait` sets its own, longer, limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// `--server` is not a usable base URL.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidServerUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request did not get an answer.
    #[error("cannot reach the Zart server at {url}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status; `message` is its `{"error"}` text.
    #[error("{message} (HTTP {status})")]
    Server {
        /// The HTTP status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server answered with something that is not the expected JSON.
    #[error("unexpected response from the server: {0}")]
    BadResponse(String),
}

/// The server's answer to a successful request.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code (2xx).
    pub status: StatusCode,
    /// The JSON body, `Null` when there is none.
    pub body: Value,
}

/// Which bearer token a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Public API routes.
    Api,
    /// Admin routes.
    Admin,
}

/// A client bound to one server.
#[derive(Debug, Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: Url,
    options: ApiOptions,
}

impl ApiClient {
    /// A client for the server named in `options`.
    pub(crate) fn new(options: &ApiOptions) -> Result<Self, HttpError> {
        let invalid = |reason: String| HttpError::InvalidServerUrl {
            url: options.server.clone(),
            reason,
        };
        let base = Url::parse(&options.server).map_err(|e| invalid(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(
                "expected http://HOST:PORT or https://HOST:PORT".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("zart-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            http,
            base,
            options: options.clone(),
        })
    }

    /// The URL of `segments` (each percent-encoded) under the scope's prefix.
    pub(crate) fn url(&self, scope: Scope, segments: &[&str]) -> Url {
        let prefix = match scope {
            Scope::Api => &self.options.api_prefix,
            Scope::Admin => &self.options.admin_prefix,
        };
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(prefix.split('/').filter(|s| !s.is_empty()));
            path.extend(segments);
        }
        url
    }

    /// A request with the scope's bearer token.
    pub(crate) fn request(&self, scope: Scope, method: Method, url: Url) -> RequestBuilder {
        let token = match scope {
            Scope::Api => self.options.token.as_ref(),
            Scope::Admin => self
                .options
                .admin_token
                .as_ref()
                .or(self.options.token.as_ref()),
        };
        let request = self.http.request(method, url).timeout(REQUEST_TIMEOUT);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request`; a non-2xx answer becomes [`HttpError::Server`] with the
    /// server's message.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Reply, HttpError> {
        let response = request
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| self.unreachable(source))?;
        let body = if bytes.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_slice::<Value>(&bytes)
        };
        if status.is_success() {
            let body = body.map_err(|e| HttpError::BadResponse(format!("invalid JSON ({e})")))?;
            return Ok(Reply { status, body });
        }
        let message = match body {
            Ok(Value::Object(map)) if map.get("error").is_some_and(Value::is_string) => {
                crate::output::text(&map["error"])
            }
            _ => describe_status(status, &bytes),
        };
        Err(HttpError::Server {
            status: status.as_u16(),
            message,
        })
    }

    fn unreachable(&self, source: reqwest::Error) -> HttpError {
        HttpError::Unreachable {
            url: self.base.to_string(),
            source,
        }
    }
}

/// A message for an error response without a JSON `{"error"}` body (a proxy, or not
/// a Zart server at all).
fn describe_status(status: StatusCode, body: &[u8]) -> String {
    let reason = status.canonical_reason().unwrap_or("error");
    let text = String::from_utf8_lossy(body);
    let first_line = text.lines().next().unwrap_or("").trim();
    if first_line.is_empty() {
        return reason.to_owned();
    }
    let excerpt: String = first_line.chars().take(200).collect();
    format!("{reason}: {excerpt}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn client(args: &[&str]) -> ApiClient {
        let mut argv = vec!["zart"];
        argv.extend_from_slice(args);
        argv.push("stats");
        let cli = crate::args::Cli::try_parse_from(argv).expect("valid command line");
        ApiClient::new(&cli.api).expect("valid server URL")
    }

    #[test]
    fn ids_are_percent_encoded_as_one_path_segment() {
        let c = client(&["--server", "http://h:1", "--api-prefix", "/api/v1"]);
        let url = c.url(Scope::Api, &["executions", "a/b c", "cancel"]);
        assert_eq!(
            url.as_str(),
            "http://h:1/api/v1/executions/a%2Fb%20c/cancel"
        );
    }

    #[test]
    fn server_url_with_a_path_keeps_it_before_the_prefix() {
        let c = client(&["--server", "http://h:1/zart/", "--admin-prefix", "/admin"]);
        let url = c.url(Scope::Admin, &["executions", "x", "detail"]);
        assert_eq!(url.as_str(), "http://h:1/zart/admin/executions/x/detail");
    }

    #[test]
    fn server_url_that_is_not_http_is_rejected() {
        let cli = crate::args::Cli::try_parse_from(["zart", "--server", "ftp://h", "stats"])
            .expect("parses");
        let err = ApiClient::new(&cli.api).expect_err("ftp is not supported");
        assert!(err.to_string().contains("invalid server URL"), "{err}");
    }
}
