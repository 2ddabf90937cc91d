//! `shutdown_signal` resolves on SIGTERM (its own test binary: it signals the process).

#![cfg(unix)]

use std::time::Duration;

use futures::poll;

#[tokio::test]
async fn shutdown_signal_resolves_on_sigterm() {
    use tokio::signal::unix::{signal, SignalKind};
    // A listener of our own first: from now on SIGTERM no longer kills the process,
    // whatever the future under test has registered.
    let _keep_alive = signal(SignalKind::terminate()).expect("listen for SIGTERM");
    let shutdown = zart_api::shutdown_signal();
    tokio::pin!(shutdown);
    assert!(poll!(&mut shutdown).is_pending(), "no signal yet");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown_signal resolves after SIGTERM");
}
