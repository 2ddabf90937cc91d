//! Bounds the time a client may take to send a request body: a slow sender gets a JSON
//! 408 and the connection is closed, instead of holding a request (and its connection
//! slot) open for as long as it likes.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{body_read_error, ApiError};

/// The body timeout and size limit, from the [`ApiConfig`](crate::ApiConfig).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyBounds {
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
}

/// Reads the whole body (at most `max_bytes`) within `timeout` before the handler runs.
/// Every body this API accepts is a JSON document read whole anyway, so buffering it
/// here costs nothing more; a request without a body passes straight through.
pub(crate) async fn bounded_body(
    State(bounds): State<BodyBounds>,
    request: Request,
    next: Next,
) -> Response {
    use axum::body::HttpBody;
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, bounds.max_bytes).collect();
    match tokio::time::timeout(bounds.timeout, read).await {
        Ok(Ok(collected)) => {
            let request = Request::from_parts(parts, Body::from(collected.to_bytes()));
            next.run(request).await
        }
        Ok(Err(err)) if too_large(&*err) => {
            body_read_error(StatusCode::PAYLOAD_TOO_LARGE).into_response()
        }
        Ok(Err(_)) => body_read_error(StatusCode::BAD_REQUEST).into_response(),
        Err(_elapsed) => timed_out(bounds.timeout),
    }
}

/// Whether the error, or one it wraps, is a body limit (ours, or the limit layer's
/// further in).
fn too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<LengthLimitError>() {
            return true;
        }
        next = err.source();
    }
    false
}

/// The 408: the rest of the body may still arrive, so the connection cannot be reused.
fn timed_out(timeout: Duration) -> Response {
    let message = format!(
        "the request body was not received within {} s",
        timeout.as_secs_f64()
    );
    let mut response = ApiError::new(StatusCode::REQUEST_TIMEOUT, message).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
