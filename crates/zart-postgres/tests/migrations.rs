//! Migrations: embedded, applied once under an advisory lock, numbered like SQLite's.

use zart_postgres::{migration_versions, PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;

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
    let Some(fresh) = FreshSchema::new("mig") else {
        return;
    };
    let (url, schema) = (fresh.database_url(), fresh.name());
    let mut connects = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let options = PgOptions::default()
            .schema(schema)
            .max_connections(2)
            .listen(false);
        let url = url.to_owned();
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
    let Some(fresh) = FreshSchema::new("remig") else {
        return;
    };
    let url = fresh.database_url();
    let options = PgOptions::default().schema(fresh.name()).listen(false);
    let first = PgStore::connect_with(url, options.clone())
        .await
        .expect("first connect");
    let before = recorded(&first).await;
    let second = PgStore::connect_with(url, options)
        .await
        .expect("second connect");
    assert_eq!(recorded(&second).await, before);
}

#[tokio::test]
async fn schema_can_be_named_in_the_url() {
    let Some(fresh) = FreshSchema::new("url") else {
        return;
    };
    let schema = fresh.name();
    let store = PgStore::connect(&fresh.schema_url())
        .await
        .expect("connect");
    assert_eq!(store.schema(), schema);
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(store.pool())
            .await
            .expect("query");
    assert!(exists);
}
