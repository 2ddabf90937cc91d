//! W3C trace context carried by an execution, so every run of it, on any process and
//! after any crash, continues the trace it was started in.
//!
//! The runtime's spans are plain `tracing` spans; with an OpenTelemetry layer in the
//! subscriber (`tracing-opentelemetry`, for example the one `zart::telemetry`
//! builds) they become OpenTelemetry spans. The stored form of a context is the
//! `traceparent` value, then, if there is one, a line break and the `tracestate`
//! value (neither may contain a line break, so the split is unambiguous).

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// The longest `tracestate` kept: W3C allows 32 members; past this it is dropped
/// rather than stored (vendors must tolerate a missing `tracestate`).
const MAX_TRACESTATE_CHARS: usize = 512;

/// A validated W3C trace context: the parent an execution's spans continue from.
///
/// Build it from a `traceparent` header value ([`TraceContext::parse`]) or from the
/// current `tracing` span ([`TraceContext::current`]) and give it to
/// [`StartRequest::trace_context`](crate::StartRequest::trace_context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: String,
    tracestate: Option<String>,
}

impl TraceContext {
    /// Parses a `traceparent` (and optional `tracestate`) header value. `None` when
    /// the `traceparent` is not a valid W3C value (wrong shape, all-zero ids, version
    /// `ff`): per the W3C recommendation an invalid header is ignored, not an error,
    /// so a start with one proceeds without a parent. An over-long or malformed
    /// `tracestate` is dropped and the `traceparent` kept.
    ///
    /// ```
    /// let cx = zart::TraceContext::parse(
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ///     None,
    /// );
    /// assert!(cx.is_some());
    /// assert!(zart::TraceContext::parse("not a traceparent", None).is_none());
    /// ```
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let tracestate = tracestate
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_TRACESTATE_CHARS && !s.contains('\n'));
        let traceparent = traceparent.trim();
        if !well_formed(traceparent) {
            return None;
        }
        let mut carrier = HashMap::with_capacity(2);
        carrier.insert(TRACEPARENT.to_owned(), traceparent.to_owned());
        if let Some(state) = tracestate {
            carrier.insert(TRACESTATE.to_owned(), state.to_owned());
        }
        let cx = TraceContextPropagator::new().extract(&carrier);
        Self::from_otel(&cx)
    }

    /// The context of the current `tracing` span, when an OpenTelemetry layer records
    /// it (otherwise `None`: no layer, or no span).
    pub fn current() -> Option<Self> {
        Self::of(&tracing::Span::current())
    }

    /// The `traceparent` header value.
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` header value, if any.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The trace id, as 32 lowercase hex digits.
    pub fn trace_id(&self) -> &str {
        // Validated at construction: `00-<trace id>-<span id>-<flags>`.
        self.traceparent.get(3..35).unwrap_or_default()
    }

    /// The context of `span`, when an OpenTelemetry layer records it.
    pub(crate) fn of(span: &tracing::Span) -> Option<Self> {
        if span.is_disabled() {
            return None;
        }
        Self::from_otel(&span.context())
    }

    /// The stored form (see the module docs).
    pub(crate) fn to_stored(&self) -> String {
        match &self.tracestate {
            Some(state) => format!("{}\n{state}", self.traceparent),
            None => self.traceparent.clone(),
        }
    }

    /// Reads the stored form back; `None` for anything invalid.
    pub(crate) fn from_stored(stored: &str) -> Option<Self> {
        let (parent, state) = match stored.split_once('\n') {
            Some((parent, state)) => (parent, Some(state)),
            None => (stored, None),
        };
        Self::parse(parent, state)
    }

    /// Makes `span`, not yet entered, a child of this context (a no-op without an
    /// OpenTelemetry layer): for example an HTTP request span, from the request's
    /// `traceparent` header.
    pub fn set_parent_of(&self, span: &tracing::Span) {
        let mut carrier = HashMap::with_capacity(2);
        carrier.insert(TRACEPARENT.to_owned(), self.traceparent.clone());
        if let Some(state) = &self.tracestate {
            carrier.insert(TRACESTATE.to_owned(), state.clone());
        }
        let cx = TraceContextPropagator::new().extract(&carrier);
        // Fails only without a layer or once the span started: nothing to do then.
        let _ = span.set_parent(cx);
    }

    fn from_otel(cx: &opentelemetry::Context) -> Option<Self> {
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut carrier: HashMap<String, String> = HashMap::with_capacity(2);
        TraceContextPropagator::new().inject_context(cx, &mut carrier);
        Some(Self {
            traceparent: carrier.remove(TRACEPARENT)?,
            tracestate: carrier.remove(TRACESTATE).filter(|s| !s.is_empty()),
        })
    }
}

/// Whether `traceparent` has the W3C shape: `version-traceid-parentid-flags`, each of
/// exactly 2, 32, 16 and 2 lowercase hex digits (the propagator checks the values:
/// all-zero ids, version `ff`; it would accept a short id). A later version may
/// append fields after the flags; version `00` may not.
fn well_formed(traceparent: &str) -> bool {
    let Some(head) = traceparent.get(..55) else {
        return false;
    };
    let rest = &traceparent[55..];
    let shape = head.split('-').map(str::len).eq([2, 32, 16, 2]);
    let hex = head
        .bytes()
        .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let tail_ok = if head.starts_with("00") {
        rest.is_empty()
    } else {
        rest.is_empty() || rest.starts_with('-')
    };
    shape && hex && tail_ok
}

/// Records `trace_id` on `span` (declared with `trace_id = Empty`) when the span is
/// part of an OpenTelemetry trace, so log lines inside it name the trace.
pub(crate) fn record_trace_id(span: &tracing::Span) {
    if let Some(cx) = TraceContext::of(span) {
        span.record("trace_id", tracing::field::display(cx.trace_id()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparent_round_trips_through_the_stored_form() {
        let cx = TraceContext::parse(VALID, Some("vendor=abc")).expect("valid");
        assert_eq!(cx.traceparent(), VALID);
        assert_eq!(cx.tracestate(), Some("vendor=abc"));
        assert_eq!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(TraceContext::from_stored(&cx.to_stored()), Some(cx));
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            assert_eq!(TraceContext::parse(bad, None), None, "{bad:?}");
        }
    }

    #[test]
    fn an_oversized_tracestate_is_dropped_and_the_traceparent_kept() {
        let state = format!("k={}", "v".repeat(MAX_TRACESTATE_CHARS));
        let cx = TraceContext::parse(VALID, Some(&state)).expect("valid");
        assert_eq!(cx.tracestate(), None);
    }

    #[test]
    fn without_an_opentelemetry_layer_there_is_no_current_context() {
        assert_eq!(TraceContext::current(), None);
    }
}
