//! The shared conformance suite on SQLite: a fresh temporary database file per test,
//! and again on a private in-memory database.

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

/// A store on a private in-memory database.
async fn memory_store() -> Option<TestStore> {
    let store = SqliteStore::open("sqlite::memory:").expect("open SQLite memory store");
    Some(TestStore::new(Arc::new(store)))
}

zart_store_tests::conformance_suite!(file_store);
zart_store_tests::conformance_suite!(mod memory = memory_store);
