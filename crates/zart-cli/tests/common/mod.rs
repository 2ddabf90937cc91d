//! Test support: a real `zart serve` process on a free port, and a small HTTP helper.
//!
//! Each test owns its servers; a [`Server`] kills its process when dropped, so no child
//! outlives a test, failing or not.

#![allow(dead_code)] // each test binary uses a different subset

pub(crate) mod http;
pub(crate) mod otlp;
pub(crate) mod run;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

pub(crate) use http::Api;

/// The `zart` binary under test.
pub(crate) const ZART: &str = env!("CARGO_BIN_EXE_zart");
/// How long a server may take to print its address.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Every environment variable `zart` reads (its own and the OpenTelemetry ones
/// that turn trace export on): cleared for each child so the caller's
/// environment cannot change a test.
const ZART_ENV: &[&str] = &[
    "ZART_DATABASE_URL",
    "ZART_BIND",
    "ZART_CONCURRENCY",
    "ZART_LEASE_SECS",
    "ZART_SHUTDOWN_GRACE_SECS",
    "ZART_API_PREFIX",
    "ZART_ADMIN_PREFIX",
    "ZART_API_TOKEN",
    "ZART_ADMIN_TOKEN",
    "ZART_MAX_BODY_BYTES",
    "ZART_CORS_ORIGINS",
    "ZART_SERVER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
];

/// A `zart` command with a clean environment.
pub(crate) fn zart_command() -> Command {
    let mut cmd = Command::new(ZART);
    for var in ZART_ENV {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "info,zart=debug");
    cmd
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerOptions {
    /// Extra `zart serve` arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl ServerOptions {
    /// Adds command-line arguments.
    pub(crate) fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Sets an environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running `zart serve`, killed on drop.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `zart serve` on a free port with the SQLite database `db` and waits until
    /// `/healthz` answers. Its log goes next to the database.
    pub(crate) async fn start(db: &Path, options: ServerOptions) -> Server {
        let log_dir = db.parent().expect("the database is in a directory");
        Server::start_url(&format!("sqlite://{}", db.display()), log_dir, options).await
    }

    /// Starts `zart serve` on a free port with the database at `url`, logging to a file
    /// in `log_dir`, and waits until `/healthz` answers.
    pub(crate) async fn start_url(url: &str, log_dir: &Path, options: ServerOptions) -> Server {
        let log = log_dir.join(format!("server{}.log", log_suffix()));
        let log_file = std::fs::File::create(&log).expect("create the server log");
        let mut cmd = zart_command();
        cmd.arg("serve")
            .arg("--db")
            .arg(url)
            .args(["--bind", "127.0.0.1:0"])
            .args(&options.args)
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn zart serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = oneshot::channel();
        let printed = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(read_address(stdout, tx, Arc::clone(&printed)));
        let base = match tokio::time::timeout(START_LIMIT, rx).await {
            Ok(Ok(base)) => base,
            _ => panic!("zart serve printed no address; log:\n{}", read_log(&log)),
        };
        let server = Server {
            child,
            base,
            log,
            stdout: printed,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        while tokio::time::Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{} never became healthy; log:\n{}", self.base, self.log());
    }

    /// An HTTP helper for this server.
    pub(crate) fn api(&self) -> Api {
        Api::new(&self.base)
    }

    /// The server's log (stderr) so far.
    pub(crate) fn log(&self) -> String {
        read_log(&self.log)
    }

    /// The lines the server printed on stdout so far.
    pub(crate) fn stdout(&self) -> Vec<String> {
        self.stdout
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// SIGKILL: the process dies at once, mid-step, without releasing anything.
    pub(crate) async fn kill(mut self) {
        self.child.start_kill().expect("send SIGKILL");
        self.child.wait().await.expect("reap the server");
    }

    /// SIGTERM, then waits (at most `limit`) for the process to exit.
    pub(crate) async fn terminate(mut self, limit: Duration) -> ExitStatus {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.expect("reap the server"),
            Err(_) => panic!(
                "zart serve did not exit within {limit:?} of SIGTERM; log:\n{}",
                self.log()
            ),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // kill_on_drop also does this; being explicit keeps the guarantee visible.
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("--- zart serve log ({}) ---\n{}", self.base, self.log());
        }
    }
}

/// Reads the server's stdout, sends the address of the `listening on` line, and keeps
/// every line (draining the pipe so the server never blocks on it).
async fn read_address(
    stdout: tokio::process::ChildStdout,
    tx: oneshot::Sender<String>,
    printed: Arc<Mutex<Vec<String>>>,
) {
    let mut lines = BufReader::new(stdout).lines();
    let mut tx = Some(tx);
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some((_, addr)) = line.split_once("listening on ") {
            if let Some(tx) = tx.take() {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
        if let Ok(mut all) = printed.lock() {
            all.push(line);
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<no log: {e}>"))
}

/// A distinct log name for every server a test starts (restarts share the database).
fn log_suffix() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    STARTED.fetch_add(1, Ordering::Relaxed)
}

/// A fresh temporary directory and a database path in it.
pub(crate) fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let db = dir.path().join("zart.db");
    (dir, db)
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `limit`. For state
/// only visible over HTTP (there is no signal to await across processes).
pub(crate) async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
