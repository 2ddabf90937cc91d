//! Bearer-token authentication: a middleware that admits a request only when its
//! `Authorization: Bearer <token>` matches, compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The token a group of routes requires.
#[derive(Clone)]
pub(crate) struct RequiredToken(Arc<str>);

impl RequiredToken {
    pub(crate) fn new(token: &str) -> Self {
        Self(Arc::from(token))
    }

    /// Whether `presented` is the token. The comparison time does not depend on where
    /// the two differ (only on their lengths, which are not secret).
    fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// Rejects the request with a JSON 401 unless it carries the required bearer token.
pub(crate) async fn require_bearer(
    State(token): State<RequiredToken>,
    request: Request,
    next: Next,
) -> Response {
    match bearer_token(request.headers()) {
        Some(presented) if token.matches(presented) => next.run(request).await,
        Some(_) => ApiError::unauthorized("invalid bearer token").into_response(),
        None => {
            ApiError::unauthorized("missing `Authorization: Bearer <token>` header").into_response()
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn bearer_token_is_read_case_insensitively() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn token_matches_only_itself() {
        let token = RequiredToken::new("s3cret");
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret!"));
        assert!(!token.matches(""));
    }
}
