//! The JSON shape for errors produced outside our handlers: unknown routes (the
//! fallback), wrong methods (axum's 405), oversized bodies caught by the body-limit
//! layer, and anything else that answers 4xx/5xx with a non-JSON body.

use std::any::Any;

use axum::body::{to_bytes, Body};
use axum::extract::{OriginalUri, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, INTERNAL_MESSAGE};

/// Marks a response whose plain-text error body is part of the contract (`/readyz`'s
/// `not ready`), so [`json_errors`] leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainTextError;

/// The most of a non-JSON error body read to build the JSON message.
const MAX_ECHOED_BODY: usize = 1024;

/// Fallback: a JSON 404 for any path no route matches. It names the path the client
/// sent (`OriginalUri`), not the rest a nested router saw after its prefix.
pub(crate) async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

/// A handler panicked: log the panic, answer a generic JSON 500.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    tracing::error!(%detail, "request handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE).into_response()
}

/// Rewrites 4xx/5xx responses that are not JSON into `{"error": "..."}`.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || is_json(&response) || response.extensions().get::<PlainTextError>().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("method {method} is not allowed on {path}"),
        StatusCode::NOT_FOUND => format!("no route for {method} {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_owned(),
        s if s.is_server_error() => {
            tracing::error!(%status, %path, "non-JSON server error rewritten");
            if s == StatusCode::INTERNAL_SERVER_ERROR {
                INTERNAL_MESSAGE.to_owned()
            } else {
                reason(s)
            }
        }
        s => echoed_text(body).await.unwrap_or_else(|| reason(s)),
    };
    let mut rewritten = ApiError::new(status, message).into_response();
    // Keep informative headers such as `Allow` and CORS headers.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().append(name, value.clone());
        }
    }
    rewritten
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

async fn echoed_text(body: Body) -> Option<String> {
    let bytes = to_bytes(body, MAX_ECHOED_BODY).await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn reason(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_become_generic_json_500s() {
        let response = panic_response(Box::new("secret: postgres://u:pw@db".to_owned()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"internal server error"}"#);
    }
}
