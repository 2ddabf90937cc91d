use std::collections::HashMap;

use super::*;

fn from_vars(vars: &[(&'static str, &str)]) -> Result<ApiConfig, ConfigError> {
    let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
    ApiConfig::from_lookup(|name| Ok(vars.get(name).cloned()))
}

#[test]
fn no_variables_give_the_defaults() {
    let config = from_vars(&[]).unwrap();
    assert_eq!(config, ApiConfig::default());
    assert_eq!(config.api_prefix, "/api/v1");
    assert_eq!(config.admin_prefix, "/zart/admin/v1");
    assert_eq!(config.max_body_bytes, 1024 * 1024);
    assert!(config.api_token.is_none() && config.admin_token.is_none());
    assert!(config.cors_origins.is_empty());
}

#[test]
fn every_variable_is_read() {
    let config = from_vars(&[
        ("ZART_API_PREFIX", "custom/api/"),
        ("ZART_ADMIN_PREFIX", "/ops"),
        ("ZART_API_TOKEN", "api-secret"),
        ("ZART_ADMIN_TOKEN", "admin-secret"),
        ("ZART_MAX_BODY_BYTES", "2048"),
        (
            "ZART_CORS_ORIGINS",
            "https://a.example, http://localhost:3000,",
        ),
    ])
    .unwrap();
    assert_eq!(config.api_prefix, "/custom/api");
    assert_eq!(config.admin_prefix, "/ops");
    assert_eq!(config.api_token.as_deref(), Some("api-secret"));
    assert_eq!(config.admin_token.as_deref(), Some("admin-secret"));
    assert_eq!(config.max_body_bytes, 2048);
    assert_eq!(
        config.cors_origins,
        ["https://a.example", "http://localhost:3000"]
    );
}

#[test]
fn invalid_values_are_errors_naming_the_variable() {
    let cases: &[(&'static str, &str, &str)] = &[
        ("ZART_MAX_BODY_BYTES", "lots", "ZART_MAX_BODY_BYTES"),
        ("ZART_MAX_BODY_BYTES", "0", "ZART_MAX_BODY_BYTES"),
        ("ZART_API_PREFIX", "/", "ZART_API_PREFIX"),
        ("ZART_API_PREFIX", "/api/{v}", "ZART_API_PREFIX"),
        ("ZART_ADMIN_PREFIX", "/a//b", "ZART_ADMIN_PREFIX"),
        ("ZART_ADMIN_PREFIX", "/api/v1", "must differ"),
        ("ZART_API_TOKEN", "two words", "ZART_API_TOKEN"),
        ("ZART_CORS_ORIGINS", "example.com", "example.com"),
    ];
    for (name, value, expected) in cases {
        let err = from_vars(&[(name, value)]).unwrap_err().to_string();
        assert!(err.contains(expected), "{name}={value:?} gave {err:?}");
    }
}

#[test]
fn wildcard_origin_is_accepted() {
    let config = from_vars(&[("ZART_CORS_ORIGINS", "*")]).unwrap();
    assert_eq!(config.cors_origins, ["*"]);
}

#[test]
fn debug_output_hides_tokens() {
    let config = ApiConfig::default()
        .api_token("hunter2")
        .admin_token("hunter3");
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn builder_normalizes_prefixes() {
    let config = ApiConfig::default()
        .api_prefix("v2/")
        .admin_prefix("/admin///");
    assert_eq!(config.api_prefix, "/v2");
    assert_eq!(config.admin_prefix, "/admin");
    assert!(config.validate().is_ok());
}

#[test]
fn body_timeout_is_read_in_seconds_and_must_be_positive() {
    let config = from_vars(&[("ZART_BODY_TIMEOUT_SECS", "7")]).unwrap();
    assert_eq!(config.body_timeout, std::time::Duration::from_secs(7));
    for bad in ["0", "-1", "soon"] {
        let err = from_vars(&[("ZART_BODY_TIMEOUT_SECS", bad)]).unwrap_err();
        assert_eq!(err, ConfigError::InvalidBodyTimeout(bad.to_owned()));
    }
}
