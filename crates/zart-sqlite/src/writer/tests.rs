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
    let health = Arc::new(crate::health::Health::default());
    let (writer, _) =
        Writer::spawn(conn, 64, signals.clone(), counters.clone(), None, health).unwrap();
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

/// A file database in WAL mode whose writer leaves fsyncs to a syncer gated by the
/// test: each fsync (a real `fdatasync` of the WAL) waits for a permit, and reports
/// when it starts.
struct Gated {
    writer: Writer,
    point: crate::durable::DurablePoint,
    reader: Connection,
    started: std::sync::mpsc::Receiver<()>,
    permits: std::sync::mpsc::Sender<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

fn gated() -> Gated {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gated.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         CREATE TABLE t (v INTEGER PRIMARY KEY);",
    )
    .unwrap();
    let wal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path().join("gated.db-wal"))
        .unwrap();
    let (started_tx, started) = std::sync::mpsc::channel();
    let (permits, permit_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let sync: crate::durable::SyncFn = Box::new(move || {
        let _ = started_tx.send(());
        permit_rx.recv().unwrap_or(Ok(()))?;
        wal.sync_data()
    });
    let (writer, point) = Writer::spawn(
        conn,
        64,
        Signals::new(),
        Arc::new(Counters::default()),
        Some(sync),
        Arc::new(crate::health::Health::default()),
    )
    .unwrap();
    let reader = Connection::open(&path).unwrap();
    Gated {
        writer,
        point: point.expect("a durable point with a syncer"),
        reader,
        started,
        permits,
        _dir: dir,
    }
}

/// Polls `fut` once without waiting: `true` if it is still pending.
fn pending<F: std::future::Future + Unpin>(fut: &mut F) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx).is_pending()
}

fn visible(reader: &Connection, v: i64) -> bool {
    reader
        .query_row("SELECT count(*) FROM t WHERE v = ?1", [v], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
        == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_answered_and_a_read_returns_only_after_the_fsync() {
    let g = gated();
    let mut write = Box::pin(g.writer.run(insert(1)));
    assert!(pending(&mut write), "sent, not yet durable");
    let started = &g.started;
    tokio::task::block_in_place(|| started.recv()).unwrap();
    // Committed (a reader sees it) but not yet fsynced: neither the writer's caller
    // nor a reader that saw the row may go on.
    assert!(visible(&g.reader, 1));
    assert!(pending(&mut write), "answered before its fsync");
    let mut settle = Box::pin(g.point.settle());
    assert!(
        pending(&mut settle),
        "a read returned before what it saw was durable"
    );
    g.permits.send(Ok(())).unwrap();
    write.await.unwrap();
    settle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_arrive_during_an_fsync_share_the_next_one() {
    let g = gated();
    let mut first = Box::pin(g.writer.run(insert(1)));
    assert!(pending(&mut first));
    let started = &g.started;
    tokio::task::block_in_place(|| started.recv()).unwrap();
    // Polled once, each write is queued to the writer before the fsync ends.
    let mut later: Vec<_> = (2..=5).map(|v| Box::pin(g.writer.run(insert(v)))).collect();
    assert!(later.iter_mut().all(pending));
    g.permits.send(Ok(())).unwrap();
    first.await.unwrap();
    // The four ran in the transaction held open during the first fsync and are
    // committed together: one more fsync answers them all.
    tokio::task::block_in_place(|| started.recv()).unwrap();
    g.permits.send(Ok(())).unwrap();
    for write in later {
        write.await.unwrap();
    }
    assert!((2..=5).all(|v| visible(&g.reader, v)));
    assert!(
        started.try_recv().is_err(),
        "two fsyncs answered five writes"
    );
}

#[tokio::test]
async fn a_failed_fsync_fails_its_writes_and_every_later_write_and_read() {
    let g = gated();
    let write = g.writer.run(insert(1));
    g.permits
        .send(Err(std::io::Error::other("disk gone")))
        .unwrap();
    assert!(matches!(write.await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        g.writer.run(insert(2)).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        g.point.settle().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        !visible(&g.reader, 2),
        "nothing is written after a failed fsync"
    );
}
