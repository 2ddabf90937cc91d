//! The schema migrations, numbered once for every store.
//!
//! Each store embeds one SQL file per entry, in this order, in its own dialect (a
//! migration a store has nothing to do for still takes its number there), so a
//! version in `schema_migrations` means the same change whichever store recorded it.

use crate::Timestamp;

/// A schema migration: the version a store records in `schema_migrations`, and its
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaMigration {
    /// The version, from 1 up without gaps.
    pub version: i64,
    /// A short name, recorded with the version.
    pub name: &'static str,
}

/// A migration as a database recorded it in its `schema_migrations` table: what
/// [`Store::migration_list`](crate::Store::migration_list) reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The version (one of [`SCHEMA_MIGRATIONS`], unless a newer build applied it).
    pub version: i64,
    /// The name recorded with it.
    pub name: String,
    /// When it was applied, by the clock of the process that applied it.
    pub applied_at: Timestamp,
}

/// Every migration, oldest first.
pub const SCHEMA_MIGRATIONS: &[SchemaMigration] = &[
    SchemaMigration {
        version: 1,
        name: "init",
    },
    SchemaMigration {
        version: 2,
        name: "inline_attempts",
    },
    SchemaMigration {
        version: 3,
        name: "lean_write_path",
    },
    SchemaMigration {
        version: 4,
        name: "child_policy_and_event_keys",
    },
    SchemaMigration {
        version: 5,
        name: "operator_actions",
    },
    SchemaMigration {
        version: 6,
        name: "schedules",
    },
    SchemaMigration {
        version: 7,
        name: "trace_context",
    },
    SchemaMigration {
        version: 8,
        name: "flow_control",
    },
    SchemaMigration {
        version: 9,
        name: "deduplication",
    },
    SchemaMigration {
        version: 10,
        name: "rate_limits",
    },
    SchemaMigration {
        version: 11,
        name: "concurrency_keys",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one_without_gaps() {
        for (i, m) in SCHEMA_MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }
}
