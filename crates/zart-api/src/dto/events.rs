//! The answer to an event offer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
