//! The writer commits batches with per-op savepoints.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use zart_core::{Signal, StoreError};

use super::{Counters, Writer};
use crate::signals::Signals;

fn writer() -> (Writer, Arc<Counters>, Signals) {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
        .unwrap();
    let counters = Arc::new(Counters::default());
    let signals = Signals::new();
    let writer = Writer::spawn(conn, 64, signals.clone(), counters.clone()).unwrap();
    (writer, counters, signals)
}

fn insert(v: i64) -> impl Fn(&Connection, &mut Vec<Signal>) -> Result<(), StoreError> {
    move |conn, signals| {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .map_err(crate::error::map)?;
        signals.push(Signal::Work);
        Ok(())
    }
}

async fn values(writer: &Writer) -> Vec<i64> {
    writer
        .run(|conn, _| {
            let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
            let rows = stmt.query_map([], |r| r.get(0)).unwrap();
            Ok(rows.map(Result::unwrap).collect())
        })
        .await
        .unwrap()
}

/// Holds the writer busy so that the ops sent meanwhile queue up into one batch.
async fn with_ops_queued_behind_a_slow_op<F: std::future::Future>(
    writer: &Writer,
    ops: F,
) -> F::Output {
    let slow = writer.run(|_, _| {
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    });
    let (_, out) = tokio::join!(slow, async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        ops.await
    });
    out
}

#[tokio::test]
async fn a_failing_op_rolls_back_only_itself() {
    let (writer, counters, signals) = writer();
    let mut sub = signals.subscribe();
    let failing = |conn: &Connection, signals: &mut Vec<Signal>| -> Result<(), StoreError> {
        conn.execute("INSERT INTO t (v) VALUES (2)", [])
            .map_err(crate::error::map)?;
        signals.push(Signal::Lagged);
        Err(StoreError::InvalidInput("refused".into()))
    };
    let (a, b, c) = with_ops_queued_behind_a_slow_op(&writer, async {
        tokio::join!(
            writer.run(insert(1)),
            writer.run(failing),
            writer.run(insert(3))
        )
    })
    .await;
    assert!(a.is_ok() && c.is_ok());
    assert!(matches!(b, Err(StoreError::InvalidInput(_))));
    let batches = counters.batches.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        batches <= 2,
        "the three queued ops share one batch ({batches} batches)"
    );
    assert_eq!(values(&writer).await, vec![1, 3]);
    assert_eq!(sub.recv().await, Some(Signal::Work));
    assert_eq!(
        sub.recv().await,
        Some(Signal::Work),
        "no signal from the failed op"
    );
}

#[tokio::test]
async fn a_constraint_violation_is_a_conflict_for_that_caller_only() {
    let (writer, _, _) = writer();
    writer.run(insert(1)).await.unwrap();
    let (dup, fresh) = with_ops_queued_behind_a_slow_op(&writer, async {
        tokio::join!(writer.run(insert(1)), writer.run(insert(2)))
    })
    .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert!(fresh.is_ok());
    assert_eq!(values(&writer).await, vec![1, 2]);
}

#[tokio::test]
async fn a_panicking_op_is_aborted_and_the_writer_keeps_going() {
    let (writer, _, _) = writer();
    let panicking = |conn: &Connection, _: &mut Vec<Signal>| -> Result<(), StoreError> {
        conn.execute("INSERT INTO t (v) VALUES (5)", []).unwrap();
        panic!("bug in an op");
    };
    let (bad, good) = tokio::join!(writer.run(panicking), writer.run(insert(6)));
    assert!(matches!(bad, Err(StoreError::Internal(_))));
    assert!(good.is_ok());
    assert_eq!(values(&writer).await, vec![6]);
}
