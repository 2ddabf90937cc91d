//! Your own service with Zart inside: your tasks, your routes and the Zart HTTP API in
//! one binary, on one SQLite file, with no other infrastructure.
//!
//! ```text
//! cargo run --release --example embedded_server          # listens on 127.0.0.1:3000
//! PORT=4000 ZART_DATABASE_URL=sqlite://signups.db cargo run --release --example embedded_server
//!
//! curl -s -X POST localhost:3000/api/v1/executions -H 'content-type: application/json' \
//!      -d '{"executionId": "ada", "taskName": "welcome", "payload": {"email": "ada@example.com"}}'
//! curl -s -X POST localhost:3000/api/v1/events/ada/email_confirmed -H 'content-type: application/json' \
//!      -d '{"confirmed": true}'
//! curl -s localhost:3000/api/v1/executions/ada/wait
//! curl -s localhost:3000/signup-count     # a route of the host application
//! ```
//!
//! The `welcome` task creates an account, sends a confirmation email, waits (durably,
//! holding no worker slot) for the `email_confirmed` event, then activates the account.
//! The HTTP layer reads no environment of its own: this program sets its
//! [`ApiConfig`] itself, here requiring a bearer token when `ZART_API_TOKEN` is set.
//! Ctrl-C stops it gracefully: in-flight requests finish and running executions give
//! their leases back, to resume on the next start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use serde::{Deserialize, Serialize};
use zart::metrics::Metrics;
use zart::prelude::*;
use zart_api::ApiConfig;

#[derive(Debug, Serialize, Deserialize)]
struct Signup {
    email: String,
}

#[derive(Debug, Deserialize)]
struct Confirmation {
    confirmed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Welcome {
    account_id: String,
    active: bool,
}

/// The workflow: each step runs once, even across crashes and restarts. A typed
/// task, started over HTTP by its name (`welcome`) with a JSON payload like any other.
struct WelcomeTask {
    /// The host application's counter, shared with its `/signup-count` route.
    signups: Arc<AtomicU64>,
}

impl Task for WelcomeTask {
    const NAME: &'static str = "welcome";
    type Input = Signup;
    type Output = Welcome;

    async fn run(&self, ctx: Ctx, signup: Signup) -> TaskResult<Welcome> {
        let email = signup.email;
        let account_id: String = ctx
            .step("create-account", || {
                let email = email.clone();
                let signups = Arc::clone(&self.signups);
                async move {
                    signups.fetch_add(1, Ordering::Relaxed);
                    Ok(format!("acct-{}", email.replace('@', "-at-")))
                }
            })
            .await?;
        ctx.step("send-confirmation-email", || {
            let email = email.clone();
            async move {
                println!("(pretend) emailing a confirmation link to {email}");
                Ok(())
            }
        })
        .await?;
        let confirmation: Confirmation = match ctx
            .wait_for_event("email_confirmed", Duration::from_secs(24 * 3600))
            .await
        {
            Ok(c) => c,
            Err(e) if e.is_timeout() => Confirmation { confirmed: false },
            Err(e) => return Err(e),
        };
        Ok(Welcome {
            account_id,
            active: confirmation.confirmed,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| anyhow::anyhow!("PORT must be a port number, got {p:?}"))?,
        Err(_) => 3000,
    };
    let db =
        std::env::var("ZART_DATABASE_URL").unwrap_or_else(|_| "sqlite://embedded.db".to_owned());

    let signups = Arc::new(AtomicU64::new(0));
    let metrics = Metrics::new();
    let zart = Zart::builder(zart::connect(&db).await?)
        .add_task(WelcomeTask {
            signups: Arc::clone(&signups),
        })
        .metrics(metrics.clone())
        .build();
    let worker = zart.start_worker(WorkerConfig::default());

    // The Zart API is an ordinary axum router: merge it with the application's own.
    let mut config = ApiConfig::default();
    if let Some(token) = std::env::var("ZART_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        config = config.api_token(token);
    }
    let zart_routes = zart_api::router(zart.client(), metrics, config)?;
    let app = axum::Router::new()
        .route(
            "/signup-count",
            get(move || async move { signups.load(Ordering::Relaxed).to_string() }),
        )
        .merge(zart_routes);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    zart_api::serve(listener, app, zart_api::shutdown_signal()).await?;
    worker.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
