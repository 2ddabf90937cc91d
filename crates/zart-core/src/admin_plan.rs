//! The decisions behind the operator actions, shared by every store: which checks
//! refuse an action, which steps a retry touches, which entries a rerun keeps and
//! which kept steps may be stale. A store reads the state, asks these functions, and
//! writes what they return, all in one transaction.

// A planner's `Err` is the outcome the store answers as it is (a refusal), once per
// operator action: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashSet};

use crate::{
    ActionKind, ActionMeta, ActionOutcome, ActionRecord, ActionRefusal, ExecutionRerun,
    ExecutionStatus, RunTrigger, StaleStep, StepKind, StepRecord, StepRetry, StepStatus,
};

/// What a store reads before an action: the execution's state and the action already
/// recorded under the request's idempotency key, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionState {
    /// The execution's status.
    pub status: ExecutionStatus,
    /// Its current run.
    pub run_index: i32,
    /// The action recorded under the same idempotency key for this execution.
    pub replay: Option<ActionRecord>,
}

/// A journal entry by its key within a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepKey {
    /// The step name.
    pub name: String,
    /// Its occurrence.
    pub occurrence: u32,
}

/// The dead entries a step retry schedules again, in journal order.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPlan {
    /// The entries.
    pub steps: Vec<StepKey>,
}

/// A new run: its index and trigger, the entries copied into it, and what the action
/// reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The new run's index.
    pub run_index: i32,
    /// Why it starts.
    pub trigger: RunTrigger,
    /// Completed entries of the current run copied into the new one.
    pub kept: Vec<StepKey>,
    /// Step names that run again, in journal order.
    pub effective_rerun: Vec<String>,
    /// Kept steps that ran after a rerun step.
    pub potentially_stale: Vec<StaleStep>,
}

fn replayed(state: &ActionState, kind: ActionKind) -> Option<ActionOutcome> {
    let rec = state.replay.as_ref()?;
    Some(if rec.kind == kind {
        ActionOutcome::Replayed(rec.clone())
    } else {
        ActionOutcome::Refused(ActionRefusal::KeyReused(rec.kind))
    })
}

/// The checks of a step retry that need no journal: a replayed key, a completed or
/// cancelled execution.
pub fn precheck_retry(state: &ActionState) -> Option<ActionOutcome> {
    if let Some(outcome) = replayed(state, ActionKind::RetryStep) {
        return Some(outcome);
    }
    match state.status {
        ExecutionStatus::Completed | ExecutionStatus::Cancelled => Some(ActionOutcome::Refused(
            ActionRefusal::Finished(state.status),
        )),
        _ => None,
    }
}

/// The entries `step_name` (a name, or an id `name#occurrence`) retries in `journal`.
pub fn plan_retry(step_name: &str, journal: &[StepRecord]) -> Result<RetryPlan, ActionOutcome> {
    let refuse = |r| Err(ActionOutcome::Refused(r));
    let named: Vec<&StepRecord> = journal
        .iter()
        .filter(|s| s.step_id == step_name || s.name == step_name)
        .collect();
    if named.is_empty() {
        return refuse(ActionRefusal::UnknownSteps(vec![step_name.to_owned()]));
    }
    let dead: Vec<&StepRecord> = named
        .iter()
        .copied()
        .filter(|s| s.status == StepStatus::Dead)
        .collect();
    let Some(first) = dead.first() else {
        return refuse(ActionRefusal::StepNotDead {
            step: named[0].step_id.clone(),
            status: named[0].status,
        });
    };
    if let Some(other) = dead.iter().find(|s| s.kind != StepKind::Step) {
        return refuse(ActionRefusal::NotAStep {
            step: other.step_id.clone(),
        });
    }
    debug_assert_eq!(first.status, StepStatus::Dead);
    Ok(RetryPlan {
        steps: dead
            .iter()
            .map(|s| StepKey {
                name: s.name.clone(),
                occurrence: s.occurrence,
            })
            .collect(),
    })
}

/// The record of an applied step retry.
pub fn retry_record(p: &StepRetry, run_index: i32, plan: &RetryPlan) -> ActionRecord {
    let ids: Vec<String> = plan
        .steps
        .iter()
        .map(|s| crate::step_id(&s.name, s.occurrence))
        .collect();
    ActionRecord {
        action_id: p.meta.action_id.clone(),
        execution_id: p.execution_id.clone(),
        kind: ActionKind::RetryStep,
        run_index,
        step_name: Some(ids.join(",")),
        triggered_by: p.meta.triggered_by.clone(),
        triggered_at: p.meta.now,
        effective_rerun: Vec::new(),
        potentially_stale: Vec::new(),
    }
}

/// The checks of a restart or rerun: a replayed key, a non-terminal execution.
pub fn precheck_new_run(state: &ActionState, kind: ActionKind) -> Option<ActionOutcome> {
    if let Some(outcome) = replayed(state, kind) {
        return Some(outcome);
    }
    (!state.status.is_terminal()).then_some(ActionOutcome::Refused(ActionRefusal::NotTerminal(
        state.status,
    )))
}

/// The plan of a restart: a new run with an empty journal.
pub fn plan_restart(state: &ActionState) -> RunPlan {
    RunPlan {
        run_index: state.run_index + 1,
        trigger: RunTrigger::Restart,
        kept: Vec::new(),
        effective_rerun: Vec::new(),
        potentially_stale: Vec::new(),
    }
}

/// The plan of a selective rerun of the current run's `journal` (ordered by position).
pub fn plan_rerun(
    state: &ActionState,
    p: &ExecutionRerun,
    journal: &[StepRecord],
) -> Result<RunPlan, ActionOutcome> {
    // Each name's first and last position in the journal.
    let mut span: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for s in journal {
        let e = span.entry(&s.name).or_insert((s.position, s.position));
        e.0 = e.0.min(s.position);
        e.1 = e.1.max(s.position);
    }
    let mut unknown: Vec<String> = Vec::new();
    for name in p.rerun_steps.iter().chain(&p.preserve_steps) {
        if !span.contains_key(name.as_str()) && !unknown.contains(name) {
            unknown.push(name.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(ActionOutcome::Refused(ActionRefusal::UnknownSteps(unknown)));
    }
    let preserve: HashSet<&str> = p.preserve_steps.iter().map(String::as_str).collect();
    let mut effective: HashSet<&str> = p.rerun_steps.iter().map(String::as_str).collect();
    effective.extend(
        journal
            .iter()
            .filter(|s| s.status == StepStatus::Dead)
            .map(|s| s.name.as_str()),
    );
    effective.retain(|n| !preserve.contains(n));
    let mut effective_rerun: Vec<&str> = effective.iter().copied().collect();
    effective_rerun.sort_by_key(|n| (span[n].0, *n));

    let kept: Vec<&StepRecord> = journal
        .iter()
        .filter(|s| s.status == StepStatus::Completed && !effective.contains(s.name.as_str()))
        .collect();
    let mut potentially_stale = Vec::new();
    let mut seen = HashSet::new();
    for s in &kept {
        if !seen.insert(s.name.as_str()) {
            continue;
        }
        let last_kept = kept
            .iter()
            .filter(|k| k.name == s.name)
            .map(|k| k.position)
            .max()
            .unwrap_or(s.position);
        let before: Vec<String> = effective_rerun
            .iter()
            .filter(|e| span[*e].0 < last_kept)
            .map(|e| (*e).to_owned())
            .collect();
        if !before.is_empty() {
            potentially_stale.push(StaleStep {
                preserved_step: s.name.clone(),
                possibly_depends_on: before,
            });
        }
    }
    Ok(RunPlan {
        run_index: state.run_index + 1,
        trigger: RunTrigger::SelectiveRerun,
        kept: kept
            .iter()
            .map(|s| StepKey {
                name: s.name.clone(),
                occurrence: s.occurrence,
            })
            .collect(),
        effective_rerun: effective_rerun.into_iter().map(str::to_owned).collect(),
        potentially_stale,
    })
}

/// The record of an applied restart or rerun.
pub fn run_record(
    execution_id: &str,
    kind: ActionKind,
    meta: &ActionMeta,
    plan: RunPlan,
) -> ActionRecord {
    ActionRecord {
        action_id: meta.action_id.clone(),
        execution_id: execution_id.to_owned(),
        kind,
        run_index: plan.run_index,
        step_name: None,
        triggered_by: meta.triggered_by.clone(),
        triggered_at: meta.now,
        effective_rerun: plan.effective_rerun,
        potentially_stale: plan.potentially_stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(name: &str, position: u32, status: StepStatus) -> StepRecord {
        StepRecord {
            step_id: crate::step_id(name, 0),
            name: name.into(),
            occurrence: 0,
            position,
            kind: StepKind::Step,
            status,
            retry_attempt: 1,
            attempt_base: 0,
            result: None,
            last_error: None,
            retryable: true,
            scheduled_at: Utc::now(),
            completed_at: None,
            wake_at: None,
            attempts: Vec::new(),
        }
    }

    fn rerun(rerun: &[&str], preserve: &[&str]) -> ExecutionRerun {
        ExecutionRerun {
            execution_id: "e".into(),
            rerun_steps: rerun.iter().map(|s| s.to_string()).collect(),
            preserve_steps: preserve.iter().map(|s| s.to_string()).collect(),
            meta: ActionMeta {
                action_id: "a".into(),
                triggered_by: "api".into(),
                idempotency_key: None,
                now: Utc::now(),
            },
        }
    }

    fn state() -> ActionState {
        ActionState {
            status: ExecutionStatus::Failed,
            run_index: 1,
            replay: None,
        }
    }

    #[test]
    fn a_rerun_runs_named_and_dead_steps_and_flags_later_kept_ones() {
        use StepStatus::*;
        let journal = [
            entry("fetch", 0, Completed),
            entry("charge", 1, Completed),
            entry("email", 2, Completed),
            entry("ship", 3, Dead),
        ];
        let plan = plan_rerun(&state(), &rerun(&["charge"], &[]), &journal).unwrap();
        assert_eq!(plan.run_index, 2);
        assert_eq!(plan.effective_rerun, ["charge", "ship"]);
        let kept: Vec<&str> = plan.kept.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(kept, ["fetch", "email"]);
        assert_eq!(
            plan.potentially_stale,
            [StaleStep {
                preserved_step: "email".into(),
                possibly_depends_on: vec!["charge".into()],
            }]
        );
        let plan =
            plan_rerun(&state(), &rerun(&["charge"], &["charge", "ship"]), &journal).unwrap();
        assert!(plan.effective_rerun.is_empty());
        assert_eq!(
            plan.kept.len(),
            3,
            "a dead step is dropped even when preserved"
        );
    }

    #[test]
    fn a_rerun_of_an_unknown_step_is_refused() {
        let journal = [entry("fetch", 0, StepStatus::Completed)];
        let out = plan_rerun(&state(), &rerun(&["nope"], &["fetch", "gone"]), &journal);
        assert_eq!(
            out.unwrap_err(),
            ActionOutcome::Refused(ActionRefusal::UnknownSteps(vec![
                "nope".into(),
                "gone".into()
            ]))
        );
    }

    #[test]
    fn a_retry_takes_dead_steps_only() {
        let journal = [
            entry("fetch", 0, StepStatus::Completed),
            entry("charge", 1, StepStatus::Dead),
        ];
        assert_eq!(plan_retry("charge", &journal).unwrap().steps.len(), 1);
        assert_eq!(plan_retry("charge#0", &journal).unwrap().steps.len(), 1);
        assert!(matches!(
            plan_retry("fetch", &journal),
            Err(ActionOutcome::Refused(ActionRefusal::StepNotDead { .. }))
        ));
        assert!(matches!(
            plan_retry("other", &journal),
            Err(ActionOutcome::Refused(ActionRefusal::UnknownSteps(_)))
        ));
    }
}
