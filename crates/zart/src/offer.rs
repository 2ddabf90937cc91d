//! Offering events to executions: idempotently by event id, within the inbox limit.

use serde_json::Value;
use zart_core::{EventOffer, OfferOutcome};

use crate::client::{not_found, validate_name};
use crate::{Client, ClientError};

/// Options of [`Client::offer_event_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferOptions {
    /// The caller's id for this event (1 to 255 characters). An offer with an id
    /// already stored for the execution stores nothing and answers the first one:
    /// retrying an offer after a timeout cannot deliver it twice.
    pub event_id: Option<String>,
}

impl OfferOptions {
    /// Options with `event_id` as the event's idempotency key.
    pub fn event_id(event_id: impl Into<String>) -> Self {
        Self {
            event_id: Some(event_id.into()),
        }
    }
}

/// An event in an execution's inbox, as [`Client::offer_event_with`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    /// The event's sequence number: events are consumed in this order.
    pub sequence: i64,
    /// `true` when an event with the same id was stored before: this offer stored
    /// nothing, and `sequence` is that event's.
    pub duplicate: bool,
}

impl Client {
    /// Delivers an event to an execution's inbox. It is kept until the execution waits
    /// for that name, and consumed once. See [`Client::offer_event_with`] for an
    /// idempotent offer and the event's sequence number.
    pub async fn offer_event(
        &self,
        id: &str,
        name: &str,
        payload: Value,
    ) -> Result<(), ClientError> {
        self.offer_event_with(id, name, payload, OfferOptions::default())
            .await
            .map(|_| ())
    }

    /// [`Client::offer_event`] with options; returns where the event is. An
    /// execution holding [`Client::max_pending_events`] unconsumed events refuses it
    /// with [`ClientError::InboxFull`], storing nothing.
    pub async fn offer_event_with(
        &self,
        id: &str,
        name: &str,
        payload: Value,
        options: OfferOptions,
    ) -> Result<Offered, ClientError> {
        validate_name("event name", name)?;
        if let Some(event_id) = &options.event_id {
            validate_name("event id", event_id)?;
        }
        let offer = EventOffer {
            idempotency_key: options.event_id,
            max_pending: self.max_pending_events(),
            ..EventOffer::new(id, name, payload, self.now())
        };
        match self.store().event_offer(offer).await? {
            OfferOutcome::Accepted {
                sequence,
                duplicate,
            } => Ok(Offered {
                sequence,
                duplicate,
            }),
            OfferOutcome::NotFound => Err(not_found(id)),
            OfferOutcome::Terminal(status) => Err(ClientError::Conflict(format!(
                "execution {id:?} is already {status}; the event was not stored"
            ))),
            OfferOutcome::InboxFull { max_pending } => Err(ClientError::InboxFull(format!(
                "execution {id:?} already holds {max_pending} unconsumed events; \
                 the event was not stored"
            ))),
        }
    }
}
