use super::*;

#[test]
fn defaults_are_valid() {
    let config = ApiConfig::default();
    assert!(config.validate().is_ok());
    assert_eq!(config.api_prefix, "/api/v1");
    assert_eq!(config.admin_prefix, "/zart/admin/v1");
    assert_eq!(config.max_body_bytes, 1024 * 1024);
    assert_eq!(config.body_timeout, Duration::from_secs(30));
    assert!(config.api_token.is_none() && config.admin_token.is_none());
    assert!(config.cors_origins.is_empty());
}

#[test]
fn invalid_values_are_errors_naming_the_setting() {
    let base = ApiConfig::default;
    let cases: Vec<(ApiConfig, &str)> = vec![
        (base().max_body_bytes(0), "ZART_MAX_BODY_BYTES"),
        (
            base().body_timeout(Duration::ZERO),
            "ZART_BODY_TIMEOUT_SECS",
        ),
        (base().api_prefix("/"), "ZART_API_PREFIX"),
        (base().api_prefix("/api/{v}"), "ZART_API_PREFIX"),
        (base().admin_prefix("/a//b"), "ZART_ADMIN_PREFIX"),
        (base().admin_prefix("/api/v1"), "must differ"),
        (base().api_token("two words"), "ZART_API_TOKEN"),
        (base().admin_token(""), "ZART_ADMIN_TOKEN"),
        (base().cors_origins(["example.com"]), "example.com"),
    ];
    for (config, expected) in cases {
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(expected), "{config:?} gave {err:?}");
    }
}

#[test]
fn wildcard_and_http_origins_are_accepted() {
    let config = ApiConfig::default().cors_origins(["*", "http://localhost:3000"]);
    assert!(config.validate().is_ok());
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
fn dashboard_is_at_the_root_by_default_and_can_move_or_go() {
    assert_eq!(ApiConfig::default().dashboard_path.as_deref(), Some("/"));
    let moved = ApiConfig::default().dashboard_path("ops/zart/");
    assert_eq!(moved.dashboard_path.as_deref(), Some("/ops/zart"));
    assert!(moved.validate().is_ok());
    assert_eq!(
        ApiConfig::default()
            .dashboard_path("/")
            .dashboard_path
            .as_deref(),
        Some("/")
    );
    assert!(ApiConfig::default()
        .without_dashboard()
        .dashboard_path
        .is_none());
}

#[test]
fn dashboard_paths_overlapping_other_routes_are_refused() {
    for path in [
        "/api/v1",
        "/api",
        "/api/v1/ui",
        "/swagger-ui",
        "/metrics/x",
        "/a b",
    ] {
        let config = ApiConfig::default().dashboard_path(path);
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("ZART_DASHBOARD_PATH"), "{path}: {err}");
    }
}
