//! The shared store conformance suite against PostgreSQL, one fresh schema per test,
//! with group commit on (the default) and off. Skipped (with a notice) unless
//! `ZART_TEST_POSTGRES_URL` is set.

mod common;

zart_store_tests::conformance_suite!(common::conformance_store);

zart_store_tests::conformance_suite!(mod conformance_without_group_commit = common::conformance_store_without_group_commit);
