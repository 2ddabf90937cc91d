//! OpenTelemetry trace export over OTLP/HTTP (protobuf), as a `tracing` layer (the
//! `otlp` feature).
//!
//! Off unless configured: [`TelemetryConfig::from_env`] turns export on only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and
//! `OTEL_SDK_DISABLED` is not `true`, nor `OTEL_TRACES_EXPORTER` `none`). The other
//! standard variables apply as the OpenTelemetry SDK defines them: `OTEL_SERVICE_NAME`
//! (default `zart`), `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_BSP_*`.
//!
//! An unreachable collector never slows an execution: a span that ends is handed to
//! the SDK's batch processor through a bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048;
//! a full queue drops spans), and exports run on the processor's own thread with a
//! timeout. No export runs on, or is awaited by, the async runtime.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = zart::telemetry::TelemetryConfig::from_env().build()?;
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(telemetry.as_ref().map(|t| t.layer()))
//!     .init();
//! // ... run the engine ...
//! if let Some(telemetry) = telemetry {
//!     telemetry.shutdown(); // flushes the spans still queued
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The sampler type of [`TelemetryConfig::sampler`].
pub use opentelemetry_sdk::trace::Sampler;

/// The service name when `OTEL_SERVICE_NAME` is not set.
pub const DEFAULT_SERVICE_NAME: &str = "zart";
/// How long [`Telemetry::shutdown`] waits for the last export.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
const TRACES_PATH: &str = "/v1/traces";

/// Where and how to export traces. Build with [`TelemetryConfig::from_env`] or
/// [`TelemetryConfig::endpoint`], then [`TelemetryConfig::build`].
#[derive(Debug, Clone, Default)]
pub struct TelemetryConfig {
    enabled: bool,
    endpoint: Option<String>,
    service_name: Option<String>,
    sampler: Option<Sampler>,
    export_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
}

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not set up OTLP trace export: {0}")]
pub struct TelemetryError(String);

impl TelemetryConfig {
    /// Export configured by the standard `OTEL_*` variables (see the module docs):
    /// off unless an OTLP endpoint variable is set.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let endpoint_set = var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
        Self {
            enabled: endpoint_set && !disabled,
            ..Self::default()
        }
    }

    /// Exports to the OTLP/HTTP collector at `base` (for example
    /// `http://localhost:4318`; `/v1/traces` is appended, as for
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`), whatever the environment says.
    pub fn endpoint(mut self, base: impl Into<String>) -> Self {
        self.enabled = true;
        self.endpoint = Some(base.into());
        self
    }

    /// The `service.name` resource attribute (default: `OTEL_SERVICE_NAME`, else
    /// `zart`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The sampler (default: `OTEL_TRACES_SAMPLER`, else parent-based always-on).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// How long one export may take (default: `OTEL_EXPORTER_OTLP_TIMEOUT`, else
    /// 10 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// How long [`Telemetry::shutdown`] waits for the last export (default 3 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Whether this configuration exports anything.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The exporter, or `None` when export is off. Building connects to nothing: an
    /// unreachable collector shows only as failed exports later.
    pub fn build(self) -> Result<Option<Telemetry>, TelemetryError> {
        if !self.enabled {
            return Ok(None);
        }
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
        if let Some(base) = &self.endpoint {
            exporter = exporter.with_endpoint(traces_url(base));
        }
        if let Some(timeout) = self.export_timeout {
            exporter = exporter.with_timeout(timeout);
        }
        let exporter = exporter
            .build()
            .map_err(|e| TelemetryError(e.to_string()))?;
        let mut resource = Resource::builder();
        if let Some(name) = self.service_name.clone().or_else(default_service_name) {
            resource = resource.with_service_name(name);
        }
        let mut provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build());
        if let Some(sampler) = self.sampler {
            provider = provider.with_sampler(sampler);
        }
        let provider = provider.build();
        let tracer = provider.tracer("zart");
        Ok(Some(Telemetry {
            provider,
            tracer,
            shutdown_timeout: self.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
        }))
    }
}

/// `service.name` when the environment names none.
fn default_service_name() -> Option<String> {
    match std::env::var("OTEL_SERVICE_NAME") {
        Ok(name) if !name.trim().is_empty() => None,
        _ => Some(DEFAULT_SERVICE_NAME.to_owned()),
    }
}

fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with(TRACES_PATH) {
        base.to_owned()
    } else {
        format!("{base}{TRACES_PATH}")
    }
}

/// A running trace exporter: add [`Telemetry::layer`] to your subscriber and call
/// [`Telemetry::shutdown`] (or drop it) at exit to flush what is queued.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    shutdown_timeout: Duration,
}

impl Telemetry {
    /// The `tracing` layer that turns spans into exported OpenTelemetry spans. It
    /// takes the runtime's spans (target `zart`, from `DEBUG`: step attempts, sleeps,
    /// waits, children) and every other span from `INFO`, whatever the subscriber's
    /// log filter is.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let filter = Targets::new()
            .with_target("zart", LevelFilter::DEBUG)
            .with_default(LevelFilter::INFO);
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            .with_filter(filter)
    }

    /// Flushes the queued spans (waiting at most the shutdown timeout) and stops
    /// exporting.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // Already shut down or timed out: nothing more to do at exit.
        let _ = self.provider.shutdown_with_timeout(self.shutdown_timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_endpoint_gets_the_traces_path_once() {
        assert_eq!(
            traces_url("http://localhost:4318/"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }

    #[test]
    fn export_is_off_without_configuration() {
        let config = TelemetryConfig::default();
        assert!(!config.is_enabled());
        assert!(config.build().expect("builds").is_none());
    }
}
