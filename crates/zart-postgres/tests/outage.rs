//! An outage without stopping the shared server: the store connects through a TCP
//! proxy, and stopping the proxy closes every connection and the port (new
//! connections are refused), as a server that went down does. Readiness and
//! every call must fail within a second, not after the 5 s acquire timeout, and
//! the store must work again once the proxy is back.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use zart_core::{Signal, StoreError};
use zart_postgres::{PgOptions, PgStore};
use zart_store_tests::postgres::FreshSchema;
use zart_store_tests::support::{expect_signal, insert, new_execution, DynStore};

/// The longest a call may take to fail while the server is unreachable.
const FAIL_WITHIN: Duration = Duration::from_secs(1);

/// Forwards a local port to the server until stopped.
struct Proxy {
    port: u16,
    target: (String, u16),
    tasks: JoinSet<()>,
}

impl Proxy {
    async fn start(target: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let mut proxy = Proxy {
            port,
            target,
            tasks: JoinSet::new(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        self.tasks.spawn(async move {
            let mut pipes = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                pipes.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// Closes the port and every forwarded connection (dropping the accept task
    /// drops its pipes).
    async fn stop(&mut self) {
        self.tasks.shutdown().await;
    }

    /// Listens on the same port again.
    async fn restart(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind proxy port");
        self.serve(listener);
    }
}

/// A store on a fresh schema reached through a proxy, or `None` without a database.
async fn proxied_store(tag: &str, options: PgOptions) -> Option<(PgStore, Proxy, FreshSchema)> {
    let schema = FreshSchema::new(tag)?;
    let direct = PgConnectOptions::from_str(schema.database_url()).expect("test database URL");
    let target = (direct.get_host().to_owned(), direct.get_port());
    let proxy = Proxy::start(target).await;
    let user = direct.get_username();
    let database = direct.get_database().unwrap_or(user);
    let proxied = format!("postgres://{user}@127.0.0.1:{}/{database}", proxy.port);
    let store = PgStore::connect_with(&proxied, options.schema(schema.name()))
        .await
        .expect("connect through the proxy");
    Some((store, proxy, schema))
}

/// Runs `call`, asserting that it fails as unavailable within [`FAIL_WITHIN`].
async fn fails_fast<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    eprintln!("{what} with the server unreachable: {result:?} after {took:?}");
    let err = result.expect_err("the server is unreachable");
    assert!(err.is_transient(), "{what}: {err}");
    assert!(took < FAIL_WITHIN, "{what} took {took:?}");
}

/// Calls `ping` until it succeeds (bounded).
async fn recovers(store: &DynStore) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = store.ping().await {
        assert!(e.is_transient(), "{e}");
        assert!(Instant::now() < deadline, "never recovered: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_calls_fail_within_a_second_while_the_server_is_unreachable() {
    let Some((store, mut proxy, _schema)) = proxied_store("outage", PgOptions::default()).await
    else {
        return;
    };
    let store: DynStore = Arc::new(store);
    insert(&store, "before").await;
    let mut hints = store.subscribe();

    proxy.stop().await;
    // The LISTEN connection is the first to notice.
    expect_signal(&mut hints, |s| matches!(s, Signal::Lagged)).await;
    fails_fast("a read", store.execution_get("before")).await;
    fails_fast("ping", store.ping()).await;
    fails_fast("an insert", store.execution_insert(new_execution("during"))).await;
    fails_fast("a list", store.execution_stats()).await;

    proxy.restart().await;
    recovers(&store).await;
    assert!(store.execution_get("before").await.expect("read").is_some());
    insert(&store, "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_fails_within_a_second_without_a_listener_and_calls_follow() {
    let options = PgOptions::default().listen(false);
    let Some((store, mut proxy, _schema)) = proxied_store("outage_nl", options).await else {
        return;
    };
    let store: DynStore = Arc::new(store);
    insert(&store, "before").await;

    proxy.stop().await;
    fails_fast("ping", store.ping()).await;
    // The failed readiness check marked the server down: calls fail fast too.
    fails_fast("a read", store.execution_get("before")).await;

    proxy.restart().await;
    recovers(&store).await;
    assert!(store.execution_get("before").await.expect("read").is_some());
}
