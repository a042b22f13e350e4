//! Who may hear what, against a real server: topic grants in the token,
//! public topics, publish grants, trusted metadata, replay under the same
//! rules, and the subscribe webhook against a real local receiver.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sse_hub::auth::TopicGrants;
use sse_hub::{ClaimsPolicy, Hub, HubConfig, Role, TopicPattern, WebhookPolicy};

use common::*;

/// A server with the binary's default policy, plus these public topics.
async fn server_public(public: &[&str]) -> TestServer {
    server_with_policy(
        ClaimsPolicy::new().with_public_topics(TopicPattern::parse_all(public).unwrap()),
    )
    .await
}

/// A served hub whose topic subscriptions `policy` decides.
async fn server_with_policy(policy: impl sse_hub::TopicAuthorizer) -> TestServer {
    let hub = Hub::builder(HubConfig::default())
        .topic_authorizer(policy)
        .build()
        .await
        .unwrap();
    serve(hub, test_auth()).await
}

fn grants(subscribe: Option<&[&str]>, publish: Option<&[&str]>) -> Option<TopicGrants> {
    let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    Some(TopicGrants {
        subscribe: subscribe.map(list),
        publish: publish.map(list),
    })
}

/// Opens a stream with `token` and `query`; the refusal's status and body.
async fn open(s: &TestServer, token: &str, query: &str) -> Result<SseClient, (StatusCode, Value)> {
    let url = s.url(&format!("/api/sse/stream?{query}"));
    SseClient::open_with_token(&s.http, &url, token, None).await
}

fn refused_topics(body: &Value) -> Vec<String> {
    assert_eq!(body["code"], "topic_forbidden", "{body}");
    body["topics"]
        .as_array()
        .expect("refused topics listed")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn streams_open_only_with_topics_a_grant_or_public_list_allows() {
    let s = server_public(&["news", "lobby.*"]).await;
    let plain = s.token("ann", Role::User);
    // No grant: only the public topics.
    let (st, body) = open(&s, &plain, "topics=news,admin.audit")
        .await
        .unwrap_err();
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(refused_topics(&body), vec!["admin.audit"]);
    assert!(open(&s, &plain, "topics=news,lobby.1").await.is_ok());
    assert_eq!(
        refused_topics(&open(&s, &plain, "topics=lobby").await.unwrap_err().1),
        vec!["lobby"],
        "`lobby.*` does not match `lobby`"
    );
    // Grants: exact, prefix, {sub}.
    let granted = s.token_with(
        "ann",
        Role::User,
        grants(Some(&["orders.*", "user.{sub}.*"]), None),
        &[],
    );
    assert!(open(&s, &granted, "topics=orders.17,user.ann.inbox")
        .await
        .is_ok());
    let (_, body) = open(&s, &granted, "topics=orders.17,user.bob.inbox,secret")
        .await
        .unwrap_err();
    assert_eq!(refused_topics(&body), vec!["user.bob.inbox", "secret"]);
    // A publisher is not exempt; an admin is.
    let publisher = s.token("svc", Role::Publisher);
    assert!(open(&s, &publisher, "topics=orders.1").await.is_err());
    let admin = s.token("root", Role::Admin);
    assert!(open(&s, &admin, "topics=admin.audit,anything")
        .await
        .is_ok());
    // No refused stream was ever registered.
    let (_, stats) = s.get("/api/sse/stats", &admin).await;
    assert_eq!(stats["connectionsRejected"], 0);
}

#[tokio::test]
async fn subscribing_later_is_all_or_nothing_and_unsubscribing_always_works() {
    let s = server_public(&["news"]).await;
    let token = s.token_with("ann", Role::User, grants(Some(&["orders.*"]), None), &[]);
    let mut c = open(&s, &token, "topics=news").await.unwrap();
    let id = c.connection_id();
    let (st, body) = s
        .post(
            "/api/sse/subscribe",
            &token,
            json!({"topics": ["orders.1", "admin.audit"], "connectionId": id}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(refused_topics(&body), vec!["admin.audit"]);
    // Nothing changed: an event to orders.1 does not arrive.
    s.publish("tick", json!(1), json!({"topic": "orders.1"}))
        .await;
    s.publish("tick", json!(2), json!({"topic": "news"})).await;
    assert_eq!(c.next().await.data, "2");
    let (st, _) = s
        .post(
            "/api/sse/subscribe",
            &token,
            json!({"topics": ["orders.1"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    s.publish("tick", json!(3), json!({"topic": "orders.1"}))
        .await;
    assert_eq!(c.next().await.data, "3");
    // Unsubscribing from a topic never granted is fine too.
    for topics in [json!(["orders.1"]), json!(["admin.audit"])] {
        let (st, _) = s
            .post("/api/sse/unsubscribe", &token, json!({"topics": topics}))
            .await;
        assert_eq!(st, StatusCode::OK);
    }
}

#[tokio::test]
async fn publishing_to_a_topic_follows_the_publish_grant() {
    let s = server_public(&[]).await;
    let publish = |token: String, topic: &'static str| {
        let s = &s;
        async move {
            s.post(
                "/api/sse/publish",
                &token,
                json!({"event": "tick", "data": 1, "target": {"topic": topic}}),
            )
            .await
        }
    };
    let scoped = s.token_with(
        "svc",
        Role::Publisher,
        grants(None, Some(&["orders.*"])),
        &[],
    );
    assert_eq!(publish(scoped.clone(), "orders.1").await.0, StatusCode::OK);
    let (st, body) = publish(scoped, "billing").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(refused_topics(&body), vec!["billing"]);
    // No publish claim: a service token, anywhere. An empty one: nowhere.
    assert_eq!(
        publish(s.token("svc", Role::Publisher), "billing").await.0,
        StatusCode::OK
    );
    let none = s.token_with("svc", Role::Publisher, grants(None, Some(&[])), &[]);
    assert_eq!(publish(none, "orders.1").await.0, StatusCode::FORBIDDEN);
    // A user may not publish at all; an admin anywhere.
    let user = s.token_with("u", Role::User, grants(None, Some(&["*"])), &[]);
    assert_eq!(publish(user, "orders.1").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        publish(s.token("root", Role::Admin), "billing").await.0,
        StatusCode::OK
    );
}

/// Each target kind, for a publisher whose grant allows `orders.*`: the
/// grant governs topics (one outside it is refused); the other kinds are
/// the role's to allow, and the role check refuses a user every kind.
#[tokio::test]
async fn each_target_kind_passes_the_publish_checks_it_should() {
    let s = server_public(&[]).await;
    let scoped = s.token_with(
        "svc",
        Role::Publisher,
        grants(None, Some(&["orders.*"])),
        &[],
    );
    let user = s.token_with("u", Role::User, grants(None, Some(&["*"])), &[]);
    let kinds = [
        ("all", json!({"all": true}), StatusCode::OK),
        ("user", json!({"user": "ann"}), StatusCode::OK),
        ("users", json!({"users": ["ann", "bob"]}), StatusCode::OK),
        ("connection", json!({"connection": "c-1"}), StatusCode::OK),
        (
            "metadata",
            json!({"metadata": {"room": "a"}}),
            StatusCode::OK,
        ),
        (
            "topic in the grant",
            json!({"topic": "orders.1"}),
            StatusCode::OK,
        ),
        (
            "topic outside it",
            json!({"topic": "billing"}),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (kind, target, want) in kinds {
        let body = json!({"event": "tick", "data": 1, "target": target});
        let (st, answer) = s.post("/api/sse/publish", &scoped, body.clone()).await;
        assert_eq!(st, want, "{kind}: {answer}");
        let (st, _) = s.post("/api/sse/publish", &user, body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{kind}, as a user");
    }
}

#[tokio::test]
async fn trusted_metadata_comes_from_the_token_alone_live_and_on_replay() {
    let s = server_public(&[]).await;
    let plain = s.token("mallory", Role::User);
    for key in ["userId", "user", "role", "tenant"] {
        let (st, body) = open(&s, &plain, &format!("{key}=bob")).await.unwrap_err();
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "trusted_metadata", "{body}");
    }
    let bob = s.token_with("bob", Role::User, None, &[("userId", "bob"), ("room", "a")]);
    // The token wins over the query for its own keys.
    let mut b = open(&s, &bob, "room=b").await.unwrap();
    let mut m = open(&s, &plain, "room=b").await.unwrap();
    s.publish(
        "secret",
        json!("for bob"),
        json!({"metadata": {"userId": "bob"}}),
    )
    .await;
    s.publish("room", json!("room a"), json!({"metadata": {"room": "a"}}))
        .await;
    s.publish("room", json!("room b"), json!({"metadata": {"room": "b"}}))
        .await;
    assert_eq!(b.next().await.data, "\"for bob\"");
    assert_eq!(b.next().await.data, "\"room a\"");
    let last = m.next().await;
    assert_eq!(last.data, "\"room b\"", "mallory hears only room b");
    // Replay follows the same rules: mallory resumes from before the
    // secret and still does not get it.
    let before = m.connected["lastEventId"].as_str().unwrap().to_string();
    drop(m);
    let url = s.url("/api/sse/stream?room=b");
    let mut again = SseClient::open_with_token(&s.http, &url, &plain, Some(&before))
        .await
        .unwrap();
    let replayed = again.next().await;
    assert_eq!(replayed.data, "\"room b\"");
    again.expect_silence(300).await;
}

#[tokio::test]
async fn a_resume_never_replays_a_topic_the_connection_may_not_hear() {
    let s = server_public(&[]).await;
    let token = s.token_with("ann", Role::User, grants(Some(&["orders.*"]), None), &[]);
    let c = open(&s, &token, "topics=orders.1").await.unwrap();
    let from = c.connected["lastEventId"].as_str().unwrap().to_string();
    drop(c);
    s.publish("tick", json!("audit"), json!({"topic": "admin.audit"}))
        .await;
    s.publish("tick", json!("order"), json!({"topic": "orders.1"}))
        .await;
    // Asking for the forbidden topic on resume opens nothing.
    let url = s.url("/api/sse/stream?topics=orders.1,admin.audit");
    let err = SseClient::open_with_token(&s.http, &url, &token, Some(&from)).await;
    assert_eq!(err.err().map(|e| e.0), Some(StatusCode::FORBIDDEN));
    let url = s.url("/api/sse/stream?topics=orders.1");
    let mut c = SseClient::open_with_token(&s.http, &url, &token, Some(&from))
        .await
        .unwrap();
    assert_eq!(c.next().await.data, "\"order\"");
    c.expect_silence(300).await;
}

/// A subscribe webhook on 127.0.0.1:0: `ok.*` is allowed, `no.*` refused
/// with 403, `slow.*` answers after 10 s. Counts the requests.
async fn receiver() -> (
    String,
    Arc<AtomicUsize>,
    Arc<parking_lot::Mutex<Vec<Value>>>,
) {
    let hits = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let app = axum::Router::new().route(
        "/check",
        axum::routing::post({
            let hits = hits.clone();
            let bodies = bodies.clone();
            move |axum::Json(body): axum::Json<Value>| {
                let hits = hits.clone();
                let bodies = bodies.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    bodies.lock().push(body.clone());
                    let topics: Vec<&str> = body["topics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap())
                        .collect();
                    if topics.iter().any(|t| t.starts_with("slow.")) {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                    if topics.iter().all(|t| t.starts_with("ok.")) {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::FORBIDDEN
                    }
                }
            }
        }),
    );
    let addr = common::listen(app).await;
    (format!("http://{addr}/check"), hits, bodies)
}

async fn server_with_webhook(url: &str) -> TestServer {
    let policy = WebhookPolicy::new(
        ClaimsPolicy::new().with_public_topics(TopicPattern::parse_all(&["news"]).unwrap()),
        url,
        Duration::from_millis(500),
    )
    .unwrap();
    server_with_policy(policy).await
}

#[tokio::test]
async fn the_subscribe_webhook_decides_what_no_grant_covers() {
    let (url, hits, bodies) = receiver().await;
    let s = server_with_webhook(&url).await;
    let token = s.token("ann", Role::User);
    // Public topics never reach the webhook.
    assert!(open(&s, &token, "topics=news").await.is_ok());
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // One request for what no grant covers; 2xx allows.
    assert!(open(&s, &token, "topics=news,ok.1,ok.2").await.is_ok());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        bodies.lock()[0],
        json!({"userId": "ann", "topics": ["ok.1", "ok.2"]})
    );
    // Cached: the same topics again cost no request.
    assert!(open(&s, &token, "topics=ok.1").await.is_ok());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // 403 refuses, naming the topics.
    let (st, body) = open(&s, &token, "topics=ok.1,no.1").await.unwrap_err();
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(refused_topics(&body), vec!["no.1"]);
    // Slow: refused after the timeout, not after the receiver's 10 s.
    let start = Instant::now();
    let (st, _) = open(&s, &token, "topics=slow.1").await.unwrap_err();
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_webhook_that_is_down_means_refusal_not_a_hang() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = server_with_webhook(&format!("http://127.0.0.1:{port}/check")).await;
    let token = s.token("ann", Role::User);
    let start = Instant::now();
    let (st, body) = open(&s, &token, "topics=ok.1").await.unwrap_err();
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(refused_topics(&body), vec!["ok.1"]);
    assert!(start.elapsed() < Duration::from_secs(3));
}

/// Every role × grant × topic through every entry point (stream open,
/// subscribe, publish, replay) against the rule `docs/access.md` states.
#[tokio::test]
async fn the_whole_matrix_of_roles_grants_topics_and_entry_points() {
    let s = server_public(&["news"]).await;
    let roles = [Role::User, Role::Publisher, Role::Admin];
    let grant_sets: [(&str, Option<TopicGrants>); 3] = [
        ("no claim", None),
        ("orders.*", grants(Some(&["orders.*"]), Some(&["orders.*"]))),
        ("empty lists", grants(Some(&[]), Some(&[]))),
    ];
    let topics = ["orders.1", "billing", "news"];
    let admin = s.token("matrix-admin", Role::Admin);
    let mut checked = 0;
    for role in roles {
        for (gname, g) in &grant_sets {
            let token = s.token_with("m", role, g.clone(), &[]);
            let matches = |list: &Option<Vec<String>>, t: &str| {
                list.as_ref().is_some_and(|l| {
                    l.iter().any(|p| match p.strip_suffix('*') {
                        Some(prefix) => t.starts_with(prefix) && t.len() > prefix.len(),
                        None => p == t,
                    })
                })
            };
            for topic in topics {
                let case = format!("{role:?} / {gname} / {topic}");
                let sub_ok = role == Role::Admin
                    || topic == "news"
                    || matches(&g.as_ref().and_then(|g| g.subscribe.clone()), topic);
                let pub_ok = match role {
                    Role::Admin => true,
                    Role::Publisher => match g.as_ref().and_then(|g| g.publish.clone()) {
                        None => true,
                        list => matches(&list, topic),
                    },
                    Role::User => false,
                };
                // Stream open.
                let opened = open(&s, &token, &format!("topics={topic}")).await;
                assert_eq!(opened.is_ok(), sub_ok, "open: {case}");
                drop(opened);
                // Subscribe later.
                let c = open(&s, &token, "").await.unwrap();
                let (st, _) = s
                    .post(
                        "/api/sse/subscribe",
                        &token,
                        json!({"topics": [topic], "connectionId": c.connection_id()}),
                    )
                    .await;
                assert_eq!(st == StatusCode::OK, sub_ok, "subscribe: {case} ({st})");
                drop(c);
                // Publish.
                let (st, _) = s
                    .post(
                        "/api/sse/publish",
                        &token,
                        json!({"event": "m", "data": 0, "target": {"topic": topic}}),
                    )
                    .await;
                assert_eq!(st == StatusCode::OK, pub_ok, "publish: {case} ({st})");
                // Replay: an event to the topic while away.
                let head = open(&s, &admin, "").await.unwrap().connected["lastEventId"]
                    .as_str()
                    .unwrap()
                    .to_string();
                s.publish("missed", json!(topic), json!({"topic": topic}))
                    .await;
                let url = s.url(&format!("/api/sse/stream?topics={topic}"));
                match SseClient::open_with_token(&s.http, &url, &token, Some(&head)).await {
                    Ok(mut c) => {
                        assert!(sub_ok, "replay opened: {case}");
                        let e = c.next().await;
                        assert_eq!(
                            (e.event.as_str(), e.data),
                            ("missed", format!("\"{topic}\""))
                        );
                    }
                    Err((st, _)) => {
                        assert!(!sub_ok, "replay refused: {case}");
                        assert_eq!(st, StatusCode::FORBIDDEN);
                    }
                }
                checked += 4;
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 3 * 4);
}
