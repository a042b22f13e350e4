//! The hub binary: the SSE hub API and the Leptos dashboard on one port.
//!
//! Start-up order: flags → tracing → auth → hub → routes → serve. Shutdown
//! (Ctrl-C or SIGTERM): the hub sends every stream a final frame with a
//! jittered `retry:`, the server stops accepting, and waits up to the grace
//! period for the streams to drain.

mod config;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use app::{shell, App};
use axum::Router;
use clap::Parser;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sse_hub::{Auth, Hub};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, JwtAlgorithm};

fn auth_from(cfg: &Config) -> anyhow::Result<Auth> {
    let auth = match cfg.jwt_algorithm {
        JwtAlgorithm::Hs256 => match &cfg.jwt_secret {
            Some(s) if s.len() >= 16 => Auth::hs256(s.as_bytes()),
            Some(_) => bail!("--jwt-secret must be at least 16 bytes"),
            None if cfg.demo => {
                tracing::warn!("no --jwt-secret: demo mode uses a random secret for this run");
                let secret: [u8; 32] = rand::random();
                Auth::hs256(&secret)
            }
            None => bail!(
                "--jwt-secret is required: without it (or --jwt-algorithm rs256/es256 with \
                 --jwt-public-key) the hub could check no token. Set --jwt-secret or \
                 HUB_JWT_SECRET to a long random string, or try the demo with --demo true."
            ),
        },
        alg => {
            let path = cfg
                .jwt_public_key
                .as_ref()
                .context("--jwt-public-key is required for rs256/es256")?;
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            if alg == JwtAlgorithm::Rs256 {
                Auth::rs256_pem(&pem)?
            } else {
                Auth::es256_pem(&pem)?
            }
        }
    };
    Ok(auth.with_demo_tokens(cfg.demo, Duration::from_secs(cfg.demo_token_ttl_secs)))
}

fn leptos_options(cfg: &Config) -> LeptosOptions {
    let output_name = std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "sse-hub".into());
    LeptosOptions::builder()
        .output_name(output_name)
        .site_root(cfg.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(cfg.addr)
        .build()
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

/// Binds with a deep accept queue: SSE clients arrive in bursts (a deploy,
/// a network blip), and a full queue drops SYNs, which cost each client a
/// one-second retransmit.
fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Builds the hub; a broker that is not reachable yet (Redis starting next
/// to us) is retried for a while before giving up.
async fn start_hub(
    cfg: &Config,
    webhook: Option<Arc<sse_hub::lifecycle::LifecycleWebhook>>,
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
                if attempt < cfg.broker_connect_attempts =>
            {
                attempt += 1;
                tracing::warn!(error = %sse_hub::error::report(&e), attempt, "broker not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("starting the {} broker", cfg.broker)),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();

    let auth = auth_from(&cfg)?;
    let (webhook, webhook_counters) = match (&cfg.webhook_url, &cfg.webhook_secret) {
        (Some(url), Some(secret)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("--webhook-url must be an http:// or https:// URL");
            }
            let options = sse_hub::lifecycle::WebhookOptions {
                queue: cfg.webhook_queue.max(1),
                ..Default::default()
            };
            let (w, counters) = sse_hub::lifecycle::LifecycleWebhook::start(
                url.clone(),
                secret.as_bytes(),
                options,
                Default::default(),
            );
            (Some(Arc::new(w)), Some(counters))
        }
        _ => (None, None),
    };
    let hub = start_hub(&cfg, webhook).await?;
    if cfg.demo && cfg.demo_tick_ms > 0 {
        spawn_demo_ticker(hub.clone(), Duration::from_millis(cfg.demo_tick_ms));
    }

    let options = leptos_options(&cfg);
    let routes = generate_route_list(App);
    let ui = Router::new()
        // Browsers and crawlers ask for /favicon.ico whatever the page says.
        .route(
            "/favicon.ico",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/favicon.svg") }),
        )
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);
    let mut api = sse_hub::Api::new(hub.clone(), auth).with_stream_open_rate(
        (cfg.stream_opens_per_second > 0).then(|| sse_hub::api::Rate {
            burst: cfg.stream_opens_per_second.saturating_mul(4),
            per_second: f64::from(cfg.stream_opens_per_second),
        }),
    );
    if let Some(counters) = webhook_counters {
        api = api.with_webhook_counters(counters);
    }
    let mut app = api.router();
    if cfg.demo {
        app = app.merge(api.demo_router(Default::default()));
    }
    let app = app.merge(ui);

    let listener = bind(cfg.addr).with_context(|| format!("binding {}", cfg.addr))?;
    let local = listener.local_addr()?;
    tracing::info!("SSE hub listening on http://{local} (dashboard: http://{local}/sse-demo)");
    // Written, not `println!`: a closed stdout must not stop the hub.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "SSE hub ready: http://{local}/sse-demo");
    if cfg.demo {
        let warning = "demo mode is ON: anyone who reaches this port can mint tokens, \
                       admin included (POST /api/auth/demo-token). Never expose it; \
                       run without --demo and with --jwt-secret for real use.";
        let _ = writeln!(out, "{warning}");
        tracing::warn!("{warning}");
    }
    let _ = out.flush();
    drop(out);

    let options = sse_hub::net::ServeOptions {
        write_stall: Duration::from_secs(cfg.write_stall_secs.max(1)),
        header_timeout: Duration::from_secs(cfg.request_timeout_secs.max(1)),
        ..Default::default()
    };
    let grace = Duration::from_secs(cfg.shutdown_grace_secs);
    let hub_for_signal = hub.clone();
    let serving = tokio::spawn(sse_hub::net::serve(listener, app, options, async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: closing streams");
        hub_for_signal.shutdown();
    }));
    tokio::pin!(serving);
    tokio::select! {
        res = &mut serving => res?,
        _ = async { hub.stopped().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("streams still open after {grace:?}: exiting");
        }
    }
    Ok(())
}
