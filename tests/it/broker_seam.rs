//! The broker seam: a third engine plugs in through `Broker` alone, with
//! no change to the hub (`Bus`, in `common/bus.rs`: two hubs on one bus
//! behave like two nodes).

use crate::common::bus;

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, Log};
use futures_util::StreamExt;
use sse_hub::{
    ConnectRequest, EventId, EventStream, Hub, HubConfig, NewEvent, Principal, Role, Target, UserId,
};

async fn node(log: &Arc<Log>) -> Hub {
    Hub::builder(HubConfig::default())
        .broker_engine(Arc::new(Bus(log.clone())))
        .build()
        .await
        .unwrap()
}

fn alice() -> Principal {
    Principal::new(UserId::new("alice").unwrap(), Role::User, u64::MAX / 2000)
}

/// The next frame's `(id, event)` lines, as text.
async fn next_frame(s: &mut EventStream) -> String {
    let b = tokio::time::timeout(Duration::from_secs(3), s.next())
        .await
        .expect("a frame in time")
        .expect("stream open")
        .expect("not cut");
    String::from_utf8(b.to_vec()).unwrap()
}

fn tick(n: u32) -> NewEvent {
    NewEvent::json("tick".parse().unwrap(), &n, Target::all()).unwrap()
}

#[tokio::test]
async fn a_custom_broker_carries_events_between_two_hubs_and_resumes() {
    let log = Arc::new(Log::default());
    let (a, b) = (node(&log).await, node(&log).await);
    let mut on_b = b.connect(ConnectRequest::new(alice())).await.unwrap();
    assert!(next_frame(&mut on_b).await.contains("event: connected"));

    // Published on A, delivered on A (nobody there) and on B.
    let first = a.publish(tick(1)).await.unwrap();
    assert_eq!(first.delivered, 0, "no connection on node A");
    let frame = next_frame(&mut on_b).await;
    assert!(frame.starts_with("id: 1-1\n"), "{frame}");
    // B reports its own delivery once its sink got the event.
    let second = b.publish(tick(2)).await.unwrap();
    assert_eq!(second.delivered, 1);
    assert!(next_frame(&mut on_b).await.starts_with("id: 1-2\n"));

    // Alice drops; two events pass; she resumes on A from 1-2.
    drop(on_b);
    a.publish(tick(3)).await.unwrap();
    b.publish(tick(4)).await.unwrap();
    let mut resume = ConnectRequest::new(alice());
    resume.last_event_id = Some("1-2".into());
    let mut on_a = a.connect(resume).await.unwrap();
    assert!(next_frame(&mut on_a).await.contains("event: connected"));
    assert!(next_frame(&mut on_a).await.starts_with("id: 1-3\n"));
    assert!(next_frame(&mut on_a).await.starts_with("id: 1-4\n"));
    // And live after the replay, with no duplicate.
    b.publish(tick(5)).await.unwrap();
    assert!(next_frame(&mut on_a).await.starts_with("id: 1-5\n"));
    assert_eq!(a.head(), EventId::new(1, 5));
}

/// Log lines written while a test runs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<parking_lot::Mutex<Vec<u8>>>);

impl Captured {
    /// Captures this thread's log lines until the guard is dropped.
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// The captured lines that contain `needle`.
    fn lines_with(&self, needle: &str) -> (Vec<String>, String) {
        let text = String::from_utf8(self.0.lock().clone()).unwrap();
        let lines = text
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect();
        (lines, text)
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A failed publish answers an error and is logged with its cause, once
/// (with the count) however many fail within a second.
#[tokio::test(flavor = "current_thread")]
async fn failed_publishes_are_logged_once_a_second_with_their_cause() {
    let (captured, _guard) = Captured::start();
    let log = Arc::new(Log::default());
    let hub = node(&log).await;
    log.down.store(true, std::sync::atomic::Ordering::Relaxed);
    for n in 0..5 {
        let failed = hub.publish(tick(n)).await;
        assert!(
            matches!(failed, Err(sse_hub::HubError::BrokerUnavailable(_))),
            "{failed:?}"
        );
    }
    let (lines, text) = captured.lines_with("a publish failed");
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("the bus is down"),
        "the cause: {}",
        lines[0]
    );
}

/// An event the broker hands over again (an id not above the node's head)
/// is not delivered twice, and it is not silent either: counted on
/// `/metrics` and logged once a second with the count.
#[tokio::test(flavor = "current_thread")]
async fn an_event_handed_over_twice_is_delivered_once_counted_and_logged() {
    let (captured, _guard) = Captured::start();
    let log = Arc::new(Log::default());
    log.echo.store(true, std::sync::atomic::Ordering::Relaxed);
    let hub = node(&log).await;
    let mut s = hub.connect(ConnectRequest::new(alice())).await.unwrap();
    assert!(next_frame(&mut s).await.contains("event: connected"));
    for n in 1..=3 {
        hub.publish(tick(n)).await.unwrap();
    }
    for n in 1..=3 {
        assert!(next_frame(&mut s)
            .await
            .starts_with(&format!("id: 1-{n}\n")));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hub.events_skipped(), 3);
    let (lines, text) = captured.lines_with("not above this node's head");
    assert_eq!(lines.len(), 1, "{text}");
    let metrics = sse_hub::metrics::render(&hub, &Default::default(), None, None);
    assert!(
        metrics.contains("sse_hub_events_skipped_total 3"),
        "{metrics}"
    );
}
