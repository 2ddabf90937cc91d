//! The randomized model test of the store contract (see `zart_store_tests::model`)
//! on SQLite: a fresh database file in a fresh temporary directory per case.
//! `ZART_MODEL_SEED` / `ZART_MODEL_CASES` reproduce or widen a run.

use std::sync::Arc;

use zart_sqlite::SqliteStore;
use zart_store_tests::TestStore;

/// A store on a new file in a new temporary directory (kept alive by the guard).
async fn file_store() -> Option<TestStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("zart.db").display());
    let store = SqliteStore::open(&url).expect("open SQLite file store");
    Some(TestStore::with_guard(Arc::new(store), dir))
}

#[test]
fn store_matches_the_reference_model() {
    zart_store_tests::model::run_model_test("sqlite", file_store);
}
