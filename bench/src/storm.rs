//! `sse-storm`: a reconnect storm, measured. N streams (this process takes
//! its shard of them: `--shard K --shards S`, so a crowd spreads over
//! several processes, each below the file limit) open on several hub
//! nodes from source addresses 127.0.0.x, and stay live while events are
//! published at R/s to everyone, to topics and to users. Then every
//! stream drops at once (an RST, `--drop all` at `--drop-after-secs`) or
//! its node dies (`--drop none`, the script kills the node) while
//! publishing goes on; every client reconnects with its own
//! `Last-Event-ID` to the next node, either as the `use_sse` hook does
//! (`--client polite`: the hub's `retry:` with full jitter, `Retry-After`
//! then a spread as long again) or at once (`--client naive`: no delay,
//! `Retry-After` waited exactly).
//!
//! Why a plan instead of counting: event `j` of the run is published at
//! `start + j / rate`, and what it targets is a function of `j` alone
//! (`j % 3`: everyone, topic `storm.{(j / 3) % topics}`, user
//! `storm-{(j / 3) * 7919 % streams}`). Every client so knows exactly
//! which events are meant for it without any coordination, and checks that
//! it gets each once and in order: loss, duplicates, disorder and resets
//! are counted per client, not estimated. The publisher retries a refused
//! publish with the same idempotency key, so the plan holds even when the
//! hub refuses work.
//!
//! It prints one JSON object: per-client catch-up times (from the drop to
//! the first event published after the client's reconnect, or to its last
//! expected event), lost/duplicated/out-of-order/reset counts, refusals
//! seen, and the publisher's latency; `bench/run.sh --scale` merges the
//! shards and adds each process's RSS, fds and CPU.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

mod raw_client;
use raw_client::RawClient;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Client {
    /// Reconnects as `use_sse` does: after `retry:` with full jitter;
    /// after a refusal, `Retry-After` and then a spread as long again.
    Polite,
    /// Reconnects at once; after a refusal, waits `Retry-After` exactly.
    Naive,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Cut {
    /// Every stream of this process is reset (RST) at the drop time.
    All,
    /// None: streams end when their node dies (the script kills it).
    None,
}

#[derive(Parser, Debug)]
#[command(about = "A reconnect storm against SSE hub nodes, measured per client")]
struct Args {
    /// The hub nodes; stream `i` opens on node `i % nodes` and reconnects
    /// to the next one.
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<SocketAddr>,
    /// HS256 secret of the hubs.
    #[arg(long, default_value = "bench-secret-0123456789abcdef0123")]
    jwt_secret: String,
    /// Streams in the whole run (over every shard).
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// This process's shard: it takes streams `i` with `i % shards == shard`.
    #[arg(long, default_value_t = 0)]
    shard: usize,
    /// Processes the streams are spread over.
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// Topics (each stream subscribes to one).
    #[arg(long, default_value_t = 100)]
    topics: usize,
    /// Events per second (published by the process with `--publish`).
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Publish the plan (one process of the run does).
    #[arg(long)]
    publish: bool,
    /// Concurrent publishing connections.
    #[arg(long, default_value_t = 16)]
    publishers: usize,
    /// Unix milliseconds at which publishing starts (every process of the
    /// run is given the same; streams must be open by then).
    #[arg(long)]
    start_at_ms: u64,
    /// Seconds of live traffic before the drop.
    #[arg(long, default_value_t = 10)]
    drop_after_secs: u64,
    /// Seconds of publishing after the drop.
    #[arg(long, default_value_t = 20)]
    storm_secs: u64,
    /// How streams drop.
    #[arg(long, value_enum, default_value = "all")]
    drop: Cut,
    /// How clients reconnect.
    #[arg(long, value_enum, default_value = "polite")]
    client: Client,
    /// Give up on a client this long after publishing ended.
    #[arg(long, default_value_t = 60)]
    deadline_secs: u64,
    /// Streams opened at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The run's plan: what event `j` targets.
#[derive(Clone, Copy)]
struct Plan {
    events: u64,
    topics: u64,
    streams: u64,
}

impl Plan {
    fn target(&self, j: u64) -> serde_json::Value {
        let k = j / 3;
        match j % 3 {
            0 => json!({"all": true}),
            1 => json!({"topic": format!("storm.{}", k % self.topics)}),
            _ => json!({"user": format!("storm-{}", k * 7919 % self.streams)}),
        }
    }

    /// Whether event `j` is meant for client `i`.
    fn is_for(&self, i: u64, j: u64) -> bool {
        let k = j / 3;
        match j % 3 {
            0 => true,
            1 => k % self.topics == i % self.topics,
            _ => k * 7919 % self.streams == i,
        }
    }

    /// The next event at or after `from` meant for client `i` (of topic
    /// `i % topics`), if any; `users` holds, per client of this shard, the
    /// events addressed to its user.
    fn next_for(&self, i: u64, from: u64, user_events: &[u64]) -> Option<u64> {
        let up = |r: u64, step: u64, base: u64| -> u64 {
            // The smallest j >= from with j % step == r, j >= base.
            let from = from.max(base);
            from + (r + step - from % step) % step
        };
        let broadcast = up(0, 3, 0);
        let topic = {
            // j = 1 + 3 * (t + m * topics): j % (3 * topics) == 1 + 3 t.
            let t = i % self.topics;
            up(1 + 3 * t, 3 * self.topics, 0)
        };
        let user = user_events
            .iter()
            .copied()
            .find(|&j| j >= from)
            .unwrap_or(u64::MAX);
        let next = broadcast.min(topic).min(user);
        (next < self.events).then_some(next)
    }
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
    resets: u64,
    refused_429: u64,
    refused_503: u64,
    other_failures: u64,
    reconnects: u64,
    /// Events not meant for this client (must be 0).
    stray: u64,
    /// Milliseconds from the drop to being caught up.
    catch_up_ms: Option<u64>,
    got: u64,
    /// Whether its stream dropped (and it reconnected).
    dropped: bool,
    /// Whether its first stream opened only after publishing began (it
    /// cannot have the events before its open: not counted for loss).
    late: bool,
}

/// An SSE frame, as far as the storm needs it.
struct Frame {
    event: String,
    id: Option<String>,
    j: Option<u64>,
    t: Option<u64>,
}

/// Reads frames off a socket.
struct Reader {
    sock: TcpStream,
    buf: Vec<u8>,
    /// The `retry:` hint, if the hub sent one.
    retry_ms: Option<u64>,
}

impl Reader {
    async fn next(&mut self, until: Instant) -> Option<Frame> {
        let mut event = String::from("message");
        let mut id = None;
        let mut data = String::new();
        loop {
            while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                let line = line.strip_suffix('\r').unwrap_or(&line).to_string();
                if line.is_empty() {
                    if data.is_empty() && id.is_none() {
                        continue;
                    }
                    let field = |k: &str| -> Option<u64> {
                        let p = data.find(&format!("\"{k}\":"))? + k.len() + 3;
                        let rest = &data[p..];
                        let end = rest
                            .find(|c: char| !c.is_ascii_digit())
                            .unwrap_or(rest.len());
                        rest[..end].parse().ok()
                    };
                    return Some(Frame {
                        j: field("j"),
                        t: field("t"),
                        event,
                        id,
                    });
                }
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim_start().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim_start().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                } else if let Some(v) = line.strip_prefix("retry:") {
                    self.retry_ms = v.trim().parse().ok();
                }
            }
            let mut chunk = [0u8; 2048];
            let n = match tokio::time::timeout_at(until.into(), self.sock.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return None,
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Opens client `i`'s stream on `node`; a refusal's status and
/// `Retry-After`.
async fn open(
    node: SocketAddr,
    i: usize,
    token: &str,
    topic: &str,
    last_id: Option<&str>,
) -> anyhow::Result<Result<Reader, (u16, Option<u64>)>> {
    let src = Ipv4Addr::new(127, 0, (1 + (i / 253) % 250) as u8, 2 + (i % 253) as u8);
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(src.into(), 0))?;
    let mut stream = sock.connect(node).await?;
    let resume = last_id
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /api/sse/stream?topics={topic} HTTP/1.0\r\nHost: storm\r\nAuthorization: Bearer {token}\r\n{resume}Accept: text/event-stream\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    // The head, read in chunks (a byte at a time costs a storm's worth of
    // syscalls); what follows it is the stream's first bytes.
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 8192 {
            bail!("headers too long");
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("closed before the headers");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let rest = buf.split_off(end);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status: u16 = text.get(9..12).unwrap_or("0").parse().unwrap_or(0);
    if status != 200 {
        let wait = text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("retry-after")
                .then(|| v.trim().parse().ok())
                .flatten()
        });
        return Ok(Err((status, wait)));
    }
    Ok(Ok(Reader {
        sock: stream,
        buf: rest,
        retry_ms: None,
    }))
}

/// Resets the socket (RST, not FIN): what a dropped network path or a
/// restarted balancer does to a stream.
fn reset(reader: Reader) {
    // A zero linger never blocks: the close sends RST at once.
    #[allow(deprecated)]
    let _ = reader.sock.set_linger(Some(Duration::ZERO));
    drop(reader);
}

/// One client's life: open, read live, drop (or lose its node), come back
/// with its `Last-Event-ID` until every event meant for it has come.
#[allow(clippy::too_many_arguments)]
async fn client(
    args: Arc<Args>,
    plan: Plan,
    i: usize,
    user_events: Arc<Vec<u64>>,
    start: Instant,
    drop_at: Instant,
    drop_at_us: u64,
    give_up: Instant,
    opened: Arc<AtomicUsize>,
) -> Seen {
    let mut seen = Seen::default();
    let auth = sse_hub::Auth::hs256(args.jwt_secret.as_bytes());
    let user = sse_hub::UserId::new(format!("storm-{i}")).expect("a valid id");
    let token = auth
        .issue(&user, sse_hub::Role::User, Duration::from_secs(7200))
        .expect("a token");
    let topic = format!("storm.{}", i as u64 % plan.topics);
    let nodes = &args.nodes;
    let mut node = i % nodes.len();
    let mut last_id: Option<String> = None;
    // The first event meant for this client it has not had yet, and those
    // after it that came first (publishers run concurrently, so ids, the
    // order of delivery, need not follow the plan's order within a few
    // events: what is checked is that each comes once, and that ids only
    // rise).
    let mut next = plan.next_for(i as u64, 0, &user_events);
    let mut ahead = std::collections::BTreeSet::new();
    let mut last_seq: Option<(u64, u64)> = None;
    let mut dropped = false;
    let mut reconnect_sent_us = 0u64;
    // Failed reconnects in a row (set once a stream opens).
    let mut attempt: u32;
    let mut retry_hint = 3000u64;
    loop {
        let reader = match open(nodes[node], i, &token, &topic, last_id.as_deref()).await {
            Ok(Ok(r)) => r,
            Ok(Err((status, wait))) => {
                match status {
                    429 => seen.refused_429 += 1,
                    503 => seen.refused_503 += 1,
                    _ => seen.other_failures += 1,
                }
                let wait_ms = wait.unwrap_or(1) * 1000;
                let delay = match args.client {
                    Client::Naive => wait_ms,
                    Client::Polite => {
                        wait_ms + (wait_ms.max(1000) as f64 * rand::random::<f64>()) as u64
                    }
                };
                if Instant::now() > give_up {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(delay)).await;
                continue;
            }
            Err(_) => {
                // The node is gone (refused connection): the next one.
                seen.other_failures += 1;
                node = (node + 1) % nodes.len();
                if Instant::now() > give_up {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !dropped && !seen.late && seen.reconnects == 0 {
            opened.fetch_add(1, Ordering::Relaxed);
            seen.late = Instant::now() > start;
        }
        attempt = 0;
        let mut reader = reader;
        let until = if dropped || args.drop == Cut::None {
            give_up
        } else {
            drop_at
        };
        loop {
            if next.is_none() && dropped {
                break;
            }
            let Some(frame) = reader.next(until).await else {
                break;
            };
            if let Some(r) = reader.retry_ms {
                retry_hint = r;
            }
            if frame.event == "reset" {
                // Nothing can be proven after a reset (the target is none):
                // counted, and the client stops.
                seen.resets += 1;
                break;
            }
            if let Some(id) = &frame.id {
                last_id = Some(id.clone());
            }
            // Only events count for the order (`connected` repeats the
            // resume point).
            let Some(j) = frame.j else { continue };
            if let Some(id) = &frame.id {
                let parsed = id
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
                if let (Some(p), Some(last)) = (parsed, last_seq) {
                    if p <= last {
                        seen.out_of_order += 1;
                    }
                }
                last_seq = parsed.or(last_seq);
            }
            seen.got += 1;
            if !plan.is_for(i as u64, j) {
                seen.stray += 1;
                continue;
            }
            match next {
                Some(n) if j == n => {
                    next = plan.next_for(i as u64, j + 1, &user_events);
                    while let Some(m) = next.filter(|m| ahead.remove(m)) {
                        next = plan.next_for(i as u64, m + 1, &user_events);
                    }
                }
                Some(n) if j > n && ahead.insert(j) => {}
                _ => seen.duplicated += 1,
            }
            if dropped
                && seen.catch_up_ms.is_none()
                && frame.t.is_some_and(|t| t >= reconnect_sent_us)
            {
                seen.catch_up_ms = Some(now_us().saturating_sub(drop_at_us) / 1000);
            }
        }
        if (next.is_none() && dropped) || seen.resets > 0 || Instant::now() >= give_up {
            break;
        }
        // Dropped by us at the drop time, or by the node dying.
        if !dropped && Instant::now() >= drop_at && args.drop == Cut::All {
            reset(reader);
            node = (node + 1) % nodes.len();
        } else {
            drop(reader);
            if args.drop == Cut::None {
                node = (node + 1) % nodes.len();
            }
        }
        dropped = true;
        seen.dropped = true;
        seen.reconnects += 1;
        attempt += 1;
        let delay = match args.client {
            Client::Naive => 0,
            // As use_sse: full jitter over the hub's retry hint, doubling.
            Client::Polite => {
                let base = (retry_hint.max(1) << (attempt - 1).min(4)).min(5000);
                (base as f64 * rand::random::<f64>()) as u64
            }
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        reconnect_sent_us = now_us();
    }
    if seen.resets > 0 {
        // Not counted as lost: a reset says so.
    } else if let Some(n) = next {
        // Never came: every remaining event meant for us is lost.
        let mut k = Some(n);
        while let Some(m) = k {
            if !ahead.contains(&m) {
                seen.lost += 1;
            }
            k = plan.next_for(i as u64, m + 1, &user_events);
        }
    } else if seen.catch_up_ms.is_none() && dropped && seen.resets == 0 {
        // Caught up with the last event of the run.
        seen.catch_up_ms = Some(now_us().saturating_sub(drop_at_us) / 1000);
    }
    seen
}

/// Publishes the plan: event `j` at `start + j / rate`, by the publisher
/// `j % publishers`, to node `j % nodes`; a refused publish is retried
/// (same idempotency key) until taken. Latency histogram (µs, the taken
/// attempt from its schedule), refusals.
async fn publish(
    args: Arc<Args>,
    plan: Plan,
    start: Instant,
    run: u64,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let auth = sse_hub::Auth::hs256(args.jwt_secret.as_bytes());
    let token = auth.issue(
        &sse_hub::UserId::new("storm-publisher")?,
        sse_hub::Role::Publisher,
        Duration::from_secs(7200),
    )?;
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for p in 0..args.publishers.max(1) {
        let (args, token, refused) = (args.clone(), token.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
            let nodes = &args.nodes;
            let mut conns: Vec<Option<RawClient>> = (0..nodes.len()).map(|_| None).collect();
            let every = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
            let mut j = p as u64;
            while j < plan.events {
                let due = start + every * j as u32;
                tokio::time::sleep_until(due.into()).await;
                let body = json!({
                    "event": "storm",
                    "id": format!("storm-{run}-{j}"),
                    "data": {"j": j, "t": now_us()},
                    "target": plan.target(j),
                })
                .to_string();
                let mut node = (j as usize) % nodes.len();
                loop {
                    let request = format!(
                        "POST /api/sse/publish HTTP/1.1\r\nHost: storm\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let conn = match &mut conns[node] {
                        Some(c) => c,
                        slot => match RawClient::connect(nodes[node], None).await {
                            Ok(c) => slot.insert(c),
                            Err(_) => {
                                node = (node + 1) % nodes.len();
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        },
                    };
                    match conn.send(request.as_bytes()).await {
                        Ok(200) => break,
                        Ok(_) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(_) => {
                            conns[node] = None;
                            node = (node + 1) % nodes.len();
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                let _ = hist.record(due.elapsed().as_micros().max(1) as u64);
                j += args.publishers.max(1) as u64;
            }
            hist
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for t in tasks {
        all.add(&t.await?)?;
    }
    Ok((all, refused.load(Ordering::Relaxed)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    if args.shards == 0 || args.shard >= args.shards {
        bail!("--shard must be below --shards");
    }
    let secs = args.drop_after_secs + args.storm_secs;
    let plan = Plan {
        events: args.rate * secs,
        topics: args.topics.max(1) as u64,
        streams: args.streams.max(1) as u64,
    };
    let start_us = args.start_at_ms * 1000;
    let now = now_us();
    if start_us <= now {
        bail!("--start-at-ms is in the past");
    }
    let start = Instant::now() + Duration::from_micros(start_us - now);
    let drop_at = start + Duration::from_secs(args.drop_after_secs);
    let drop_at_us = start_us + args.drop_after_secs * 1_000_000;
    let give_up = start + Duration::from_secs(secs + args.deadline_secs);

    // Each user's events, for the clients of this shard.
    let mine: Vec<usize> = (args.shard..args.streams).step_by(args.shards).collect();
    let mut by_user: std::collections::HashMap<u64, Vec<u64>> =
        mine.iter().map(|&i| (i as u64, Vec::new())).collect();
    for j in (2..plan.events).step_by(3) {
        let u = (j / 3) * 7919 % plan.streams;
        if let Some(v) = by_user.get_mut(&u) {
            v.push(j);
        }
    }

    let opened = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    let connect_started = Instant::now();
    for chunk in mine.chunks(args.connect_concurrency.max(1)) {
        for &i in chunk {
            let events = Arc::new(by_user.remove(&(i as u64)).unwrap_or_default());
            clients.spawn(client(
                args.clone(),
                plan,
                i,
                events,
                start,
                drop_at,
                drop_at_us,
                give_up,
                opened.clone(),
            ));
        }
        // Let this batch connect before the next.
        let want = opened.load(Ordering::Relaxed) + chunk.len();
        let t = Instant::now();
        while opened.load(Ordering::Relaxed) < want && t.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let held = opened.load(Ordering::Relaxed);
    if Instant::now() > start {
        eprintln!(
            "shard {}: streams took {connect_secs:.1} s to open, past the start",
            args.shard
        );
    }
    let publishing = args
        .publish
        .then(|| tokio::spawn(publish(args.clone(), plan, start, args.start_at_ms)));

    let mut total = Seen::default();
    let mut catch_up = Vec::new();
    let mut never = 0u64;
    let mut late = 0u64;
    while let Some(seen) = clients.join_next().await {
        let s = seen.context("a client task")?;
        if s.late {
            late += 1;
            continue;
        }
        total.lost += s.lost;
        total.duplicated += s.duplicated;
        total.out_of_order += s.out_of_order;
        total.resets += s.resets;
        total.refused_429 += s.refused_429;
        total.refused_503 += s.refused_503;
        total.other_failures += s.other_failures;
        total.reconnects += s.reconnects;
        total.got += s.got;
        total.stray += s.stray;
        match s.catch_up_ms {
            Some(ms) => catch_up.push(ms),
            None if s.dropped => never += 1,
            None => {}
        }
    }
    let (publish_latency, publish_refused) = match publishing {
        Some(p) => {
            let (h, r) = p.await??;
            (
                Some(json!({
                    "events": plan.events,
                    "p50_ms": h.value_at_quantile(0.5) as f64 / 1000.0,
                    "p99_ms": h.value_at_quantile(0.99) as f64 / 1000.0,
                    "max_ms": h.max() as f64 / 1000.0,
                })),
                r,
            )
        }
        None => (None, 0),
    };
    catch_up.sort_unstable();
    println!(
        "{}",
        json!({
            "shard": args.shard,
            "client": format!("{:?}", args.client).to_lowercase(),
            "streams": mine.len(),
            "opened": held,
            "connect_secs": connect_secs,
            "received": total.got,
            "lost": total.lost,
            "duplicated": total.duplicated,
            "out_of_order": total.out_of_order,
            "stray": total.stray,
            "resets": total.resets,
            "refused_429": total.refused_429,
            "refused_503": total.refused_503,
            "failed_opens": total.other_failures,
            "reconnects": total.reconnects,
            "never_caught_up": never,
            "late_opens": late,
            "catch_up_ms": catch_up,
            "publish": publish_latency,
            "publish_refused": publish_refused,
        })
    );
    Ok(())
}
