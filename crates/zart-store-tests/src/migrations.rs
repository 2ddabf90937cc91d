//! The schema migrations a store reports as applied: its database's own record.

use zart_core::SCHEMA_MIGRATIONS;

use crate::support::*;

/// A freshly opened store reports every version of [`SCHEMA_MIGRATIONS`], oldest
/// first, each with its name, and nothing else: the database's `schema_migrations`
/// table read back, not the build's list.
pub async fn migration_list_reports_every_schema_migration_in_order(store: DynStore) {
    let applied = store.migration_list().await.expect("migration list");
    let reported: Vec<(i64, &str)> = applied
        .iter()
        .map(|m| (m.version, m.name.as_str()))
        .collect();
    let expected: Vec<(i64, &str)> = SCHEMA_MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name))
        .collect();
    assert_eq!(reported, expected);
}
