//! The model's event inbox: offers and consumes.

use serde_json::json;
use zart_core::{EventTake, OfferOutcome};

use super::calls::{exec_id, wait_step_name, Lease};
use super::ops::EVENT_NAMES;
use super::state::{expect, Checked, Model};

impl Model {
    /// Checks an offer's answer; an accepted event joins the inbox and wakes an
    /// execution parked (unleased) on its name.
    pub(super) fn offer(
        &mut self,
        exec: usize,
        name: usize,
        payload: i64,
        got: &OfferOutcome,
    ) -> Checked {
        let now = self.now;
        let (want, accepted) = match &self.execs[exec] {
            None => ("not found", *got == OfferOutcome::NotFound),
            Some(e) if e.status.is_terminal() => {
                ("terminal", *got == OfferOutcome::Terminal(e.status))
            }
            Some(_) => (
                "accepted, not a duplicate",
                matches!(
                    got,
                    OfferOutcome::Accepted {
                        duplicate: false,
                        ..
                    }
                ),
            ),
        };
        expect(accepted, || {
            format!("offer to {}: {got:?}, want {want}", exec_id(exec))
        })?;
        if !matches!(got, OfferOutcome::Accepted { .. }) {
            return Ok(());
        }
        let e = self.exec_mut(exec)?;
        e.inbox.push_back((name, payload));
        if e.lease.is_none() && e.parked_on == Some(name) && e.due_at.is_none_or(|d| d > now) {
            e.due_at = Some(now);
        }
        self.offered.push(payload);
        Ok(())
    }

    /// Checks a consume's answer: the oldest pending event of the name, taken only
    /// under a lease that holds; it leaves the inbox and completes the wait step.
    pub(super) fn consume(
        &mut self,
        lease: &Lease,
        name: usize,
        occurrence: u32,
        got: &EventTake,
    ) -> Checked {
        let holds = self.holds(lease);
        let e = self.exec_mut(lease.exec)?;
        let oldest = e.inbox.iter().position(|(n, _)| *n == name);
        let ok = match (got, oldest) {
            (EventTake::Taken(v), Some(at)) => holds && *v == json!(e.inbox[at].1),
            (EventTake::Empty, None) => true,
            (EventTake::LeaseLost, _) => !holds,
            _ => false,
        };
        let pending: Vec<i64> = e
            .inbox
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .collect();
        expect(ok, || {
            format!(
                "consume of {:?} under {lease:?}: {got:?}; lease holds = {holds}, pending {pending:?}",
                EVENT_NAMES[name]
            )
        })?;
        if let (EventTake::Taken(v), Some(at)) = (got, oldest) {
            let (_, payload) = e.inbox.remove(at).unwrap_or((name, -1));
            e.journal
                .insert((wait_step_name(name), occurrence), v.clone());
            self.taken.push(payload);
        }
        Ok(())
    }
}
