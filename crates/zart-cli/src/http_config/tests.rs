//! The HTTP settings as `zart serve` builds them. Flags stand for the variables clap
//! reads through their `env` attributes (the same value either way); the two variables
//! without a flag come from a map.

use std::collections::HashMap;

use clap::Parser;

use super::*;
use crate::args::{Cli, Command};

/// The settings of `zart serve ARGS` with the variables `vars`.
fn config(args: &[&str], vars: &[(&'static str, &str)]) -> anyhow::Result<ApiConfig> {
    let cli = Cli::try_parse_from([&["zart", "serve"][..], args].concat()).expect("valid");
    let Command::Serve(serve) = &cli.command else {
        panic!("not serve")
    };
    let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
    api_config_with(&cli.api, serve, |name| Ok(vars.get(name).cloned()))
}

/// The error of `zart serve ARGS` with `vars`, as `main` prints it.
fn error(args: &[&str], vars: &[(&'static str, &str)]) -> String {
    let err = config(args, vars).expect_err("invalid");
    format!("{:#}", err.context("invalid HTTP configuration"))
}

#[test]
fn nothing_set_gives_the_defaults() {
    let config = config(&[], &[]).unwrap();
    assert_eq!(config, ApiConfig::default());
    assert_eq!(config.api_prefix, "/api/v1");
    assert_eq!(config.admin_prefix, "/zart/admin/v1");
    assert_eq!(config.max_body_bytes, 1024 * 1024);
    assert_eq!(config.body_timeout, Duration::from_secs(30));
    assert!(config.api_token.is_none() && config.admin_token.is_none());
    assert!(config.cors_origins.is_empty());
}

#[test]
fn every_setting_is_read() {
    let flags = [
        "--api-prefix",
        "custom/api/",
        "--admin-prefix",
        "/ops",
        "--token",
        "api-secret",
        "--admin-token",
        "admin-secret",
        "--body-timeout-secs",
        "7",
    ];
    let vars = [
        ("ZART_MAX_BODY_BYTES", "2048"),
        (
            "ZART_CORS_ORIGINS",
            "https://a.example, http://localhost:3000,",
        ),
    ];
    let config = config(&flags, &vars).unwrap();
    assert_eq!(config.api_prefix, "/custom/api");
    assert_eq!(config.admin_prefix, "/ops");
    assert_eq!(config.api_token.as_deref(), Some("api-secret"));
    assert_eq!(config.admin_token.as_deref(), Some("admin-secret"));
    assert_eq!(config.max_body_bytes, 2048);
    assert_eq!(config.body_timeout, Duration::from_secs(7));
    assert_eq!(
        config.cors_origins,
        ["https://a.example", "http://localhost:3000"]
    );
}

#[test]
fn empty_tokens_mean_no_token() {
    let config = config(&["--token", "", "--admin-token", ""], &[]).unwrap();
    assert!(config.api_token.is_none() && config.admin_token.is_none());
}

#[test]
fn invalid_values_are_errors_naming_the_variable() {
    let vars: &[(&'static str, &str, &str)] = &[
        ("ZART_MAX_BODY_BYTES", "lots", "ZART_MAX_BODY_BYTES"),
        ("ZART_MAX_BODY_BYTES", "0", "ZART_MAX_BODY_BYTES"),
        ("ZART_CORS_ORIGINS", "example.com", "example.com"),
    ];
    for (name, value, expected) in vars {
        let err = error(&[], &[(name, value)]);
        assert!(err.starts_with("invalid HTTP configuration: "), "{err}");
        assert!(err.contains(expected), "{name}={value:?} gave {err:?}");
    }
    let flags: &[(&str, &str, &str)] = &[
        ("--api-prefix", "/", "ZART_API_PREFIX"),
        ("--api-prefix", "/api/{v}", "ZART_API_PREFIX"),
        ("--admin-prefix", "/a//b", "ZART_ADMIN_PREFIX"),
        ("--admin-prefix", "/api/v1", "must differ"),
        ("--token", "two words", "ZART_API_TOKEN"),
    ];
    for (flag, value, expected) in flags {
        let err = error(&[flag, value], &[]);
        assert!(err.contains(expected), "{flag} {value:?} gave {err:?}");
    }
}

#[test]
fn wildcard_origin_is_accepted() {
    let config = config(&[], &[("ZART_CORS_ORIGINS", "*")]).unwrap();
    assert_eq!(config.cors_origins, ["*"]);
}

#[test]
fn body_timeout_must_be_a_positive_number_of_seconds() {
    for bad in ["0", "-1", "soon"] {
        let flag = format!("--body-timeout-secs={bad}");
        let err = Cli::try_parse_from(["zart", "serve", flag.as_str()])
            .expect_err("not a positive number");
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
    }
}

#[test]
fn server_limits_come_from_the_flags() {
    let cli = Cli::try_parse_from([
        "zart",
        "serve",
        "--header-timeout-secs",
        "3",
        "--idle-timeout-secs",
        "4",
        "--max-connections",
        "5",
    ])
    .expect("valid");
    let Command::Serve(serve) = &cli.command else {
        panic!("not serve")
    };
    let expected = ServerConfig::default()
        .header_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(4))
        .max_connections(5);
    assert_eq!(server_config(serve), expected);
}

#[test]
fn the_dashboard_moves_or_goes() {
    assert_eq!(
        config(&[], &[]).unwrap().dashboard_path.as_deref(),
        Some("/")
    );
    let moved = config(&["--dashboard-path", "ops/zart/"], &[]).unwrap();
    assert_eq!(moved.dashboard_path.as_deref(), Some("/ops/zart"));
    let off = config(&["--no-dashboard"], &[]).unwrap();
    assert!(off.dashboard_path.is_none());
    let overlapping = error(&["--dashboard-path", "/api/v1/ui"], &[]);
    assert!(overlapping.contains("ZART_DASHBOARD_PATH"), "{overlapping}");
}
