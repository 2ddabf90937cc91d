//! Shared test setup: the database URL from the environment and a fresh schema per
//! test, dropped afterwards.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::TestStore;

pub use zart_store_tests::postgres_url as database_url;

/// A schema name no other test (or test run) uses.
pub fn unique_schema(tag: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("zt_{tag}_{}_{n}_{nanos}", std::process::id())
}

/// Drops its schema when dropped, on a thread of its own so that it works from any
/// (or no) async runtime.
pub struct DropSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let schema = self.schema.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.schema);
        }
    }
}

/// `url` with `application_name=name`, so a test can find its store's backends in
/// `pg_stat_activity`.
pub fn with_app_name(url: &str, name: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={name}")
}

/// A store on a fresh schema, connected as application `tag` (see
/// [`with_app_name`]), with the guard that drops its schema.
pub async fn fresh_named_store(tag: &str, options: PgOptions) -> Option<(PgStore, DropSchema)> {
    let url = database_url()?;
    let schema = unique_schema(tag);
    let named = with_app_name(&url, &schema);
    let store = PgStore::connect_with(&named, options.schema(schema.clone()))
        .await
        .unwrap_or_else(|e| panic!("connect to {schema}: {e}"));
    Some((store, DropSchema { url, schema }))
}

/// Terminates the backends of application `name` whose last statement starts with
/// `query_prefix` (any, when empty); returns how many.
pub async fn kill_backends(store: &PgStore, name: &str, query_prefix: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = $1 AND pid <> pg_backend_pid()
              AND starts_with(query, $2)
        ) AS killed",
    )
    .bind(name)
    .bind(query_prefix)
    .fetch_one(store.pool())
    .await
    .expect("terminate backends")
}

/// A store on a fresh schema, with the guard that drops it.
pub async fn fresh_store(tag: &str, options: PgOptions) -> Option<(PgStore, DropSchema)> {
    let url = database_url()?;
    let schema = unique_schema(tag);
    let store = PgStore::connect_with(&url, options.schema(schema.clone()))
        .await
        .unwrap_or_else(|e| panic!("connect to {schema}: {e}"));
    Some((store, DropSchema { url, schema }))
}

/// A store with group commit and room for several batch writers, on a fresh schema.
pub async fn batching_store(tag: &str) -> Option<(Arc<PgStore>, DropSchema)> {
    let (store, drop) = fresh_store(tag, PgOptions::default().max_connections(9)).await?;
    Some((Arc::new(store), drop))
}

/// Inserts `n` executions due at time 0, `{prefix}00`, `{prefix}01`, …, and claims
/// up to `n` of them for `worker`.
pub async fn insert_and_claim(
    store: &zart_store_tests::support::DynStore,
    prefix: &str,
    n: u32,
    worker: &str,
) -> Vec<zart_core::ClaimedExecution> {
    use zart_store_tests::support::{claim, insert_due};
    for i in 0..n {
        insert_due(store, &format!("{prefix}{i:02}"), 0).await;
    }
    claim(store, worker, 0, n).await
}

/// The conformance suite's factory.
pub async fn conformance_store() -> Option<TestStore> {
    let (store, guard) = fresh_store("c", PgOptions::default().max_connections(8)).await?;
    Some(TestStore::with_guard(Arc::new(store), guard))
}

/// The conformance suite's factory with group commit off.
pub async fn conformance_store_without_group_commit() -> Option<TestStore> {
    let options = PgOptions::default().max_connections(8).group_commit(false);
    let (store, guard) = fresh_store("d", options).await?;
    Some(TestStore::with_guard(Arc::new(store), guard))
}
