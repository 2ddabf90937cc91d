//! The README's transactional example: an order row and the start of its workflow
//! commit atomically (transactional enqueue), and a step's database write commits
//! with its checkpoint (a transactional step), so a crash can neither lose nor
//! repeat them. On SQLite; on PostgreSQL the same is `Client::start_in` on a `sqlx`
//! transaction and `ctx.transaction`. Built by CI so the README stays true.

use std::sync::Arc;
use std::time::Duration;

use zart::prelude::*;
use zart::sqlite::rusqlite::params;
use zart::sqlite::SqliteStore;

async fn ship(ctx: Ctx, order: String) -> TaskResult<i64> {
    // The shipment row and this step's journal entry commit in one transaction:
    // exactly once, even if the process dies right before or after the commit.
    ctx.sqlite_transaction("record-shipment", move |tx| {
        tx.execute(
            "INSERT INTO shipments (order_id) VALUES (?1)",
            params![order],
        )?;
        Ok(tx.last_insert_rowid())
    })
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sqlite = Arc::new(SqliteStore::open("sqlite::memory:")?);
    let zart = Zart::builder(sqlite.clone()).task("ship", ship).build();
    let client = zart.client();
    sqlite
        .transaction(|tx| {
            tx.execute_batch(
                "CREATE TABLE orders (id TEXT PRIMARY KEY);
                 CREATE TABLE shipments (id INTEGER PRIMARY KEY, order_id TEXT NOT NULL);",
            )?;
            anyhow::Ok(())
        })
        .await?;

    // The outbox: the order and its workflow exist together or not at all.
    let outbox = client.clone();
    let started = sqlite
        .transaction(move |tx| {
            tx.execute("INSERT INTO orders (id) VALUES ('o-1')", [])?;
            let request = StartRequest::new("ship", "o-1".into()).id("ship-o-1");
            anyhow::Ok(outbox.start_in_sqlite(tx, request)?)
        })
        .await?;

    let worker = zart.start_worker(WorkerConfig::default());
    let done = client
        .wait(&started.execution.id, Duration::from_secs(10))
        .await?;
    println!("{} {}: shipment {:?}", done.id, done.status, done.result);
    worker.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
