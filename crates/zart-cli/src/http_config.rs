//! The HTTP settings of `zart serve`: the router's [`ApiConfig`] and the server's
//! [`ServerConfig`], built from the command line.
//!
//! This is where the binary's HTTP environment is read, each variable once: clap reads
//! the tokens, prefixes, timeouts and connection cap through the flags' `env`
//! attributes, and [`env_var`] reads the two settings without a flag,
//! `ZART_MAX_BODY_BYTES` and `ZART_CORS_ORIGINS`. `zart-api` itself reads none.

use std::time::Duration;

use anyhow::Context;
use zart_api::{ApiConfig, ConfigError, ServerConfig};

use crate::args::{ApiOptions, ServeArgs};

/// The body limit (bytes, 413 above it): it has no flag.
const MAX_BODY_BYTES: &str = "ZART_MAX_BODY_BYTES";
/// The allowed CORS origins, comma-separated (`*` for any): it has no flag.
const CORS_ORIGINS: &str = "ZART_CORS_ORIGINS";

/// The router's settings, validated: the flags (or their variables) and the
/// environment's body limit and CORS origins.
pub(crate) fn api_config(api: &ApiOptions, args: &ServeArgs) -> anyhow::Result<ApiConfig> {
    api_config_with(api, args, env_var).context("invalid HTTP configuration")
}

/// The connection limits of the HTTP server (clap has checked their ranges).
pub(crate) fn server_config(args: &ServeArgs) -> ServerConfig {
    ServerConfig::default()
        .header_timeout(Duration::from_secs(args.header_timeout_secs))
        .idle_timeout(Duration::from_secs(args.idle_timeout_secs))
        .max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX))
}

/// Like [`api_config`], reading the variables without a flag through `lookup`.
fn api_config_with(
    api: &ApiOptions,
    args: &ServeArgs,
    lookup: impl Fn(&'static str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<ApiConfig> {
    let mut config = ApiConfig::default()
        .api_prefix(api.api_prefix.as_str())
        .admin_prefix(api.admin_prefix.as_str())
        .body_timeout(Duration::from_secs(args.body_timeout_secs));
    config = if args.no_dashboard {
        config.without_dashboard()
    } else {
        config.dashboard_path(args.dashboard_path.as_str())
    };
    if let Some(token) = api.token.as_deref().filter(|t| !t.is_empty()) {
        config = config.api_token(token);
    }
    if let Some(token) = api.admin_token.as_deref().filter(|t| !t.is_empty()) {
        config = config.admin_token(token);
    }
    if let Some(v) = lookup(MAX_BODY_BYTES)? {
        config.max_body_bytes = match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ConfigError::InvalidBodyLimit(v).into()),
        };
    }
    if let Some(v) = lookup(CORS_ORIGINS)? {
        config = config.cors_origins(v.split(',').map(str::trim).filter(|o| !o.is_empty()));
    }
    config.validate()?;
    Ok(config)
}

/// A variable's value; unset or blank is `None` (the default applies).
fn env_var(name: &'static str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("environment variable {name} is not valid Unicode")
        }
    }
}

#[cfg(test)]
mod tests;
