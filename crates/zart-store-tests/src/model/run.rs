//! Running one case: each operation is resolved to store calls, made, and checked
//! against the model; after every operation the store's visible state is compared
//! with the model's ([`observe`](super::observe)); at the end every execution still
//! alive must be able to finish ([`finale`](super::finale)).

use super::calls::{Call, Lease, Outcome};
use super::ops::{Holder, Op, Race, Wait};
use super::perform::perform;
use super::state::Model;
use super::tally::Tally;
use crate::support::DynStore;

impl Model {
    /// The lease `holder` names: its worker's `slot`-th most recent one. A worker
    /// that was never given one passes the operation to the next worker that was,
    /// so that few operations are skipped.
    pub(super) fn lease_of(&self, holder: Holder) -> Option<Lease> {
        let workers = self.held.len();
        let held = (0..workers)
            .map(|i| &self.held[(holder.worker + i) % workers])
            .find(|held| !held.is_empty())?;
        Some(held[held.len() - 1 - holder.slot % held.len()])
    }

    fn payload(&mut self) -> i64 {
        self.next_payload += 1;
        self.next_payload
    }

    fn occurrence(&mut self) -> u32 {
        self.next_occurrence += 1;
        self.next_occurrence
    }

    /// The store call of a plain (not racing, not time) operation, if the worker it
    /// names holds any lease.
    fn call_of(&mut self, op: &Op) -> Option<Call> {
        Some(match *op {
            Op::Insert { exec, delay } => Call::Insert {
                exec,
                run_at: self.now + delay,
            },
            Op::Claim { worker, limit } => Call::Claim { worker, limit },
            Op::Renew { worker } => Call::Renew {
                worker,
                leases: self.held[worker].clone(),
            },
            Op::SaveStep { by, step } => Call::Save {
                lease: self.lease_of(by)?,
                step,
            },
            Op::Suspend { by, wait } => Call::Suspend {
                lease: self.lease_of(by)?,
                wait,
            },
            Op::Release { by } => Call::Release {
                lease: self.lease_of(by)?,
            },
            Op::Offer { exec, name } => Call::Offer {
                exec,
                name,
                payload: self.payload(),
            },
            Op::Consume { by, name } => {
                let lease = self.lease_of(by)?;
                Call::Consume {
                    lease,
                    name,
                    occurrence: self.occurrence(),
                }
            }
            Op::Cancel { exec } => Call::Cancel { exec },
            Op::Finish { by } => Call::Finish {
                lease: self.lease_of(by)?,
            },
            Op::Advance { .. } | Op::Race(_) => return None,
        })
    }

    /// Calls made (one by one) before a race: two consumes racing get two events of
    /// their name to fight over.
    fn race_setup(&mut self, race: &Race) -> Vec<Call> {
        match *race {
            Race::Consumes { by, name } => match self.lease_of(by) {
                Some(lease) => (0..2)
                    .map(|_| Call::Offer {
                        exec: lease.exec,
                        name,
                        payload: self.payload(),
                    })
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The calls of a race, if the worker it names holds any lease.
    fn race_calls(&mut self, race: &Race) -> Option<Vec<Call>> {
        let offer = |m: &mut Self, lease: Lease, name| Call::Offer {
            exec: lease.exec,
            name,
            payload: m.payload(),
        };
        Some(match *race {
            Race::Claims { ref limits } => limits
                .iter()
                .enumerate()
                .map(|(worker, &limit)| Call::Claim { worker, limit })
                .collect(),
            Race::Consumes { by, name } => {
                let lease = self.lease_of(by)?;
                let first = Call::Consume {
                    lease,
                    name,
                    occurrence: self.occurrence(),
                };
                vec![
                    first,
                    Call::Consume {
                        lease,
                        name,
                        occurrence: self.occurrence(),
                    },
                ]
            }
            Race::ConsumeOffer { by, name } => {
                let lease = self.lease_of(by)?;
                let consume = Call::Consume {
                    lease,
                    name,
                    occurrence: self.occurrence(),
                };
                vec![consume, offer(self, lease, name)]
            }
            Race::SuspendOffer { by, name } => {
                let lease = self.lease_of(by)?;
                let wait = Wait::Event {
                    name,
                    wake_in: None,
                };
                vec![Call::Suspend { lease, wait }, offer(self, lease, name)]
            }
            Race::FinishCancel { by } => {
                let lease = self.lease_of(by)?;
                vec![Call::Finish { lease }, Call::Cancel { exec: lease.exec }]
            }
            Race::SaveCancel { by, step } => {
                let lease = self.lease_of(by)?;
                vec![
                    Call::Save { lease, step },
                    Call::Cancel { exec: lease.exec },
                ]
            }
        })
    }

    /// Accepts the answers of racing calls if some order of the calls explains them
    /// all, and moves the model on as that order would.
    fn apply_some_order(&mut self, calls: &[Call], outcomes: &[Outcome]) -> Result<(), String> {
        let mut rejected = Vec::new();
        for order in orders(calls.len()) {
            let mut candidate = self.clone();
            let applied = order
                .iter()
                .try_for_each(|&i| candidate.apply(&calls[i], &outcomes[i], true));
            match applied {
                Ok(()) => {
                    *self = candidate;
                    return Ok(());
                }
                Err(e) => rejected.push(format!("order {order:?}: {e}")),
            }
        }
        Err(format!(
            "no order of the racing calls explains their answers {outcomes:?}:\n  {}",
            rejected.join("\n  ")
        ))
    }
}

/// Every order of `n` (at most 3) calls.
fn orders(n: usize) -> Vec<Vec<usize>> {
    match n {
        0 => vec![vec![]],
        _ => orders(n - 1)
            .into_iter()
            .flat_map(|order| {
                (0..n).map(move |at| {
                    let mut longer = order.clone();
                    longer.insert(at, n - 1);
                    longer
                })
            })
            .collect(),
    }
}

/// Makes `calls` at once, each on a task of its own, and returns the answers in
/// call order.
async fn perform_all(store: &DynStore, now: i64, calls: &[Call]) -> Result<Vec<Outcome>, String> {
    let tasks: Vec<_> = calls
        .iter()
        .cloned()
        .map(|call| {
            let store = store.clone();
            tokio::spawn(async move { perform(&store, now, &call).await })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        let answer = task
            .await
            .map_err(|e| format!("a racing call panicked: {e}"))?;
        outcomes.push(answer.map_err(|e| format!("store error in a race of {calls:?}: {e}"))?);
    }
    Ok(outcomes)
}

/// Runs one operation against the store and the model.
pub(super) async fn step(
    store: &DynStore,
    model: &mut Model,
    op: &Op,
    tally: &Tally,
) -> Result<(), String> {
    match op {
        Op::Advance { ms } => model.now += ms,
        Op::Race(race) => {
            for call in model.race_setup(race) {
                call_and_check(store, model, &call, tally).await?;
            }
            let Some(calls) = model.race_calls(race) else {
                return Ok(());
            };
            let outcomes = perform_all(store, model.now, &calls).await?;
            for (call, outcome) in calls.iter().zip(&outcomes) {
                tally.record(call, outcome, true);
            }
            model.apply_some_order(&calls, &outcomes)?;
        }
        op => {
            let Some(call) = model.call_of(op) else {
                return Ok(());
            };
            call_and_check(store, model, &call, tally).await?;
        }
    }
    Ok(())
}

/// Makes one call and checks its answer against the model; returns the answer.
pub(super) async fn call_and_check(
    store: &DynStore,
    model: &mut Model,
    call: &Call,
    tally: &Tally,
) -> Result<Outcome, String> {
    let outcome = perform(store, model.now, call)
        .await
        .map_err(|e| format!("{call:?}: store error: {e}"))?;
    tally.record(call, &outcome, false);
    model.apply(call, &outcome, false)?;
    Ok(outcome)
}
