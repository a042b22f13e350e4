//! Logs and traces: one tracing subscriber with two layers.
//!
//! - Logs to stderr, as text or one JSON object a line (`--log-format`),
//!   filtered by `--log` / `RUST_LOG`.
//! - With `--otlp-endpoint URL` (or `OTEL_EXPORTER_OTLP_ENDPOINT`), the
//!   hub's spans (`publish`, `stream.open`, `resume`; target
//!   [`sse_hub::hub::TRACE_TARGET`], TRACE level) go to `URL/v1/traces` as
//!   OTLP/HTTP protobuf, sampled by `--otlp-sample-ratio`, in batches sent
//!   by the SDK's own thread (a slow collector never holds a request; the
//!   batch queue is bounded and drops beyond it). Without an endpoint those
//!   spans are disabled at their call site: a level check, nothing more.
//!
//! The spans carry ids and counts only, never a token or a payload.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::{Config, LogFormat};

/// Flushes the traces not yet sent when dropped (at the end of `main`).
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("traces: the last batch was not sent: {e}");
            }
        }
    }
}

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

fn tracer_provider(cfg: &Config, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(crate::config::otlp_traces_url(endpoint)?)
        .with_timeout(std::time::Duration::from_secs(10))
        .build()
        .context("--otlp-endpoint: building the OTLP exporter")?;
    let ratio = cfg.logging.otlp_sample_ratio.clamp(0.0, 1.0);
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("sse-hub");
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))))
        .with_resource(resource.build())
        .build())
}

/// Installs the subscriber these flags ask for.
pub fn init(cfg: &Config) -> anyhow::Result<Telemetry> {
    let filter = cfg.log_filter()?;
    let logs: Boxed = match cfg.logging.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let mut layers = vec![logs];
    let mut traces = None;
    if let Some(endpoint) = cfg
        .logging
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.is_empty())
    {
        let provider = tracer_provider(cfg, endpoint)?;
        let tracer = provider.tracer("sse-hub");
        let only_hub_spans =
            Targets::new().with_target(sse_hub::hub::TRACE_TARGET, LevelFilter::TRACE);
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(only_hub_spans)
                .boxed(),
        );
        traces = Some(provider);
    }
    tracing_subscriber::registry().with(layers).try_init()?;
    Ok(Telemetry { traces })
}
