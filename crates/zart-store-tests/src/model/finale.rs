//! The end of every case: every execution still alive can be claimed, drained of
//! its events and finished, and every event offered was taken exactly once or is
//! still in the inbox of a finished execution.

use std::collections::BTreeSet;

use zart_core::EventTake;

use super::calls::{Call, Lease, Outcome};
use super::observe;
use super::ops::{EVENT_NAMES, EXECUTIONS};
use super::run::call_and_check;
use super::state::Model;
use super::tally::Tally;
use crate::support::DynStore;

/// Virtual time skipped before the finale: past every lease and timer of a case.
const SKIP_MS: i64 = 1_000_000;

type Checked = Result<(), String>;

/// Wakes, claims, drains and finishes every live execution; then checks the books.
pub(super) async fn finish_all(store: &DynStore, model: &mut Model, tally: &Tally) -> Checked {
    model.now += SKIP_MS;
    let alive: BTreeSet<usize> = (0..EXECUTIONS)
        .filter(|&i| {
            model.execs[i]
                .as_ref()
                .is_some_and(|e| !e.status.is_terminal())
        })
        .collect();
    wake(store, model, &alive, tally).await?;
    let claimed = claim_all(store, model, tally).await?;
    if claimed != alive {
        return Err(format!(
            "finale: claimed {claimed:?}, but {alive:?} are alive"
        ));
    }
    for &exec in &alive {
        let fence = model.execs[exec].as_ref().map_or(-1, |e| e.fence);
        let lease = Lease {
            exec,
            worker: 0,
            fence,
        };
        drain(store, model, lease, tally).await?;
        call_and_check(store, model, &Call::Finish { lease }, tally).await?;
    }
    observe::check(store, model).await?;
    check_books(model)
}

/// An event of every name for every live execution, so those parked on an event
/// without a deadline become due.
async fn wake(
    store: &DynStore,
    model: &mut Model,
    alive: &BTreeSet<usize>,
    tally: &Tally,
) -> Checked {
    for &exec in alive {
        for name in 0..EVENT_NAMES.len() {
            model.next_payload += 1;
            let call = Call::Offer {
                exec,
                name,
                payload: model.next_payload,
            };
            call_and_check(store, model, &call, tally).await?;
        }
    }
    Ok(())
}

async fn claim_all(
    store: &DynStore,
    model: &mut Model,
    tally: &Tally,
) -> Result<BTreeSet<usize>, String> {
    let call = Call::Claim {
        worker: 0,
        limit: EXECUTIONS as u32 + 1,
    };
    let Outcome::Claimed(got) = call_and_check(store, model, &call, tally).await? else {
        return Err("finale: claim answered something else".into());
    };
    Ok(got
        .iter()
        .filter_map(|c| Model::exec_index(&c.id))
        .collect())
}

/// Consumes every pending event of every name, until the store says `Empty`.
async fn drain(store: &DynStore, model: &mut Model, lease: Lease, tally: &Tally) -> Checked {
    for name in 0..EVENT_NAMES.len() {
        let pending = model.execs[lease.exec]
            .as_ref()
            .map_or(0, |e| e.inbox.len());
        for _ in 0..=pending {
            model.next_occurrence += 1;
            let call = Call::Consume {
                lease,
                name,
                occurrence: model.next_occurrence,
            };
            if call_and_check(store, model, &call, tally).await? == Outcome::Took(EventTake::Empty)
            {
                break;
            }
        }
    }
    Ok(())
}

/// No event taken twice, none lost: taken + still pending = offered.
fn check_books(model: &Model) -> Checked {
    let taken: BTreeSet<i64> = model.taken.iter().copied().collect();
    if taken.len() != model.taken.len() {
        return Err(format!("an event was taken twice: {:?}", model.taken));
    }
    let pending = model
        .execs
        .iter()
        .flatten()
        .flat_map(|e| e.inbox.iter().map(|(_, p)| *p));
    let mut accounted: Vec<i64> = model.taken.iter().copied().chain(pending).collect();
    accounted.sort_unstable();
    let mut offered = model.offered.clone();
    offered.sort_unstable();
    if accounted != offered {
        return Err(format!(
            "events offered {offered:?}, taken or pending {accounted:?}"
        ));
    }
    Ok(())
}
