//! The SQLite factories of the conformance and model tests.

#![allow(dead_code)]

use std::sync::Arc;

use zart_sqlite::SqliteStore;
use zart_store_tests::sqlite::SqliteFile;
use zart_store_tests::TestStore;

/// A store on a new file in a new temporary directory (kept alive by the guard).
pub(crate) async fn file_store() -> Option<TestStore> {
    let file = SqliteFile::new();
    let store = SqliteStore::open(file.url()).expect("open SQLite file store");
    Some(TestStore::with_guard(Arc::new(store), file))
}

/// A store on a private in-memory database.
pub(crate) async fn memory_store() -> Option<TestStore> {
    let store = SqliteStore::open("sqlite::memory:").expect("open SQLite memory store");
    Some(TestStore::new(Arc::new(store)))
}
