//! Running one conformance test: build a runtime, make a fresh store, run the test.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use zart_core::Store;

/// A fresh store for one test, plus whatever must stay alive while it is used (a
/// [`SqliteFile`](crate::sqlite::SqliteFile), a
/// `postgres::FreshSchema`).
///
/// The guard is dropped on the test's thread while a failing test unwinds, so a guard
/// that keeps its resources on failure (the fresh schema does) keeps them for the
/// failed conformance test too.
pub struct TestStore {
    store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("backend", &self.store.backend_name())
            .finish_non_exhaustive()
    }
}

impl TestStore {
    /// A store that needs no guard.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_guard(store, ())
    }

    /// A store with a guard dropped after the test (and after the store handle).
    pub fn with_guard(store: Arc<dyn Store>, guard: impl Any + Send) -> Self {
        Self {
            store,
            _guard: Box::new(guard),
        }
    }

    /// The store handle.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

impl From<Arc<dyn Store>> for TestStore {
    fn from(store: Arc<dyn Store>) -> Self {
        Self::new(store)
    }
}

/// Runs `test` against a store made by `factory` on a fresh multi-threaded runtime.
/// A factory returning `None` skips the test with a notice. Used by
/// [`conformance_suite!`](crate::conformance_suite); callable directly for a single
/// behaviour.
pub fn run_conformance_test<F, FFut, S, T, TFut>(name: &str, factory: F, test: T)
where
    F: FnOnce() -> FFut,
    FFut: Future<Output = Option<S>>,
    S: Into<TestStore>,
    T: FnOnce(Arc<dyn Store>) -> TFut,
    TFut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    runtime.block_on(async {
        let Some(made) = factory().await else {
            crate::skip_notice(name, "store backend not available");
            return;
        };
        let made: TestStore = made.into();
        let store = made.store();
        test(store).await;
        drop(made);
    });
}
