//! [`ApiError`]: the one error type of every handler and extractor, rendered as
//! `{"error": "..."}` with `Content-Type: application/json`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use zart::ClientError;

use crate::dto::ErrorBody;

/// The message of every 503: the store's own message may name hosts or credentials.
pub(crate) const UNAVAILABLE_MESSAGE: &str = "store unavailable";
/// The message of every 500.
pub(crate) const INTERNAL_MESSAGE: &str = "internal server error";

/// An HTTP error: a status and a message safe to show to the client.
///
/// User errors (4xx) carry a message saying what was wrong with the request. Server
/// errors (5xx) carry a generic message; the detail is logged with `tracing` when the
/// error is built from a [`ClientError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with `status` and `message`, shown to the client as is.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 401: the bearer token is missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ClientError> for ApiError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            ClientError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            // The typed calls' outcomes are the execution's state, not a fault here.
            e @ (ClientError::Failed { .. } | ClientError::Cancelled { .. }) => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            ClientError::UnknownTask(m)
            | ClientError::Unprocessable(m)
            | ClientError::TypeMismatch(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            ClientError::InvalidInput(m) => Self::new(StatusCode::BAD_REQUEST, m),
            ClientError::Timeout(m) => Self::new(StatusCode::GATEWAY_TIMEOUT, m),
            ClientError::InboxFull(m) => Self::new(StatusCode::TOO_MANY_REQUESTS, m),
            ClientError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
            }
            ClientError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE)
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // axum answers 422 for JSON of the wrong shape; the contract says 400.
            JsonRejection::JsonDataError(e) => {
                Self::bad_request(format!("invalid request body: {}", e.body_text()))
            }
            JsonRejection::JsonSyntaxError(e) => {
                Self::bad_request(format!("malformed JSON body: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(e) => body_read_error(e.status()),
            other => Self::new(other.status(), other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(format!("invalid query string: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let status = rejection.status();
        if status.is_server_error() {
            tracing::error!(rejection = %rejection.body_text(), "path extraction failed");
            return Self::new(status, INTERNAL_MESSAGE);
        }
        Self::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

/// The error for a body that could not be read: too large (413) or broken.
pub(crate) fn body_read_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "request body too large")
    } else {
        ApiError::bad_request("failed to read the request body")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_the_detail() {
        let secret = "connect to postgres://admin:pw@db:5432 failed: SELECT * FROM executions";
        let unavailable = ApiError::from(ClientError::Unavailable(secret.into()));
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.message(), "store unavailable");
        let internal = ApiError::from(ClientError::Internal(secret.into()));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.message().contains("postgres"));
    }

    #[test]
    fn client_errors_map_to_their_statuses() {
        let cases = [
            (ClientError::NotFound("n".into()), StatusCode::NOT_FOUND),
            (ClientError::Conflict("c".into()), StatusCode::CONFLICT),
            (
                ClientError::UnknownTask("u".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                ClientError::InvalidInput("i".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                ClientError::Timeout("t".into()),
                StatusCode::GATEWAY_TIMEOUT,
            ),
            (
                ClientError::InboxFull("f".into()),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                ClientError::Failed {
                    id: "x".into(),
                    error: Box::new(zart::core::ExecutionError {
                        kind: zart::core::ErrorKind::Handler,
                        message: "boom".into(),
                        step: None,
                        attempts: None,
                    }),
                },
                StatusCode::CONFLICT,
            ),
            (
                ClientError::Cancelled { id: "x".into() },
                StatusCode::CONFLICT,
            ),
            (
                ClientError::TypeMismatch("m".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ];
        for (err, status) in cases {
            let message = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status(), status);
            assert_eq!(api.message(), message, "user errors are echoed");
        }
    }
}
