//! Serving a router over TCP with bounded connections and graceful shutdown, and the
//! usual shutdown signal.
//!
//! `axum::serve` holds every connection for as long as the client likes, so a client
//! sending headers byte by byte, or opening thousands of idle keep-alive connections,
//! could use up the process's file descriptors. This server accepts at most
//! [`ServerConfig::max_connections`] at once (the rest wait in the listen backlog),
//! and each connection is closed when its request head is late or when it stays idle
//! ([`conn`]). Errors hyper answers itself (oversized URI or headers, malformed
//! requests) get a JSON body ([`io`]).

mod conn;
mod io;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::ServerConfig;

/// Serves `app` on `listener` with the default [`ServerConfig`] until `shutdown`
/// resolves; see [`serve_with`].
///
/// ```no_run
/// # async fn demo(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// zart_api::serve(listener, app, zart_api::shutdown_signal()).await
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ServerConfig::default(), shutdown).await
}

/// Serves `app` on `listener` (HTTP/1.1) under the limits of `config` until `shutdown`
/// resolves, then stops accepting connections and returns once the requests in flight
/// have been answered (a `wait` long-poll in flight may take up to its timeout, at most
/// 30 s). Idle keep-alive connections are closed at once.
///
/// Returns an `InvalidInput` error if `config` fails [`ServerConfig::validate`].
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let (stop, stopped) = watch::channel(false);
    let limits = conn::Limits::from(&config);
    tokio::pin!(shutdown);
    loop {
        let next = tokio::select! {
            next = accept(&listener, &slots) => next,
            () = &mut shutdown => break,
        };
        let Some((stream, slot)) = next else { continue };
        let (app, stopped) = (app.clone(), stopped.clone());
        tokio::spawn(async move {
            conn::run(stream, app, limits, stopped).await;
            drop(slot);
        });
    }
    // Refuse new connections, ask the open ones to finish, and wait for them all.
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Waits for a free connection slot, then for a connection. While every slot is taken
/// nothing is accepted: new connections queue in the kernel's backlog and the ones in
/// flight are unaffected. `None` when accepting failed (already logged).
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(TcpStream, OwnedSemaphorePermit)> {
    // The semaphore is never closed.
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, _peer)) => {
            // Small JSON answers should leave at once, not wait for Nagle.
            let _ = stream.set_nodelay(true);
            Some((stream, slot))
        }
        Err(err) => {
            accept_failed(err).await;
            None
        }
    }
}

/// A connection reset before it was accepted is routine; anything else (out of file
/// descriptors, say) is logged and retried after a pause, which also gives in-flight
/// connections time to close and free descriptors.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%err, "accepting a connection failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Resolves when the process receives SIGINT (Ctrl-C) or, on Unix, SIGTERM.
///
/// If a handler cannot be installed the failure is logged and that signal is ignored.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
