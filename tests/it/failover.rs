//! Losing a server: Redis restarted empty or flushed (a resume is a
//! `reset`, never a silent gap), Redis down (readiness follows it,
//! publishes fail fast), replicas that must confirm a publish (`WAIT`),
//! and a Sentinel failover under load (SIGKILL of the primary while
//! publishing: every acknowledged event reaches every subscriber once, in
//! order). All against real redis-server and redis-sentinel processes.

use crate::common;
use sse_testkit::redis_server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use parking_lot::Mutex;
use redis_server::{RedisServer, Sentinels};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::broker::RedisOptions;
use sse_hub::{Hub, HubConfig, Role};

async fn node(options: RedisOptions) -> TestServer {
    common::redis_node_with(options, HubConfig::default()).await
}

/// `GET /api/ready`: status and body.
async fn ready(s: &TestServer) -> (StatusCode, Value) {
    let res = s.http.get(s.url("/api/ready")).send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Polls readiness until it is `want`; how long that took.
async fn ready_becomes(s: &TestServer, want: StatusCode, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (st, body) = ready(s).await;
        if st == want {
            if st == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(body["code"], "not_ready", "{body}");
                assert!(body["error"].as_str().unwrap().contains("broker"), "{body}");
            }
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "readiness stayed {st} ({body})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishes until Redis takes it (after a restart the node reconnects).
async fn publish_eventually(s: &TestServer, data: Value) -> String {
    let token = s.token("bot", Role::Publisher);
    for _ in 0..100 {
        let (st, body) = s
            .post(
                "/api/sse/publish",
                &token,
                json!({"event": "n", "data": data, "target": {"all": true}}),
            )
            .await;
        if st == StatusCode::OK {
            return body["id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Redis never took the publish");
}

/// Resuming from `held` starts with a `reset`.
async fn assert_reset(s: &TestServer, held: &str) {
    let mut c = open(s, held).await;
    let first = c.next_within(10).await.unwrap();
    assert_eq!(first.event, "reset", "resuming from {held}: {first:?}");
}

async fn open(s: &TestServer, last: &str) -> SseClient {
    let token = s.token("alice", Role::User);
    let url = s.url(&format!("/api/sse/stream?token={token}"));
    match SseClient::open(&s.http, &url, Some(last)).await {
        Ok(c) => c,
        Err((status, body)) => panic!("the stream was refused: {status} {body}"),
    }
}

/// A client away while Redis lost everything must not resume as if
/// nothing happened: the events it missed are gone, so `reset` comes first.
#[tokio::test]
async fn a_resume_after_redis_restarted_empty_is_a_reset() {
    let mut redis = RedisServer::start_volatile(&[]);
    let n = node(RedisOptions::new(redis.url())).await;
    let seen = publish_eventually(&n, json!("seen")).await;
    publish_eventually(&n, json!("missed, then lost")).await;
    redis.restart();
    let after = publish_eventually(&n, json!("after the restart")).await;
    assert_reset(&n, &seen).await;
    // A client that resumes from after the restart missed nothing.
    let mut c = open(&n, &after).await;
    c.expect_silence(300).await;
}

#[tokio::test]
async fn a_resume_after_flushall_is_a_reset() {
    let redis = RedisServer::start_volatile(&[]);
    let n = node(RedisOptions::new(redis.url())).await;
    let seen = publish_eventually(&n, json!("seen")).await;
    publish_eventually(&n, json!("missed, then flushed")).await;
    assert_eq!(redis.cli(&["FLUSHALL"]), "OK");
    publish_eventually(&n, json!("after the flush")).await;
    assert_reset(&n, &seen).await;
}

/// Keys evicted under `maxmemory` may have been history: a resume from
/// before the eviction is a reset.
#[tokio::test]
async fn a_resume_from_before_an_eviction_is_a_reset() {
    let redis =
        RedisServer::start_volatile(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let n = node(RedisOptions::new(redis.url())).await;
    let seen = publish_eventually(&n, json!("seen")).await;
    publish_eventually(&n, json!("missed")).await;
    // Fill Redis past maxmemory with keys of our own, so some get evicted.
    for i in 0..100 {
        redis.cli(&["SET", &format!("junk:{i}"), &"x".repeat(100_000)]);
    }
    let evicted = redis.cli(&["INFO", "stats"]);
    assert!(
        evicted
            .lines()
            .any(|l| l.starts_with("evicted_keys:") && l != "evicted_keys:0"),
        "nothing was evicted: {evicted}"
    );
    assert_reset(&n, &seen).await;
}

/// The tailed stream and the everyone-channel as they are now, to put
/// back later: what a node sees after a failover to a replica that had
/// not received what came after (the era record stays, as on a replica).
struct Snapshot {
    con: redis::Connection,
    dumps: Vec<(&'static str, Vec<u8>)>,
}

impl Snapshot {
    fn take(redis: &RedisServer) -> Self {
        let mut con = redis::Client::open(redis.url())
            .unwrap()
            .get_connection()
            .unwrap();
        let dumps = ["sse:events", "sse:ch:*"]
            .into_iter()
            .map(|k| (k, redis::cmd("DUMP").arg(k).query(&mut con).unwrap()))
            .collect();
        Self { con, dumps }
    }

    fn restore(mut self) {
        for (k, dump) in &self.dumps {
            let _: () = redis::cmd("RESTORE")
                .arg(*k)
                .arg(0)
                .arg(dump)
                .arg("REPLACE")
                .query(&mut self.con)
                .unwrap();
        }
    }
}

/// A failover that lost the tail, as a node sees it: the stream (and its
/// history channel) go back to an earlier state (a [`Snapshot`] taken
/// before the last two events) while the era stays. The
/// node notices, new ids go on past what it delivered (its live client
/// gets them), and a client that holds a lost id, or was away across the
/// lost events, gets a reset.
#[tokio::test]
async fn a_lost_tail_means_reset_and_ids_go_on_past_it() {
    let redis = RedisServer::start_volatile(&[]);
    let n = node(RedisOptions::new(redis.url())).await;
    let mut live = n.connect("bob", Role::User, "").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(publish_eventually(&n, json!(i)).await);
    }
    let before = Snapshot::take(&redis);
    for i in 3..5 {
        ids.push(publish_eventually(&n, json!(i)).await);
    }
    for id in &ids {
        assert_eq!(&live.next().await.id, id);
    }
    before.restore();
    // The reader checks when idle (every second).
    let mut lost = 0;
    for _ in 0..50 {
        lost = n
            .metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix("sse_hub_broker_lost_tails_total "))
            .unwrap()
            .parse()
            .unwrap();
        if lost > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lost, 1, "the node noticed the lost tail once");
    let next = publish_eventually(&n, json!(5)).await;
    assert!(
        id_key(&next) > id_key(&ids[4]),
        "{next} is not past {}",
        ids[4]
    );
    assert_eq!(live.next().await.id, next, "the live client gets it");
    for held in [&ids[4], &ids[3], &ids[2]] {
        assert_reset(&n, held).await;
    }
    let mut c = open(&n, &next).await;
    c.expect_silence(300).await;
}

/// The same, when a publish reaches the promoted primary before the
/// node's reader noticed anything: the new id overtakes the lost ones, so
/// the stream no longer looks behind, but the node's newest id is gone
/// from it, and that is enough to know.
#[tokio::test]
async fn a_lost_tail_overtaken_by_a_publish_is_still_a_reset() {
    let redis = RedisServer::start_volatile(&[]);
    let n = node(RedisOptions::new(redis.url())).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(publish_eventually(&n, json!(i)).await);
    }
    let before = Snapshot::take(&redis);
    for i in 3..5 {
        ids.push(publish_eventually(&n, json!(i)).await);
    }
    // Wait for the node's reader to have seen the last one.
    let mut c = open(&n, &ids[3]).await;
    assert_eq!(c.next().await.id, ids[4]);
    before.restore();
    publish_eventually(&n, json!("right after the failover")).await;
    assert_reset(&n, &ids[2]).await;
}

/// Trimming records nothing: a channel trimmed to exactly its length
/// (`MAXLEN ~` drops whole nodes of 100 entries) holds `history_len`
/// entries, all newer than a client that missed more. That client gets a
/// reset, not the newest `history_len` of what it missed. (The proof is
/// an entry at or below the client's id still in the channel, so Redis
/// may reset a client the memory broker would still serve, by up to one
/// node of entries.)
#[tokio::test]
async fn a_resume_past_an_exactly_trimmed_channel_is_a_reset() {
    let redis = RedisServer::start_volatile(&[]);
    let config = HubConfig {
        history_len: 100,
        ..HubConfig::default()
    };
    let hub = Hub::builder(config)
        .topic_authorizer(open_topics())
        .broker(sse_hub::BrokerConfig::Redis(RedisOptions::new(redis.url())))
        .build()
        .await
        .unwrap();
    let n = serve(hub, test_auth()).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(publish_eventually(&n, json!(i)).await);
    }
    assert_eq!(
        redis.cli(&["XLEN", "sse:ch:*"]),
        "100",
        "trimmed to exactly 100"
    );
    assert_reset(&n, &ids[49]).await;
    // One whose id the channel still holds gets everything after it.
    let mut c = open(&n, &ids[100]).await;
    for id in &ids[101..] {
        assert_eq!(&c.next().await.id, id);
    }
}

/// A node that is shutting down is not ready, at once.
#[tokio::test]
async fn a_node_shutting_down_is_not_ready_at_once() {
    let s = server().await;
    assert_eq!(ready(&s).await.0, StatusCode::OK);
    s.hub.shutdown();
    let (st, body) = ready(&s).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "not_ready");
    assert!(
        body["error"].as_str().unwrap().contains("shutting down"),
        "{body}"
    );
    let res = s.http.get(s.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "liveness stays 200");
}

/// Readiness follows Redis down and up within 5 s; liveness stays 200;
/// publishes fail within the wait timeout while it is down; open streams
/// stay open and get events again afterwards; `/metrics` counts the
/// reconnection.
#[tokio::test]
async fn readiness_follows_redis_and_publishes_fail_fast_while_it_is_down() {
    let mut redis = RedisServer::start();
    let n = node(RedisOptions::new(redis.url())).await;
    let mut c = n.connect("alice", Role::User, "").await;
    assert_eq!(ready(&n).await.0, StatusCode::OK);
    redis.stop();
    let took = ready_becomes(&n, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(5)).await;
    eprintln!("not ready {took:?} after Redis stopped");
    let res = n.http.get(n.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "liveness stays 200");
    let token = n.token("bot", Role::Publisher);
    let start = Instant::now();
    let (st, body) = n
        .post(
            "/api/sse/publish",
            &token,
            json!({"event": "n", "data": 1, "target": {"all": true}}),
        )
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    redis.restart();
    let took = ready_becomes(&n, StatusCode::OK, Duration::from_secs(5)).await;
    eprintln!("ready {took:?} after Redis came back");
    let id = publish_eventually(&n, json!("back")).await;
    loop {
        let e = c.next_within(10).await.expect("the stream stayed open");
        if e.id == id {
            break;
        }
    }
    let metrics = n.metrics().await;
    let reconnections: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sse_hub_broker_reconnections_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(reconnections >= 1, "{metrics}");
}

/// With `wait_replicas`, a publish answers 200 only once a replica holds
/// it; with the replica gone, 503 `not_replicated` within the timeout.
#[tokio::test]
async fn a_publish_waits_for_replicas_when_asked() {
    let primary = RedisServer::start_volatile(&[]);
    let mut replica = RedisServer::start_replica(primary.port);
    let mut options = RedisOptions::new(primary.url());
    options.wait_replicas = 1;
    options.wait_timeout = Duration::from_millis(500);
    let n = node(options).await;
    let id = publish_eventually(&n, json!(1)).await;
    assert_eq!(
        replica
            .cli(&["XRANGE", "sse:events", &id, &id])
            .lines()
            .next(),
        Some(id.as_str()),
        "the replica holds the acknowledged event"
    );
    replica.stop();
    // The primary notices the replica is gone once its link drops.
    let token = n.token("bot", Role::Publisher);
    let body = json!({"event": "n", "data": 2, "id": "k-2", "target": {"all": true}});
    let start = Instant::now();
    let (st, res) = n.post("/api/sse/publish", &token, body.clone()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{res}");
    assert_eq!(res["code"], "not_replicated", "{res}");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        start.elapsed()
    );
    // The replica comes back: the retry with the same key succeeds, once.
    replica.restart();
    let mut ok = None;
    for _ in 0..100 {
        let (st, res) = n.post("/api/sse/publish", &token, body.clone()).await;
        if st == StatusCode::OK {
            ok = Some(res);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ok = ok.expect("the retry succeeds once the replica is back");
    assert_eq!(ok["duplicate"], true, "the first try had stored it: {ok}");
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    ids: Vec<String>,
    resets: usize,
}

/// One subscriber: reads until `stop`, reconnecting to the other node
/// every `hop` with its last id, as a browser behind a load balancer.
async fn subscriber(
    nodes: Arc<Vec<TestServer>>,
    first: usize,
    hop: Duration,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    let mut at = first;
    let mut last: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let s = &nodes[at % nodes.len()];
        let token = s.token(&format!("sub-{first}"), Role::User);
        let url = s.url(&format!("/api/sse/stream?token={token}"));
        let Ok(mut c) = SseClient::open(&s.http, &url, last.as_deref()).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let until = Instant::now() + hop;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            let Ok(next) = tokio::time::timeout(Duration::from_millis(100), c.next_within(5)).await
            else {
                continue;
            };
            let Some(e) = next else { break };
            match e.event.as_str() {
                "reset" => seen.lock().resets += 1,
                "n" => {
                    seen.lock().ids.push(e.id.clone());
                    last = Some(e.id);
                }
                _ => {}
            }
        }
        at += 1;
    }
}

/// Waits (up to 60 s) until `n` events were acknowledged (after `since`,
/// if given).
async fn wait_for_acks(acked: &Mutex<HashMap<String, Instant>>, since: Option<Instant>, n: usize) {
    let started = Instant::now();
    loop {
        let count = acked
            .lock()
            .values()
            .filter(|t| since.is_none_or(|s| **t > s))
            .count();
        if count >= n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {count} acknowledged in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn id_key(id: &str) -> (u64, u64) {
    let (a, b) = id.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// One primary, two replicas, three sentinels, two hub nodes waiting for
/// one replica; subscribers hop between the nodes; a publisher publishes
/// steadily (retrying each event with its idempotency key until 200).
/// The primary is SIGKILLed mid-run. Every acknowledged event reaches
/// every subscriber exactly once, in id order; publishing is acknowledged
/// again within 10 s; the hub's share of that time is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_loses_no_acknowledged_event() {
    let mut primary = RedisServer::start_volatile(&[]);
    let replicas = [
        RedisServer::start_replica(primary.port),
        RedisServer::start_replica(primary.port),
    ];
    let sentinels = Sentinels::start(primary.port);
    sentinels.wait_ready(2);
    let mut options = RedisOptions::new(sentinels.url());
    options.wait_replicas = 1;
    let nodes = Arc::new(vec![node(options.clone()).await, node(options).await]);

    let stop = Arc::new(AtomicBool::new(false));
    let mut subs = Vec::new();
    for i in 0..4 {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let hop = Duration::from_millis(700 + 150 * i as u64);
        subs.push((
            seen.clone(),
            tokio::spawn(subscriber(nodes.clone(), i, hop, stop.clone(), seen)),
        ));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The publisher: one event every 20 ms, alternating nodes; each retried
    // with its key until acknowledged.
    let acked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let publishing = {
        let (nodes, acked, stop) = (nodes.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("e-{n}");
                loop {
                    let s = &nodes[(n % 2) as usize];
                    let token = s.token("bot", Role::Publisher);
                    let body = json!({"event": "n", "data": n, "id": key, "target": {"all": true}});
                    let sent = s
                        .http
                        .post(s.url("/api/sse/publish"))
                        .bearer_auth(&token)
                        .json(&body)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    if let Ok(res) = sent {
                        if res.status() == StatusCode::OK {
                            let v: Value = res.json().await.unwrap();
                            acked
                                .lock()
                                .insert(v["id"].as_str().unwrap().to_string(), Instant::now());
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Enough acknowledged before the kill, however busy the machine is
    // (a fixed time gave 46 events on a loaded CI run, too few to mean
    // much).
    wait_for_acks(&acked, None, 50).await;
    let killed = Instant::now();
    primary.stop(); // SIGKILL
    let promoted = loop {
        let p = sentinels.primary();
        if p != 0 && p != primary.port {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(20), "no failover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first_ack = loop {
        let next = acked
            .lock()
            .values()
            .filter(|t| **t > killed)
            .min()
            .copied();
        if let Some(t) = next {
            break t.duration_since(killed);
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "publishing never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "failover: sentinels named a new primary {promoted:?} after the kill; first acknowledged publish {first_ack:?} after it (the hub's share: {:?})",
        first_ack.saturating_sub(promoted)
    );
    assert!(first_ack < Duration::from_secs(10), "took {first_ack:?}");

    // Run on until as many are acknowledged after the kill, then stop
    // publishing and let everyone catch up.
    wait_for_acks(&acked, Some(killed), 50).await;
    stop.store(true, Ordering::Relaxed);
    publishing.await.unwrap();
    let acked: Vec<String> = {
        let mut ids: Vec<String> = acked.lock().keys().cloned().collect();
        ids.sort_by_key(|i| id_key(i));
        ids
    };
    drop(replicas);
    for (i, (seen, task)) in subs.into_iter().enumerate() {
        task.await.unwrap();
        let seen = seen.lock();
        let mut sorted = seen.ids.clone();
        sorted.sort_by_key(|i| id_key(i));
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            seen.ids.len(),
            "subscriber {i} got a duplicate"
        );
        assert_eq!(sorted, seen.ids, "subscriber {i} got events out of order");
        assert_eq!(seen.resets, 0, "subscriber {i} got a reset");
        let got: std::collections::HashSet<&String> = seen.ids.iter().collect();
        let first = acked.iter().position(|a| got.contains(a)).unwrap_or(0);
        let missing: Vec<&String> = acked[first..].iter().filter(|a| !got.contains(a)).collect();
        assert!(
            missing.is_empty(),
            "subscriber {i} missed {} acknowledged events: {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    let lost = acked.len();
    eprintln!("acknowledged events: {lost}; lost: 0");
}
