//! A node that stalls while the cluster goes on: two real binaries share a
//! real redis-server with `--history-len 100`; node A is stopped (SIGSTOP:
//! a VM pause, a throttled CPU) while node B publishes ten times the
//! history, then woken (SIGCONT). The shared stream was trimmed past A's
//! position in the meantime. Each of A's streams must then get every event
//! meant for it exactly once, in order, or a `reset` and everything after
//! it: never a silent gap. Ann's topic published less than its history
//! holds (she gets everything, replayed); Bob's published more (he gets a
//! `reset`).

use sse_testkit::redis_server;
mod support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use redis_server::RedisServer;
use serde_json::{json, Value};
use support::Running;

const SECRET: &str = "stall-secret-0123456789abcdef0123";

fn node(redis: &RedisServer) -> Running {
    support::run(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", "127.0.0.1:0", "--log", "warn", "--demo", "false"])
            .args(["--jwt-secret", SECRET, "--broker", &redis.url()])
            .args(["--history-len", "100", "--public-topics", "quiet,busy"])
            .env_remove("HUB_DEMO")
            .stderr(Stdio::inherit()),
    )
}

fn token(user: &str, role: sse_hub::Role) -> String {
    sse_hub::Auth::hs256(SECRET.as_bytes())
        .issue(
            &sse_hub::UserId::new(user).unwrap(),
            role,
            Duration::from_secs(600),
        )
        .unwrap()
}

fn signal(node: &Running, sig: &str) {
    assert!(Command::new("kill")
        .args([sig, &node.child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// What a stream received: `(event, id)` of every event after `connected`.
type Received = Vec<(String, String)>;

/// Reads `user`'s stream on `node` (subscribed to `topic`) until an event
/// named `last` arrives, or 30 s pass.
async fn read_until(
    http: reqwest::Client,
    base: String,
    user: &'static str,
    topic: &'static str,
    opened: tokio::sync::oneshot::Sender<()>,
) -> Received {
    let res = http
        .get(format!("{base}/api/sse/stream?topics={topic}"))
        .bearer_auth(token(user, sse_hub::Role::User))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut events = Box::pin(res.bytes_stream().eventsource());
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.event, "connected");
    opened.send(()).unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let e = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(Ok(e))) => e,
            other => panic!("{user}'s stream ended or stalled: {other:?}; got {got:?}"),
        };
        let done = e.event == "last";
        got.push((e.event, e.id));
        if done {
            return got;
        }
    }
}

async fn publish(http: &reqwest::Client, node: &Running, event: &str, target: Value) -> String {
    let res = http
        .post(format!("{}/api/sse/publish", node.base))
        .bearer_auth(token("pub", sse_hub::Role::Admin))
        .json(&json!({"event": event, "data": 1, "target": target}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// Checks `got` against what was published for this stream (`(event, id)`
/// in id order): all of it once and in order, or, from a `reset` on,
/// everything published after the reset's id. Returns whether a reset came.
fn every_event_once_or_reset(who: &str, got: &Received, meant: &[(String, String)]) -> bool {
    let id = |s: &str| -> (u64, u64) {
        let (a, b) = s.split_once('-').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let mut seen = HashMap::new();
    for (_, i) in got.iter().filter(|(e, _)| e != "reset") {
        *seen.entry(i.clone()).or_insert(0) += 1;
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "{who} got an event twice: {got:?}"
    );
    match got.iter().rposition(|(e, _)| e == "reset") {
        None => {
            assert_eq!(
                got.len(),
                meant.len(),
                "{who}: {} of {} events and no reset (a silent gap)",
                got.len(),
                meant.len()
            );
            assert_eq!(got, meant, "{who}: not every event once, in order");
            false
        }
        Some(r) => {
            let at = id(&got[r].1);
            let before: Vec<_> = meant.iter().take_while(|(_, i)| id(i) <= at).collect();
            let after: Vec<_> = meant.iter().filter(|(_, i)| id(i) > at).cloned().collect();
            assert!(
                got[..r].iter().all(|g| before.contains(&g)),
                "{who}: an event before the reset that was not meant for them"
            );
            assert_eq!(
                got[r + 1..].to_vec(),
                after,
                "{who}: after the reset, not everything once, in order"
            );
            true
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_node_whose_position_was_trimmed_replays_or_resets_never_skips() {
    let redis = RedisServer::start();
    let a = node(&redis);
    let b = node(&redis);
    let http = reqwest::Client::new();

    let (ann_open, ann_opened) = tokio::sync::oneshot::channel();
    let (bob_open, bob_opened) = tokio::sync::oneshot::channel();
    let ann = tokio::spawn(read_until(
        http.clone(),
        a.base.clone(),
        "ann",
        "quiet",
        ann_open,
    ));
    let bob = tokio::spawn(read_until(
        http.clone(),
        a.base.clone(),
        "bob",
        "busy",
        bob_open,
    ));
    ann_opened.await.unwrap();
    bob_opened.await.unwrap();

    let mut ann_meant = Vec::new();
    let mut bob_meant = Vec::new();
    // Before the stall: delivered live.
    for _ in 0..5 {
        let id = publish(&http, &b, "before", json!({"all": true})).await;
        ann_meant.push(("before".to_string(), id.clone()));
        bob_meant.push(("before".to_string(), id));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    signal(&a, "-STOP");
    // Ten times the history on the busy topic, 30 events on the quiet one,
    // interleaved: the shared stream keeps about 100 of the 1 030.
    for i in 0..1000 {
        let id = publish(&http, &b, "busy", json!({"topic": "busy"})).await;
        bob_meant.push(("busy".to_string(), id));
        if i % 33 == 0 {
            let id = publish(&http, &b, "quiet", json!({"topic": "quiet"})).await;
            ann_meant.push(("quiet".to_string(), id));
        }
    }
    signal(&a, "-CONT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // After the stall: live again.
    for i in 0..20 {
        let name = if i == 19 { "last" } else { "after" };
        let id = publish(&http, &b, name, json!({"all": true})).await;
        ann_meant.push((name.to_string(), id.clone()));
        bob_meant.push((name.to_string(), id));
    }

    let ann_got = ann.await.unwrap();
    let bob_got = bob.await.unwrap();
    eprintln!(
        "ann: {} events ({} meant); bob: {} events ({} meant)",
        ann_got.len(),
        ann_meant.len(),
        bob_got.len(),
        bob_meant.len()
    );
    assert!(
        !every_event_once_or_reset("ann", &ann_got, &ann_meant),
        "ann's topic still holds everything she missed: replayed, not reset"
    );
    assert!(
        every_event_once_or_reset("bob", &bob_got, &bob_meant),
        "bob's topic lost events: a reset"
    );
}
