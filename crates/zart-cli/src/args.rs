//! The command line: every subcommand, flag and environment variable of `zart`.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

/// Durable execution for Rust: the server, and a client for its HTTP API.
#[derive(Debug, Parser)]
#[command(name = "zart", version, propagate_version = true)]
pub struct Cli {
    /// Where the HTTP API is and how it is protected.
    #[command(flatten)]
    pub api: ApiOptions,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The HTTP API's address, tokens and prefixes, shared by every subcommand: `serve`
/// protects its API with the tokens and mounts it under the prefixes; the client
/// subcommands use them to call a server.
#[derive(Debug, Clone, Args)]
pub struct ApiOptions {
    /// The server's base URL (client subcommands).
    #[arg(
        long,
        global = true,
        env = "ZART_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Bearer token of the public API: required by `serve` when set, sent by the client.
    #[arg(long, global = true, env = "ZART_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Bearer token of the admin API: required by `serve` for admin routes when set;
    /// the client sends it for `detail` (the API token when unset).
    #[arg(long, global = true, env = "ZART_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Path prefix of the public API.
    #[arg(
        long,
        global = true,
        env = "ZART_API_PREFIX",
        default_value = "/api/v1"
    )]
    pub api_prefix: String,
    /// Path prefix of the admin API.
    #[arg(
        long,
        global = true,
        env = "ZART_ADMIN_PREFIX",
        default_value = "/zart/admin/v1"
    )]
    pub admin_prefix: String,
    /// Print the server's JSON instead of a table (client subcommands).
    #[arg(long, global = true)]
    pub json: bool,
}

/// A `zart` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, a worker and the demo tasks in one process.
    Serve(ServeArgs),
    /// Open the database and apply any pending schema migrations.
    Migrate(MigrateArgs),
    /// Start an execution of a task (idempotent by --id).
    Start {
        /// The registered task name.
        task: String,
        /// The execution id (idempotency key); generated when omitted.
        #[arg(long)]
        id: Option<String>,
        /// The input payload, as JSON.
        #[arg(long, value_parser = parse_json)]
        payload: Option<Value>,
    },
    /// Show one execution.
    Get {
        /// The execution id.
        id: String,
    },
    /// List executions, newest first.
    List {
        /// Only executions in this status (scheduled, running, completed, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only executions of this task.
        #[arg(long)]
        task: Option<String>,
        /// At most this many (the server allows up to 1000).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Cancel an unfinished execution.
    Cancel {
        /// The execution id.
        id: String,
    },
    /// Wait until an execution finishes and show it.
    Wait {
        /// The execution id.
        id: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Deliver an event to an execution.
    Event {
        /// The execution id.
        id: String,
        /// The event name.
        name: String,
        /// The event payload, as JSON.
        #[arg(long, value_parser = parse_json)]
        payload: Option<Value>,
        /// The event's id (idempotency key): sending it again with the same id stores
        /// it once, so a retry after a timeout is safe.
        #[arg(long = "id", value_name = "KEY")]
        key: Option<String>,
    },
    /// Count executions by status.
    Stats,
    /// List the named queues with their limits, depth and running count.
    Queues,
    /// Show an execution with its runs, steps and attempts (admin API).
    Detail {
        /// The execution id.
        id: String,
    },
    /// Give a dead step a fresh attempt budget and resume the execution from it,
    /// keeping every other completed step (admin API).
    RetryStep {
        /// The execution id.
        id: String,
        /// The dead step: its name, or `name#N` for one occurrence.
        step: String,
        /// Who acts, and the action's idempotency key.
        #[command(flatten)]
        action: ActionArgs,
    },
    /// Start a new run of a finished execution from scratch (admin API).
    Restart {
        /// The execution id.
        id: String,
        /// A new input payload, as JSON; the current one when omitted.
        #[arg(long, value_parser = parse_json)]
        payload: Option<Value>,
        /// Who acts, and the action's idempotency key.
        #[command(flatten)]
        action: ActionArgs,
    },
    /// Start a new run of a finished execution that runs the named steps (and every
    /// dead step) again and replays the others' recorded results (admin API).
    Rerun {
        /// The execution id.
        id: String,
        /// Steps to run again, comma-separated.
        #[arg(long = "rerun", value_delimiter = ',', value_name = "STEPS")]
        rerun: Vec<String>,
        /// Steps whose recorded result is kept even if dead or listed in --rerun,
        /// comma-separated.
        #[arg(long = "preserve", value_delimiter = ',', value_name = "STEPS")]
        preserve: Vec<String>,
        /// Who acts, and the action's idempotency key.
        #[command(flatten)]
        action: ActionArgs,
    },
    /// Create a pause rule: matching executions stop before their next matching step
    /// until the rule is resumed or expires (admin API).
    Pause(PauseArgs),
    /// List the active pause rules (admin API).
    Pauses,
    /// Delete a pause rule, resuming every execution it held (admin API).
    Resume {
        /// The rule id.
        rule_id: String,
    },
    /// Manage schedules: tasks started on a cron expression or an interval (admin
    /// API).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
}

/// A `zart schedule` subcommand.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule (exactly one of --cron and --every).
    Create(ScheduleCreateArgs),
    /// List the schedules.
    List,
    /// Show one schedule with its next fire times and its last firing.
    Get {
        /// The schedule id.
        id: String,
    },
    /// Delete a schedule (the executions it started stay).
    Delete {
        /// The schedule id.
        id: String,
    },
    /// Pause a schedule: it fires nothing until resumed.
    Pause {
        /// The schedule id.
        id: String,
    },
    /// Resume a paused schedule from its next slot.
    Resume {
        /// The schedule id.
        id: String,
    },
    /// Fire a schedule once now.
    Trigger {
        /// The schedule id.
        id: String,
    },
}

/// What `zart schedule create` creates.
#[derive(Debug, Clone, Args)]
pub struct ScheduleCreateArgs {
    /// The schedule id.
    pub id: String,
    /// The registered task each firing starts.
    pub task: String,
    /// A cron expression: 5 fields, 6 with seconds first, or `@hourly`, `@daily`...
    #[arg(long)]
    pub cron: Option<String>,
    /// The IANA time zone of --cron (default UTC).
    #[arg(long = "tz", value_name = "ZONE")]
    pub timezone: Option<String>,
    /// A fixed interval instead of --cron (`30s`, `15m`, `1h`), in whole seconds.
    #[arg(long = "every", value_name = "DURATION", value_parser = parse_whole_seconds)]
    pub every: Option<u64>,
    /// The input payload of each firing, as JSON.
    #[arg(long, value_parser = parse_json)]
    pub payload: Option<Value>,
    /// While the previous firing runs: skip, buffer_one, allow_all or cancel_previous.
    #[arg(long)]
    pub overlap: Option<String>,
    /// After downtime: skip_missed, none or all.
    #[arg(long = "catch-up")]
    pub catch_up: Option<String>,
    /// Create it paused.
    #[arg(long)]
    pub paused: bool,
}

/// What `zart pause` selects, and for how long.
#[derive(Debug, Clone, Args)]
pub struct PauseArgs {
    /// Only this execution.
    #[arg(long)]
    pub execution: Option<String>,
    /// Only executions of this task.
    #[arg(long)]
    pub task: Option<String>,
    /// Only before steps whose name matches this glob (`charge*`).
    #[arg(long, value_name = "GLOB")]
    pub step: Option<String>,
    /// Let the rule expire after this long (`90s`, `15m`, `1h 30m`, `2days`).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Why, for the other operators.
    #[arg(long)]
    pub reason: Option<String>,
    /// Recorded as the rule's author (default `cli`).
    #[arg(long = "by", value_name = "WHO")]
    pub by: Option<String>,
}

/// Who takes an operator action, and its idempotency key.
#[derive(Debug, Clone, Args)]
pub struct ActionArgs {
    /// Recorded as who triggered the action (default `cli`).
    #[arg(long = "by", value_name = "WHO")]
    pub by: Option<String>,
    /// The action's idempotency key: repeating the command with the same key acts
    /// once and prints the first answer.
    #[arg(long = "key", value_name = "KEY")]
    pub key: Option<String>,
}

/// Options of `zart serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database URL: sqlite://PATH (created if absent) or postgres://...
    #[arg(long, env = "ZART_DATABASE_URL", default_value = "sqlite://zart.db")]
    pub db: String,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ZART_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Worker slots: the most executions run at once.
    #[arg(long, env = "ZART_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Worker lease duration in seconds: a crashed server's executions are resumed
    /// after at most this long.
    #[arg(long, env = "ZART_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_secs: u64,
    /// How long shutdown lets running executions finish before releasing them.
    #[arg(long, env = "ZART_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,
    /// Delete finished executions (whole trees: a root with all its children, with
    /// their steps and events) this many hours after they finished, whatever their
    /// status; `0` or `off` keeps everything. Each status defaults to 168 (7 days).
    #[arg(long, env = "ZART_RETENTION_HOURS", value_parser = parse_retention)]
    pub retention_hours: Option<RetentionHours>,
    /// Retention of completed executions, overriding --retention-hours.
    #[arg(long, env = "ZART_RETENTION_COMPLETED_HOURS", value_parser = parse_retention)]
    pub retention_completed_hours: Option<RetentionHours>,
    /// Retention of failed executions, overriding --retention-hours.
    #[arg(long, env = "ZART_RETENTION_FAILED_HOURS", value_parser = parse_retention)]
    pub retention_failed_hours: Option<RetentionHours>,
    /// Retention of cancelled executions, overriding --retention-hours.
    #[arg(long, env = "ZART_RETENTION_CANCELLED_HOURS", value_parser = parse_retention)]
    pub retention_cancelled_hours: Option<RetentionHours>,
    /// Seconds a client has to send a request's headers (from connecting, or from the
    /// first byte of a later request) before its connection is closed.
    #[arg(long, env = "ZART_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request body before it is answered 408.
    #[arg(long, env = "ZART_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept open.
    #[arg(long, env = "ZART_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// The most HTTP connections served at once; more wait until one closes. Keep it
    /// well under the process's open-file limit.
    #[arg(long, env = "ZART_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// The most unconsumed events one execution may hold; an event offered past it
    /// is refused with 429 and not stored.
    #[arg(long, env = "ZART_MAX_PENDING_EVENTS", default_value_t = zart::DEFAULT_MAX_PENDING_EVENTS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_pending_events: u32,
    /// Do not register the demo tasks.
    #[arg(long)]
    pub no_demo: bool,
    /// Where the web dashboard is served (`/`, or a prefix such as `/ops/zart`).
    #[arg(long, env = "ZART_DASHBOARD_PATH", default_value = "/")]
    pub dashboard_path: String,
    /// Serve no dashboard.
    #[arg(long)]
    pub no_dashboard: bool,
}

/// Options of `zart migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// Database URL: sqlite://PATH (created if absent) or postgres://...
    #[arg(long, env = "ZART_DATABASE_URL", default_value = "sqlite://zart.db")]
    pub db: String,
}

/// A retention setting: keep finished executions this many hours, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionHours {
    /// Never delete (`0` or `off`).
    Off,
    /// Delete this many hours after they finished.
    Hours(u64),
}

fn parse_retention(text: &str) -> Result<RetentionHours, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(RetentionHours::Off);
    }
    match text.parse::<u64>() {
        Ok(0) => Ok(RetentionHours::Off),
        Ok(hours) => Ok(RetentionHours::Hours(hours)),
        Err(_) => Err("expected a number of hours, or `off` (or 0) to keep everything".to_owned()),
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("expected a duration such as 90s, 15m or 1h ({e})"))?;
    if d.is_zero() {
        return Err("the duration must be longer than zero".to_owned());
    }
    Ok(d)
}

/// A duration of whole seconds, as seconds.
fn parse_whole_seconds(text: &str) -> Result<u64, String> {
    let d = parse_duration(text)?;
    if d.subsec_nanos() != 0 {
        return Err("the interval must be whole seconds".to_owned());
    }
    Ok(d.as_secs())
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn payload_that_is_not_json_is_a_usage_error() {
        let err = Cli::try_parse_from(["zart", "start", "echo", "--payload", "{nope"])
            .expect_err("invalid JSON must be rejected");
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    /// `zart serve ARGS`, parsed.
    pub(crate) fn serve_args(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from([&["zart", "serve"][..], args].concat()).expect("valid");
        match cli.command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn retention_takes_hours_or_off() {
        let args = serve_args(&[
            "--retention-hours",
            "off",
            "--retention-failed-hours",
            "48",
            "--retention-cancelled-hours",
            "0",
        ]);
        assert_eq!(args.retention_hours, Some(RetentionHours::Off));
        assert_eq!(args.retention_failed_hours, Some(RetentionHours::Hours(48)));
        assert_eq!(args.retention_cancelled_hours, Some(RetentionHours::Off));
        assert_eq!(args.retention_completed_hours, None);
        let err = Cli::try_parse_from(["zart", "serve", "--retention-hours", "soon"])
            .expect_err("not a number");
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn connection_limits_have_defaults_and_reject_zero() {
        let args = serve_args(&[]);
        assert_eq!((args.header_timeout_secs, args.body_timeout_secs), (10, 30));
        assert_eq!((args.idle_timeout_secs, args.max_connections), (60, 512));
        for flag in ["--header-timeout-secs", "--max-connections"] {
            let err = Cli::try_parse_from(["zart", "serve", flag, "0"]).expect_err("zero");
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        }
    }

    #[test]
    fn operator_commands_parse_their_lists_and_durations() {
        let cli =
            Cli::try_parse_from(["zart", "rerun", "o-1", "--rerun", "a,b", "--preserve", "c"])
                .expect("valid");
        match cli.command {
            Command::Rerun {
                rerun, preserve, ..
            } => {
                assert_eq!(rerun, vec!["a", "b"]);
                assert_eq!(preserve, vec!["c"]);
            }
            other => panic!("not rerun: {other:?}"),
        }
        let cli = Cli::try_parse_from(["zart", "pause", "--task", "t", "--for", "1h 30m"])
            .expect("valid");
        match cli.command {
            Command::Pause(PauseArgs { duration, .. }) => {
                assert_eq!(duration, Some(std::time::Duration::from_secs(5400)));
            }
            other => panic!("not pause: {other:?}"),
        }
        for bad in ["soon", "0s"] {
            let err = Cli::try_parse_from(["zart", "pause", "--task", "t", "--for", bad])
                .expect_err("not a duration");
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        }
    }

    #[test]
    fn client_options_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from(["zart", "get", "abc", "--server", "http://h:1", "--json"])
            .expect("valid command line");
        assert_eq!(cli.api.server, "http://h:1");
        assert!(cli.api.json);
    }
}
