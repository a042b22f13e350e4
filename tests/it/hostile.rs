//! Hostile input and authorization, over HTTP against a real server: every
//! refusal has the right status and a JSON body, nothing leaks into other
//! streams, and the hub keeps serving everyone else.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sse_hub::{HubConfig, Role};

/// The hub still works for a bystander: a fresh stream gets a broadcast.
async fn still_serving(s: &TestServer) {
    let mut c = s.connect("bystander", Role::User, "").await;
    s.publish("ping", json!(1), json!({"user": "bystander"}))
        .await;
    assert_eq!(c.next().await.event, "ping");
}

async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s.http.request(method, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let st = res.status();
    let text = res.text().await.unwrap_or_default();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_endpoint_checks_who_is_calling() {
    let s = demo_server().await;
    let user = s.token("alice", Role::User);
    let publisher = s.token("pub", Role::Publisher);
    let admin = s.token("root", Role::Admin);
    let bob = s.connect("bob", Role::User, "").await;
    let bob_conn = bob.connection_id();
    let publish = json!({"event": "x", "data": 1, "target": {"all": true}});
    let topics = json!({"topics": ["t"]});
    let demo = json!({"type": "user"});
    let kick = format!("/api/sse/connections/{bob_conn}");
    // (method, path, body, [no token, user, publisher, admin])
    let table: Vec<(Method, &str, Option<Value>, [u16; 4])> = vec![
        (
            Method::POST,
            "/api/sse/publish",
            Some(publish),
            [401, 403, 200, 200],
        ),
        (
            Method::POST,
            "/api/sse/subscribe",
            Some(topics.clone()),
            [401, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/sse/unsubscribe",
            Some(topics),
            [401, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/sse/demo",
            Some(demo),
            [401, 200, 200, 200],
        ),
        (Method::GET, "/api/sse/stats", None, [401, 403, 403, 200]),
        (Method::GET, "/api/health", None, [200, 200, 200, 200]),
        (Method::GET, "/metrics", None, [200, 200, 200, 200]),
    ];
    for (method, path, body, want) in table {
        for (i, token) in [None, Some(&user), Some(&publisher), Some(&admin)]
            .into_iter()
            .enumerate()
        {
            let (st, res) = send(
                &s,
                method.clone(),
                path,
                token.map(String::as_str),
                body.clone(),
            )
            .await;
            assert_eq!(st.as_u16(), want[i], "{method} {path} as #{i}: {res}");
            if st.is_client_error() {
                assert!(
                    res["error"].is_string() && res["code"].is_string(),
                    "{method} {path}: {res}"
                );
            }
        }
    }
    // Kicking a connection: admins only.
    assert_eq!(
        send(&s, Method::DELETE, &kick, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&s, Method::DELETE, &kick, Some(&user), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&s, Method::DELETE, &kick, Some(&publisher), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&s, Method::DELETE, &kick, Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    // Someone else's connection can't be subscribed.
    let carol = s.connect("carol", Role::User, "").await;
    let body = json!({"topics": ["t"], "connectionId": carol.connection_id()});
    assert_eq!(
        send(
            &s,
            Method::POST,
            "/api/sse/subscribe",
            Some(&user),
            Some(body)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn hostile_queries_and_headers_are_refused_or_defused() {
    let s = server().await;
    let token = s.token("alice", Role::User);
    let base = format!("/api/sse/stream?token={token}");
    // Lists far over the hub's bounds, but under the 16 KiB head limit
    // (larger heads get 431 from the server itself, below).
    let thousands: Vec<String> = (0..2000).map(|i| format!("t{i}")).collect();
    let bad = [
        format!("{base}&topics={}", thousands.join(",")),
        format!("{base}&events={}", thousands.join(",")),
        format!("{base}&events={}", "e".repeat(10_000)),
        format!("{base}&topics=a%0D%0Aevent:%20evil"),
        format!("{base}&events=a%00b"),
        format!(
            "{base}&{}",
            (0..100)
                .map(|i| format!("m{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        ),
        format!("{base}&sessionId={}", "s".repeat(5000)),
    ];
    for url in &bad {
        let (st, body) = send(&s, Method::GET, url, None, None).await;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{}",
            &url[..url.len().min(120)]
        );
        assert!(body["code"].is_string(), "{body}");
    }
    let (st, body) = send(
        &s,
        Method::GET,
        &format!("{base}&topics={}", "t,".repeat(10_000)),
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "headers_too_large");
    // Non-UTF-8 and control bytes in Last-Event-ID: the stream opens with a reset.
    let res = s
        .http
        .get(s.url(&base))
        .header(
            "Last-Event-ID",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe1-1").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let huge_id = "9".repeat(8000);
    let mut c = SseClient::open(
        &s.http,
        &s.url(&format!("{base}&lastEventId={huge_id}")),
        None,
    )
    .await
    .unwrap();
    assert_eq!(c.next().await.event, "reset");
    // A publish whose body is not UTF-8.
    let res = s
        .http
        .post(s.url("/api/sse/publish"))
        .bearer_auth(s.token("ops", Role::Admin))
        .header("content-type", "application/json")
        .body(b"{\"event\":\"\xff\",\"data\":1,\"target\":{\"all\":true}}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.json::<Value>().await.unwrap()["code"].is_string());
    still_serving(&s).await;
}

#[tokio::test]
async fn names_with_frame_breakers_never_reach_a_stream() {
    let s = server().await;
    let mut victim = s.connect("victim", Role::User, "").await;
    let admin = s.token("ops", Role::Admin);
    for name in [
        "x\nevent: admin",
        "x\r\ndata: injected",
        "x\rid: 1",
        "x\0y",
        "",
    ] {
        let body = json!({"event": name, "data": "payload", "target": {"all": true}});
        let (st, res) = send(
            &s,
            Method::POST,
            "/api/sse/publish",
            Some(&admin),
            Some(body),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{name:?}: {res}");
    }
    // Line breaks in the payload stay inside the data field.
    s.publish(
        "ok",
        json!("line1\nevent: evil\n\ndata: x"),
        json!({"all": true}),
    )
    .await;
    let e = victim.next().await;
    assert_eq!(e.event, "ok");
    assert_eq!(e.data, r#""line1\nevent: evil\n\ndata: x""#);
    victim.expect_silence(200).await;
}

#[tokio::test]
async fn ten_thousand_attempts_from_one_user_hit_the_per_user_limit() {
    let s = server_with(HubConfig {
        max_connections_per_user: 10,
        ..HubConfig::default()
    })
    .await;
    let url = s.url(&format!(
        "/api/sse/stream?token={}",
        s.token("greedy", Role::User)
    ));
    let mut held = Vec::new();
    let mut refused = 0;
    let attempts = 10_000;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..attempts {
        let (http, url) = (s.http.clone(), url.clone());
        tasks.spawn(async move {
            let res = http.get(&url).send().await.unwrap();
            let st = res.status();
            if st == StatusCode::OK {
                (st, Some(res), Value::Null)
            } else {
                (st, None, res.json::<Value>().await.unwrap_or(Value::Null))
            }
        });
        if tasks.len() >= 64 {
            let (st, res, body) = tasks.join_next().await.unwrap().unwrap();
            match res {
                Some(r) => held.push(r),
                None => {
                    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
                    assert_eq!(body["code"], "too_many_user_connections");
                    refused += 1;
                }
            }
        }
    }
    while let Some(r) = tasks.join_next().await {
        let (st, res, body) = r.unwrap();
        match res {
            Some(r) => held.push(r),
            None => {
                assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{body}");
                refused += 1;
            }
        }
    }
    assert_eq!(held.len(), 10);
    assert_eq!(refused, attempts - 10);
    assert_eq!(s.hub.connection_count(), 10);
    still_serving(&s).await;
}

#[tokio::test]
async fn pipelining_and_half_closed_sockets() {
    let s = server().await;
    let addr = s.addr;
    let pipelined =
        b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    let two_answers = |b: &[u8]| String::from_utf8_lossy(b).matches("HTTP/1.1 200").count() >= 2;
    let out = raw_exchange(addr, pipelined, false, two_answers)
        .await
        .text();
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
    let token = s.token("half", Role::User);
    let req = format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n");
    let out = raw_exchange(addr, req.as_bytes(), true, two_answers)
        .await
        .text();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    // Whatever the server makes of the half-closed stream, it lets it go
    // once the socket is gone, and keeps serving.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while s.hub.connection_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "half-closed stream never released"
        );
        s.hub.send_heartbeats();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    still_serving(&s).await;
}

fn small_queues() -> HubConfig {
    HubConfig {
        connection_queue: 64,
        ..HubConfig::default()
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_and_others_keep_their_pace() {
    stuck_reader_is_cut(server_with(small_queues()).await).await;
}

/// The same with `axum::serve`: `StallGuardListener` is what lets go of
/// the stalled socket there.
#[tokio::test]
async fn axum_serve_with_the_stall_guard_listener_lets_go_of_a_stuck_reader() {
    let auth = test_auth();
    let hub = common::open_hub(small_queues());
    stuck_reader_is_cut(serve_axum(hub, auth).await).await;
}

/// A client that stops reading: the hub cuts its queue, a fast client on
/// the same hub keeps its pace, and the server lets go of the socket.
async fn stuck_reader_is_cut(s: TestServer) {
    let addr = s.addr;
    let token = s.token("stuck", Role::User);
    // A raw socket that sends the request and then reads one byte a tick.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stuck = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sock = TcpStream::connect(addr).unwrap();
            sock.write_all(
                format!("GET /api/sse/stream?token={token} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
            )
            .unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut one = [0u8; 1];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match sock.read(&mut one) {
                    Ok(0) => return,
                    Ok(_) | Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        })
    };
    let mut fast = s.connect("fast", Role::User, "").await;
    let big = "x".repeat(32 * 1024);
    let mut worst = Duration::ZERO;
    for i in 0..400 {
        let sent = Instant::now();
        s.publish("big", json!({"i": i, "pad": big}), json!({"all": true}))
            .await;
        let e = fast.next().await;
        assert_eq!(e.event, "big");
        worst = worst.max(sent.elapsed());
    }
    let stats = s.hub.stats();
    assert_eq!(stats.slow_disconnects, 1, "the stuck client is cut");
    assert!(stats.dropped_events >= 1);
    println!("fast client's worst publish-to-receive time with a stuck peer: {worst:?}");
    assert!(
        worst < Duration::from_secs(2),
        "a stuck client slowed the others: {worst:?}"
    );
    // The stuck socket's write stalls; the server drops it (the client
    // still has megabytes to read before it could see the close), and the
    // hub lets go of the connection and its queue.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.hub.connection_count() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck connection is still held"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::task::spawn_blocking(move || stuck.join().unwrap())
        .await
        .unwrap();
    still_serving(&s).await;
}

/// Method and route labels of `/metrics` come from a fixed set, whatever
/// clients send: a thousand made-up methods and paths add no series.
#[tokio::test]
async fn metrics_labels_are_bounded_whatever_clients_send() {
    let s = server().await;
    let before = s.metrics().await.len();
    let filler = "X".repeat(1000);
    for i in 0..1000 {
        let method = Method::from_bytes(format!("M{i:04}{filler}").as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/api/health".to_string()
        } else {
            format!("/api/nope/{i}{filler}")
        };
        let res = s.http.request(method, s.url(&path)).send().await.unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let text = s.metrics().await;
    eprintln!(
        "/metrics after 1000 hostile requests: {} bytes (before: {before})",
        text.len()
    );
    assert!(!text.contains("M0001"), "a method sent became a label");
    assert!(!text.contains(&filler), "a path sent became a label");
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(text.contains("route=\"/api/{*rest}\""), "{text}");
    assert!(text.len() < 32 * 1024, "/metrics is {} bytes", text.len());
}

/// The library's router has no demo routes: a hub that did not ask for
/// the demo has no token minting and no demo events, whoever calls.
#[tokio::test]
async fn the_hub_router_has_no_demo_routes() {
    let s = server().await;
    let user = s.token("alice", Role::User);
    let admin = s.token("root", Role::Admin);
    for token in [None, Some(&user), Some(&admin)] {
        for (path, body) in [
            ("/api/sse/demo", json!({"type": "user", "message": "hi"})),
            (
                "/api/auth/demo-token",
                json!({"userId": "x", "role": "admin"}),
            ),
        ] {
            let (st, res) = send(
                &s,
                Method::POST,
                path,
                token.map(String::as_str),
                Some(body),
            )
            .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {res}");
            assert_eq!(res["code"], "not_found", "{path}: {res}");
        }
    }
}

/// In demo mode, where anyone can be anyone, demo requests are small and
/// rate limited per user (429 with `Retry-After`), and one user's flood
/// leaves others their share.
#[tokio::test]
async fn demo_requests_are_small_and_rate_limited() {
    let s = demo_server().await;
    let flood = s.token("flood", Role::User);
    let big = json!({"type": "user", "data": "x".repeat(5000)});
    let (st, res) = send(&s, Method::POST, "/api/sse/demo", Some(&flood), Some(big)).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{res}");
    assert_eq!(res["code"], "payload_too_large");
    let mut limited = None;
    for _ in 0..100 {
        let res = s
            .http
            .post(s.url("/api/sse/demo"))
            .bearer_auth(&flood)
            .json(&json!({"type": "success"}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = limited.expect("100 demo posts at once are not all taken");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&wait), "Retry-After: {wait}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    let other = s.token("other", Role::User);
    let (st, res) = send(
        &s,
        Method::POST,
        "/api/sse/demo",
        Some(&other),
        Some(json!({"type": "success"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{res}");
}

/// A reconnect storm beyond the node's admission rate gets 429 with
/// `Retry-After` (which the hook waits out), not a pile of handshakes.
#[tokio::test]
async fn a_storm_of_new_streams_beyond_the_admission_rate_gets_429() {
    let auth = test_auth();
    let hub = common::open_hub(HubConfig::default());
    let app = sse_hub::Api::new(hub.clone(), auth.clone())
        .with_stream_open_rate(Some(sse_hub::api::Rate {
            burst: 3,
            per_second: 0.5,
        }))
        .router();
    let s = spawn_app(hub, auth, app, |listener, app| {
        sse_hub::net::serve(listener, app, Default::default(), std::future::pending())
    })
    .await;
    let mut open = Vec::new();
    for i in 0..3 {
        open.push(s.connect(&format!("storm{i}"), Role::User, "").await);
    }
    let res = s
        .http
        .get(s.url("/api/sse/stream"))
        .bearer_auth(s.token("storm3", Role::User))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&wait), "Retry-After {wait} (2 s, spread)");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}
