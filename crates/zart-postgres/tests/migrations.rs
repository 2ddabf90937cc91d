//! Migrations: embedded, applied once under an advisory lock, numbered like SQLite's.

mod common;

use common::{database_url, unique_schema, DropSchema};
use zart_postgres::{migration_versions, PgOptions, PgStore};

#[test]
fn migration_versions_match_sqlite() {
    assert_eq!(migration_versions(), zart_sqlite::migration_versions());
    let versions = migration_versions();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
}

async fn recorded(store: &PgStore) -> Vec<(i64, String)> {
    let sql = format!(
        "SELECT version, name FROM \"{}\".schema_migrations ORDER BY version",
        store.schema()
    );
    sqlx::query_as(&sql)
        .fetch_all(store.pool())
        .await
        .expect("read schema_migrations")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_on_fresh_schema_migrate_once() {
    let Some(url) = database_url() else { return };
    let schema = unique_schema("mig");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let mut connects = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let options = PgOptions::default()
            .schema(schema.clone())
            .max_connections(2)
            .listen(false);
        let url = url.clone();
        connects.spawn(async move { PgStore::connect_with(&url, options).await });
    }
    let mut stores = Vec::new();
    while let Some(joined) = connects.join_next().await {
        stores.push(joined.expect("connect task").expect("connect"));
    }
    assert_eq!(stores.len(), 10);
    let rows = recorded(&stores[0]).await;
    let versions: Vec<i64> = rows.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        versions,
        migration_versions(),
        "each migration recorded once"
    );
    assert_eq!(rows[0].1, "init");
}

#[tokio::test]
async fn reconnecting_to_a_migrated_schema_changes_nothing() {
    let Some(url) = database_url() else { return };
    let schema = unique_schema("remig");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let options = PgOptions::default().schema(schema.clone()).listen(false);
    let first = PgStore::connect_with(&url, options.clone())
        .await
        .expect("first connect");
    let before = recorded(&first).await;
    let second = PgStore::connect_with(&url, options)
        .await
        .expect("second connect");
    assert_eq!(recorded(&second).await, before);
}

#[tokio::test]
async fn schema_can_be_named_in_the_url() {
    let Some(url) = database_url() else { return };
    let schema = unique_schema("url");
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let with_schema = format!("{url}{separator}schema={schema}");
    let store = PgStore::connect(&with_schema).await.expect("connect");
    assert_eq!(store.schema(), schema);
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(&schema)
            .fetch_one(store.pool())
            .await
            .expect("query");
    assert!(exists);
}
