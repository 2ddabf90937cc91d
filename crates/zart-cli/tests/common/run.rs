//! Running the `zart` client subcommands against a server, and checking their exit
//! codes and output.

use std::process::Output;

use serde_json::Value;

use super::{zart_command, Server};

/// Runs `zart ARGS --server BASE` and returns its output.
pub(crate) async fn zart(server: &Server, args: &[&str]) -> Output {
    zart_command()
        .args(args)
        .args(["--server", &server.base])
        .output()
        .await
        .expect("run zart")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Asserts success and parses stdout as JSON.
pub(crate) fn ok_json(out: &Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {text}"))
}

/// Asserts exit code 1 with exactly one `error: ...` line on stderr; returns it.
pub(crate) fn failed(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}
