//! Delivering events to executions, and reading an execution's inbox.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zart::OfferOptions;

use crate::dto::{ErrorBody, EventAccepted, InboxPage};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, EventListParams, IdempotencyKey, JsonValue};
use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_event))
        .routes(routes!(list_events))
}

/// Query parameters of `POST /events/{executionId}/{eventName}`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub(crate) struct EventParams {
    /// The event's idempotency key, for clients that cannot set the
    /// `Idempotency-Key` header (the same rules; if both are given they must match).
    event_id: Option<String>,
}

/// Delivers an event. It is kept in the execution's inbox until the execution waits
/// for that name, and consumed once: an event sent early is not lost. With an
/// idempotency key, an offer retried after a timeout or a 503 is stored once.
#[utoipa::path(
    post,
    path = "/events/{executionId}/{eventName}",
    tag = "events",
    params(
        ("executionId" = String, Path, description = super::EXECUTION_ID_DOC),
        ("eventName" = String, Path, description = "The event name (1–255 characters)"),
        ("Idempotency-Key" = Option<String>, Header, description = "The event's id \
            (1–255 characters): an offer with a key already stored for the execution \
            stores nothing and answers `duplicate: true` with the first one's sequence",
            min_length = 1, max_length = 255),
        EventParams,
    ),
    request_body(
        content = Option<serde_json::Value>,
        description = "The event payload: any JSON value; an empty body is `null`",
        content_type = "application/json",
    ),
    responses(
        (status = 202, description = "Stored, or already stored under the same key", body = EventAccepted),
        (status = 400, description = "Malformed JSON, invalid event name or key", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "The execution already finished", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "The execution's inbox is full; nothing was stored", body = ErrorBody),
    )
)]
pub(crate) async fn post_event(
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<EventParams>,
    IdempotencyKey(header): IdempotencyKey,
    JsonValue(payload): JsonValue,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    let options = OfferOptions {
        event_id: event_id(header, params.event_id)?,
    };
    let offered = state
        .client
        .offer_event_with(&id, &name, payload, options)
        .await?;
    let body = EventAccepted {
        execution_id: id,
        event_name: name,
        sequence: offered.sequence,
        duplicate: offered.duplicate,
    };
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// One page of an execution's inbox, newest first: pending events (waiting for a
/// wait on their name) and consumed ones with the wait step that took them.
#[utoipa::path(
    get,
    path = "/executions/{executionId}/events",
    tag = "events",
    params(
        ("executionId" = String, Path, description = super::EXECUTION_ID_DOC),
        EventListParams,
    ),
    responses(
        (status = 200, description = "One page of the inbox", body = InboxPage),
        (status = 400, description = "Invalid limit or before", body = ErrorBody),
        (status = 404, description = "No such execution", body = ErrorBody),
    )
)]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<EventListParams>,
) -> Result<Json<InboxPage>, ApiError> {
    let (before, limit) = params.page()?;
    let events = state.client.events(&id, before, limit).await?;
    // A full page may have more below it; a short one is the last.
    let next_before = match events.last() {
        Some(last) if events.len() == limit as usize && last.sequence > 1 => Some(last.sequence),
        _ => None,
    };
    let events = events.into_iter().map(Into::into).collect();
    Ok(Json(InboxPage {
        events,
        next_before,
    }))
}

/// The idempotency key from the header or the `eventId` parameter (the client
/// checks its length and characters).
fn event_id(header: Option<String>, param: Option<String>) -> Result<Option<String>, ApiError> {
    match (header, param) {
        (Some(h), Some(p)) if h != p => Err(ApiError::bad_request(
            "the Idempotency-Key header and the eventId parameter differ",
        )),
        (Some(key), _) | (None, Some(key)) => Ok(Some(key)),
        (None, None) => Ok(None),
    }
}
