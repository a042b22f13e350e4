//! Presence against real servers: who is in a topic, and `presence.join`
//! / `presence.leave`, with the memory broker and across two nodes on a
//! real redis-server. (A node killed outright: `server/tests/presence.rs`.)

use crate::common;
use sse_testkit::redis_server;

use std::time::Duration;

use common::*;
use redis_server::RedisServer;
use reqwest::StatusCode;
use serde_json::Value;
use sse_hub::{Hub, HubConfig, Role, TopicPattern};

fn config() -> HubConfig {
    HubConfig {
        presence_topics: TopicPattern::parse_all(&["room.*"]).unwrap(),
        ..HubConfig::default()
    }
}

async fn memory_node() -> TestServer {
    server_with(config()).await
}

/// The next presence event on `c`: `(event, userId)`.
async fn next_presence(c: &mut SseClient) -> (String, String) {
    loop {
        let e = c.next_within(15).await.expect("stream open");
        if e.event.starts_with("presence.") {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(v["topic"], "room.1");
            assert!(v["at"].as_u64().unwrap() > 0);
            return (e.event, v["userId"].as_str().unwrap().to_string());
        }
    }
}

/// `GET /api/sse/presence?topic=room.1` as `token`, polled until `want`
/// (userId, connections) pairs show (or 10 s pass).
async fn presence_until(s: &TestServer, token: &str, want: &[(&str, u64)]) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (st, body) = s.get("/api/sse/presence?topic=room.1", token).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let got: Vec<(String, u64)> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["userId"].as_str().unwrap().to_string(),
                    u["connections"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = want.iter().map(|(u, n)| (u.to_string(), *n)).collect();
        if got == want {
            assert_eq!(body["total"], want.len() as u64);
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("presence never became {want:?}: {last}");
}

/// Ann comes and goes on `a` while Bob watches on `b` (the same node with
/// the memory broker).
async fn joins_and_leaves(a: &TestServer, b: &TestServer) {
    let bob_token = b.token("bob", Role::User);
    let mut bob = b.connect("bob", Role::User, "topics=room.1").await;
    assert_eq!(
        next_presence(&mut bob).await,
        ("presence.join".into(), "bob".into())
    );
    let ann1 = a.connect("ann", Role::User, "topics=room.1").await;
    assert_eq!(
        next_presence(&mut bob).await,
        ("presence.join".into(), "ann".into())
    );
    presence_until(b, &bob_token, &[("ann", 1), ("bob", 1)]).await;
    // A second connection of Ann's: counted, not announced.
    let ann2 = b.connect("ann", Role::User, "topics=room.1").await;
    presence_until(b, &bob_token, &[("ann", 2), ("bob", 1)]).await;
    drop(ann1);
    presence_until(b, &bob_token, &[("ann", 1), ("bob", 1)]).await;
    drop(ann2);
    assert_eq!(
        next_presence(&mut bob).await,
        ("presence.leave".into(), "ann".into())
    );
    presence_until(b, &bob_token, &[("bob", 1)]).await;
    bob.expect_silence(1500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_with_the_memory_broker() {
    let s = memory_node().await;
    joins_and_leaves(&s, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_across_two_redis_nodes() {
    let redis = RedisServer::start();
    let (a, b) = (
        redis_node(&redis.url(), config()).await,
        redis_node(&redis.url(), config()).await,
    );
    joins_and_leaves(&a, &b).await;
}

#[tokio::test]
async fn presence_obeys_grants_and_is_off_elsewhere() {
    let hub = Hub::builder(config()).build().await.unwrap();
    let s = serve(hub, test_auth()).await;
    let user = s.token("ann", Role::User);
    let (st, body) = s.get("/api/sse/presence?topic=room.1", &user).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("topic_forbidden"))
    );
    let admin = s.token("root", Role::Admin);
    let (st, body) = s.get("/api/sse/presence?topic=lobby", &admin).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    for q in ["", "topic=a%0Ab", "topic=room.1&x=1"] {
        let (st, _) = s.get(&format!("/api/sse/presence?{q}"), &admin).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{q}");
    }
    let (st, body) = s.get("/api/sse/presence?topic=room.1", &admin).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["total"], 0);
}
