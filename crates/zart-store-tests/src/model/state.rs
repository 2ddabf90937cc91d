//! The reference model: a few plain collections that say what the store must hold
//! and answer, and [`Model::apply`], which checks one answer of the store against
//! them and then moves them on.
//!
//! Where the contract leaves the store a choice (which claimable executions a claim
//! takes, whether a consume under a lost lease with nothing pending says `Empty` or
//! `LeaseLost`), `apply` accepts any allowed answer and follows the store's choice.

use zart_core::{CancelOutcome, ExecutionStatus};

use super::calls::{exec_id, worker_id, written_by, Call, Lease, Outcome};
use super::exec::{ExecModel, Held};
use super::ops::{Wait, EXECUTIONS, LEASE_MS, WORKERS};

/// The whole model of one case.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Model {
    /// Virtual time (ms after the base instant).
    pub now: i64,
    /// Executions by index; `None` until inserted.
    pub execs: Vec<Option<ExecModel>>,
    /// Per worker, the leases it was given, newest last (a few, stale ones included).
    pub held: Vec<Vec<Lease>>,
    /// The next event payload (unique in the case).
    pub next_payload: i64,
    /// The next wait-step occurrence (unique in the case).
    pub next_occurrence: u32,
    /// Every payload the store accepted an offer of.
    pub offered: Vec<i64>,
    /// Every payload a consume took.
    pub taken: Vec<i64>,
}

/// How many leases a worker keeps in hand.
const HELD_PER_WORKER: usize = 3;

/// A check's verdict: `Err` says what the store got wrong.
pub(super) type Checked = Result<(), String>;

pub(super) fn expect(ok: bool, what: impl FnOnce() -> String) -> Checked {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

impl Default for Model {
    fn default() -> Self {
        Self {
            now: 0,
            execs: vec![None; EXECUTIONS],
            held: vec![Vec::new(); WORKERS],
            next_payload: 0,
            next_occurrence: 0,
            offered: Vec::new(),
            taken: Vec::new(),
        }
    }
}

impl Model {
    /// The index of execution id `id`, if it is one of the model's.
    pub(super) fn exec_index(id: &str) -> Option<usize> {
        (0..EXECUTIONS).find(|&i| exec_id(i) == id)
    }

    /// Whether a guard with `lease` holds at `now`: same fence, same owner, unexpired.
    pub(super) fn holds(&self, lease: &Lease) -> bool {
        let Some(e) = &self.execs[lease.exec] else {
            return false;
        };
        e.fence == lease.fence
            && e.lease
                .is_some_and(|h| h.worker == lease.worker && h.expires > self.now)
    }

    /// Checks `outcome` as the store's answer to `call` and applies it. `racing`
    /// allows a claim to take fewer executions than are claimable (a concurrent
    /// claim may skip rows another one has locked).
    pub(super) fn apply(&mut self, call: &Call, outcome: &Outcome, racing: bool) -> Checked {
        match (call, outcome) {
            (Call::Insert { exec, run_at }, Outcome::Inserted(created)) => {
                self.insert(*exec, *run_at, *created)
            }
            (Call::Claim { worker, limit }, Outcome::Claimed(got)) => {
                let ids: Vec<(String, i64)> = got.iter().map(|c| (c.id.clone(), c.fence)).collect();
                self.claim(*worker, *limit, &ids, racing)
            }
            (Call::Renew { worker, leases }, Outcome::Renewed(ids)) => {
                self.renew(*worker, leases, ids)
            }
            (Call::Save { lease, step }, Outcome::Applied(ok)) => self.save(lease, *step, *ok),
            (Call::Suspend { lease, wait }, Outcome::Applied(ok)) => {
                self.suspend(lease, *wait, *ok)
            }
            (Call::Release { lease }, Outcome::Applied(ok)) => self.release(lease, *ok),
            (
                Call::Offer {
                    exec,
                    name,
                    payload,
                },
                Outcome::Offered(o),
            ) => self.offer(*exec, *name, *payload, o),
            (
                Call::Consume {
                    lease,
                    name,
                    occurrence,
                },
                Outcome::Took(t),
            ) => self.consume(lease, *name, *occurrence, t),
            (Call::Cancel { exec }, Outcome::Cancelled(o)) => self.cancel(*exec, o),
            (Call::Finish { lease }, Outcome::Applied(ok)) => self.finish(lease, *ok),
            (call, outcome) => Err(format!("answer {outcome:?} does not fit {call:?}")),
        }
    }

    fn insert(&mut self, exec: usize, run_at: i64, created: bool) -> Checked {
        let exists = self.execs[exec].is_some();
        expect(created != exists, || {
            format!(
                "insert {}: created = {created}, but it existed = {exists}",
                exec_id(exec)
            )
        })?;
        if created {
            self.execs[exec] = Some(ExecModel::new(run_at));
        }
        Ok(())
    }

    fn claim(&mut self, worker: usize, limit: u32, got: &[(String, i64)], racing: bool) -> Checked {
        let now = self.now;
        let claimable = (0..EXECUTIONS)
            .filter(|&i| self.execs[i].as_ref().is_some_and(|e| e.claimable(now)))
            .count();
        let want = claimable.min(limit as usize);
        expect(got.len() == want || (racing && got.len() < want), || {
            format!("claim by w{worker} (limit {limit}) took {got:?}; {claimable} were claimable")
        })?;
        for (id, fence) in got {
            let i = Self::exec_index(id).ok_or_else(|| format!("claimed unknown {id}"))?;
            let e = self.execs[i]
                .as_mut()
                .ok_or_else(|| format!("claimed {id}, never inserted"))?;
            expect(e.claimable(now), || {
                format!("claimed {id}, which is not claimable: {e:?}")
            })?;
            expect(*fence == e.fence + 1, || {
                format!("claim of {id}: fence {fence}, model {}", e.fence)
            })?;
            e.unpark();
            e.fence = *fence;
            e.status = ExecutionStatus::Running;
            e.lease = Some(Held {
                worker,
                expires: now + LEASE_MS,
            });
            let held = &mut self.held[worker];
            held.push(Lease {
                exec: i,
                worker,
                fence: *fence,
            });
            if held.len() > HELD_PER_WORKER {
                held.remove(0);
            }
        }
        Ok(())
    }

    fn renew(&mut self, worker: usize, leases: &[Lease], ids: &[String]) -> Checked {
        let valid: Vec<&Lease> = leases.iter().filter(|l| self.holds(l)).collect();
        let mut want: Vec<String> = valid.iter().map(|l| exec_id(l.exec)).collect();
        let mut got = ids.to_vec();
        want.sort();
        got.sort();
        expect(got == want, || {
            format!(
                "renew by {}: renewed {got:?}, want {want:?}",
                worker_id(worker)
            )
        })?;
        for lease in valid {
            if let Some(e) = self.execs[lease.exec].as_mut() {
                e.lease = Some(Held {
                    worker,
                    expires: self.now + LEASE_MS,
                });
            }
        }
        Ok(())
    }

    /// Checks a guarded write's `applied` against the guard; the write applies iff
    /// the lease holds.
    fn guarded(&self, lease: &Lease, applied: bool, what: &str) -> Checked {
        let holds = self.holds(lease);
        expect(applied == holds, || {
            let e = &self.execs[lease.exec];
            format!("{what} under {lease:?} at {}: applied = {applied}, lease holds = {holds}; model {e:?}", self.now)
        })
    }

    pub(super) fn exec_mut(&mut self, i: usize) -> Result<&mut ExecModel, String> {
        self.execs[i]
            .as_mut()
            .ok_or_else(|| format!("{} was never inserted", exec_id(i)))
    }

    fn save(&mut self, lease: &Lease, step: u32, applied: bool) -> Checked {
        self.guarded(lease, applied, "step save")?;
        if applied {
            let e = self.exec_mut(lease.exec)?;
            e.journal
                .insert((format!("s{step}"), 0), written_by(lease, "step"));
        }
        Ok(())
    }

    fn suspend(&mut self, lease: &Lease, wait: Wait, applied: bool) -> Checked {
        self.guarded(lease, applied, "suspend")?;
        if !applied {
            return Ok(());
        }
        let now = self.now;
        let e = self.exec_mut(lease.exec)?;
        e.unpark();
        match wait {
            Wait::Event { name, wake_in } => {
                let wake = wake_in.map(|d| now + d);
                let pending = e.inbox.iter().any(|(n, _)| *n == name);
                e.due_at = if pending {
                    Some(wake.map_or(now, |w| w.min(now)))
                } else {
                    wake
                };
                e.parked_on = Some(name);
            }
            Wait::Timer { wake_in } => e.due_at = Some(now + wake_in),
        }
        Ok(())
    }

    fn release(&mut self, lease: &Lease, applied: bool) -> Checked {
        self.guarded(lease, applied, "release")?;
        if applied {
            let now = self.now;
            let e = self.exec_mut(lease.exec)?;
            e.unpark();
            e.due_at = Some(now);
        }
        Ok(())
    }

    fn finish(&mut self, lease: &Lease, applied: bool) -> Checked {
        self.guarded(lease, applied, "finish")?;
        if applied {
            let e = self.exec_mut(lease.exec)?;
            e.unpark();
            e.status = ExecutionStatus::Completed;
        }
        Ok(())
    }

    fn cancel(&mut self, exec: usize, got: &CancelOutcome) -> Checked {
        let want = match &self.execs[exec] {
            None => CancelOutcome::NotFound,
            Some(e) if e.status.is_terminal() => CancelOutcome::AlreadyTerminal(e.status),
            Some(_) => CancelOutcome::Cancelled(vec![exec_id(exec)]),
        };
        expect(*got == want, || {
            format!("cancel of {}: {got:?}, want {want:?}", exec_id(exec))
        })?;
        if let CancelOutcome::Cancelled(_) = want {
            let e = self.exec_mut(exec)?;
            e.unpark();
            e.status = ExecutionStatus::Cancelled;
            e.fence += 1;
        }
        Ok(())
    }
}
