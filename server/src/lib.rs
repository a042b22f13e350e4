//! The hub as a program: its configuration (flags, environment, config
//! file), logs and traces, and [`app`], the router it serves (the hub's
//! API, the demo routes when asked for, the dashboard). `main.rs` is only
//! the process around it (signals, the listener, TLS reloads), so a test
//! serves the very same app on `127.0.0.1:0` without spawning a binary.

pub mod config;
pub mod site;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use sse_hub::Hub;

use crate::config::Config;

/// What [`app`] built: the router to serve, and the hub behind it (to shut
/// down on a signal).
pub struct App {
    pub router: Router,
    /// The probes alone, for `--probe-addr`.
    pub probes: Router,
    pub hub: Hub,
}

/// Builds the hub these settings describe (connecting to its broker, with
/// retries) and the router that serves it.
pub async fn app(cfg: &Config) -> anyhow::Result<App> {
    let auth = cfg.auth()?;
    // A key set's first fetch: without keys the hub could check no token.
    auth.start()
        .await
        .map_err(|e| anyhow::anyhow!("no key set to check tokens with: {e}"))?;
    let addresses = cfg.client_addresses()?;
    let (webhook, webhook_counters) = match cfg.webhook()? {
        Some((w, c)) => (Some(w), Some(c)),
        None => (None, None),
    };
    let hub = start_hub(cfg, webhook).await?;
    if cfg.demo_mode.demo && cfg.demo_mode.demo_tick_ms > 0 {
        spawn_demo_ticker(
            hub.clone(),
            Duration::from_millis(cfg.demo_mode.demo_tick_ms),
        );
    }
    let opens = cfg.limits.stream_opens_per_second;
    let mut api = sse_hub::Api::new(hub.clone(), auth)
        .with_stream_open_rate((opens > 0).then(|| sse_hub::api::Rate {
            burst: opens.saturating_mul(4),
            per_second: f64::from(opens),
        }))
        .with_client_addresses(addresses)
        .with_cors_origins(&cfg.cors_origins()?)
        .map_err(|e| anyhow::anyhow!("--cors-origins: {e}"))?;
    if let Some(counters) = webhook_counters {
        api = api.with_webhook_counters(counters);
    }
    let mut router = api.router();
    if cfg.demo_mode.demo {
        router = router.merge(api.demo_router(cfg.demo_options()?));
    }
    Ok(App {
        router: router.merge(site::router(cfg)),
        probes: api.probe_router(),
        hub,
    })
}

/// Sends a `metrics` event with the hub's numbers on an interval, so the
/// dashboard has something live to show out of the box.
fn spawn_demo_ticker(hub: Hub, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if hub.is_shutting_down() {
                break;
            }
            let summary = sse_hub::protocol::Summary::from(&hub.summary());
            let data = serde_json::to_value(summary).unwrap_or_default();
            let _ = hub.metrics_update(data).await;
        }
    });
}

/// Builds the hub; a broker that is not reachable yet (Redis starting next
/// to us) is retried for a while before giving up.
async fn start_hub(
    cfg: &Config,
    webhook: Option<Arc<sse_hub::lifecycle_webhook::LifecycleWebhook>>,
) -> anyhow::Result<Hub> {
    let broker = cfg.broker_config()?;
    let mut attempt = 0;
    loop {
        let mut builder = Hub::builder(cfg.hub_config()?)
            .broker(broker.clone())
            .topic_authorizer(cfg.topic_policy()?);
        if let Some(w) = &webhook {
            builder = builder.lifecycle(w.clone());
        }
        match builder.build().await {
            Ok(hub) => return Ok(hub),
            Err(sse_hub::HubError::BrokerUnavailable(e))
                if attempt < cfg.transport.broker_connect_attempts =>
            {
                attempt += 1;
                tracing::warn!(error = %sse_hub::error::report(&e), attempt, "broker not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("starting the {} broker", cfg.transport.broker))
            }
        }
    }
}
