//! Lifecycle webhooks against a real local receiver: signed batches of
//! connected / subscribed / unsubscribed / disconnected, retries with
//! backoff, and a receiver that is down or slow never slowing streams.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use common::*;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sse_hub::lifecycle_webhook::{LifecycleWebhook, WebhookOptions};
use sse_hub::{Api, Hub, HubConfig, Role};

const SECRET: &[u8] = b"webhook-secret";

/// What the receiver got: each POST's events and whether its signature
/// checked out.
#[derive(Default)]
struct Received {
    posts: Mutex<Vec<(Vec<Value>, bool)>>,
    calls: AtomicUsize,
}

/// A receiver on 127.0.0.1:0: fails the first `fail_first` calls with
/// 500, sleeps `delay` on each, then answers 204.
async fn receiver(fail_first: usize, delay: Duration) -> (String, Arc<Received>) {
    let got = Arc::new(Received::default());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let got = got.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| {
                let got = got.clone();
                async move {
                    let n = got.calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    if n < fail_first {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
                    mac.update(&body);
                    let want: String = mac
                        .finalize()
                        .into_bytes()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    let signed = headers
                        .get("x-hub-signature-256")
                        .and_then(|v| v.to_str().ok())
                        == Some(format!("sha256={want}").as_str());
                    let events: Vec<Value> = serde_json::from_slice(&body).unwrap();
                    got.posts.lock().push((events, signed));
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let addr = common::listen(app).await;
    (format!("http://{addr}/hook"), got)
}

async fn server_with_webhook(url: &str, options: WebhookOptions) -> TestServer {
    let (webhook, counters) =
        LifecycleWebhook::start(url, SECRET, options, Default::default()).unwrap();
    let hub = Hub::builder(HubConfig::default())
        .topic_authorizer(open_topics())
        .lifecycle(webhook)
        .build()
        .await
        .unwrap();
    let auth = test_auth();
    let app = Api::new(hub.clone(), auth.clone())
        .with_webhook_counters(counters)
        .router();
    spawn_app(hub, auth, app, |listener, app| {
        sse_hub::net::serve(listener, app, Default::default(), std::future::pending())
    })
    .await
}

/// Every event received so far, in order.
fn events(got: &Received) -> Vec<Value> {
    got.posts
        .lock()
        .iter()
        .flat_map(|(e, _)| e.clone())
        .collect()
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

#[tokio::test]
async fn lifecycle_events_arrive_signed_in_order_and_batched() {
    let (url, got) = receiver(0, Duration::ZERO).await;
    let s = server_with_webhook(&url, WebhookOptions::default()).await;
    let token = s.token("ann", Role::User);
    let c = s.connect("ann", Role::User, "topics=a").await;
    let id = c.connection_id();
    s.post("/api/sse/subscribe", &token, json!({"topics": ["b"]}))
        .await;
    s.post(
        "/api/sse/unsubscribe",
        &token,
        json!({"topics": ["a", "zzz"]}),
    )
    .await;
    drop(c);
    until("four events", || events(&got).len() >= 4).await;
    let e = events(&got);
    let kinds: Vec<&str> = e.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["connected", "subscribed", "unsubscribed", "disconnected"]
    );
    assert!(e
        .iter()
        .all(|e| e["userId"] == "ann" && e["connectionId"] == id.as_str()));
    assert_eq!(e[0]["topics"], json!(["a"]));
    assert_eq!(e[1]["topics"], json!(["b"]));
    assert_eq!(e[2]["topics"], json!(["a"]), "only what changed");
    assert_eq!(e[3]["topics"], json!(["b"]));
    assert!(e.iter().all(|e| e["at"].as_u64().unwrap() > 0));
    // Thirty connects at once go out in a few batches, all signed.
    let mut open = Vec::new();
    for i in 0..30 {
        open.push(s.connect(&format!("u{i}"), Role::User, "").await);
    }
    until("thirty more", || events(&got).len() >= 34).await;
    let posts = got.posts.lock();
    assert!(posts.iter().all(|(_, signed)| *signed), "every POST signed");
    assert!(
        posts.len() < 20,
        "batched: {} POSTs for 34 events",
        posts.len()
    );
}

#[tokio::test]
async fn failed_posts_are_retried_with_backoff() {
    let (url, got) = receiver(2, Duration::ZERO).await;
    let options = WebhookOptions {
        backoff: Duration::from_millis(100),
        ..Default::default()
    };
    let s = server_with_webhook(&url, options).await;
    let start = Instant::now();
    let c = s.connect("ann", Role::User, "").await;
    until("delivered after two failures", || !events(&got).is_empty()).await;
    // Two failures: waits of 100 and 200 ms before the third try.
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(got.calls.load(Ordering::SeqCst), 3);
    assert_eq!(events(&got).len(), 1);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("sse_hub_webhook_failed_posts_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("sse_hub_webhook_events_sent_total 1"));
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_down_receiver_never_slows_streams_and_drops_are_counted() {
    // A receiver that takes 10 s per POST, and a small queue.
    let (url, _got) = receiver(0, Duration::from_secs(10)).await;
    let options = WebhookOptions {
        queue: 20,
        batch: 5,
        timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let s = server_with_webhook(&url, options).await;
    let mut watcher = s.connect("watcher", Role::User, "").await;
    // Churn: 200 connects and disconnects while events flow to the watcher.
    let mut worst = Duration::ZERO;
    for i in 0..200 {
        let c = s.connect(&format!("churn{i}"), Role::User, "").await;
        drop(c);
        if i % 20 == 0 {
            let sent = Instant::now();
            s.publish("tick", json!(i), json!({"user": "watcher"}))
                .await;
            let e = watcher.next().await;
            assert_eq!(e.data, i.to_string());
            worst = worst.max(sent.elapsed());
        }
    }
    assert!(
        worst < Duration::from_millis(500),
        "a publish took {worst:?}"
    );
    let metrics = s.metrics().await;
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sse_hub_webhook_events_dropped_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped > 300, "most of 400 events dropped: {dropped}");
    assert!(metrics.contains("sse_hub_lifecycle_events_refused_total"));
}
