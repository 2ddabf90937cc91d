//! Counts of the calls a run made, by kind and answer, printed at the end so that a
//! passing run shows what it exercised (refused stale writes, taken events, races).

use std::collections::BTreeMap;
use std::sync::Mutex;

use zart_core::{CancelOutcome, EventTake, OfferOutcome};

use super::calls::{Call, Outcome};

/// Call counts by label, shared by the cases of one run.
#[derive(Debug, Default)]
pub(super) struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    /// Counts one answered call; `racing` when it ran in a race.
    pub(super) fn record(&self, call: &Call, outcome: &Outcome, racing: bool) {
        let label = format!(
            "{}{}",
            if racing { "race: " } else { "" },
            label(call, outcome)
        );
        // A poisoned lock only means a case panicked mid-count: keep counting.
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(label).or_default() += 1;
    }

    /// One line per label, with its count.
    pub(super) fn summary(&self) -> String {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|(label, n)| format!("  {n:>6}  {label}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn label(call: &Call, outcome: &Outcome) -> String {
    let kind = match call {
        Call::Insert { .. } => "insert",
        Call::Claim { .. } => "claim",
        Call::Renew { .. } => "renew",
        Call::Save { .. } => "step save",
        Call::Suspend { .. } => "suspend",
        Call::Release { .. } => "release",
        Call::Offer { .. } => "offer",
        Call::Consume { .. } => "consume",
        Call::Cancel { .. } => "cancel",
        Call::Finish { .. } => "finish",
    };
    format!("{kind} {}", answer(outcome))
}

fn answer(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Inserted(true) => "created",
        Outcome::Inserted(false) => "existing",
        Outcome::Claimed(got) if got.is_empty() => "took none",
        Outcome::Claimed(_) => "took some",
        Outcome::Renewed(ids) if ids.is_empty() => "renewed none",
        Outcome::Renewed(_) => "renewed some",
        Outcome::Applied(true) => "applied",
        Outcome::Applied(false) => "refused (lease lost)",
        Outcome::Offered(OfferOutcome::Accepted { .. }) => "accepted",
        Outcome::Offered(OfferOutcome::InboxFull { .. }) => "refused (inbox full)",
        Outcome::Offered(OfferOutcome::NotFound) => "not found",
        Outcome::Offered(OfferOutcome::Terminal(_)) => "refused (terminal)",
        Outcome::Took(EventTake::Taken(_)) => "taken",
        Outcome::Took(EventTake::Empty) => "empty",
        Outcome::Took(EventTake::LeaseLost) => "refused (lease lost)",
        Outcome::Cancelled(CancelOutcome::Cancelled(_)) => "cancelled",
        Outcome::Cancelled(CancelOutcome::NotFound) => "not found",
        Outcome::Cancelled(CancelOutcome::AlreadyTerminal(_)) => "already terminal",
    }
}
