//! `/metrics`: HTTP metrics by route template and status, and the engine's metrics.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn request_counters_move_by_route_template_and_status() {
    let t = app().await;
    t.start("m1", "echo", json!(1)).await;
    t.finish("m1").await;
    t.get(&format!("{API}/executions/m1"))
        .await
        .expect(StatusCode::OK);
    t.get(&format!("{API}/executions/m1"))
        .await
        .expect(StatusCode::OK);
    t.get(&format!("{API}/executions/ghost"))
        .await
        .error(StatusCode::NOT_FOUND);
    t.get(&format!("{API}/no-such-route"))
        .await
        .error(StatusCode::NOT_FOUND);

    let reply = t.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = reply.text();
    let get =
        r#"zart_http_requests_total{method="GET",route="/api/v1/executions/{executionId}",status="#;
    assert_eq!(
        sample(&text, &format!("{get}\"200\"}}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("{get}\"404\"}}")),
        Some(1.0),
        "{text}"
    );
    let post = r#"zart_http_requests_total{method="POST",route="/api/v1/executions",status="201"}"#;
    assert_eq!(sample(&text, post), Some(1.0), "{text}");
    let unmatched = r#"zart_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&text, unmatched), Some(1.0), "{text}");
    let latency = r#"zart_http_request_duration_seconds_count{method="GET",route="/api/v1/executions/{executionId}"}"#;
    assert_eq!(sample(&text, latency), Some(3.0), "{text}");
}

#[tokio::test]
async fn engine_metrics_are_rendered_with_the_http_metrics() {
    let t = app().await;
    t.start("m2", "echo", json!(1)).await;
    t.finish("m2").await;
    // The worker counts a finished execution just after storing it: a drained worker
    // has counted everything it ran.
    let TestApp {
        app,
        worker,
        zart: _zart,
        dir: _dir,
    } = t;
    worker.shutdown(Duration::from_secs(5)).await;
    let text = get(&app, "/metrics").await.text();
    let started = r#"zart_executions_started_total{task="echo"}"#;
    assert_eq!(sample(&text, started), Some(1.0), "{text}");
    let attempts = r#"zart_step_attempts_total{outcome="completed",task="echo"}"#;
    assert_eq!(sample(&text, attempts), Some(1.0), "{text}");
    let finished = r#"zart_executions_finished_total{status="completed",task="echo"}"#;
    assert_eq!(sample(&text, finished), Some(1.0), "{text}");
}

#[tokio::test]
async fn rejected_requests_are_counted_under_their_route() {
    let t = app_with(zart_api::ApiConfig::default().api_token("k")).await;
    t.get(&format!("{API}/stats"))
        .await
        .error(StatusCode::UNAUTHORIZED);
    let request = request(axum::http::Method::GET, "/metrics")
        .header("authorization", "Bearer k")
        .body(axum::body::Body::empty())
        .unwrap();
    let text = t.call(request).await.text();
    let series = r#"zart_http_requests_total{method="GET",route="/api/v1/stats",status="401"}"#;
    assert_eq!(sample(&text, series), Some(1.0), "{text}");
}
