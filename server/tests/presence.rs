//! A node that dies without cleaning up: two real binaries share a real
//! redis-server; a user on node A is in a presence topic; node A is killed
//! with SIGKILL. A watcher on node B must get `presence.leave` for that
//! user, and B's presence answer must drop them, within 20 s.

use sse_testkit::redis_server;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use redis_server::RedisServer;
use serde_json::Value;
use support::Running;

const SECRET: &str = "presence-secret-0123456789abcdef01";

fn node(redis: &RedisServer) -> Running {
    support::run(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--log", "warn", "--demo", "false"])
            .args(["--jwt-secret", SECRET, "--broker", &redis.url()])
            .args(["--public-topics", "room", "--presence-topics", "room"])
            .env_remove("HUB_DEMO")
            .stderr(Stdio::inherit()),
    )
}

fn token(user: &str) -> String {
    sse_hub::Auth::hs256(SECRET.as_bytes())
        .issue(
            &sse_hub::UserId::new(user).unwrap(),
            sse_hub::Role::User,
            Duration::from_secs(600),
        )
        .unwrap()
}

type Events = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

async fn join(http: &reqwest::Client, node: &Running, user: &str) -> Events {
    let res = http
        .get(format!("{}/api/sse/stream?topics=room", node.base))
        .bearer_auth(token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    Box::pin(res.bytes_stream().eventsource())
}

/// The next presence event: `(event, userId)`.
async fn next_presence(events: &mut Events, within: Duration) -> (String, String) {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = tokio::time::timeout(left, events.next())
            .await
            .expect("a presence event in time")
            .expect("stream open")
            .expect("valid SSE");
        if e.event.starts_with("presence.") {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            return (e.event, v["userId"].as_str().unwrap().to_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_stops_counting_and_its_users_leave_within_20_s() {
    let redis = RedisServer::start();
    let a = node(&redis);
    let b = node(&redis);
    let http = reqwest::Client::new();
    let mut bob = join(&http, &b, "bob").await;
    let second = Duration::from_secs(5);
    assert_eq!(
        next_presence(&mut bob, second).await,
        ("presence.join".into(), "bob".into())
    );
    let _ann = join(&http, &a, "ann").await;
    assert_eq!(
        next_presence(&mut bob, second).await,
        ("presence.join".into(), "ann".into())
    );

    let killed = Instant::now();
    assert!(Command::new("kill")
        .args(["-KILL", &a.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(
        next_presence(&mut bob, Duration::from_secs(20)).await,
        ("presence.leave".into(), "ann".into())
    );
    let took = killed.elapsed();
    let page: Value = http
        .get(format!("{}/api/sse/presence?topic=room", b.base))
        .bearer_auth(token("bob"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["users"][0]["userId"], "bob");
    eprintln!("presence.leave for the killed node's user after {took:?}");
    assert!(took < Duration::from_secs(20));
}
