//! The shared conformance suite on SQLite: a fresh temporary database file per test,
//! and again on a private in-memory database.

mod common;

zart_store_tests::conformance_suite!(common::file_store);
zart_store_tests::conformance_suite!(mod memory = common::memory_store);
