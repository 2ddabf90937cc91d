//! Opening SQLite stores: URL forms, pragmas, reopening and migrations.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use zart_core::{InsertOutcome, Store, StoreError};
use zart_sqlite::{migration_versions, SqliteOptions, SqliteStore, Synchronous};
use zart_store_tests::sqlite::SqliteFile;
use zart_store_tests::support::new_execution;

/// `target` expressed relative to the current directory (`../..` up to the root).
fn relative_to_cwd(target: &Path) -> PathBuf {
    let cwd = std::env::current_dir().expect("cwd");
    let ups = cwd
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let mut rel = PathBuf::new();
    for _ in 0..ups {
        rel.push("..");
    }
    rel.join(target.strip_prefix("/").expect("absolute temp path"))
}

#[tokio::test]
async fn absolute_url_creates_missing_file_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/zart.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display())).unwrap();
    store.ping().await.unwrap();
    assert!(path.exists(), "database file created");
}

#[tokio::test]
async fn relative_url_is_resolved_against_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let rel = relative_to_cwd(&dir.path().join("rel.db"));
    assert!(rel.is_relative());
    let store = SqliteStore::open(&format!("sqlite://{}", rel.display())).unwrap();
    store.execution_insert(new_execution("e1")).await.unwrap();
    assert!(dir.path().join("rel.db").exists());
}

#[test]
fn bad_urls_are_invalid_input() {
    for url in [
        "postgres://localhost/db",
        "zart.db",
        "sqlite://",
        "sqlite://x.db?cache=shared",
    ] {
        match SqliteStore::open(url) {
            Err(StoreError::InvalidInput(msg)) => assert!(msg.contains("sqlite://"), "{msg}"),
            other => panic!("{url}: expected InvalidInput, got {other:?}"),
        }
    }
}

#[test]
fn unusable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let url = format!("sqlite://{}", file.join("zart.db").display());
    match SqliteStore::open(&url) {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn file_store_uses_wal_and_fsyncs_every_write_behind_the_writer_by_default() {
    let file = SqliteFile::new();
    let url = file.url();
    let store = SqliteStore::open(url).unwrap();
    assert_eq!(store.pragma("journal_mode").await.unwrap(), "wal");
    // The connection does not fsync inside COMMIT (1 = NORMAL): the syncer thread
    // fsyncs the WAL and only then are the batch's callers answered.
    assert_eq!(store.pragma("synchronous").await.unwrap(), "1");
    for i in 0..3 {
        store
            .execution_insert(new_execution(&format!("e{i}")))
            .await
            .unwrap();
        let stats = store.stats();
        assert!(
            stats.syncs >= 1 && stats.syncs <= stats.batches,
            "each acknowledged write was fsynced: {stats:?}"
        );
    }
    assert!(store.pragma("journal_mode; DROP TABLE x").await.is_err());
}

#[tokio::test]
async fn synchronous_normal_can_be_chosen() {
    let file = SqliteFile::new();
    let url = file.url();
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(url, options).unwrap();
    assert_eq!(
        store.pragma("synchronous").await.unwrap(),
        "1",
        "1 = NORMAL"
    );
    store.execution_insert(new_execution("e1")).await.unwrap();
    assert_eq!(store.stats().syncs, 0, "no fsync per commit with NORMAL");
}

#[tokio::test]
async fn data_survives_reopen_and_migrations_are_not_reapplied() {
    let file = SqliteFile::new();
    let url = file.url();
    let store = SqliteStore::open(url).unwrap();
    let InsertOutcome::Created(created) =
        store.execution_insert(new_execution("e1")).await.unwrap()
    else {
        panic!("expected a new execution");
    };
    drop(store);
    let reopened = SqliteStore::open(url).unwrap();
    assert_eq!(reopened.execution_get("e1").await.unwrap(), Some(created));
    assert_eq!(
        migration_versions(),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    );
    assert_eq!(
        reopened.applied_migrations().await.unwrap(),
        migration_versions()
    );
}

#[tokio::test]
async fn memory_stores_are_private_to_each_open() {
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open("sqlite::memory:").unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open("sqlite::memory:").unwrap());
    a.execution_insert(new_execution("only-in-a"))
        .await
        .unwrap();
    assert!(a.execution_get("only-in-a").await.unwrap().is_some());
    assert_eq!(b.execution_get("only-in-a").await.unwrap(), None);
}
