//! Over a real socket: clients that disconnect while their GET is reading the store
//! (more of them than the SQLite store has reader connections) cost nothing: every
//! route still answers afterwards.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use zart::core::NewExecution;
use zart_api::ApiConfig;

/// Executions in the database: enough that a search over all of them keeps a reader
/// connection busy for a while after the request arrived.
const EXECUTIONS: usize = 20_000;
/// The default number of SQLite reader connections.
const READERS: usize = 4;
/// How long any single answer may take.
const ANSWER: Duration = Duration::from_secs(20);

/// A server on a real socket that reports the path of every request it starts.
struct Server {
    addr: String,
    arrivals: Arrivals,
}

async fn serve(t: &TestApp) -> Server {
    let (app, listener, arrivals) = reporting_app(t).await;
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(zart_api::serve(listener, app, std::future::pending()));
    Server { addr, arrivals }
}

/// A database with [`EXECUTIONS`] executions due in an hour (no worker runs them).
async fn seeded_app() -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("zart.db").display());
    let store = zart::connect(&url).await.expect("open store");
    let mut inserts = tokio::task::JoinSet::new();
    for part in 0..16 {
        let store = store.clone();
        inserts.spawn(async move {
            let now = chrono::Utc::now();
            for i in (part..EXECUTIONS).step_by(16) {
                let params = NewExecution {
                    id: format!("seed-{i:05}"),
                    task_name: "nap".into(),
                    payload: json!({"i": i}),
                    now,
                    run_at: now + chrono::Duration::hours(1),
                    deadline_at: None,
                    parent_id: None,
                    trace_context: None,
                    queue: None,
                    priority: 0,
                    deduplication_id: None,
                    concurrency_key: None,
                };
                store.execution_insert(params).await.expect("seed");
            }
        });
    }
    while let Some(joined) = inserts.join_next().await {
        joined.expect("seeding task");
    }
    app_on(store, dir, ApiConfig::default())
}

/// Sends `GET path` on a fresh connection, waits until the server started handling
/// it, and closes the connection without reading the answer.
async fn disconnect_mid_get(server: &mut Server, path: &str) {
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let route = path.split('?').next().unwrap_or(path);
    tokio::time::timeout(ANSWER, server.arrivals.arrived(route))
        .await
        .expect("the request arrives");
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disconnecting_mid_get_more_times_than_there_are_readers_leaves_every_route_working() {
    let t = seeded_app().await;
    t.start("kept", "echo", json!({"k": 1})).await;
    t.finish("kept").await;
    let mut server = serve(&t).await;
    // Searches that match nothing read every execution.
    let slow = [
        format!("{API}/executions?search=no-such-id&limit=1"),
        format!("{API}/stats"),
    ];
    for round in 0..3 * READERS {
        disconnect_mid_get(&mut server, &slow[round % slow.len()]).await;
    }

    let http = reqwest::Client::builder().timeout(ANSWER).build().unwrap();
    let base = format!("http://{}", server.addr);
    let routes = [
        format!("{API}/executions?limit=5"),
        format!("{API}/executions?search=no-such-id"),
        format!("{API}/executions/kept"),
        format!("{API}/executions/kept/wait?timeoutSecs=1"),
        format!("{API}/stats"),
        format!("{ADMIN}/executions/kept/detail"),
        format!("{ADMIN}/executions/kept/runs"),
        "/readyz".to_owned(),
        "/healthz".to_owned(),
        "/metrics".to_owned(),
    ];
    // Twice, and more concurrently than there are readers: a lost connection would
    // show as a 500 or a hang.
    for _ in 0..2 {
        let answers = futures::future::join_all(routes.iter().map(|route| {
            let http = http.clone();
            let url = format!("{base}{route}");
            async move { (route.clone(), http.get(url).send().await) }
        }))
        .await;
        for (route, answer) in answers {
            let answer = answer.unwrap_or_else(|e| panic!("GET {route}: {e}"));
            assert_eq!(
                answer.status(),
                200,
                "GET {route}: {:?}",
                answer.text().await
            );
        }
    }
}
