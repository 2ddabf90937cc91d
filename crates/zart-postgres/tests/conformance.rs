//! The shared store conformance suite against PostgreSQL, one fresh schema per test.
//! Skipped (with a notice) unless `ZART_TEST_POSTGRES_URL` is set.

mod common;

zart_store_tests::conformance_suite!(common::conformance_store);
