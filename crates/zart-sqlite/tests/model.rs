//! The randomized model test of the store contract (see `zart_store_tests::model`)
//! on SQLite: a fresh database file in a fresh temporary directory per case.
//! `ZART_MODEL_SEED` / `ZART_MODEL_CASES` reproduce or widen a run.

mod common;

#[test]
fn store_matches_the_reference_model() {
    zart_store_tests::model::run_model_test("sqlite", common::file_store);
}
