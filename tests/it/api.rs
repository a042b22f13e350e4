//! The HTTP API end to end: a real server on 127.0.0.1:0, real SSE clients.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{HubConfig, Role};

#[tokio::test]
async fn stream_needs_a_valid_token_from_any_accepted_place() {
    let s = server().await;
    let url = s.url("/api/sse/stream");
    let (status, body) = match SseClient::open(&s.http, &url, None).await {
        Err(e) => e,
        Ok(_) => panic!("stream opened without a token"),
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    for bad in ["nonsense", "a.b.c", &s.token("u", Role::User)[..20]] {
        let err = SseClient::open(&s.http, &format!("{url}?token={bad}"), None)
            .await
            .err()
            .unwrap();
        assert_eq!(err.0, StatusCode::UNAUTHORIZED, "token {bad:?}");
    }
    let token = s.token("alice", Role::User);
    // Bearer header, x-auth-token header and query all work.
    let res = s.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .http
        .get(&url)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let c = SseClient::open(&s.http, &format!("{url}?token={token}"), None)
        .await
        .unwrap();
    assert_eq!(c.connected["userId"], "alice");
}

#[tokio::test]
async fn stream_headers_and_first_frames() {
    let s = server().await;
    let c = s.connect("alice", Role::User, "").await;
    assert_eq!(c.headers["content-type"], "text/event-stream");
    assert_eq!(c.headers["cache-control"], "no-cache");
    assert_eq!(c.headers["x-accel-buffering"], "no");
    assert!(c.headers.get("content-encoding").is_none());
    assert_eq!(c.first_retry, Some(Duration::from_millis(3000)));
    assert_eq!(c.connected["userId"], "alice");
    assert_eq!(c.connection_id().len(), 32);
}

/// Publishes `event` to `target`, then a sentinel to everyone, and reports
/// for each client whether it saw `event` before the sentinel.
async fn who_gets(s: &TestServer, clients: &mut [&mut SseClient], target: Value) -> Vec<bool> {
    let published = s.publish("probe", json!({"n": 1}), target).await;
    s.publish("sentinel", json!(null), json!({"all": true}))
        .await;
    let mut got = Vec::new();
    for c in clients.iter_mut() {
        let e = c.next().await;
        if e.event == "probe" {
            assert_eq!(e.id, published["id"].as_str().unwrap());
            assert_eq!(c.next().await.event, "sentinel");
            got.push(true);
        } else {
            assert_eq!(e.event, "sentinel");
            got.push(false);
        }
    }
    got
}

#[tokio::test]
async fn every_target_kind_reaches_exactly_its_connections() {
    let s = server().await;
    let mut a1 = s.connect("alice", Role::User, "room=1").await;
    let mut a2 = s.connect("alice", Role::User, "room=2&topics=news").await;
    let mut b = s.connect("bob", Role::User, "room=1&tier=gold").await;
    let mut c = s.connect("carol", Role::User, "topics=news,sport").await;
    let a2_id = a2.connection_id();
    let mut all = [&mut a1, &mut a2, &mut b, &mut c];
    assert_eq!(
        who_gets(&s, &mut all, json!({"all": true})).await,
        [true, true, true, true]
    );
    assert_eq!(
        who_gets(&s, &mut all, json!({"user": "alice"})).await,
        [true, true, false, false]
    );
    assert_eq!(
        who_gets(&s, &mut all, json!({"user": "nobody"})).await,
        [false, false, false, false]
    );
    assert_eq!(
        who_gets(&s, &mut all, json!({"users": ["bob", "carol", "bob"]})).await,
        [false, false, true, true]
    );
    assert_eq!(
        who_gets(&s, &mut all, json!({"topic": "news"})).await,
        [false, true, false, true]
    );
    assert_eq!(
        who_gets(&s, &mut all, json!({"connection": a2_id})).await,
        [false, true, false, false]
    );
    assert_eq!(
        who_gets(&s, &mut all, json!({"metadata": {"room": "1"}})).await,
        [true, false, true, false]
    );
    assert_eq!(
        who_gets(
            &s,
            &mut all,
            json!({"metadata": {"room": "1", "tier": "gold"}})
        )
        .await,
        [false, false, true, false]
    );
}

#[tokio::test]
async fn publish_reports_delivery_count_and_needs_a_role() {
    let s = server().await;
    let _a = s.connect("alice", Role::User, "").await;
    let _b = s.connect("alice", Role::User, "").await;
    let body = json!({"event": "x", "data": {"k": 1}, "target": {"user": "alice"}});
    let (st, res) = s
        .post(
            "/api/sse/publish",
            &s.token("alice", Role::User),
            body.clone(),
        )
        .await;
    assert_eq!(
        (st, res["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (st, res) = s
        .post(
            "/api/sse/publish",
            &s.token("ops", Role::Admin),
            body.clone(),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(res["delivered"], 2);
    let res = s
        .http
        .post(s.url("/api/sse/publish"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hostile_publish_bodies_get_json_errors() {
    let s = server_with(HubConfig {
        max_event_bytes: 1000,
        ..HubConfig::default()
    })
    .await;
    let t = s.token("ops", Role::Admin);
    let cases = [
        (
            json!({"event": "a\nb", "data": 1, "target": {"all": true}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"event": "ok", "data": 1, "id": "x\r\ny", "target": {"all": true}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"event": "a\u{0}b", "data": 1, "target": {"all": true}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"event": "ok", "data": "x".repeat(2000), "target": {"all": true}}),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            json!({"event": "ok", "data": 1, "target": {"all": true}, "extra": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"event": "ok", "data": 1, "target": {"all": false}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"event": 5, "data": 1, "target": {"all": true}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"event": "ok", "data": 1, "target": {"topic": "x".repeat(500)}}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, want) in cases {
        let (st, res) = s.post("/api/sse/publish", &t, body.clone()).await;
        assert_eq!(st, want, "{body}");
        assert!(res["error"].is_string() && res["code"].is_string(), "{res}");
    }
    let res = s
        .http
        .post(s.url("/api/sse/publish"))
        .bearer_auth(&t)
        .body("{nope")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_body");
    let res = s
        .http
        .post(s.url("/api/sse/publish"))
        .bearer_auth(&t)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = "x".repeat(200_000);
    let res = s
        .http
        .post(s.url("/api/sse/publish"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The hub still serves.
    let mut c = s.connect("u", Role::User, "").await;
    s.publish("after", json!(1), json!({"all": true})).await;
    assert_eq!(c.next().await.event, "after");
}

#[tokio::test]
async fn event_filter_only_lets_chosen_types_through() {
    let s = server().await;
    let mut c = s
        .connect("alice", Role::User, "events=notification,job.completed")
        .await;
    for ev in ["progress", "notification", "metrics", "job.completed"] {
        s.publish(ev, json!({}), json!({"all": true})).await;
    }
    assert_eq!(c.next().await.event, "notification");
    assert_eq!(c.next().await.event, "job.completed");
    c.expect_silence(200).await;
    let err = SseClient::open(
        &s.http,
        &s.url(&format!(
            "/api/sse/stream?token={}&events=a%0Ab",
            s.token("a", Role::User)
        )),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn topics_change_at_runtime_for_own_connections_only() {
    let s = server().await;
    let mut a = s.connect("alice", Role::User, "").await;
    let b = s.connect("bob", Role::User, "").await;
    let ta = s.token("alice", Role::User);
    let (st, res) = s
        .post("/api/sse/subscribe", &ta, json!({"topics": ["news"]}))
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    assert_eq!(
        who_gets(&s, &mut [&mut a], json!({"topic": "news"})).await,
        [true]
    );
    let (st, _) = s
        .post(
            "/api/sse/unsubscribe",
            &ta,
            json!({"topics": ["news"], "connectionId": a.connection_id()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        who_gets(&s, &mut [&mut a], json!({"topic": "news"})).await,
        [false]
    );
    let (st, res) = s
        .post(
            "/api/sse/subscribe",
            &ta,
            json!({"topics": ["news"], "connectionId": b.connection_id()}),
        )
        .await;
    assert_eq!(
        (st, res["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (st, _) = s
        .post(
            "/api/sse/subscribe",
            &ta,
            json!({"topics": ["news"], "connectionId": "0000"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let many: Vec<String> = (0..500).map(|i| format!("t{i}")).collect();
    let (st, _) = s
        .post("/api/sse/subscribe", &ta, json!({"topics": many}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = s
        .post("/api/sse/subscribe", &ta, json!({"topics": ["a\nb"]}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events() {
    let s = server().await;
    let token = s.token("alice", Role::User);
    let url = s.url(&format!("/api/sse/stream?token={token}"));
    let mut c = SseClient::open(&s.http, &url, None).await.unwrap();
    s.publish("n", json!(1), json!({"all": true})).await;
    let seen = c.next().await;
    drop(c);
    // Missed while away: two for alice, one for bob (must not be replayed).
    s.publish("n", json!(2), json!({"user": "alice"})).await;
    s.publish("n", json!(3), json!({"user": "bob"})).await;
    s.publish("n", json!(4), json!({"all": true})).await;
    let mut c = SseClient::open(&s.http, &url, Some(&seen.id))
        .await
        .unwrap();
    assert_eq!(c.connected["lastEventId"], seen.id);
    assert_eq!(c.next().await.data, "2");
    let last = c.next().await;
    assert_eq!(last.data, "4");
    s.publish("n", json!(5), json!({"all": true})).await;
    assert_eq!(c.next().await.data, "5");
    // Same through the query parameter, and nothing when up to date.
    let mut c2 = SseClient::open(&s.http, &format!("{url}&lastEventId={}", last.id), None)
        .await
        .unwrap();
    let e = c2.next().await;
    assert_eq!(e.data, "5");
    c2.expect_silence(200).await;
}

#[tokio::test]
async fn resume_beyond_history_sends_reset_first() {
    let s = server_with(HubConfig {
        history_len: 2,
        ..HubConfig::default()
    })
    .await;
    let token = s.token("alice", Role::User);
    let url = s.url(&format!("/api/sse/stream?token={token}"));
    let mut c = SseClient::open(&s.http, &url, None).await.unwrap();
    s.publish("n", json!(1), json!({"all": true})).await;
    let first = c.next().await;
    drop(c);
    for i in 2..=5 {
        s.publish("n", json!(i), json!({"all": true})).await;
    }
    for stale in [first.id.as_str(), "1-1", "garbage", "99999999999999-1", ""] {
        let mut c = SseClient::open(&s.http, &url, Some(stale)).await.unwrap();
        let reset = c.next().await;
        assert_eq!(reset.event, "reset", "for {stale:?}");
        let body: Value = serde_json::from_str(&reset.data).unwrap();
        assert_eq!(body["lastEventId"].as_str(), Some(reset.id.as_str()));
        s.publish("n", json!("live"), json!({"all": true})).await;
        assert_eq!(c.next().await.data, "\"live\"");
    }
}

#[tokio::test]
async fn connection_limits_answer_503_and_429_in_json() {
    let s = server_with(HubConfig {
        max_connections: 3,
        max_connections_per_user: 2,
        ..HubConfig::default()
    })
    .await;
    let _a1 = s.connect("alice", Role::User, "").await;
    let _a2 = s.connect("alice", Role::User, "").await;
    let url = s.url(&format!(
        "/api/sse/stream?token={}",
        s.token("alice", Role::User)
    ));
    let (st, body) = SseClient::open(&s.http, &url, None).await.err().unwrap();
    assert_eq!(
        (st, body["code"].as_str()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some("too_many_user_connections")
        )
    );
    let _b = s.connect("bob", Role::User, "").await;
    let url = s.url(&format!(
        "/api/sse/stream?token={}",
        s.token("carol", Role::User)
    ));
    let (st, body) = SseClient::open(&s.http, &url, None).await.err().unwrap();
    assert_eq!(
        (st, body["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("too_many_connections")
        )
    );
    let (_, stats) = s.get("/api/sse/stats", &s.token("ops", Role::Admin)).await;
    assert_eq!(stats["connectionsRejected"], 2);
}

#[tokio::test]
async fn closed_streams_free_their_slot() {
    let s = server_with(HubConfig {
        max_connections_per_user: 1,
        ..HubConfig::default()
    })
    .await;
    let c = s.connect("alice", Role::User, "").await;
    drop(c);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while s.hub.connection_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection never unregistered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _again = s.connect("alice", Role::User, "").await;
}

#[tokio::test]
async fn newest_connection_wins_when_configured() {
    let s = server_with(HubConfig {
        single_connection_per_user: true,
        ..HubConfig::default()
    })
    .await;
    let mut old = s.connect("alice", Role::User, "").await;
    let mut new = s.connect("alice", Role::User, "").await;
    assert_eq!(old.next().await.event, "connection.replaced");
    assert!(old.ends_within(5).await);
    s.publish("hi", json!(1), json!({"user": "alice"})).await;
    assert_eq!(new.next().await.event, "hi");
}

#[tokio::test]
async fn stats_are_for_admins_and_count_connections() {
    let s = server().await;
    let _a = s
        .connect("alice", Role::User, "topics=news&events=notification")
        .await;
    let _a2 = s.connect("alice", Role::User, "").await;
    let _b = s.connect("bob", Role::User, "topics=news").await;
    let (st, body) = s.get("/api/sse/stats", &s.token("alice", Role::User)).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    s.publish("x", json!(1), json!({"all": true})).await;
    let (st, stats) = s.get("/api/sse/stats", &s.token("ops", Role::Admin)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(stats["totalConnections"], 3);
    assert_eq!(stats["userCount"], 2);
    assert_eq!(stats["users"][0]["userId"], "alice");
    assert_eq!(stats["users"][0]["connections"], 2);
    assert_eq!(stats["users"][0]["filters"], json!(["notification"]));
    assert_eq!(
        stats["topics"],
        json!([{"topic": "news", "subscribers": 2}])
    );
    assert_eq!(stats["totalEventsSent"], 2);
    for k in [
        "eventsPerSecond",
        "averageConnectionDurationMs",
        "lastEventTime",
        "droppedEvents",
        "slowDisconnects",
    ] {
        assert!(stats[k].is_number(), "{k} missing in {stats}");
    }
    // The health check and the metrics count the same without the walk.
    let health = s.health().await;
    assert_eq!(
        (&health["connections"], &health["users"]),
        (&json!(3), &json!(2))
    );
    let metrics = s.metrics().await;
    assert!(metrics.contains("\nsse_hub_connections 3\n"), "{metrics}");
    assert!(metrics.contains("\nsse_hub_users 2\n"), "{metrics}");
    drop(_a2);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while s.hub.summary().total_connections != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed stream is still counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.hub.summary().user_count, 2, "alice still has a stream");
    drop(_a);
    while s.hub.summary().user_count != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "a user without streams is counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn admin_disconnects_one_connection() {
    let s = server().await;
    let mut a = s.connect("alice", Role::User, "").await;
    let id = a.connection_id();
    let path = format!("/api/sse/connections/{id}");
    let res = s
        .http
        .delete(s.url(&path))
        .bearer_auth(s.token("alice", Role::User))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = s
        .http
        .delete(s.url(&path))
        .bearer_auth(s.token("ops", Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(a.next().await.event, "connection.closed");
    assert!(a.ends_within(5).await);
    let res = s
        .http
        .delete(s.url(&path))
        .bearer_auth(s.token("ops", Role::Admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_metrics_cors_and_unknown_routes() {
    let s = server().await;
    let _c = s.connect("alice", Role::User, "").await;
    let health = s.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["connections"], 1);
    let metrics = s.metrics().await;
    assert!(metrics.contains("\nsse_hub_connections 1\n"), "{metrics}");
    assert!(metrics.contains("sse_hub_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/sse/stream\",status=\"200\""));
    let pre = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/api/sse/stream"))
        .header("Origin", "http://example.test")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "last-event-id,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("last-event-id"), "{allowed}");
    let res = s.http.get(s.url("/api/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "not_found");
}

#[tokio::test]
async fn demo_token_and_demo_events() {
    let s = demo_server().await;
    let (st, tok) = s
        .post(
            "/api/auth/demo-token",
            "",
            json!({"userId": "dana", "role": "user"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{tok}");
    let token = tok["token"].as_str().unwrap().to_string();
    let url = s.url(&format!("/api/sse/stream?token={token}"));
    let mut c = SseClient::open(&s.http, &url, None).await.unwrap();
    let (st, _) = s
        .post(
            "/api/sse/demo",
            &token,
            json!({"type": "user", "message": "hi me"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let e = c.next().await;
    assert_eq!(e.event, "notification");
    assert_eq!(
        serde_json::from_str::<Value>(&e.data).unwrap()["message"],
        "hi me"
    );
    for forbidden in [
        json!({"type": "user", "userId": "eve"}),
        json!({"type": "broadcast"}),
        json!({"type": "system"}),
    ] {
        let (st, _) = s.post("/api/sse/demo", &token, forbidden.clone()).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{forbidden}");
    }
    let (st, _) = s
        .post("/api/sse/demo", &token, json!({"type": "job"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut last = -1;
    loop {
        let e = c.next().await;
        if e.event == "job.completed" {
            break;
        }
        assert_eq!(e.event, "progress");
        let pct = serde_json::from_str::<Value>(&e.data).unwrap()["percentage"]
            .as_i64()
            .unwrap();
        assert!(pct > last);
        last = pct;
    }
    assert_eq!(last, 100);
    let (st, _) = s
        .post(
            "/api/auth/demo-token",
            "",
            json!({"userId": "bad user\n", "role": "user"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = s
        .post(
            "/api/auth/demo-token",
            "",
            json!({"userId": "x", "role": "root"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn demo_tokens_can_be_turned_off() {
    let auth = sse_hub::Auth::hs256(SECRET);
    let hub = common::open_hub(HubConfig::default());
    let api = sse_hub::Api::new(hub, auth);
    let app = api.router().merge(api.demo_router(Default::default()));
    let addr = common::listen(app).await;
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/auth/demo-token"))
        .json(&json!({"userId": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn data_change_reaches_only_its_audience_and_admins() {
    let s = server().await;
    let mut a = s.connect("alice", Role::User, "").await;
    let mut b = s.connect("bob", Role::User, "").await;
    let mut admin = s.connect("ops", Role::Admin, "").await;
    let n = s
        .hub
        .data_change(
            "doc",
            "7",
            sse_hub::ChangeAction::Updated,
            json!({"v": 2}),
            &[sse_hub::UserId::new("alice").unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    s.publish("sentinel", json!(null), json!({"all": true}))
        .await;
    assert_eq!(a.next().await.event, "data_change");
    assert_eq!(b.next().await.event, "sentinel");
    assert_eq!(admin.next().await.event, "data_change");
}

#[tokio::test]
async fn publishing_an_idempotency_key_twice_sends_once() {
    let s = server().await;
    let mut c = s.connect("alice", Role::User, "").await;
    let t = s.token("ops", Role::Admin);
    let body = json!({"event": "x", "data": 1, "id": "order-42", "target": {"all": true}});
    let (_, first) = s.post("/api/sse/publish", &t, body.clone()).await;
    let (_, second) = s.post("/api/sse/publish", &t, body).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(
        (first["delivered"].as_u64(), second["delivered"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(second["duplicate"], true);
    assert_eq!(c.next().await.event, "x");
    c.expect_silence(200).await;
}

#[tokio::test]
async fn graceful_shutdown_ends_streams_with_a_jittered_retry() {
    let s = server().await;
    let mut a = s.connect("alice", Role::User, "").await;
    let mut b = s.connect("bob", Role::User, "").await;
    s.hub.shutdown();
    for c in [&mut a, &mut b] {
        let e = c.next().await;
        assert_eq!(e.event, "shutdown");
        let retry = e.retry.expect("retry field").as_millis() as u64;
        assert!((3000..=12_000).contains(&retry), "{retry}");
        assert_eq!(
            serde_json::from_str::<Value>(&e.data).unwrap()["retry"],
            retry
        );
        assert!(c.ends_within(5).await);
    }
    let url = s.url(&format!(
        "/api/sse/stream?token={}",
        s.token("carol", Role::User)
    ));
    let (st, body) = SseClient::open(&s.http, &url, None).await.err().unwrap();
    assert_eq!(
        (st, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("shutting_down"))
    );
}

#[tokio::test]
async fn heartbeats_flow_as_comments_over_http() {
    let s = server_with(HubConfig {
        heartbeat_interval: Duration::from_millis(100),
        ..HubConfig::default()
    })
    .await;
    let url = s.url(&format!(
        "/api/sse/stream?token={}",
        s.token("alice", Role::User)
    ));
    let mut res = s.http.get(url).send().await.unwrap();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while text.matches(":heartbeat ").count() < 2 {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("heartbeats in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let line = text.lines().find(|l| l.starts_with(":heartbeat ")).unwrap();
    let ms: u64 = line[":heartbeat ".len()..].parse().unwrap();
    assert!(ms > 1_600_000_000_000);
}

#[tokio::test]
async fn expiring_tokens_close_the_stream_with_auth_expired() {
    let s = server().await;
    let token = s
        .auth
        .issue(
            &sse_hub::UserId::new("alice").unwrap(),
            Role::User,
            Duration::from_secs(7),
        )
        .unwrap();
    let url = s.url(&format!("/api/sse/stream?token={token}"));
    let mut c = SseClient::open(&s.http, &url, None).await.unwrap();
    let e = c
        .next_within(6)
        .await
        .expect("auth.expired before the stream ends");
    assert_eq!(e.event, "auth.expired");
    assert!(c.ends_within(3).await);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_timeout() {
    let s = server_with(HubConfig {
        idle_timeout: Some(Duration::from_millis(500)),
        ..HubConfig::default()
    })
    .await;
    let mut c = s.connect("alice", Role::User, "").await;
    let e = c
        .next_within(5)
        .await
        .expect("an idle notice before the end");
    assert_eq!(e.event, "connection.idle");
    assert!(c.ends_within(3).await);
    assert_eq!(s.hub.connection_count(), 0);
}
