//! Several hub nodes sharing events and history through a real Redis.

use crate::common;
use sse_testkit::redis_server;

use std::time::Duration;

use common::*;
use redis_server::RedisServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::broker::RedisOptions;
use sse_hub::{BrokerConfig, Hub, HubConfig, Role};

async fn node(redis: &RedisServer) -> TestServer {
    common::redis_node_with(RedisOptions::new(redis.url()), HubConfig::default()).await
}

#[tokio::test]
async fn an_event_published_on_one_node_reaches_the_other_with_the_same_id() {
    let redis = RedisServer::start();
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let mut on1 = n1.connect("alice", Role::User, "").await;
    let mut on2 = n2.connect("bob", Role::User, "").await;
    let res = n1
        .publish("hello", json!({"n": 1}), json!({"all": true}))
        .await;
    assert_eq!(
        res["delivered"], 1,
        "delivered counts this node's connections: {res}"
    );
    let (e1, e2) = (on1.next().await, on2.next().await);
    assert_eq!((e1.event.as_str(), e2.event.as_str()), ("hello", "hello"));
    assert_eq!(e1.id, e2.id);
    assert_eq!(e1.id, res["id"].as_str().unwrap());
    assert_eq!(e2.data, r#"{"n":1}"#);
}

#[tokio::test]
async fn user_and_topic_targets_work_across_nodes() {
    let redis = RedisServer::start();
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let mut alice = n1.connect("alice", Role::User, "").await;
    let mut bob = n2.connect("bob", Role::User, "topics=news").await;
    n2.publish("dm", json!("for alice"), json!({"user": "alice"}))
        .await;
    n1.publish("headline", json!("news"), json!({"topic": "news"}))
        .await;
    n1.publish("sentinel", json!(null), json!({"all": true}))
        .await;
    assert_eq!(alice.next().await.event, "dm");
    assert_eq!(alice.next().await.event, "sentinel");
    assert_eq!(bob.next().await.event, "headline");
    assert_eq!(bob.next().await.event, "sentinel");
    // Runtime subscription on node 2, published from node 1.
    let (st, _) = n2
        .post(
            "/api/sse/subscribe",
            &n2.token("bob", Role::User),
            json!({"topics": ["sport"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    n1.publish("score", json!("1-0"), json!({"topic": "sport"}))
        .await;
    assert_eq!(bob.next().await.event, "score");
}

#[tokio::test]
async fn a_client_resumes_on_another_node_and_after_every_node_restarted() {
    let redis = RedisServer::start();
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let token = n1.token("alice", Role::User);
    let mut c = SseClient::open(
        &n1.http,
        &n1.url(&format!("/api/sse/stream?token={token}")),
        None,
    )
    .await
    .unwrap();
    n1.publish("n", json!(1), json!({"all": true})).await;
    let seen = c.next().await;
    drop(c);
    n2.publish("n", json!(2), json!({"user": "alice"})).await;
    n2.publish("n", json!(3), json!({"user": "bob"})).await;
    n1.publish("n", json!(4), json!({"all": true})).await;
    let mut c = SseClient::open(
        &n2.http,
        &n2.url(&format!("/api/sse/stream?token={token}")),
        Some(&seen.id),
    )
    .await
    .unwrap();
    assert_eq!(c.next().await.data, "2");
    assert_eq!(c.next().await.data, "4");
    c.expect_silence(300).await;
    drop(c);
    // Every node gone: a brand-new node still replays from Redis.
    drop((n1, n2));
    let n3 = node(&redis).await;
    let mut c = SseClient::open(
        &n3.http,
        &n3.url(&format!("/api/sse/stream?token={token}")),
        Some(&seen.id),
    )
    .await
    .unwrap();
    assert_eq!(c.next().await.data, "2");
    assert_eq!(c.next().await.data, "4");
    // An id the stream never held is a reset, not a silent gap.
    let mut c = SseClient::open(
        &n3.http,
        &n3.url(&format!("/api/sse/stream?token={token}")),
        Some("1-1"),
    )
    .await
    .unwrap();
    assert_eq!(c.next().await.event, "reset");
}

#[tokio::test]
async fn redis_restart_mid_stream_refuses_publishes_then_recovers() {
    let mut redis = RedisServer::start();
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let token = n2.token("alice", Role::User);
    let url = n2.url(&format!("/api/sse/stream?token={token}"));
    let mut c = SseClient::open(&n2.http, &url, None).await.unwrap();
    n1.publish("n", json!("before"), json!({"all": true})).await;
    let before = c.next().await;
    assert_eq!(before.data, "\"before\"");

    redis.stop();
    let publisher = n1.token("ops", Role::Admin);
    let body = json!({"event": "n", "data": "while down", "target": {"all": true}});
    let (st, err) = n1.post("/api/sse/publish", &publisher, body).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{err}");
    assert_eq!(err["code"], "broker_unavailable");
    // Open streams stay open.
    c.expect_silence(500).await;

    redis.restart();
    let body = json!({"event": "n", "data": "after", "target": {"all": true}});
    let mut published = Value::Null;
    for _ in 0..100 {
        let (st, res) = n1.post("/api/sse/publish", &publisher, body.clone()).await;
        if st == StatusCode::OK {
            published = res;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published["id"].is_string(), "publishing never recovered");
    let e = c.next_within(15).await.expect("stream still open");
    assert_eq!(e.data, "\"after\"");
    assert_eq!(e.id, published["id"].as_str().unwrap());
    // History survived the restart (append-only file): resume from before.
    let mut again = SseClient::open(
        &n1.http,
        &n1.url(&format!("/api/sse/stream?token={token}")),
        Some(&before.id),
    )
    .await
    .unwrap();
    assert_eq!(again.next().await.data, "\"after\"");
    let (_, stats) = n1.get("/api/sse/stats", &publisher).await;
    assert!(stats["publishFailures"].as_u64().unwrap() >= 1, "{stats}");
}

#[tokio::test]
async fn stats_show_the_whole_cluster() {
    let redis = RedisServer::start();
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let _a = n1.connect("alice", Role::User, "").await;
    let _b = n2.connect("bob", Role::User, "").await;
    let _c = n2.connect("carol", Role::User, "").await;
    let admin = n1.token("ops", Role::Admin);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (st, stats) = n1.get("/api/sse/stats", &admin).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(stats["totalConnections"], 1, "this node's own count");
        if stats["cluster"]["totalConnections"] == 3
            && stats["cluster"]["nodes"].as_array().map(Vec::len) == Some(2)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cluster view never complete: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_idempotency_key_holds_across_nodes() {
    let redis = RedisServer::start();
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    let mut c = n2.connect("alice", Role::User, "").await;
    let t = n1.token("ops", Role::Admin);
    let body = json!({"event": "order", "data": 42, "id": "order-42", "target": {"all": true}});
    let (_, first) = n1.post("/api/sse/publish", &t, body.clone()).await;
    let (_, second) = n2.post("/api/sse/publish", &t, body).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["duplicate"], true);
    assert_eq!(c.next().await.event, "order");
    c.expect_silence(300).await;
}

/// A client that missed more than the history gets `reset`, never a part
/// of what it missed; one that missed no more than the history gets all of
/// it (the stream is trimmed approximately, so it holds more than
/// `history_len` entries: the limit must not cut a replay short).
#[tokio::test]
async fn a_resume_beyond_the_history_is_a_reset_never_a_partial_replay() {
    let redis = RedisServer::start();
    let config = HubConfig {
        history_len: 3,
        ..HubConfig::default()
    };
    let n = common::redis_node_with(RedisOptions::new(redis.url()), config).await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let res = n.publish("n", json!(i), json!({"all": true})).await;
        ids.push(res["id"].as_str().unwrap().to_string());
    }
    let token = n.token("alice", Role::User);
    let url = n.url(&format!("/api/sse/stream?token={token}"));
    // Missed 8 (ids 1..8) with a history of 3: reset first.
    let mut c = SseClient::open(&n.http, &url, Some(&ids[0])).await.unwrap();
    let first = c.next().await;
    assert_eq!(first.event, "reset", "got {first:?}");
    c.expect_silence(300).await;
    // Missed exactly 3: all of them, in order, then live.
    let mut c = SseClient::open(&n.http, &url, Some(&ids[5])).await.unwrap();
    for (i, id) in ids.iter().enumerate().skip(6) {
        let e = c.next().await;
        assert_eq!(
            (e.id.as_str(), e.data.as_str()),
            (id.as_str(), i.to_string().as_str())
        );
    }
    c.expect_silence(300).await;
    // A client that saw the stream empty, after events were trimmed away.
    let mut c = SseClient::open(&n.http, &url, Some("0-0")).await.unwrap();
    assert_eq!(c.next().await.event, "reset");
}

/// `rediss://`: the hub speaks TLS to a Redis that only speaks TLS, and
/// checks its certificate (a CA it was not told about is refused).
#[tokio::test]
async fn a_tls_redis_is_reached_with_rediss_urls_and_its_certificate_checked() {
    let redis = RedisServer::start_tls();
    assert!(redis.url().starts_with("rediss://"));
    // The system's trust store does not know the test CA.
    let untrusted = Hub::builder(HubConfig::default())
        .topic_authorizer(common::open_topics())
        .broker(BrokerConfig::Redis(RedisOptions::new(redis.url())))
        .build()
        .await;
    let err = untrusted.expect_err("an unknown CA is refused");
    let err = sse_hub::error::report(&err);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let mut options = RedisOptions::new(redis.url());
    options.tls_ca_cert = Some(redis.ca_cert());
    let (n1, n2) = (
        common::redis_node_with(options.clone(), HubConfig::default()).await,
        common::redis_node_with(options, HubConfig::default()).await,
    );
    let mut c = n2.connect("alice", Role::User, "").await;
    let res = n1
        .publish("hello", json!("over tls"), json!({"user": "alice"}))
        .await;
    let e = c.next().await;
    assert_eq!(
        (e.event.as_str(), e.data.as_str()),
        ("hello", "\"over tls\"")
    );
    assert_eq!(e.id, res["id"].as_str().unwrap());
}

/// A broker failure keeps the error behind it: what the hub was doing is
/// the message, the Redis error is its `source()`, and `report` prints both.
#[tokio::test]
async fn a_broker_failure_keeps_its_cause() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Hub::builder(HubConfig::default())
        .topic_authorizer(common::open_topics())
        .broker(BrokerConfig::Redis(RedisOptions::new(format!(
            "redis://127.0.0.1:{port}/0"
        ))))
        .build()
        .await
        .expect_err("no Redis there");
    assert!(
        matches!(err, sse_hub::HubError::BrokerUnavailable(_)),
        "{err:?}"
    );
    let broker = std::error::Error::source(&err).expect("the broker error");
    let cause = broker.source().expect("the error behind it");
    assert!(
        cause.downcast_ref::<redis::RedisError>().is_some(),
        "{cause:?}"
    );
    let report = sse_hub::error::report(&err);
    assert!(
        report.starts_with("broker unavailable: connecting to Redis: "),
        "{report}"
    );
}

/// An operator can tell a busy node or a slow Redis from a Redis that is
/// gone: a publish that Redis does not confirm in time is 503
/// `broker_timeout`, one beyond the node's queue of waiting publishes 503
/// `publish_queue_full` at once, and only a Redis that refuses
/// connections is 503 `broker_unavailable`.
#[tokio::test]
async fn a_slow_redis_a_full_queue_and_a_gone_redis_answer_each_its_own_code() {
    let mut redis = RedisServer::start_volatile(&["--enable-debug-command", "yes"]);
    let port = redis.port;
    let stall = |secs: &'static str| {
        std::thread::spawn(move || redis_server::redis_cli(port, &["DEBUG", "SLEEP", secs]))
    };

    // Slow: the deadline is the wait timeout and a second.
    let mut options = RedisOptions::new(redis.url());
    options.wait_timeout = Duration::from_millis(200);
    let n = redis_node_with(options, HubConfig::default()).await;
    n.publish("warm", json!(0), json!({"all": true})).await;
    let sleeping = stall("2");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let token = n.token("bot", Role::Publisher);
    let body = json!({"event": "n", "data": 1, "target": {"all": true}});
    let t = std::time::Instant::now();
    let (st, answer) = n.post("/api/sse/publish", &token, body.clone()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["code"], "broker_timeout", "{answer}");
    assert!(
        t.elapsed() < Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
    sleeping.join().unwrap();

    // A full queue: with replicas to wait for, publishes queue behind the
    // batch in flight; beyond the queue, a publish is refused at once.
    let mut options = RedisOptions::new(redis.url());
    options.wait_replicas = 1;
    options.wait_timeout = Duration::from_millis(200);
    let q = redis_node_with(options, HubConfig::default()).await;
    let _ = q
        .hub
        .publish(
            sse_hub::NewEvent::json("warm".parse().unwrap(), &0, sse_hub::Target::all()).unwrap(),
        )
        .await;
    let sleeping = stall("3");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut all = futures_util::stream::FuturesUnordered::new();
    for i in 0..8_600u32 {
        let hub = q.hub.clone();
        all.push(async move {
            let ev =
                sse_hub::NewEvent::json("n".parse().unwrap(), &i, sse_hub::Target::all()).unwrap();
            let t = std::time::Instant::now();
            (hub.publish(ev).await, t.elapsed())
        });
    }
    let mut full = 0;
    while let Some((r, took)) = futures_util::StreamExt::next(&mut all).await {
        if let Err(sse_hub::HubError::PublishQueueFull(_)) = r {
            assert!(took < Duration::from_millis(500), "refused after {took:?}");
            full += 1;
        }
    }
    sleeping.join().unwrap();
    assert!(full > 0, "no publish was refused for a full queue");
    let refused = sse_hub::ApiError::from(sse_hub::HubError::PublishQueueFull(8192));
    let res = axum::response::IntoResponse::into_response(refused);
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));

    // Gone: refused connections.
    redis.stop();
    let (st, answer) = n.post("/api/sse/publish", &token, body).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["code"], "broker_unavailable", "{answer}");
}

/// Sums over nodes mean what they say: `sse_hub_events_published_total`
/// counts publishes through each node (the cluster's total is the sum),
/// `sse_hub_events_ingested_total` what each node read (every event, on
/// every node), and failures are on `/metrics` too.
#[tokio::test]
async fn published_counts_add_up_across_nodes_and_failures_are_exported() {
    let mut redis = RedisServer::start_volatile(&[]);
    let (n1, n2) = (node(&redis).await, node(&redis).await);
    for i in 0..3 {
        n1.publish("n", json!(i), json!({"all": true})).await;
    }
    for i in 0..2 {
        n2.publish("n", json!(i), json!({"all": true})).await;
    }
    let value = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}: {text}"))
            .parse()
            .unwrap()
    };
    for _ in 0..50 {
        if value(&n1.metrics().await, "sse_hub_events_ingested_total") == 5
            && value(&n2.metrics().await, "sse_hub_events_ingested_total") == 5
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (m1, m2) = (n1.metrics().await, n2.metrics().await);
    assert_eq!(value(&m1, "sse_hub_events_published_total"), 3);
    assert_eq!(value(&m2, "sse_hub_events_published_total"), 2);
    assert_eq!(value(&m1, "sse_hub_events_ingested_total"), 5);
    assert_eq!(value(&m2, "sse_hub_events_ingested_total"), 5);
    assert_eq!(value(&m1, "sse_hub_publish_failures_total"), 0);

    redis.stop();
    let token = n1.token("bot", Role::Publisher);
    let (st, _) = n1
        .post(
            "/api/sse/publish",
            &token,
            json!({"event": "n", "data": 1, "target": {"all": true}}),
        )
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let m1 = n1.metrics().await;
    assert_eq!(value(&m1, "sse_hub_publish_failures_total"), 1);
    assert_eq!(value(&m1, "sse_hub_events_published_total"), 3);
    for _ in 0..60 {
        if value(&n1.metrics().await, "sse_hub_broker_errors_total") > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no broker error counted with Redis gone");
}
