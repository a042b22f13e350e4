//! The hub through its Rust API, where time and reading can be controlled:
//! heartbeats with paused time, slow consumers that never read.

use std::time::Duration;

use futures_util::StreamExt;
use sse_hub::{ConnectRequest, Hub, HubConfig, NewEvent, Principal, Role, Target, UserId};

fn principal(user: &str) -> Principal {
    Principal::new(UserId::new(user).unwrap(), Role::User, u64::MAX / 2000)
}

fn text(b: &Result<bytes::Bytes, sse_hub::Cut>) -> String {
    String::from_utf8(b.as_ref().expect("not cut").to_vec()).unwrap()
}

fn event(n: usize) -> NewEvent {
    NewEvent::json("tick".parse().unwrap(), &n, Target::all()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn heartbeat_comes_on_the_configured_interval() {
    let hub = Hub::new(HubConfig {
        heartbeat_interval: Duration::from_secs(30),
        ..HubConfig::default()
    });
    let mut s = hub
        .connect(ConnectRequest::new(principal("a")))
        .await
        .unwrap();
    let hello = text(&s.next().await.unwrap());
    assert!(
        hello.starts_with("retry: ") && hello.contains("event: connected\n"),
        "{hello}"
    );
    // Nothing before 30 s...
    assert!(tokio::time::timeout(Duration::from_secs(29), s.next())
        .await
        .is_err());
    // ...then a heartbeat comment.
    let beat = tokio::time::timeout(Duration::from_secs(2), s.next())
        .await
        .unwrap()
        .unwrap();
    let beat = text(&beat);
    assert!(
        beat.starts_with(":heartbeat ") && beat.ends_with("\n\n"),
        "{beat:?}"
    );
}

#[tokio::test]
async fn slow_consumer_is_cut_and_counted_while_others_get_everything() {
    let hub = Hub::new(HubConfig {
        connection_queue: 8,
        ..HubConfig::default()
    });
    let mut slow = hub
        .connect(ConnectRequest::new(principal("slow")))
        .await
        .unwrap();
    let mut fast = hub
        .connect(ConnectRequest::new(principal("fast")))
        .await
        .unwrap();
    // Drain the fast one's `connected` frame.
    fast.next().await.unwrap().unwrap();
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(f) = fast.next().await {
            if text(&f).contains("event: tick") {
                n += 1;
                if n == 100 {
                    break;
                }
            }
        }
        n
    });
    for i in 0..100 {
        hub.publish(event(i)).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(reader.await.unwrap(), 100);
    let stats = hub.stats();
    assert_eq!(stats.slow_disconnects, 1);
    // The 8 events its queue held when the 9th did not fit, and the 9th:
    // events that were meant for it and never reached it.
    assert_eq!(stats.dropped_events, 9);
    // The slow stream ends after its first frames instead of holding memory.
    let mut frames = 0;
    while let Some(item) = slow.next().await {
        match item {
            Ok(_) => frames += 1,
            Err(sse_hub::Cut) => break,
        }
    }
    assert!(frames <= 1 + 8, "{frames}");
    drop(slow);
    assert_eq!(hub.connection_count(), 0);
}

#[tokio::test]
async fn many_users_many_events_no_cross_talk() {
    let hub = Hub::new(HubConfig::default());
    let mut streams = Vec::new();
    for u in 0..20 {
        let mut s = hub
            .connect(ConnectRequest::new(principal(&format!("u{u}"))))
            .await
            .unwrap();
        s.next().await;
        streams.push(s);
    }
    for round in 0..5 {
        for u in 0..20 {
            let ev = NewEvent::json(
                "dm".parse().unwrap(),
                &format!("u{u}-{round}"),
                Target::User(UserId::new(format!("u{u}")).unwrap()),
            )
            .unwrap();
            assert_eq!(hub.publish(ev).await.unwrap().delivered, 1);
        }
    }
    for (u, s) in streams.iter_mut().enumerate() {
        for round in 0..5 {
            let f = text(&s.next().await.unwrap());
            assert!(f.contains(&format!("data: \"u{u}-{round}\"\n")), "{f}");
        }
    }
}

/// Concurrent subscribes on one connection cannot pass the topic limit
/// together: the check and the change happen under one lock. Many rounds
/// of eight racing subscribes, each of a topic of its own, on a fresh
/// connection of an admin (no grants to check); never more succeed than
/// the limit allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_subscribes_never_exceed_the_topic_limit() {
    use sse_hub::{Connections, Topic, TopicChange};
    let max = 3;
    let hub = Hub::new(HubConfig {
        max_topics_per_connection: max,
        ..HubConfig::default()
    });
    let admin = Principal::new(UserId::new("racer").unwrap(), Role::Admin, u64::MAX / 2000);
    for round in 0..300 {
        let stream = hub
            .connect(ConnectRequest::new(admin.clone()))
            .await
            .unwrap();
        let id = stream.connection_id().clone();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (hub, admin, id, start) =
                    (hub.clone(), admin.clone(), id.clone(), start.clone());
                tokio::spawn(async move {
                    let topic = Topic::new(format!("r{round}-{i}")).unwrap();
                    start.wait().await;
                    hub.set_topics(
                        &admin,
                        Connections::One(&id),
                        &[topic],
                        TopicChange::Subscribe,
                    )
                    .await
                    .is_ok()
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        assert!(
            ok <= max,
            "round {round}: {ok} subscribes passed a limit of {max}"
        );
        drop(stream);
    }
}

/// Data that does not serialize is an error, never a `null` published in
/// its place.
#[test]
fn data_that_does_not_serialize_is_refused() {
    use std::collections::HashMap;
    let mut bad = HashMap::new();
    bad.insert((1u8, 2u8), "a map with keys JSON cannot have");
    let made = NewEvent::json("tick".parse().unwrap(), &bad, Target::all());
    assert!(
        matches!(made, Err(sse_hub::HubError::Invalid { .. })),
        "{made:?}"
    );
}

/// A hub whose report, expiry and read periods disagree does not start.
#[tokio::test]
async fn a_hub_with_timing_that_disagrees_does_not_start() {
    let timing = sse_hub::broker::Timing {
        alive_for: Duration::from_secs(3),
        ..Default::default()
    };
    let built = Hub::builder(HubConfig {
        timing,
        ..HubConfig::default()
    })
    .build()
    .await;
    match built {
        Err(sse_hub::HubError::Invalid { kind, reason }) => {
            assert_eq!(kind, "timing");
            assert!(reason.contains("alive_for"), "{reason}");
        }
        other => panic!("started: {:?}", other.map(|_| ())),
    }
}

/// A custom event authorizer narrows what the audience rule allows, never
/// widens it: one that allows everything still keeps a `data_change` for
/// ann from bob, and one that refuses a name keeps it from everyone.
#[tokio::test]
async fn a_custom_authorizer_cannot_drop_the_audience_rule() {
    struct AllowAll;
    impl sse_hub::hub::EventAuthorizer for AllowAll {
        fn allow(&self, _: &sse_hub::Event, _: &sse_hub::hub::Connection) -> bool {
            true
        }
    }
    struct NoSecrets;
    impl sse_hub::hub::EventAuthorizer for NoSecrets {
        fn allow(&self, e: &sse_hub::Event, _: &sse_hub::hub::Connection) -> bool {
            e.name.as_str() != "secret"
        }
    }
    let ann = UserId::new("ann").unwrap();
    for (which, hub) in [
        (
            "allow-all",
            Hub::builder(HubConfig::default()).authorizer(AllowAll),
        ),
        (
            "no-secrets",
            Hub::builder(HubConfig::default()).authorizer(NoSecrets),
        ),
    ] {
        let hub = hub.build().await.unwrap();
        let mut a = hub
            .connect(ConnectRequest::new(principal("ann")))
            .await
            .unwrap();
        let mut b = hub
            .connect(ConnectRequest::new(principal("bob")))
            .await
            .unwrap();
        a.next().await;
        b.next().await;
        let reached = hub
            .data_change(
                "order",
                "1",
                sse_hub::ChangeAction::Updated,
                serde_json::json!({}),
                std::slice::from_ref(&ann),
            )
            .await
            .unwrap();
        assert_eq!(reached, 1, "{which}: only ann");
        hub.publish(NewEvent::json("secret".parse().unwrap(), &1, Target::all()).unwrap())
            .await
            .unwrap();
        hub.publish(event(7)).await.unwrap();
        assert!(
            next_text(&mut a).await.contains("event: data_change\n"),
            "{which}"
        );
        if which == "allow-all" {
            assert!(next_text(&mut a).await.contains("event: secret\n"));
            assert!(next_text(&mut b).await.contains("event: secret\n"));
        }
        assert!(next_text(&mut a).await.contains("event: tick\n"), "{which}");
        assert!(
            next_text(&mut b).await.contains("event: tick\n"),
            "{which}: bob gets no data_change"
        );
    }
}

/// The next frame of `s`, as text.
async fn next_text(s: &mut sse_hub::EventStream) -> String {
    text(&s.next().await.unwrap())
}
