//! The hub binary: the SSE hub API and the Leptos dashboard on one port
//! (what it serves is [`server::app`]; this file is the process around it).
//!
//! Start-up order: flags, environment and config file → tracing → auth →
//! hub → routes → serve (HTTPS when a certificate is given). Shutdown
//! (Ctrl-C or SIGTERM): the hub sends every stream a final frame with a
//! jittered `retry:`, the server stops accepting, and waits up to the grace
//! period for the streams to drain. SIGHUP reloads the TLS certificate.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use server::config::file::LoadError;
use server::config::{self, Config, LogFormat};
use server::telemetry;

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

/// Serves the probes on `addr` from a thread and a runtime of their own:
/// a storm can keep every worker of the main runtime busy for seconds
/// (measured: 5 s with 12 000 resumes landing on one node), and a probe
/// must still answer. Served to the end of the process, so the probes say
/// "shutting down" while the streams drain.
fn serve_probes(
    addr: std::net::SocketAddr,
    probes: axum::Router,
    options: sse_hub::net::ServeOptions,
) -> anyhow::Result<()> {
    let listener = bind(addr)
        .and_then(|l| l.into_std())
        .with_context(|| format!("binding --probe-addr {addr}"))?;
    std::thread::Builder::new()
        .name("probes".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let served = runtime.map(|rt| {
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    sse_hub::net::serve(listener, probes, options, std::future::pending()).await;
                    Ok::<_, std::io::Error>(())
                })
            });
            if let Err(e) | Ok(Err(e)) = served {
                tracing::error!(error = %e, "the probe listener stopped");
            }
        })
        .context("starting the probe thread")?;
    tracing::info!("probes (/api/health, /api/ready, /metrics) on http://{addr}");
    Ok(())
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

/// Reloads the certificate on every SIGHUP; a pair that does not load
/// leaves the old one serving.
fn reload_on_sighup(tls: sse_hub::net::TlsConfig) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; the old one stays")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = tls;
}

fn main() -> std::process::ExitCode {
    let loaded = match config::file::load(std::env::args_os().collect()) {
        Ok(loaded) => loaded,
        Err(LoadError::Clap(e)) => e.exit(),
        Err(LoadError::File(why)) => {
            eprintln!("error: {why}");
            return std::process::ExitCode::from(2);
        }
    };
    if loaded.config.check_config {
        print!("{}", config::effective::render(&loaded));
        return match config::effective::check(&loaded.config) {
            Ok(()) => {
                println!("# configuration OK");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let cfg = loaded.config;
    let _telemetry = match telemetry::init(&cfg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cfg)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "the hub stopped");
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let tls = cfg
        .tls_files()
        .map(|(cert, key)| sse_hub::net::TlsConfig::load(&cert, &key))
        .transpose()?;
    let server::App {
        router: app,
        probes,
        hub,
    } = server::app(&cfg).await?;

    let listener =
        bind(cfg.listener.addr).with_context(|| format!("binding {}", cfg.listener.addr))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "SSE hub listening on {scheme}://{local} (dashboard: {scheme}://{local}/sse-demo)"
    );
    let url = format!("{scheme}://{local}/sse-demo");
    let warning = cfg.demo_mode.demo.then_some(
        "demo mode is ON: anyone who reaches this port can mint tokens, \
         admin included (POST /api/auth/demo-token). Never expose it; \
         run without --demo and with --jwt-secret for real use.",
    );
    match cfg.logging.log_format {
        LogFormat::Text => {
            // Written, not `println!`: a closed stdout must not stop the hub.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "SSE hub ready: {url}");
            if let Some(warning) = warning {
                let _ = writeln!(out, "{warning}");
            }
            let _ = out.flush();
        }
        // A log shipper reading stdout gets one JSON object a line too,
        // in the logs' own shape (`url` is the field to read).
        LogFormat::Json => {
            let stdout = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_writer(std::io::stdout)
                .finish();
            tracing::subscriber::with_default(stdout, || {
                tracing::info!(target: "sse_hub::ready", url = %url, "SSE hub ready");
                if let Some(warning) = warning {
                    tracing::warn!(target: "sse_hub::ready", "{warning}");
                }
            });
        }
    }
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }

    let options = sse_hub::net::ServeOptions {
        write_stall: Duration::from_secs(cfg.listener.write_stall_secs.max(1)),
        header_timeout: Duration::from_secs(cfg.listener.request_timeout_secs.max(1)),
        ..Default::default()
    };
    let grace = Duration::from_secs(cfg.listener.shutdown_grace_secs);
    let hub_for_signal = hub.clone();
    let stop = async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: closing streams");
        hub_for_signal.shutdown();
    };
    if let Some(addr) = cfg.listener.probe_addr {
        serve_probes(addr, probes, options.clone())?;
    }
    let serving = match tls {
        Some(tls) => {
            reload_on_sighup(tls.clone());
            tokio::spawn(sse_hub::net::serve_tls(listener, app, options, tls, stop))
        }
        None => tokio::spawn(sse_hub::net::serve(listener, app, options, stop)),
    };
    tokio::pin!(serving);
    tokio::select! {
        res = &mut serving => res?,
        _ = async { hub.stopped().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("streams still open after {grace:?}: exiting");
        }
    }
    Ok(())
}
