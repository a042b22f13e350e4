//! One contract, every broker: the same scenarios run against the memory
//! broker, a real redis-server, Redis behind three real sentinels, and the
//! seam test engine (`common/bus.rs`), and must answer the same. Where the
//! engine has nodes, events are published on one and read on the other.
//!
//! Scenarios: a resume replays exactly what was missed; a resume over
//! several channels that missed more in total than one channel keeps (but
//! not more in any one) replays all of it; missing more than a channel
//! keeps is a `reset`; the history API; idempotency keys (also after their
//! event left the history); presence.

use crate::common;
use crate::common::bus;
use sse_testkit::redis_server;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use redis_server::{RedisServer, Sentinels};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{Hub, HubConfig, Role, TopicPattern};

/// History of 5 events per channel; presence in `room.*`.
fn config() -> HubConfig {
    HubConfig {
        history_len: 5,
        presence_topics: TopicPattern::parse_all(&["room.*"]).unwrap(),
        ..HubConfig::default()
    }
}

#[derive(Debug, Clone, Copy)]
enum Engine {
    Memory,
    Redis,
    Sentinel,
    Bus,
}

/// Two nodes (one, twice, for the memory broker) and what they run on.
struct Cluster {
    publisher: TestServer,
    reader: Option<TestServer>,
    _redis: Vec<RedisServer>,
    _sentinels: Option<Sentinels>,
}

impl Cluster {
    fn reader(&self) -> &TestServer {
        self.reader.as_ref().unwrap_or(&self.publisher)
    }
}

async fn bus_node(log: &Arc<bus::Log>) -> TestServer {
    let hub = Hub::builder(config())
        .topic_authorizer(open_topics())
        .broker_engine(Arc::new(bus::Bus(log.clone())))
        .build()
        .await
        .unwrap();
    serve(hub, test_auth()).await
}

async fn cluster(engine: Engine) -> Cluster {
    match engine {
        Engine::Memory => Cluster {
            publisher: server_with(config()).await,
            reader: None,
            _redis: Vec::new(),
            _sentinels: None,
        },
        Engine::Redis => {
            let redis = RedisServer::start();
            Cluster {
                publisher: redis_node(&redis.url(), config()).await,
                reader: Some(redis_node(&redis.url(), config()).await),
                _redis: vec![redis],
                _sentinels: None,
            }
        }
        Engine::Sentinel => {
            let primary = RedisServer::start_volatile(&[]);
            let replica = RedisServer::start_replica(primary.port);
            let sentinels = Sentinels::start(primary.port);
            let url = sentinels.url();
            Cluster {
                publisher: redis_node(&url, config()).await,
                reader: Some(redis_node(&url, config()).await),
                _redis: vec![primary, replica],
                _sentinels: Some(sentinels),
            }
        }
        Engine::Bus => {
            let log = Arc::new(bus::Log::default());
            Cluster {
                publisher: bus_node(&log).await,
                reader: Some(bus_node(&log).await),
                _redis: Vec::new(),
                _sentinels: None,
            }
        }
    }
}

/// Publishes; returns the event's id.
async fn publish(s: &TestServer, data: Value, target: Value) -> String {
    let body = s.publish("n", data, target).await;
    body["id"].as_str().unwrap().to_string()
}

/// Waits until the reader node has delivered `last` (with a lagging
/// engine, events published before a resume could otherwise still arrive
/// live after it, which is right, but not what these scenarios count).
async fn settled(c: &Cluster, last: &str) {
    let last: sse_hub::EventId = last.parse().unwrap();
    for _ in 0..200 {
        if c.reader().hub.head() >= last {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the reader node never delivered {last}");
}

/// Opens alice's stream on `s` (topics `t1`) resuming from `after`.
async fn resume(s: &TestServer, after: &str) -> SseClient {
    let token = s.token("alice", Role::User);
    let url = s.url(&format!("/api/sse/stream?token={token}&topics=t1"));
    SseClient::open(&s.http, &url, Some(after)).await.unwrap()
}

/// The next `n` events of `c`: `(id, data)`.
async fn take(c: &mut SseClient, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = c.next_within(10).await.expect("stream open");
        out.push((e.id.clone(), e.data.clone()));
        if e.event == "reset" {
            break;
        }
    }
    out
}

async fn resume_replays_exactly_what_was_missed(engine: Engine) {
    let c = cluster(engine).await;
    let first = publish(&c.publisher, json!(0), json!({"all": true})).await;
    let mut want = Vec::new();
    for i in 1..4 {
        let id = publish(&c.publisher, json!(i), json!({"all": true})).await;
        want.push((id, i.to_string()));
    }
    settled(&c, &want[2].0).await;
    let mut s = resume(c.reader(), &first).await;
    assert_eq!(take(&mut s, 3).await, want, "{engine:?}");
    s.expect_silence(300).await;
}

/// 12 events missed over three channels (everyone, alice, topic t1), 4 in
/// each: more than one channel keeps (5), but no channel lost any.
async fn a_merged_resume_replays_every_channel(engine: Engine) {
    let c = cluster(engine).await;
    let first = publish(&c.publisher, json!("start"), json!({"all": true})).await;
    let mut want = Vec::new();
    for i in 0..4 {
        for target in [
            json!({"all": true}),
            json!({"user": "alice"}),
            json!({"topic": "t1"}),
        ] {
            let data = format!("{i}-{}", want.len());
            let id = publish(&c.publisher, json!(data), target).await;
            want.push((id, format!("\"{data}\"")));
        }
    }
    settled(&c, &want[11].0).await;
    let mut s = resume(c.reader(), &first).await;
    assert_eq!(take(&mut s, 12).await, want, "{engine:?}");
    s.expect_silence(300).await;
}

async fn missing_more_than_a_channel_keeps_is_a_reset(engine: Engine) {
    let c = cluster(engine).await;
    let first = publish(&c.publisher, json!("start"), json!({"all": true})).await;
    let mut last = first.clone();
    for i in 0..8 {
        last = publish(&c.publisher, json!(i), json!({"all": true})).await;
    }
    settled(&c, &last).await;
    let mut s = resume(c.reader(), &first).await;
    let e = s.next_within(10).await.unwrap();
    assert_eq!(e.event, "reset", "{engine:?}: {e:?}");
    s.expect_silence(300).await;
}

async fn the_history_api_answers_the_same(engine: Engine) {
    let c = cluster(engine).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(publish(&c.publisher, json!(i), json!({"topic": "t1"})).await);
        publish(&c.publisher, json!("other"), json!({"topic": "t2"})).await;
    }
    let last = publish(&c.publisher, json!("end"), json!({"topic": "t2"})).await;
    settled(&c, &last).await;
    let token = c.reader().token("alice", Role::User);
    let (st, body) = c
        .reader()
        .get("/api/sse/history?topic=t1&limit=3", &token)
        .await;
    assert_eq!(st, StatusCode::OK, "{engine:?}: {body}");
    let got: Vec<(String, String)> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().into(),
                e["data"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = (1..4).map(|i| (ids[i].clone(), i.to_string())).collect();
    assert_eq!(got, want, "{engine:?}");
}

async fn an_idempotency_key_publishes_once(engine: Engine) {
    let c = cluster(engine).await;
    let token = c.publisher.token("bot", Role::Publisher);
    let body = json!({"event": "n", "data": 1, "id": "order-42", "target": {"all": true}});
    let (st, first) = c
        .publisher
        .post("/api/sse/publish", &token, body.clone())
        .await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let token_b = c.reader().token("bot", Role::Publisher);
    let (st, again) = c.reader().post("/api/sse/publish", &token_b, body).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"], "{engine:?}");
    assert_eq!(
        (first["duplicate"].as_bool(), again["duplicate"].as_bool()),
        (Some(false), Some(true)),
        "{engine:?}"
    );
}

/// A key outlives its event's place in the history: the event, sent to
/// two users, leaves both their logs (5 events each here), and a retry
/// within the history age is still a duplicate, as every engine answers.
async fn an_idempotency_key_outlives_its_event_in_the_history(engine: Engine) {
    let c = cluster(engine).await;
    let token = c.publisher.token("bot", Role::Publisher);
    let body = json!({"event": "n", "data": 1, "id": "order-7",
                      "target": {"users": ["ann", "bob"]}});
    let (st, first) = c
        .publisher
        .post("/api/sse/publish", &token, body.clone())
        .await;
    assert_eq!(st, StatusCode::OK, "{first}");
    for n in 0..6 {
        publish(&c.publisher, json!(n), json!({"user": "ann"})).await;
        publish(&c.publisher, json!(n), json!({"user": "bob"})).await;
    }
    let token_b = c.reader().token("bot", Role::Publisher);
    let (st, again) = c.reader().post("/api/sse/publish", &token_b, body).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"], "{engine:?}: {again}");
    assert_eq!(again["duplicate"], true, "{engine:?}: {again}");
}

async fn presence_is_seen_from_every_node(engine: Engine) {
    let c = cluster(engine).await;
    let _alice = c
        .publisher
        .connect("alice", Role::User, "topics=room.1")
        .await;
    let token = c.reader().token("bob", Role::User);
    let mut last = Value::Null;
    for _ in 0..100 {
        let (st, body) = c
            .reader()
            .get("/api/sse/presence?topic=room.1", &token)
            .await;
        assert_eq!(st, StatusCode::OK, "{engine:?}: {body}");
        if body["total"] == 1 {
            assert_eq!(body["users"][0]["userId"], "alice", "{engine:?}");
            return;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{engine:?}: alice never showed: {last}");
}

macro_rules! contract {
    ($($scenario:ident),* $(,)?) => {
        mod memory { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Engine::Memory).await } )* }
        mod redis { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Engine::Redis).await } )* }
        mod sentinel { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Engine::Sentinel).await } )* }
        mod seam { $( #[tokio::test] async fn $scenario() { super::$scenario(super::Engine::Bus).await } )* }
    };
}

contract!(
    resume_replays_exactly_what_was_missed,
    a_merged_resume_replays_every_channel,
    missing_more_than_a_channel_keeps_is_a_reset,
    the_history_api_answers_the_same,
    an_idempotency_key_publishes_once,
    an_idempotency_key_outlives_its_event_in_the_history,
    presence_is_seen_from_every_node,
);
