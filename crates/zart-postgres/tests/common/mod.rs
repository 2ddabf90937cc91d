//! Stores on fresh schemas for the PostgreSQL tests. The URL, the skip and the schema
//! guard are the shared ones of `zart_store_tests::postgres`; what is here is specific
//! to `PgStore`: its options, and finding its connections in `pg_stat_activity`.

#![allow(dead_code)]

use std::sync::Arc;

use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;
use zart_store_tests::TestStore;

/// A store on a fresh schema, with the guard that drops the schema after a passing
/// test (keep it alive for the test).
pub(crate) async fn fresh_store(tag: &str, options: PgOptions) -> Option<(PgStore, FreshSchema)> {
    let schema = FreshSchema::new(tag)?;
    let store = connect(schema.database_url(), &schema, options).await;
    Some((store, schema))
}

/// A store on a fresh schema connected as application `schema.name()`, so a test can
/// find the store's backends in `pg_stat_activity`.
pub(crate) async fn fresh_named_store(
    tag: &str,
    options: PgOptions,
) -> Option<(PgStore, FreshSchema)> {
    let schema = FreshSchema::new(tag)?;
    let named = schema.url_with("application_name", schema.name());
    let store = connect(&named, &schema, options).await;
    Some((store, schema))
}

/// Another store instance (its own pool, as in another process) on `schema`.
pub(crate) async fn another_instance(schema: &FreshSchema, options: PgOptions) -> PgStore {
    connect(schema.database_url(), schema, options).await
}

async fn connect(url: &str, schema: &FreshSchema, options: PgOptions) -> PgStore {
    let name = schema.name();
    PgStore::connect_with(url, options.schema(name))
        .await
        .unwrap_or_else(|e| panic!("connect to {name}: {e}"))
}

/// Terminates the backends of application `name` whose last statement starts with
/// `query_prefix` (any, when empty); returns how many.
pub(crate) async fn kill_backends(store: &PgStore, name: &str, query_prefix: &str) -> i64 {
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

/// A store with group commit and room for several batch writers, on a fresh schema.
pub(crate) async fn batching_store(tag: &str) -> Option<(Arc<PgStore>, FreshSchema)> {
    let (store, schema) = fresh_store(tag, PgOptions::default().max_connections(9)).await?;
    Some((Arc::new(store), schema))
}

/// The conformance suite's factory.
pub(crate) async fn conformance_store() -> Option<TestStore> {
    let (store, schema) = fresh_store("c", PgOptions::default().max_connections(8)).await?;
    Some(TestStore::with_guard(Arc::new(store), schema))
}

/// The conformance suite's factory with group commit off.
pub(crate) async fn conformance_store_without_group_commit() -> Option<TestStore> {
    let options = PgOptions::default().max_connections(8).group_commit(false);
    let (store, schema) = fresh_store("d", options).await?;
    Some(TestStore::with_guard(Arc::new(store), schema))
}
