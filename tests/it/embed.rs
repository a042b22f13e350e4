//! `examples/embed_axum.rs`, served: an app with its own sign-in and
//! session cookie mounts the hub's routes with its own
//! [`sse_hub::Authenticator`] and publishes from its own handlers. The
//! browser's path is the one checked: sign in, stream with the cookie (no
//! token anywhere), get what the app publishes; no cookie is a 401 JSON
//! error, and a session cannot reach the hub's publish route (401).

use crate::common::{listen, SseClient};

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::{Hub, HubConfig};

#[path = "../../examples/embed_axum.rs"]
#[allow(dead_code)]
mod embed_axum;

#[tokio::test]
async fn an_app_with_its_own_sessions_streams_and_publishes_without_tokens() {
    let hub = Hub::new(HubConfig::default());
    let addr = listen(embed_axum::app(hub.clone())).await;
    let url = |p: &str| format!("http://{addr}{p}");
    let http = reqwest::Client::new();

    // No session: the hub's stream route says who is missing, as JSON.
    let res = http.get(url("/api/sse/stream")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_string(), "a JSON error: {body}");
    let forged = http
        .get(url("/api/sse/stream"))
        .header(COOKIE, format!("{}=0123", embed_axum::COOKIE))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::UNAUTHORIZED,
        "an unknown session"
    );

    // Sign in: the app sets an HttpOnly cookie.
    let res = http
        .post(url("/login"))
        .json(&json!({"user": "ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();

    // The stream with the cookie is ann's.
    let mut stream = SseClient::open_request(
        http.get(url("/api/sse/stream")).header(COOKIE, &cookie),
        None,
    )
    .await
    .expect("a session opens a stream");
    assert_eq!(stream.connected["userId"], "ann", "{}", stream.connected);

    // The app's own handler publishes to the signed-in user.
    let res = http
        .post(url("/orders/7/ship"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["delivered"], 1, "{body}");
    let event = stream.next().await;
    assert_eq!(event.event, "notification");
    let data: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(data["message"], "order 7 shipped", "{data}");

    // A cookie rides along on cross-site requests: the hub's publish route
    // does not take a session.
    let res = http
        .post(url("/api/sse/publish"))
        .header(COOKIE, &cookie)
        .json(&json!({"event": "x", "data": {}, "target": {"all": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    stream.expect_silence(300).await;
}
