//! A reconnect storm in miniature, on real Redis: every stream of a node
//! comes back at once with its `Last-Event-ID`. The node bounds how many
//! resumes read history at once (`max_concurrent_replays`); the others
//! wait their turn up to `replay_wait`, then get 503 `replays_busy` with a
//! spread `Retry-After`, never a hang and never a partial replay. The full
//! storm (50 000 streams, with figures) is a benchmark: `bench/run.sh`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{HubConfig, Role};
use sse_testkit::redis_server::RedisServer;

use crate::common::{redis_node, SseClient, TestServer};

fn bounded(replays: usize, wait_ms: u64) -> HubConfig {
    HubConfig {
        max_concurrent_replays: replays,
        replay_wait: Duration::from_millis(wait_ms),
        ..Default::default()
    }
}

/// Opens a resume for `user` from `after`; the status, the `Retry-After`
/// of a refusal and, once open, the client.
async fn resume(
    node: &TestServer,
    user: &str,
    after: &str,
) -> Result<SseClient, (StatusCode, Option<u64>, Value)> {
    let token = node.token(user, Role::User);
    let res = node
        .http
        .get(node.url("/api/sse/stream"))
        .bearer_auth(&token)
        .header("Last-Event-ID", after)
        .send()
        .await
        .unwrap();
    if res.status() == StatusCode::OK {
        return Ok(SseClient::from_response(res).await);
    }
    let status = res.status();
    let wait = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    Err((status, wait, res.json().await.unwrap_or(Value::Null)))
}

/// Beyond the bound, a resume waits `replay_wait` for a turn and is then
/// refused with 503 and `Retry-After`, while the turns it waited for are
/// held by replays that Redis is slow to answer; the probes answer at once
/// meanwhile, and the resumes that had a turn get their events.
#[tokio::test]
async fn resumes_beyond_the_bound_wait_their_turn_then_get_503_with_retry_after() {
    let redis = RedisServer::start_volatile(&["--enable-debug-command", "yes"]);
    let node = redis_node(&redis.url(), bounded(2, 300)).await;
    let first = node.publish("n", json!(0), json!({"all": true})).await;
    let after = first["id"].as_str().unwrap().to_string();
    node.publish("n", json!(1), json!({"all": true})).await;

    // Redis stalls for 1.5 s: the two resumes with a turn wait on it.
    let port = redis.port;
    let stall = std::thread::spawn(move || {
        sse_testkit::redis_server::redis_cli(port, &["DEBUG", "SLEEP", "1.5"])
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let node = Arc::new(node);
    let started = Instant::now();
    let mut tries = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (node, after) = (node.clone(), after.clone());
        tries.spawn(async move {
            let r = resume(&node, &format!("u{i}"), &after).await;
            (r, started.elapsed())
        });
    }
    // Probes do not wait for any of it.
    for path in ["/api/health", "/api/ready"] {
        let t = Instant::now();
        let res = node.http.get(node.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{path}: {:?}",
            t.elapsed()
        );
    }
    let (mut open, mut refused) = (Vec::new(), Vec::new());
    while let Some(r) = tries.join_next().await {
        match r.unwrap() {
            (Ok(c), _) => open.push(c),
            (Err((status, wait, body)), took) => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
                assert_eq!(body["code"], "replays_busy", "{body}");
                let wait = wait.expect("Retry-After");
                assert!((1..=2).contains(&wait), "Retry-After {wait}");
                // Refused after its wait, not after Redis woke up.
                assert!(took < Duration::from_millis(1200), "refused after {took:?}");
                refused.push(wait);
            }
        }
    }
    stall.join().unwrap();
    assert_eq!((open.len(), refused.len()), (2, 4));
    for c in &mut open {
        assert_eq!(c.next().await.data, "1", "the missed event, replayed");
    }
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("sse_hub_replays_refused_total 4"),
        "{metrics}"
    );
    // Once the storm has passed, a resume gets its turn again.
    let mut late = resume(&node, "late", &after).await.expect("a turn");
    assert_eq!(late.next().await.data, "1");
}

/// 240 streams of one node all come back at once on another node, each
/// with its own `Last-Event-ID`, while events keep coming: every client
/// gets each event it missed, then the live ones, exactly once and in
/// order (no `reset`), after being refused with a `Retry-After` it
/// honours, or not; the refusals are spread over more than one value;
/// readiness answers 200 within a second throughout.
#[tokio::test]
async fn a_storm_of_resumes_on_another_node_loses_nothing_and_stays_ready() {
    const CLIENTS: usize = 240;
    const LIVE: usize = 20;
    let redis = RedisServer::start();
    let a = Arc::new(redis_node(&redis.url(), HubConfig::default()).await);
    let b = Arc::new(redis_node(&redis.url(), bounded(2, 50)).await);

    // Every client on A sees one event, then all drop at once.
    let mut on_a = Vec::new();
    for i in 0..CLIENTS {
        on_a.push(a.connect(&format!("s{i}"), Role::User, "").await);
    }
    let seen = a.publish("n", json!("before"), json!({"all": true})).await;
    let after = seen["id"].as_str().unwrap().to_string();
    for c in &mut on_a {
        assert_eq!(c.next().await.data, "\"before\"");
    }
    drop(on_a);
    // Missed while away: broadcasts and one event per user.
    for n in 0..5 {
        a.publish("n", json!(format!("all-{n}")), json!({"all": true}))
            .await;
    }
    for i in 0..CLIENTS {
        a.publish(
            "n",
            json!(format!("mine-{i}")),
            json!({"user": format!("s{i}")}),
        )
        .await;
    }

    // Readiness probed every 100 ms for the whole storm.
    let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let (b, probing) = (b.clone(), probing.clone());
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut answers = 0;
            while probing.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                let res = b
                    .http
                    .get(b.url("/api/ready"))
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await
                    .expect("readiness answers within 1 s");
                assert_eq!(res.status(), StatusCode::OK);
                slowest = slowest.max(t.elapsed());
                answers += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (answers, slowest)
        })
    };
    // Live traffic during the storm, on A.
    let live = {
        let a = a.clone();
        tokio::spawn(async move {
            for n in 0..LIVE {
                a.publish("n", json!(format!("live-{n}")), json!({"all": true}))
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let mut storm = tokio::task::JoinSet::new();
    for i in 0..CLIENTS {
        let (b, after) = (b.clone(), after.clone());
        storm.spawn(async move {
            let user = format!("s{i}");
            let mut waits = Vec::new();
            let mut c = loop {
                match resume(&b, &user, &after).await {
                    Ok(c) => break c,
                    Err((StatusCode::SERVICE_UNAVAILABLE, Some(wait), _)) => {
                        waits.push(wait);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                    }
                    Err(other) => panic!("{user}: {other:?}"),
                }
            };
            let mut got = Vec::new();
            while got.len() < 6 + LIVE {
                let e = c.next_within(15).await.expect("the stream stays open");
                assert_ne!(e.event, "reset", "{user}: history covers the gap");
                got.push(e.data);
            }
            c.expect_silence(200).await;
            (i, got, waits)
        });
    }
    let mut refused = Vec::new();
    let mut done = HashSet::new();
    while let Some(r) = storm.join_next().await {
        let (i, got, waits) = r.unwrap();
        let mut want: Vec<String> = (0..5).map(|n| format!("\"all-{n}\"")).collect();
        want.push(format!("\"mine-{i}\""));
        want.extend((0..LIVE).map(|n| format!("\"live-{n}\"")));
        assert_eq!(got, want, "s{i}: every event once, in order");
        refused.extend(waits);
        done.insert(i);
    }
    live.await.unwrap();
    probing.store(false, std::sync::atomic::Ordering::SeqCst);
    let (answers, slowest) = probe.await.unwrap();
    assert_eq!(done.len(), CLIENTS);
    assert!(answers >= 3, "{answers} readiness answers");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    // The bound was reached (a real storm for this node), and the
    // refused were told to come back at different times.
    assert!(!refused.is_empty(), "no resume was refused");
    let distinct: HashSet<u64> = refused.iter().copied().collect();
    assert!(
        refused.len() < 4 || distinct.len() > 1,
        "every refusal said the same Retry-After: {refused:?}"
    );
}
