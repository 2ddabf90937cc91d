//! The worker's copy of the active pause rules, which every context checks before it
//! starts a journal entry.
//!
//! The copy is read on every step, so it is a snapshot behind a lock taken only to
//! clone an `Arc`; it is replaced whole when the store signals that the rules changed
//! (`Signal::Pauses`), when the listener lagged, and, as a safety net for a store
//! without notifications, when it is older than [`REFRESH_EVERY`] at a claim. Reloads
//! are serialized, so a slow older reload never replaces a newer one.

/// The oldest copy of the rules a worker claims with.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(1);

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use zart_core::{PauseRule, Store, StoreError, Timestamp, WaitingFor};

/// A rule with its step pattern compiled.
struct Compiled {
    rule: PauseRule,
    pattern: Option<glob::Pattern>,
}

impl Compiled {
    fn holds(&self, execution_id: &str, task_name: &str, step: &str, now: Timestamp) -> bool {
        self.rule.selects(execution_id, task_name, now)
            && self.pattern.as_ref().is_none_or(|p| p.matches(step))
    }
}

/// The active pause rules as this worker last read them.
#[derive(Default)]
pub(crate) struct PauseRules {
    snapshot: RwLock<Arc<Vec<Compiled>>>,
    /// When the snapshot was read; `None` before the first read.
    loaded_at: Mutex<Option<Instant>>,
    reload: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PauseRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PauseRules")
            .field("rules", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl PauseRules {
    /// Whether the rules were read within `max_age`.
    pub(crate) fn is_fresh(&self, max_age: Duration) -> bool {
        self.loaded_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < max_age)
    }

    /// Reads the active rules from the store and replaces the snapshot.
    pub(crate) async fn reload(&self, store: &dyn Store, now: Timestamp) -> Result<(), StoreError> {
        let _serialized = self.reload.lock().await;
        let started = Instant::now();
        let rules = store.pause_list(now).await?;
        let compiled = rules
            .into_iter()
            .map(|rule| Compiled {
                // Stored patterns were validated when the rule was created; one that
                // no longer compiles holds every step rather than none.
                pattern: rule
                    .step_pattern
                    .as_deref()
                    .and_then(|p| glob::Pattern::new(p).ok()),
                rule,
            })
            .collect();
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(compiled);
        *self.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
        Ok(())
    }

    /// Resolves once no reload is in flight: a claim made after it runs under every
    /// rule change this process had heard of when it began.
    pub(crate) async fn settled(&self) {
        drop(self.reload.lock().await);
    }

    fn current(&self) -> Arc<Vec<Compiled>> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The wait of an execution that must stop before `step`, if a rule holds it:
    /// the oldest matching rule, and when it expires.
    pub(crate) fn holding(
        &self,
        execution_id: &str,
        task_name: &str,
        step: &str,
        now: Timestamp,
    ) -> Option<(Option<Timestamp>, WaitingFor)> {
        let rules = self.current();
        let rule = rules
            .iter()
            .find(|r| r.holds(execution_id, task_name, step, now))?;
        let waiting_for = WaitingFor::Pause {
            rule_id: rule.rule.rule_id.clone(),
            expires_at: rule.rule.expires_at,
        };
        Some((rule.rule.expires_at, waiting_for))
    }
}
