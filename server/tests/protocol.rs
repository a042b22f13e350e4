//! The hub and the browser hook speak one vocabulary: every event type a
//! real hub emits (each control event, each helper) is in the protocol,
//! the protocol lists no type the hub never emits, and the hook's own
//! stream parser reads each of those frames back as that event. A new
//! event in the hub without the protocol fails here; before the shared
//! protocol, `connection.idle` did (the hook, then on `EventSource`, did
//! not listen to it).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::json;
use sse_hub::{
    ChangeAction, ConnectRequest, EventStream, Hub, HubConfig, Level, Principal, Role, UserId,
};
use use_sse::parser::{Parsed, Parser};

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

fn principal(id: &str, role: Role, exp: u64) -> Principal {
    Principal::new(user(id), role, exp)
}

const FAR: u64 = u64::MAX / 2000;

async fn connect(hub: &Hub, who: Principal, last_event_id: Option<&str>) -> EventStream {
    let mut req = ConnectRequest::new(who);
    req.last_event_id = last_event_id.map(str::to_string);
    hub.connect(req).await.expect("stream opens")
}

/// The event types a stream carries until it ends or is quiet for `quiet`,
/// as the browser hook's parser reads them.
async fn names(stream: &mut EventStream, quiet: Duration, seen: &mut BTreeSet<String>) {
    let mut parser = Parser::default();
    let mut out = Vec::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, stream.next()).await {
        parser
            .feed(&frame, &mut out)
            .expect("frames fit the parser");
        for p in out.drain(..) {
            if let Parsed::Event(m) = p {
                seen.insert(m.event_type);
            }
        }
    }
}

#[tokio::test]
async fn every_event_the_hub_emits_is_in_the_protocol_and_read_by_the_hook() {
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

    // presence.join and presence.leave: a watcher sees a visitor come and go.
    let rooms = Hub::new(HubConfig {
        presence_topics: sse_hub::TopicPattern::parse_all(&["room"]).unwrap(),
        ..HubConfig::default()
    });
    let mut watcher = ConnectRequest::new(principal("w", Role::Admin, FAR));
    watcher.topics = vec!["room".parse().unwrap()];
    let mut watcher = rooms.connect(watcher).await.unwrap();
    let mut visitor = ConnectRequest::new(principal("v", Role::Admin, FAR));
    visitor.topics = vec!["room".parse().unwrap()];
    let visitor = rooms.connect(visitor).await.unwrap();
    names(&mut watcher, Duration::from_millis(2500), &mut seen).await;
    drop(visitor);
    names(&mut watcher, Duration::from_millis(2500), &mut seen).await;
    assert!(seen.contains(sse_hub::protocol::events::PRESENCE_LEAVE));

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
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// What the hub encodes, the hook's parser reads back: one event with
    /// the id, type and data (line breaks as LF), however the bytes are
    /// split on the way, with heartbeats around it.
    #[test]
    fn the_hook_parser_reads_back_what_the_hub_encodes(
        data in "(?s).{0,200}",
        name in "[a-zA-Z0-9._:-]{1,40}",
        seq in 0u64..1_000_000,
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let name = sse_hub::EventName::new(&name).unwrap();
        let id = sse_hub::EventId::new(1_700_000_000_000, seq);
        let mut bytes = sse_hub::wire::heartbeat_frame(1).to_vec();
        bytes.extend_from_slice(&sse_hub::wire::event_frame(Some(id), Some(&name), &data));
        bytes.extend_from_slice(&sse_hub::wire::heartbeat_frame(2));
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut parser = Parser::default();
        let mut out = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([bytes.len()]) {
            parser.feed(&bytes[start..p], &mut out).unwrap();
            start = p;
        }
        proptest::prop_assert_eq!(out.len(), 1);
        let Parsed::Event(m) = &out[0] else { panic!("not an event: {:?}", out[0]) };
        proptest::prop_assert_eq!(&m.event_type, name.as_str());
        let want_id = id.to_string();
        proptest::prop_assert_eq!(m.id.as_deref(), Some(want_id.as_str()));
        let expected = data.replace("\r\n", "\n").replace('\r', "\n");
        proptest::prop_assert_eq!(&m.data, &expected);
    }
}
