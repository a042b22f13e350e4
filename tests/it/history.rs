//! Per-channel history, the history API and `?rewind=`, with the memory
//! broker and with a real redis-server: a busy topic never evicts a quiet
//! user's missed event; rewind joins live delivery with no gap or
//! duplicate under concurrent publishing.

use crate::common;
use sse_testkit::redis_server;

use std::time::Duration;

use common::*;
use redis_server::RedisServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{Hub, HubConfig, Role};

fn config() -> HubConfig {
    HubConfig {
        history_len: 20,
        ..HubConfig::default()
    }
}

async fn memory_node() -> TestServer {
    server_with(config()).await
}

/// Publishes through `s` as a publisher; the event's id.
async fn publish(s: &TestServer, event: &str, data: Value, target: Value) -> String {
    s.publish(event, data, target).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn busy_topic_keeps_quiet_users_history(s: &TestServer) {
    let mut ann = s.connect("ann", Role::User, "").await;
    let from = ann.connected["lastEventId"].as_str().unwrap().to_string();
    ann.expect_silence(50).await;
    drop(ann);
    publish(s, "note", json!("for ann"), json!({"user": "ann"})).await;
    // Ten times the history length on a busy topic.
    for i in 0..200 {
        publish(s, "tick", json!(i), json!({"topic": "busy"})).await;
    }
    let token = s.token("ann", Role::User);
    let url = s.url("/api/sse/stream");
    let mut ann = SseClient::open_with_token(&s.http, &url, &token, Some(&from))
        .await
        .unwrap();
    let e = ann.next().await;
    assert_eq!((e.event.as_str(), e.data.as_str()), ("note", "\"for ann\""));
    ann.expect_silence(300).await;
    // A reader of the busy topic from that far back gets a reset.
    let url = s.url("/api/sse/stream?topics=busy");
    let mut bob =
        SseClient::open_with_token(&s.http, &url, &s.token("bob", Role::User), Some(&from))
            .await
            .unwrap();
    assert_eq!(bob.next().await.event, "reset");
}

#[tokio::test]
async fn a_busy_topic_never_evicts_a_quiet_users_event_memory() {
    busy_topic_keeps_quiet_users_history(&memory_node().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_topic_never_evicts_a_quiet_users_event_redis() {
    let redis = RedisServer::start();
    busy_topic_keeps_quiet_users_history(&redis_node(&redis.url(), config()).await).await;
}

/// Opens `?topics=live&rewind=50` while 400 numbered events are published
/// to `live` as fast as the hub takes them; the stream must start before
/// the connect (the rewind) and hold a run of consecutive numbers from its
/// first event to the last one published.
async fn rewind_joins_live_delivery(publisher: &TestServer, reader: &TestServer) {
    for i in 0..60u32 {
        publish(publisher, "n", json!(i), json!({"topic": "live"})).await;
    }
    let total = 400u32;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(59));
    let p = {
        let url = publisher.url("/api/sse/publish");
        let token = publisher.token("feeder", Role::Publisher);
        let http = publisher.http.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            for i in 60..total {
                let res = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"event": "n", "data": i, "target": {"topic": "live"}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                acked.store(i, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = acked.load(std::sync::atomic::Ordering::SeqCst);
    let mut c = reader
        .connect("viewer", Role::User, "topics=live&rewind=50")
        .await;
    let mut seen = Vec::new();
    while seen.last() != Some(&(total - 1)) {
        let e = c.next_within(10).await.expect("stream open");
        assert_eq!(e.event, "n");
        seen.push(e.data.parse::<u32>().unwrap());
    }
    p.await.unwrap();
    let first = seen[0];
    assert!(
        first <= before,
        "the rewind starts before the connect: {first} > {before}"
    );
    assert_eq!(
        seen,
        (first..total).collect::<Vec<_>>(),
        "no gap, no duplicate, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewind_joins_live_delivery_memory() {
    let s = memory_node().await;
    rewind_joins_live_delivery(&s, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewind_joins_live_delivery_across_redis_nodes() {
    let redis = RedisServer::start();
    let (a, b) = (
        redis_node(&redis.url(), config()).await,
        redis_node(&redis.url(), config()).await,
    );
    rewind_joins_live_delivery(&a, &b).await;
}

async fn history_api(publisher: &TestServer, reader: &TestServer) {
    for i in 0..30 {
        publish(publisher, "n", json!(i), json!({"topic": "news"})).await;
    }
    publish(publisher, "dm", json!("hi ann"), json!({"user": "ann"})).await;
    publish(publisher, "dm", json!("hi bob"), json!({"user": "bob"})).await;
    let ann = reader.token("ann", Role::User);
    // The stream's head may trail a Redis publish by a read.
    let mut page = Value::Null;
    for _ in 0..50 {
        let (st, body) = reader
            .get("/api/sse/history?topic=news&limit=5", &ann)
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        page = body;
        if page["events"]
            .as_array()
            .unwrap()
            .last()
            .map(|e| e["data"].clone())
            == Some(json!("29"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"].as_str().unwrap())
        .collect();
    assert_eq!(
        data,
        vec!["25", "26", "27", "28", "29"],
        "the newest five, oldest first"
    );
    assert!(page["head"].is_string());
    let (_, mine) = reader.get("/api/sse/history?user=me", &ann).await;
    assert_eq!(mine["events"].as_array().unwrap().len(), 1);
    assert_eq!(mine["events"][0]["data"], "\"hi ann\"");
    // Another user's: admins only.
    let (st, body) = reader.get("/api/sse/history?user=bob", &ann).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let admin = reader.token("root", Role::Admin);
    let (st, bob) = reader.get("/api/sse/history?user=bob", &admin).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(bob["events"][0]["data"], "\"hi bob\"");
    // Bounds: every bad request is 400 JSON.
    for q in [
        "topic=news&limit=0",
        "topic=news&limit=101",
        "topic=news&limit=x",
        "",
        "topic=news&user=me",
        "topic=a%0Ab",
        "what=1",
    ] {
        let (st, body) = reader.get(&format!("/api/sse/history?{q}"), &ann).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert!(body["error"].is_string());
    }
    let (st, _) = reader.get("/api/sse/history?topic=news", "").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_history_api_memory() {
    let s = memory_node().await;
    history_api(&s, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_api_across_redis_nodes() {
    let redis = RedisServer::start();
    let (a, b) = (
        redis_node(&redis.url(), config()).await,
        redis_node(&redis.url(), config()).await,
    );
    history_api(&a, &b).await;
}

#[tokio::test]
async fn history_obeys_topic_grants() {
    // The binary's default: no public topics.
    let hub = Hub::builder(config()).build().await.unwrap();
    let s = serve(hub, test_auth()).await;
    publish(&s, "n", json!(1), json!({"topic": "secret"})).await;
    let (st, body) = s
        .get("/api/sse/history?topic=secret", &s.token("ann", Role::User))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "topic_forbidden");
    let (st, _) = s
        .get(
            "/api/sse/history?topic=secret",
            &s.token("root", Role::Admin),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = s
        .get(
            "/api/sse/stream?topics=secret&rewind=101",
            &s.token("root", Role::Admin),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
}
