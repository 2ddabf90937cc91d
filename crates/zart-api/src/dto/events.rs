//! The answer to an event offer, and the inbox listing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zart::core::EventRecord;

/// The body of a `202` to `POST /events/{executionId}/{eventName}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventAccepted {
    /// The execution whose inbox holds the event.
    pub execution_id: String,
    /// The event name.
    pub event_name: String,
    /// The event's sequence number: events are consumed in this order.
    pub sequence: i64,
    /// `true` when an event with the same idempotency key was already stored: this
    /// offer stored nothing, and `sequence` is that event's.
    pub duplicate: bool,
}

/// Whether a wait has taken an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InboxEventStatus {
    /// In the inbox; the next wait for its name takes it (oldest first).
    Pending,
    /// Taken by the wait named in `consumedBy`.
    Consumed,
}

/// One event of an execution's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxEvent {
    /// The event's sequence number: events of a name are consumed in this order.
    pub sequence: i64,
    /// The event name.
    pub event_name: String,
    /// The payload it was delivered with.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// `pending` or `consumed`.
    pub status: InboxEventStatus,
    /// When it was delivered.
    pub received_at: DateTime<Utc>,
    /// When a wait took it; `null` while pending.
    pub consumed_at: Option<DateTime<Utc>>,
    /// The step id (`name#occurrence`) of the wait that took it.
    pub consumed_by: Option<String>,
    /// The idempotency key it was delivered with (`Idempotency-Key` or `eventId`).
    pub event_id: Option<String>,
}

impl From<EventRecord> for InboxEvent {
    fn from(e: EventRecord) -> Self {
        let status = if e.consumed_at.is_some() {
            InboxEventStatus::Consumed
        } else {
            InboxEventStatus::Pending
        };
        Self {
            sequence: e.sequence,
            event_name: e.name,
            payload: e.payload,
            status,
            received_at: e.received_at,
            consumed_at: e.consumed_at,
            consumed_by: e.consumed_by,
            event_id: e.idempotency_key,
        }
    }
}

/// The body of `GET /executions/{executionId}/events`: one page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxPage {
    /// The events, newest first.
    pub events: Vec<InboxEvent>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    pub next_before: Option<i64>,
}
