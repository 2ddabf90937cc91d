//! Embedded schema migrations, applied on open and tracked in `schema_migrations`,
//! and that table read back for [`Store::migration_list`](zart_core::Store::migration_list).
//!
//! Versions and names are [`SCHEMA_MIGRATIONS`], shared with the PostgreSQL backend.

use rusqlite::{params, Connection, OptionalExtension};
use zart_core::{AppliedMigration, SchemaMigration, StoreError, StoreResult, SCHEMA_MIGRATIONS};

use crate::error::SqlResultExt;
use crate::SqliteStore;

/// The SQL of each of [`SCHEMA_MIGRATIONS`], in order.
const SQL: [&str; SCHEMA_MIGRATIONS.len()] = [
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_inline_attempts.sql"),
    include_str!("../migrations/0003_lean_write_path.sql"),
    include_str!("../migrations/0004_child_policy_and_event_keys.sql"),
    include_str!("../migrations/0005_operator_actions.sql"),
    include_str!("../migrations/0006_schedules.sql"),
    include_str!("../migrations/0007_trace_context.sql"),
    include_str!("../migrations/0008_flow_control.sql"),
    include_str!("../migrations/0009_deduplication.sql"),
    include_str!("../migrations/0010_rate_limits.sql"),
    include_str!("../migrations/0011_concurrency_keys.sql"),
];

/// The versions of the embedded migrations, ascending.
pub fn migration_versions() -> Vec<i64> {
    SCHEMA_MIGRATIONS.iter().map(|m| m.version).collect()
}

impl SqliteStore {
    /// The migration versions recorded in `schema_migrations`, ascending.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<i64>> {
        let applied = self.read(applied).await?;
        Ok(applied.into_iter().map(|m| m.version).collect())
    }
}

/// The migrations `schema_migrations` records, oldest first.
pub(crate) fn applied(conn: &Connection) -> Result<Vec<AppliedMigration>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        .db()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .db()?;
    rows.map(|row| {
        let (version, name, applied_ms): (i64, String, i64) = row.db()?;
        let applied_at = chrono::DateTime::from_timestamp_millis(applied_ms).ok_or_else(|| {
            StoreError::Internal(format!(
                "migration {version} has an invalid applied_at: {applied_ms}"
            ))
        })?;
        Ok(AppliedMigration {
            version,
            name,
            applied_at,
        })
    })
    .collect()
}

/// Applies every migration not yet recorded, each in its own transaction.
pub(crate) fn apply(conn: &mut Connection, now_ms: i64) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )
    .db()?;
    let newest: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .optional()
        .db()?
        .flatten();
    let known = SCHEMA_MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(newest) = newest.filter(|v| *v > known) {
        return Err(StoreError::Internal(format!(
            "database schema version {newest} is newer than this build supports ({known})"
        )));
    }
    for (migration, sql) in SCHEMA_MIGRATIONS.iter().zip(SQL) {
        apply_one(conn, migration, sql, now_ms)?;
    }
    Ok(())
}

/// Applies one migration unless recorded; checks inside the write transaction so two
/// processes opening the same file at once cannot both apply it.
fn apply_one(
    conn: &mut Connection,
    migration: &SchemaMigration,
    sql: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .db()?;
    let applied: Option<i64> = tx
        .query_row(
            "SELECT version FROM schema_migrations WHERE version = ?1",
            [migration.version],
            |r| r.get(0),
        )
        .optional()
        .db()?;
    if applied.is_some() {
        return Ok(());
    }
    tx.execute_batch(sql).map_err(|e| {
        StoreError::Internal(format!(
            "migration {} ({}) failed: {}",
            migration.version,
            migration.name,
            crate::error::map(e)
        ))
    })?;
    tx.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
        params![migration.version, migration.name, now_ms],
    )
    .db()?;
    tx.commit().db()?;
    tracing::info!(
        version = migration.version,
        name = migration.name,
        "applied migration"
    );
    Ok(())
}
