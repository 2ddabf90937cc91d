//! Comparing what the store shows with the model, after every operation: each
//! execution's status and lease, its journal, and the next due instant (which
//! covers every due time the model tracks).

use std::collections::BTreeMap;

use serde_json::Value;
use zart_core::{StepStatus, WaitingFor};

use super::calls::{exec_id, worker_id};
use super::exec::ExecModel;
use super::ops::{EVENT_NAMES, EXECUTIONS};
use super::state::Model;
use crate::support::{at, DynStore};

type Checked = Result<(), String>;

/// Compares the store's visible state with the model's.
pub(super) async fn check(store: &DynStore, model: &Model) -> Checked {
    for i in 0..EXECUTIONS {
        check_execution(store, i, model.execs[i].as_ref()).await?;
    }
    let due = store
        .execution_next_due()
        .await
        .map_err(|e| format!("next_due: {e}"))?;
    let want = model
        .execs
        .iter()
        .flatten()
        .filter_map(ExecModel::next_due)
        .min();
    if due != want.map(at) {
        return Err(format!(
            "execution_next_due is {due:?}, model says {:?}",
            want.map(at)
        ));
    }
    Ok(())
}

async fn check_execution(store: &DynStore, i: usize, want: Option<&ExecModel>) -> Checked {
    let id = exec_id(i);
    let got = store
        .execution_get(&id)
        .await
        .map_err(|e| format!("get {id}: {e}"))?;
    let (got, want) = match (got, want) {
        (None, None) => return Ok(()),
        (Some(got), Some(want)) => (got, want),
        (got, want) => return Err(format!("{id}: store has {got:?}, model has {want:?}")),
    };
    if got.status != want.status {
        return Err(format!(
            "{id}: status {}, model {} ({want:?})",
            got.status, want.status
        ));
    }
    check_waiting_for(&id, got.waiting_for.as_ref(), want)?;
    check_journal(store, &id, want).await
}

/// A leased execution shows its holder and expiry; one parked on an event shows
/// the event's name.
fn check_waiting_for(id: &str, got: Option<&WaitingFor>, want: &ExecModel) -> Checked {
    if want.status.is_terminal() {
        return Ok(());
    }
    let ok = match (got, want.lease, want.parked_on) {
        (
            Some(WaitingFor::Lease {
                worker_id: w,
                expires_at,
                ..
            }),
            Some(held),
            _,
        ) => {
            *w == worker_id(held.worker)
                && expires_at.timestamp_millis() == at(held.expires).timestamp_millis()
        }
        (Some(WaitingFor::Event { name, .. }), None, Some(on)) => name == EVENT_NAMES[on],
        (_, None, None) => !matches!(got, Some(WaitingFor::Lease { .. })),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{id}: waiting_for {got:?}, model {want:?}"))
    }
}

/// The journal holds exactly the completed entries the model accepted, each with
/// the result of the write the model accepted last.
async fn check_journal(store: &DynStore, id: &str, want: &ExecModel) -> Checked {
    let journal = store
        .journal_load(id, 1)
        .await
        .map_err(|e| format!("journal {id}: {e}"))?;
    let mut got: BTreeMap<(String, u32), Value> = BTreeMap::new();
    for step in journal {
        if step.status != StepStatus::Completed {
            return Err(format!(
                "{id}: journal entry {} is {}",
                step.step_id, step.status
            ));
        }
        let key = (step.name, step.occurrence);
        if got
            .insert(key.clone(), step.result.unwrap_or(Value::Null))
            .is_some()
        {
            return Err(format!("{id}: journal entry {key:?} appears twice"));
        }
    }
    if got == want.journal {
        Ok(())
    } else {
        Err(format!("{id}: journal {got:?}, model {:?}", want.journal))
    }
}
