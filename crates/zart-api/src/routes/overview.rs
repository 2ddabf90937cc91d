//! The overview: executions created and finished over a recent window, from the
//! store (so every process answers the same).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{ErrorBody, Overview};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

/// The longest window: a week.
const MAX_WINDOW_SECS: u64 = 7 * 24 * 3600;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_overview))
}

/// Query parameters of `GET /overview`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub(crate) struct OverviewParams {
    /// The window's length in seconds, ending now: default 3600, 60 to 604800.
    #[param(value_type = Option<u64>, minimum = 60, maximum = 604800)]
    pub window_secs: Option<String>,
    /// The bucket length in seconds: default 300; at most 1000 buckets per window.
    #[param(value_type = Option<u64>, minimum = 1)]
    pub bucket_secs: Option<String>,
}

impl OverviewParams {
    /// The window and bucket lengths in seconds, or a 400 naming the parameter.
    fn lengths(&self) -> Result<(u64, u64), ApiError> {
        let window = seconds("windowSecs", &self.window_secs, 3600)?;
        let bucket = seconds("bucketSecs", &self.bucket_secs, 300)?;
        if !(60..=MAX_WINDOW_SECS).contains(&window) {
            return Err(ApiError::bad_request(format!(
                "invalid windowSecs {window}: expected 60 to {MAX_WINDOW_SECS} seconds"
            )));
        }
        let most = zart::core::MAX_ACTIVITY_BUCKETS.unsigned_abs();
        if bucket == 0 || window.div_ceil(bucket) > most {
            return Err(ApiError::bad_request(format!(
                "invalid bucketSecs {bucket}: expected at least 1 and at most {most} buckets in the window"
            )));
        }
        Ok((window, bucket))
    }
}

fn seconds(name: &str, value: &Option<String>, default: u64) -> Result<u64, ApiError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {name} {v:?}: expected a whole number of seconds"
            ))
        }),
    }
}

/// Executions created and finished over the last `windowSecs` (default an hour), in
/// buckets of `bucketSecs` (default 5 minutes), with the failure rate and throughput.
#[utoipa::path(
    get,
    path = "/overview",
    tag = "executions",
    params(OverviewParams),
    responses(
        (status = 200, description = "The window's activity", body = Overview),
        (status = 400, description = "An invalid window or bucket length", body = ErrorBody),
    )
)]
pub(crate) async fn get_overview(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<OverviewParams>,
) -> Result<Json<Overview>, ApiError> {
    let (window, bucket) = params.lengths()?;
    let as_duration =
        |secs: u64| chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
    let buckets = state
        .client
        .activity(as_duration(window), as_duration(bucket))
        .await?;
    let end = chrono::Utc::now();
    let start = buckets
        .first()
        .map_or(end - as_duration(window), |b| b.start);
    let end = start + as_duration(window);
    Ok(Json(Overview::new(start, end, bucket, buckets)))
}
