//! No-loss chaos: 200 real SSE clients drop and reconnect at random with
//! `Last-Event-ID` while events are published continuously. At the end every
//! client must hold exactly the events meant for it, once each, in order —
//! with the memory broker, and with Redis across two nodes one of which is
//! restarted mid-run.

use crate::common;
use sse_testkit::redis_server;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use parking_lot::RwLock;
use rand::Rng;
use redis_server::RedisServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::broker::RedisOptions;
use sse_hub::{BrokerConfig, Hub, HubConfig, Role};

const CLIENTS: usize = 200;
const USERS: usize = 20;
const EVENTS: usize = 400;

fn config() -> HubConfig {
    HubConfig {
        max_connections_per_user: 64,
        ..HubConfig::default()
    }
}

/// What one client saw: event ids and payloads, in arrival order.
/// `ready` is counted down once the first stream is open, so publishing
/// starts only when every client is subscribed (a client never connected
/// could not expect the first events).
async fn client(
    nodes: Arc<RwLock<Vec<String>>>,
    token: String,
    seed: u64,
    ready: Arc<tokio::sync::Barrier>,
) -> Vec<(String, u64)> {
    let mut ready = Some(ready);
    let http = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut last_id: Option<String> = None;
    let mut got: Vec<(String, u64)> = Vec::new();
    loop {
        let base = {
            let n = nodes.read();
            n[rng.random_range(0..n.len())].clone()
        };
        let mut req = http.get(format!("{base}/api/sse/stream?token={token}"));
        if let Some(id) = &last_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = match req.send().await {
            Ok(r) if r.status() == StatusCode::OK => r,
            _ => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let mut events = res.bytes_stream().eventsource();
        let budget = rng.random_range(1..40);
        let mut seen = 0;
        while let Ok(Some(Ok(e))) =
            tokio::time::timeout(Duration::from_secs(20), events.next()).await
        {
            match e.event.as_str() {
                "connected" => {
                    last_id = Some(e.id.clone());
                    if let Some(r) = ready.take() {
                        r.wait().await;
                    }
                }
                "reset" => panic!("history must cover every gap in this test, got reset"),
                "shutdown" => break,
                "end" => return got,
                "n" => {
                    got.push((e.id.clone(), e.data.parse().unwrap()));
                    last_id = Some(e.id.clone());
                    seen += 1;
                    if seen >= budget {
                        break;
                    }
                }
                other => panic!("unexpected event {other}"),
            }
        }
        if rng.random_bool(0.5) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
        }
    }
}

use eventsource_stream::Eventsource;
use rand::SeedableRng;

/// Publishes `EVENTS` events (a third to everyone, the rest to one user
/// each) through random nodes; returns (id, number, user or None for all).
async fn publisher(
    nodes: Arc<RwLock<Vec<String>>>,
    token: String,
) -> Vec<(String, u64, Option<usize>)> {
    let http = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut log = Vec::new();
    for k in 0..EVENTS as u64 {
        let user = (k % 3 != 0).then(|| rng.random_range(0..USERS));
        let target = match user {
            None => json!({"all": true}),
            Some(u) => json!({"user": format!("u{u}")}),
        };
        let body = json!({"event": "n", "data": k, "target": target});
        loop {
            let base = {
                let n = nodes.read();
                n[rng.random_range(0..n.len())].clone()
            };
            let res = http
                .post(format!("{base}/api/sse/publish"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            if let Ok(r) = res {
                if r.status() == StatusCode::OK {
                    let v: Value = r.json().await.unwrap();
                    log.push((v["id"].as_str().unwrap().to_string(), k, user));
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    log
}

async fn finish(nodes: &Arc<RwLock<Vec<String>>>, token: &str) {
    let base = nodes.read()[0].clone();
    let res = reqwest::Client::new()
        .post(format!("{base}/api/sse/publish"))
        .bearer_auth(token)
        .json(&json!({"event": "end", "data": null, "target": {"all": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn check(log: &[(String, u64, Option<usize>)], results: Vec<Vec<(String, u64)>>) {
    let mut total = 0;
    for (i, got) in results.into_iter().enumerate() {
        let user = i % USERS;
        let want: Vec<(String, u64)> = log
            .iter()
            .filter(|(_, _, u)| u.is_none() || *u == Some(user))
            .map(|(id, k, _)| (id.clone(), *k))
            .collect();
        assert_eq!(
            got.len(),
            want.len(),
            "client {i} (u{user}): {} events, expected {}",
            got.len(),
            want.len()
        );
        assert_eq!(
            got, want,
            "client {i} (u{user}) saw events out of order, twice, or someone else's"
        );
        total += got.len();
    }
    println!(
        "chaos: {} clients received {total} events, each exactly once and in order",
        CLIENTS
    );
}

async fn run(
    nodes: Arc<RwLock<Vec<String>>>,
    s: &TestServer,
    during: impl std::future::Future<Output = ()>,
) {
    let mut clients = Vec::new();
    let ready = Arc::new(tokio::sync::Barrier::new(CLIENTS + 1));
    for i in 0..CLIENTS {
        let token = s.token(&format!("u{}", i % USERS), Role::User);
        clients.push(tokio::spawn(client(
            nodes.clone(),
            token,
            i as u64,
            ready.clone(),
        )));
    }
    tokio::time::timeout(Duration::from_secs(30), ready.wait())
        .await
        .expect("all clients connected");
    let publisher_token = s.token("chaos-publisher", Role::Publisher);
    let (log, ()) = tokio::join!(publisher(nodes.clone(), publisher_token.clone()), during);
    finish(&nodes, &publisher_token).await;
    let mut results = Vec::new();
    for c in clients {
        results.push(
            tokio::time::timeout(Duration::from_secs(60), c)
                .await
                .expect("client finished")
                .unwrap(),
        );
    }
    check(&log, results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_loss_under_random_reconnects_memory_broker() {
    let s = server_with(config()).await;
    let nodes = Arc::new(RwLock::new(vec![s.url("")]));
    run(nodes, &s, async {}).await;
    let stats = s.hub.stats();
    assert!(
        stats.replayed_events > 0,
        "the run must have exercised replay"
    );
    assert_eq!(stats.resets_sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_loss_across_two_redis_nodes_with_a_node_restart() {
    let redis = RedisServer::start();
    let n1 = common::redis_node(&redis.url(), config()).await;
    let n2 = common::redis_node(&redis.url(), config()).await;
    let nodes = Arc::new(RwLock::new(vec![n1.url(""), n2.url("")]));
    let restart = {
        let nodes = nodes.clone();
        let redis_url = redis.url();
        async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            // Node 2 goes away: its streams end, its URL leaves the pool...
            let gone = n2.url("");
            nodes.write().retain(|u| *u != gone);
            n2.hub.shutdown();
            drop(n2);
            tokio::time::sleep(Duration::from_millis(300)).await;
            // ...and a fresh node joins from nothing but Redis.
            let auth = test_auth();
            let hub = Hub::builder(config())
                .topic_authorizer(common::open_topics())
                .broker(BrokerConfig::Redis(RedisOptions::new(redis_url)))
                .build()
                .await
                .unwrap();
            let n3 = serve(hub, auth).await;
            nodes.write().push(n3.url(""));
            // Keep node 3 up until the end of the run.
            std::mem::forget(n3);
        }
    };
    run(nodes, &n1, restart).await;
}
