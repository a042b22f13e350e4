//! The hub and the browser hook speak one vocabulary: every event type a
//! real hub emits (each control event, each helper) is one the `use_sse`
//! hook listens to by default, and the protocol lists no type the hub
//! never emits. A new event in the hub without the protocol (or the hook)
//! fails here; before the shared protocol, `connection.idle` did.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::json;
use sse_hub::{
    ChangeAction, ConnectRequest, EventStream, Hub, HubConfig, Level, Principal, Role, UserId,
};

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

fn principal(id: &str, role: Role, exp: u64) -> Principal {
    Principal {
        user: user(id),
        role,
        exp,
    }
}

const FAR: u64 = u64::MAX / 2000;

async fn connect(hub: &Hub, who: Principal, last_event_id: Option<&str>) -> EventStream {
    let mut req = ConnectRequest::new(who);
    req.last_event_id = last_event_id.map(str::to_string);
    hub.connect(req).await.expect("stream opens")
}

/// The event names a stream carries until it ends or is quiet for `quiet`.
async fn names(stream: &mut EventStream, quiet: Duration, seen: &mut BTreeSet<String>) {
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, stream.next()).await {
        for line in String::from_utf8_lossy(&frame).lines() {
            if let Some(name) = line.strip_prefix("event: ") {
                seen.insert(name.to_string());
            }
        }
    }
}

#[tokio::test]
async fn every_event_the_hub_emits_is_in_the_protocol_and_heard_by_the_hook() {
    let mut seen = BTreeSet::new();
    let quiet = Duration::from_millis(300);
    let hub = Hub::new(HubConfig::default());

    // connected, every helper, then connection.closed.
    let mut s = connect(&hub, principal("u", Role::Admin, FAR), None).await;
    let u = user("u");
    hub.notify_user(&u, "hi", Level::Info).await.unwrap();
    hub.system_notification("maintenance", Level::Warning)
        .await
        .unwrap();
    hub.progress("op", &u, 50, "half").await.unwrap();
    hub.job_completed("job", &u, "success", json!({}))
        .await
        .unwrap();
    hub.data_change(
        "item",
        "1",
        ChangeAction::Updated,
        json!({}),
        std::slice::from_ref(&u),
    )
    .await
    .unwrap();
    hub.new_message(&user("v"), &u, "hello").await.unwrap();
    hub.user_activity(&user("v"), "typing").await.unwrap();
    hub.metrics_update(json!({"n": 1})).await.unwrap();
    hub.success(&u, "ok").await.unwrap();
    hub.error(&u, "no").await.unwrap();
    assert!(hub.disconnect(s.connection_id()));
    names(&mut s, quiet, &mut seen).await;

    // reset: a resume from an id the history does not cover.
    let mut s = connect(&hub, principal("r", Role::User, FAR), Some("not-an-id")).await;
    names(&mut s, quiet, &mut seen).await;

    // auth.expired: a token that runs out within seconds.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut s = connect(&hub, principal("e", Role::User, now + 3), None).await;
    names(&mut s, Duration::from_secs(3), &mut seen).await;

    // shutdown.
    let mut s = connect(&hub, principal("s", Role::User, FAR), None).await;
    hub.shutdown();
    names(&mut s, quiet, &mut seen).await;

    // connection.replaced: one connection per user.
    let single = Hub::new(HubConfig {
        single_connection_per_user: true,
        ..HubConfig::default()
    });
    let mut first = connect(&single, principal("p", Role::User, FAR), None).await;
    let _second = connect(&single, principal("p", Role::User, FAR), None).await;
    names(&mut first, quiet, &mut seen).await;

    // connection.idle.
    let idle = Hub::new(HubConfig {
        idle_timeout: Some(Duration::from_millis(500)),
        ..HubConfig::default()
    });
    let mut s = connect(&idle, principal("i", Role::User, FAR), None).await;
    names(&mut s, Duration::from_secs(3), &mut seen).await;

    let protocol: BTreeSet<String> = sse_hub::protocol::events::ALL
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(seen, protocol, "what the hub emitted vs the protocol");
    for name in &seen {
        assert!(
            app::hook::DEFAULT_EVENT_TYPES.contains(&name.as_str()),
            "the hook does not listen to `{name}` by default"
        );
    }
}
