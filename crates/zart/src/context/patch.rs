//! `ctx.patch`: versioning a workflow's code under executions in flight.
//!
//! A patch marker is a journal entry of kind `patch` named `zart.patch:<id>`. An
//! execution takes the patched path when it reaches the patch with nothing recorded
//! from that position on (the marker is recorded then), or when replay finds its
//! marker there. It keeps the old path when the journal holds another entry at (or
//! past) that position: the execution recorded those steps under code without the
//! patch. Only a recorded marker takes a position, so the steps after the patch keep
//! the positions they were recorded at on either path.

use std::future::Future;

use zart_core::{StepKind, StepWrite};

use super::{in_flight, park, Ctx, CtxState, Halt, Reservation};

/// Where an execution stands at a patch.
enum AtPatch {
    /// It recorded other steps here under the old code: the old path.
    Old,
    /// Replay found its marker: the patched path.
    Taken,
    /// It reaches the patch for the first time: record the marker, take the patch.
    Record(Box<Reservation>),
}

impl Ctx {
    /// Whether this execution runs the code guarded by patch `id`: `true` for
    /// executions that reach this point under code that has the patch, `false` for
    /// executions that recorded steps here before the patch existed. So a deploy can
    /// change a workflow's steps without breaking the executions in flight:
    ///
    /// ```no_run
    /// # use zart::prelude::*;
    /// # async fn f(ctx: Ctx) -> TaskResult<()> {
    /// ctx.step("charge", || async { Ok(()) }).await?;
    /// if ctx.patch("fraud-check").await {
    ///     ctx.step("fraud-check", || async { Ok(()) }).await?;
    /// }
    /// ctx.step("ship", || async { Ok(()) }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Taking the patch records one marker entry (kind `patch`, name
    /// `zart.patch:<id>`); replay returns the same answer without writing. Once no
    /// execution runs the old path, remove the old branch and replace the call with
    /// [`Ctx::deprecate_patch`]; once no execution holds the marker, remove that too.
    /// Call it from the workflow's sequential code, not from inside a concurrent
    /// branch, like any change to the order of steps.
    pub fn patch<'a>(&'a self, id: &str) -> impl Future<Output = bool> + Send + 'a {
        let at = self.at_patch(&marker_name(id));
        async move {
            let result = match at {
                Ok(AtPatch::Old) => Ok(false),
                Ok(AtPatch::Taken) => Ok(true),
                Ok(AtPatch::Record(reserved)) => self.record_marker(*reserved).await,
                Err(halt) => Err(halt),
            };
            match result {
                Ok(taken) => taken,
                Err(halt) => park(halt).await,
            }
        }
    }

    /// Retires patch `id` (the release after the old path was removed): consumes the
    /// marker an execution that took the patch recorded here, so its later steps
    /// replay at their positions, and records nothing for any other execution.
    ///
    /// ```no_run
    /// # use zart::prelude::*;
    /// # async fn f(ctx: Ctx) -> TaskResult<()> {
    /// ctx.step("charge", || async { Ok(()) }).await?;
    /// ctx.deprecate_patch("fraud-check");
    /// ctx.step("fraud-check", || async { Ok(()) }).await?;
    /// ctx.step("ship", || async { Ok(()) }).await?;
    /// # Ok(()) }
    /// ```
    pub fn deprecate_patch(&self, id: &str) {
        let name = marker_name(id);
        let mut state = self.lock();
        if state.halt_for_new_work().is_some() {
            // The next call that reserves an entry parks the handler.
            return;
        }
        if self.marker_is_next(&state, &name) {
            take_position(&mut state, &name);
        }
    }

    /// Decides the patch at the next position, taking that position only when the
    /// marker is (or will be) there.
    fn at_patch(&self, name: &str) -> Result<AtPatch, Halt> {
        let mut state = self.lock();
        if let Some(halt) = state.halt_for_new_work() {
            return Err(halt);
        }
        if self.marker_is_next(&state, name) {
            take_position(&mut state, name);
            return Ok(AtPatch::Taken);
        }
        let position = state.next_position;
        // An entry past this position means the execution already ran past this
        // point (a gap is an entry still in flight when a worker stopped).
        if self.inner.journal.keys().any(|&p| p >= position) {
            return Ok(AtPatch::Old);
        }
        let (position, occurrence) = take_position(&mut state, name);
        Ok(AtPatch::Record(Box::new(Reservation {
            name: name.to_owned(),
            occurrence,
            position,
            kind: StepKind::Patch,
            recorded: None,
        })))
    }

    /// Whether the journal entry at the next position is marker `name` for its next
    /// occurrence.
    fn marker_is_next(&self, state: &CtxState, name: &str) -> bool {
        let occurrence = state.occurrences.get(name).copied().unwrap_or(0);
        self.inner
            .journal
            .get(&state.next_position)
            .is_some_and(|rec| {
                rec.kind == StepKind::Patch && rec.name == name && rec.occurrence == occurrence
            })
    }

    async fn record_marker(&self, reserved: Reservation) -> Result<bool, Halt> {
        let now = self.now_wall();
        let marker = StepWrite::completed(reserved.header(now), Some(true.into()), now);
        in_flight(self, self.save(marker, None)).await?;
        Ok(true)
    }
}

/// The journal name of patch `id`'s marker; the prefix keeps it apart from step names.
fn marker_name(id: &str) -> String {
    format!("zart.patch:{id}")
}

/// Takes the next position and the next occurrence of `name`.
fn take_position(state: &mut CtxState, name: &str) -> (u32, u32) {
    let position = state.next_position;
    state.next_position += 1;
    let counter = state.occurrences.entry(name.to_owned()).or_insert(0);
    let occurrence = *counter;
    *counter += 1;
    (position, occurrence)
}
