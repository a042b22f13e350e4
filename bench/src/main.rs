//! `sse-bench`: opens N real SSE connections to a hub (ours, or nchan for a
//! side-by-side run), publishes M events at rate R through the hub's HTTP
//! API with the send time inside, and reports connections held, connect
//! time, delivered/expected, delivered messages per second, publish→receive
//! latency percentiles and the server's memory (PSS) per connection.
//!
//! Connections use raw sockets (HTTP/1.0, so the body is not chunked) bound
//! to 127.0.0.2–127.0.0.254 in turn, so tens of thousands of them do not
//! run out of ephemeral ports.

mod head;
mod raw_client;
mod tls;

use crate::raw_client::RawClient;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Mutex;

use crate::head::read_head;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Kind {
    /// This project's hub (`/api/sse/stream`, `/api/sse/publish`, JWT).
    Hub,
    /// nginx + nchan (`/sub`, `/pub`).
    Nchan,
}

#[derive(Parser, Debug)]
#[command(about = "Load generator for SSE hubs")]
struct Args {
    /// The hub's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Which kind of hub it is.
    #[arg(long, value_enum, default_value = "hub")]
    kind: Kind,
    /// HS256 secret the hub was started with (to sign subscriber tokens).
    #[arg(long, default_value = "bench-secret-0123456789abcdef0123")]
    jwt_secret: String,
    /// Connections to open.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Events to publish.
    #[arg(long, default_value_t = 1000)]
    events: u64,
    /// Publish rate, events per second over all publishers (0: as fast
    /// as the hub answers).
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Concurrent publishers (each with its own connections), sharing
    /// the events and the rate.
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Where to publish (repeat for several nodes: publishers take them
    /// in turn); default: --addr.
    #[arg(long)]
    publish_to: Vec<SocketAddr>,
    /// Payload size in bytes (the JSON body of each event).
    #[arg(long, default_value_t = 256)]
    payload: usize,
    /// Keep the connections open this long after connecting (idle hold).
    #[arg(long, default_value_t = 0)]
    hold_secs: u64,
    /// The server's pids (repeat for several processes, e.g. nginx's
    /// master and workers): their memory (PSS, from /proc) is summed.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Open each stream on a used connection, as a browser does: send one
    /// plain request first (the hub's health check, nchan's `/health`),
    /// read its answer, then ask for the stream on the same socket.
    #[arg(long)]
    reuse: bool,
    /// A name for this run in the report (e.g. `hub+redis`).
    #[arg(long)]
    label: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Connect over TLS instead: the handshake alone (held idle, with
    /// --events 0), or one stream over HTTP/1.1 or HTTP/2 each.
    #[arg(long, value_enum)]
    tls: Option<tls::Mode>,
    /// The PEM certificate the TLS server presents (trusted as a root).
    #[arg(long, default_value = "bench-cert.pem")]
    tls_ca: std::path::PathBuf,
    /// nchan channel (a fresh one per run, so no run sees another's messages).
    #[arg(long, default_value_t = format!("bench-{}", now_us()))]
    channel: String,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The CPU time (user + system) `pids` have used so far, in seconds; None
/// if there are none or one is unreadable.
fn cpu_secs(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    // Clock ticks: 100 a second on Linux.
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name, which is in parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .sum()
}

/// The summed memory of `pids` in KiB; None if there are none or one is
/// unreadable. PSS (proportional set size) is resident memory with each
/// shared page split between the processes that map it, so a server of
/// several processes (nginx) is neither under- nor double-counted; for one
/// process it is its RSS less its share of shared libraries.
fn pss_kb(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|pid| {
            let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
            let line = rollup.lines().find(|l| l.starts_with("Pss:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

struct Shared {
    latency: Mutex<Histogram<u64>>,
    delivered: AtomicU64,
    last_receive_us: AtomicU64,
}

/// Finds `"t":<digits>` in an event's data line.
fn send_time(line: &[u8]) -> Option<u64> {
    let pos = line.windows(4).position(|w| w == b"\"t\":")?;
    let digits = &line[pos + 4..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// One connection, plain or over TLS.
enum Opened {
    Plain(tokio::net::TcpStream),
    Tls(tls::Opened),
}

/// The path of subscriber `i`'s stream.
fn stream_path(args: &Args, i: usize) -> anyhow::Result<String> {
    Ok(match args.kind {
        Kind::Hub => {
            let auth = sse_hub::Auth::hs256(args.jwt_secret.as_bytes());
            let user = sse_hub::UserId::new(format!("bench-{i}"))?;
            let token = auth.issue(&user, sse_hub::Role::User, Duration::from_secs(3600))?;
            format!("/api/sse/stream?token={token}")
        }
        Kind::Nchan => format!("/sub?ch={}", args.channel),
    })
}

async fn subscribe(args: &Args, i: usize) -> anyhow::Result<tokio::net::TcpStream> {
    let src = Ipv4Addr::new(127, 0, 0, 2 + (i % 253) as u8);
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(src.into(), 0))?;
    let mut stream = sock.connect(args.addr).await?;
    let path = stream_path(args, i)?;
    if args.reuse {
        let warm = match args.kind {
            Kind::Hub => "/api/health",
            Kind::Nchan => "/health",
        };
        let req = format!("GET {warm} HTTP/1.1\r\nHost: bench\r\n\r\n");
        stream.write_all(req.as_bytes()).await?;
        let head = read_head(&mut stream).await?;
        if !head.starts_with(b"HTTP/1.1 200") {
            bail!("{warm} refused");
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let len: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .context("the warm-up answer has no length")?
            .trim()
            .parse()?;
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await?;
    }
    let req = format!("GET {path} HTTP/1.0\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let head = read_head(&mut stream).await?;
    if !head.starts_with(b"HTTP/1.1 200") && !head.starts_with(b"HTTP/1.0 200") {
        bail!(
            "refused: {}",
            String::from_utf8_lossy(&head[..head.len().min(64)])
        );
    }
    Ok(stream)
}

/// A stream's body, plain or over TLS.
enum Body {
    Socket(Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    H2(h2::RecvStream),
}

impl Body {
    /// The next bytes, None at the end (or after 15 s of nothing).
    async fn next(&mut self, buf: &mut [u8]) -> Option<bytes::Bytes> {
        let wait = Duration::from_secs(15);
        match self {
            Body::Socket(s) => match tokio::time::timeout(wait, s.read(buf)).await {
                Ok(Ok(n)) if n > 0 => Some(bytes::Bytes::copy_from_slice(&buf[..n])),
                _ => None,
            },
            Body::H2(body) => match tokio::time::timeout(wait, body.data()).await {
                Ok(Some(Ok(data))) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    Some(data)
                }
                _ => None,
            },
        }
    }
}

async fn read_events(mut body: Body, shared: Arc<Shared>, expected: u64) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut got = 0u64;
    let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    while got < expected {
        let Some(chunk) = body.next(&mut buf).await else {
            break;
        };
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(nl) = pending[start..].iter().position(|b| *b == b'\n') {
            let line = &pending[start..start + nl];
            if line.starts_with(b"data:") {
                if let Some(t) = send_time(line) {
                    let now = now_us();
                    local.saturating_record(now.saturating_sub(t).max(1));
                    got += 1;
                    shared.last_receive_us.fetch_max(now, Ordering::Relaxed);
                }
            }
            start += nl + 1;
        }
        pending.drain(..start);
    }
    shared.delivered.fetch_add(got, Ordering::Relaxed);
    let _ = shared.latency.lock().await.add(&local);
}

/// One publisher's share: events `me`, `me + publishers`, … at its share
/// of the rate, to its node, on one keep-alive connection.
async fn publish_share(args: Arc<Args>, me: usize) -> anyhow::Result<()> {
    let nodes = if args.publish_to.is_empty() {
        vec![args.addr]
    } else {
        args.publish_to.clone()
    };
    let node = nodes[me % nodes.len()];
    let (path, auth) = match args.kind {
        Kind::Hub => {
            let a = sse_hub::Auth::hs256(args.jwt_secret.as_bytes());
            let t = a.issue(
                &sse_hub::UserId::new("bench-publisher")?,
                sse_hub::Role::Publisher,
                Duration::from_secs(3600),
            )?;
            (
                "/api/sse/publish".to_string(),
                format!("Authorization: Bearer {t}\r\n"),
            )
        }
        Kind::Nchan => (format!("/pub?ch={}", args.channel), String::new()),
    };
    // Over TLS when the streams are: the server has one listener.
    let tls = match args.tls {
        Some(_) => Some(tls::connector(&args.tls_ca, tls::Mode::H1)?),
        None => None,
    };
    let mut client = RawClient::connect(node, tls.as_ref()).await?;
    let pad = "x".repeat(args.payload.saturating_sub(48));
    let publishers = args.publishers.max(1) as u64;
    let interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(publishers as f64 / args.rate as f64));
    let start = Instant::now();
    let mut request = Vec::with_capacity(1024);
    for (k, s) in (me as u64..args.events)
        .step_by(publishers as usize)
        .enumerate()
    {
        if let Some(interval) = interval {
            tokio::time::sleep_until((start + interval * k as u32).into()).await;
        }
        let data = format!(r#"{{"t":{},"s":{s},"pad":"{pad}"}}"#, now_us());
        let body = match args.kind {
            Kind::Hub => format!(r#"{{"event":"bench","data":{data},"target":{{"all":true}}}}"#),
            Kind::Nchan => data,
        };
        request.clear();
        request.extend_from_slice(
            format!(
                "POST {path} HTTP/1.1\r\nHost: bench\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body.as_bytes());
        let status = client.send(&request).await.context("publish")?;
        if !(200..300).contains(&status) {
            bail!("publish {s} refused: {status}");
        }
    }
    Ok(())
}

/// Publishes every event (see [`publish_share`]); when publishing began
/// and ended (unix µs).
async fn publish(args: &Arc<Args>) -> anyhow::Result<(u64, u64)> {
    let first_us = now_us();
    let shares: Vec<_> = (0..args.publishers.max(1))
        .map(|me| tokio::spawn(publish_share(args.clone(), me)))
        .collect();
    for share in shares {
        share.await??;
    }
    Ok((first_us, now_us()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let pss_before = pss_kb(&args.server_pid);
    let cpu_before = cpu_secs(&args.server_pid);
    let shared = Arc::new(Shared {
        latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        delivered: AtomicU64::new(0),
        last_receive_us: AtomicU64::new(0),
    });

    // Connect.
    let connect_start = Instant::now();
    let mut connect_times = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut streams = Vec::with_capacity(args.connections);
    // Connections held with no stream (TLS handshake only), and what keeps
    // each HTTP/2 stream's connection open.
    let mut held_tls: Vec<tls::Held> = Vec::new();
    let mut h2_connections: Vec<tls::Held> = Vec::new();
    let tls_connector = match args.tls {
        Some(mode) => {
            if args.events > 0 && mode == tls::Mode::Handshake {
                bail!("--tls handshake holds idle connections: use it with --events 0");
            }
            Some(tls::connector(&args.tls_ca, mode)?)
        }
        None => None,
    };
    let mut failures = 0usize;
    let mut next = 0;
    while next < args.connections {
        let batch: Vec<_> = (next..(next + args.connect_concurrency).min(args.connections))
            .map(|i| {
                let args = args.clone();
                let tls = tls_connector.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let opened = match (&tls, args.tls) {
                        (Some(connector), Some(mode)) => {
                            tls::open(connector, args.addr, mode, &stream_path(&args, i)?, i)
                                .await
                                .map(Opened::Tls)
                        }
                        _ => subscribe(&args, i).await.map(Opened::Plain),
                    };
                    Ok::<_, anyhow::Error>((opened, t.elapsed()))
                })
            })
            .collect();
        next += batch.len();
        for h in batch {
            match h.await?? {
                (Ok(s), took) => {
                    let _ = connect_times.record(took.as_micros().max(1) as u64);
                    match s {
                        Opened::Plain(s) => streams.push(Body::Socket(Box::new(s))),
                        Opened::Tls(tls::Opened::H1(s)) => streams.push(Body::Socket(s)),
                        Opened::Tls(tls::Opened::H2(body, keep)) => {
                            streams.push(Body::H2(body));
                            h2_connections.push(keep);
                        }
                        Opened::Tls(tls::Opened::Idle(held)) => held_tls.push(held),
                    }
                }
                (Err(e), _) => {
                    if failures == 0 {
                        eprintln!("connect failed: {e:#}");
                    }
                    failures += 1;
                }
            }
        }
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let held = streams.len() + held_tls.len();
    if args.hold_secs > 0 {
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    }
    let pss_connected = pss_kb(&args.server_pid);

    // Read and publish.
    let readers: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(read_events(s, shared.clone(), args.events)))
        .collect();
    let (first_us, last_publish_us) = if args.events > 0 {
        publish(&args).await?
    } else {
        (now_us(), now_us())
    };
    for r in readers {
        let _ = r.await;
    }
    drop(held_tls);
    drop(h2_connections);
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let server_cpu = match (cpu_before, cpu_secs(&args.server_pid)) {
        (Some(b), Some(a)) => Some(a - b),
        _ => None,
    };
    let expected = held as u64 * args.events;
    let last_us = shared
        .last_receive_us
        .load(Ordering::Relaxed)
        .max(last_publish_us);
    let secs = (last_us.saturating_sub(first_us)) as f64 / 1e6;
    let lat = shared.latency.lock().await;
    let ms = |q: f64| lat.value_at_quantile(q) as f64 / 1000.0;
    let per_conn = match (pss_before, pss_connected) {
        (Some(b), Some(a)) if held > 0 => Some((a.saturating_sub(b) * 1024) as f64 / held as f64),
        _ => None,
    };
    let report = json!({
        "kind": format!("{:?}", args.kind).to_lowercase(),
        "label": args.label.clone().unwrap_or_else(|| format!("{:?}", args.kind).to_lowercase()),
        "connections_requested": args.connections,
        "connections_held": held,
        "reused_connections": args.reuse,
        "tls": args.tls.map(|m| format!("{m:?}").to_lowercase()),
        "connect_failures": failures,
        "connect_secs": connect_secs,
        "connect_p99_ms": connect_times.value_at_quantile(0.99) as f64 / 1000.0,
        "events": args.events,
        "rate": args.rate,
        "publishers": args.publishers,
        "publishes_per_sec": if last_publish_us > first_us { args.events as f64 / ((last_publish_us - first_us) as f64 / 1e6) } else { 0.0 },
        "payload_bytes": args.payload,
        "expected": expected,
        "delivered": delivered,
        "loss": expected.saturating_sub(delivered),
        "delivered_per_sec": if secs > 0.0 { delivered as f64 / secs } else { 0.0 },
        "latency_ms": { "p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99), "max": lat.max() as f64 / 1000.0 },
        "pss_before_kb": pss_before,
        "pss_connected_kb": pss_connected,
        "memory_per_connection_bytes": per_conn,
        "server_cpu_secs": server_cpu,
    });
    if args.json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
