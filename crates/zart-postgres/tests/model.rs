//! The randomized model test of the store contract (see `zart_store_tests::model`)
//! on PostgreSQL: a fresh schema per case, with group commit on (the default) and
//! off. Skipped (with a notice) unless `ZART_TEST_POSTGRES_URL` is set;
//! `ZART_REQUIRE_POSTGRES=1` makes the skip a failure. `ZART_MODEL_SEED` /
//! `ZART_MODEL_CASES` reproduce or widen a run.

mod common;

#[test]
fn store_matches_the_reference_model() {
    zart_store_tests::model::run_model_test("postgres", common::conformance_store);
}

#[test]
fn store_without_group_commit_matches_the_reference_model() {
    zart_store_tests::model::run_model_test(
        "postgres without group commit",
        common::conformance_store_without_group_commit,
    );
}
