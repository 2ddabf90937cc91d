//! Embedded migrations, applied on connect in one transaction under an advisory lock
//! keyed by the schema name, so concurrent processes starting at once migrate exactly
//! once. Versions and names are [`SCHEMA_MIGRATIONS`], shared with the SQLite store.
//! [`Store::migration_list`](zart_core::Store::migration_list) reads the table back.

use sqlx::Executor;
use zart_core::{AppliedMigration, SchemaMigration, StoreError, SCHEMA_MIGRATIONS};

use crate::error::PgError;
use crate::pool::{migration_lock_key, Db};

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

/// The version numbers of the embedded migrations, oldest first (the SQLite store's
/// too: both come from [`SCHEMA_MIGRATIONS`]).
pub fn migration_versions() -> Vec<i64> {
    SCHEMA_MIGRATIONS.iter().map(|m| m.version).collect()
}

/// The migrations the schema's `schema_migrations` records, oldest first.
pub(crate) async fn applied(db: &Db) -> Result<Vec<AppliedMigration>, PgError> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        &db.sql("SELECT version, name, applied_at FROM {s}.schema_migrations ORDER BY version"),
    )
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|(version, name, applied_ms)| {
            Ok(AppliedMigration {
                version,
                name,
                applied_at: crate::rows::ts(applied_ms)?,
            })
        })
        .collect()
}

/// Creates the schema if needed and applies the migrations it lacks.
pub(crate) async fn apply(db: &Db) -> Result<(), PgError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(migration_lock_key(db.schema()))
        .execute(&mut *tx)
        .await?;
    ensure_schema(db, &mut tx).await?;
    let applied: Vec<i64> =
        sqlx::query_scalar(&db.sql("SELECT version FROM {s}.schema_migrations"))
            .fetch_all(&mut *tx)
            .await?;
    if let Some(newer) = applied.iter().find(|v| !migration_versions().contains(v)) {
        tracing::warn!(
            version = newer,
            schema = db.schema(),
            "database has a migration this build does not know; a newer Zart may be running"
        );
    }
    // The migration files name no schema: they run with the search path set to ours
    // for this transaction only.
    tx.execute(db.sql("SET LOCAL search_path TO {s}").as_str())
        .await?;
    for (migration, sql) in SCHEMA_MIGRATIONS.iter().zip(SQL) {
        if !applied.contains(&migration.version) {
            apply_one(db, &mut tx, migration, sql).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Creates the schema (only when absent, so a role without CREATE on the database
/// can use a schema made for it) and the migrations table.
async fn ensure_schema(db: &Db, tx: &mut sqlx::PgConnection) -> Result<(), PgError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(db.schema())
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        tx.execute(db.sql("CREATE SCHEMA {s}").as_str()).await?;
    }
    let table = db.sql(
        "CREATE TABLE IF NOT EXISTS {s}.schema_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT   NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    );
    tx.execute(table.as_str()).await?;
    Ok(())
}

async fn apply_one(
    db: &Db,
    tx: &mut sqlx::PgConnection,
    m: &SchemaMigration,
    sql: &'static str,
) -> Result<(), PgError> {
    // A plain string runs over the simple query protocol: several statements at once.
    tx.execute(sql).await.map_err(|e| {
        let cause = StoreError::from(PgError::Sql(e));
        StoreError::Internal(format!(
            "migration {} ({}) failed: {cause}",
            m.version, m.name
        ))
    })?;
    sqlx::query(
        &db.sql(
            "INSERT INTO {s}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        ),
    )
    .bind(m.version)
    .bind(m.name)
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(&mut *tx)
    .await?;
    tracing::info!(
        version = m.version,
        name = m.name,
        schema = db.schema(),
        "applied migration"
    );
    Ok(())
}
