//! A randomized, model-based test of the whole store contract.
//!
//! Each case is a short random sequence of operations ([`ops::Op`]) from three
//! simulated workers on three executions: inserts, claims, renewals, step saves,
//! suspensions, releases, event offers and consumes, cancels, finishes, the passing
//! of (virtual) time that expires leases, and *races*: two or three store calls in
//! flight at once (two consumes of one execution's event, a consume and an offer, a
//! suspension and an offer, a finish and a cancel, a step save and a cancel, claims by
//! several workers). Every answer is checked against a small reference model
//! (`Model` in `state.rs`); racing answers are accepted if some order of the calls explains
//! them. After every operation the store's visible state (status, lease, journal,
//! next due instant) must equal the model's, and at the end every live execution must
//! be claimable, drainable and finishable, with every offered event taken exactly once
//! or still pending. So: no event consumed twice or lost, no write accepted under a
//! stale fence or an expired lease, no journal entry written that the model did not
//! accept, every accepted execution can finish.
//!
//! Each case runs on a fresh store from the backend's factory, on one multi-threaded
//! tokio runtime; time never comes from the clock.
//!
//! # Running and reproducing
//!
//! - `ZART_MODEL_CASES` (or `PROPTEST_CASES`): how many cases, 64 by default.
//! - `ZART_MODEL_SEED`: the seed of the case generator. Every run prints the seed it
//!   used; running again with it generates the same cases. A failure is shrunk to a
//!   minimal sequence, printed with the seed. Racing calls run really concurrently, so
//!   a seed reproduces the sequence, not the interleaving of a race: a race failure
//!   may need a few runs of the same seed (or a higher `ZART_MODEL_CASES`).
//! - `ZART_MODEL_MAX_OPS`: the longest sequence, 32 by default.
//!
//! Proptest's failure-persistence files are off: the printed seed is the record.
//! Every run also prints how many calls of each kind got each answer (applied,
//! refused under a lost lease, event taken, ...), counted over all the cases it ran,
//! so a green run shows what it exercised.

mod calls;
mod exec;
mod finale;
mod inbox;
mod observe;
pub mod ops;
mod perform;
mod run;
mod state;
mod tally;

use std::future::Future;
use std::hash::{BuildHasher, Hasher};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::harness::TestStore;
use crate::support::DynStore;

/// Runs the model test against stores made by `factory` (called once per case; a
/// first `None` skips the test with a notice). Panics with the seed and the minimal
/// failing sequence on failure.
pub fn run_model_test<F, FFut, S>(backend: &str, factory: F)
where
    F: Fn() -> FFut,
    FFut: Future<Output = Option<S>>,
    S: Into<TestStore>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    if runtime.block_on(factory()).is_none() {
        let test = format!("the model test on {backend}");
        crate::skip_notice(&test, "store backend not available");
        return;
    }
    let seed = env_number("ZART_MODEL_SEED").unwrap_or_else(random_seed);
    let config = config();
    eprintln!(
        "model test on {backend}: {} cases, seed {seed} (rerun with ZART_MODEL_SEED={seed})",
        config.cases
    );
    let max_ops = env_number("ZART_MODEL_MAX_OPS").unwrap_or(32) as usize;
    let mut runner = TestRunner::new_with_rng(config, rng(seed));
    let tally = tally::Tally::default();
    let result = runner.run(&ops::case(max_ops), |ops| {
        runtime.block_on(async {
            let made: TestStore = factory()
                .await
                .ok_or_else(|| TestCaseError::fail("the store factory failed"))?
                .into();
            run_case(&made.store(), &ops, &tally)
                .await
                .map_err(TestCaseError::fail)
        })
    });
    eprintln!(
        "model test on {backend}: calls made, by answer:\n{}",
        tally.summary()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, ops)) => panic!(
            "model test on {backend} failed (seed {seed}; rerun with ZART_MODEL_SEED={seed}):\n\
             {why}\nminimal failing sequence ({} ops):\n{ops:#?}",
            ops.len()
        ),
        Err(TestError::Abort(why)) => {
            panic!("model test on {backend} aborted (seed {seed}): {why}")
        }
    }
}

/// One case: every operation checked, the state compared after each, then the finale.
async fn run_case(store: &DynStore, ops: &[ops::Op], tally: &tally::Tally) -> Result<(), String> {
    let mut model = state::Model::default();
    // Two executions exist from the start (the third only if a case inserts it), so
    // that most operations find something to work on.
    for exec in 0..2 {
        let call = calls::Call::Insert { exec, run_at: 0 };
        run::call_and_check(store, &mut model, &call, tally).await?;
    }
    for (i, op) in ops.iter().enumerate() {
        let at = model.now;
        run::step(store, &mut model, op, tally)
            .await
            .map_err(|e| format!("op {i} ({op:?}) at t={at}: {e}"))?;
        observe::check(store, &model)
            .await
            .map_err(|e| format!("after op {i} ({op:?}) at t={at}: {e}"))?;
    }
    finale::finish_all(store, &mut model, tally)
        .await
        .map_err(|e| format!("finale at t={}: {e}", model.now))
}

fn config() -> Config {
    let cases = env_number("ZART_MODEL_CASES")
        .or_else(|| env_number("PROPTEST_CASES"))
        .unwrap_or(64) as u32;
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 512,
        // Shrinking re-runs cases against fresh stores: bound it in time.
        max_shrink_time: 120_000,
        ..Config::default()
    }
}

/// A number from the environment; a value that does not parse is a loud failure,
/// not a silent default.
fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?}: {e}")),
    )
}

fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// The generator's RNG from a 64-bit seed (spread over ChaCha's 32 bytes).
fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed.rotate_left(16 * i as u32) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}
