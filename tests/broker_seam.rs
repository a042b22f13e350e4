//! The broker seam: a third engine plugs in through `Broker` alone, with
//! no change to the hub. `Bus` is a small in-process cluster: every node's
//! broker shares one log, and a task per node delivers it later (as Redis'
//! readers do), so two hubs on one bus behave like two nodes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;
use sse_hub::broker::{
    Accepted, Broker, BrokerFuture, Channel, EventSink, Presence, PresenceCount, PresenceEdge,
    Replay,
};
use sse_hub::{
    wire, ConnectRequest, Event, EventId, EventStream, Hub, HubConfig, NewEvent, Principal, Role,
    Target, Topic, UserId,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The shared log of a cluster of nodes.
#[derive(Default)]
struct Log {
    events: Mutex<Vec<Arc<Event>>>,
    appended: Notify,
}

/// One node's broker on the shared log.
struct Bus(Arc<Log>);

impl Broker for Bus {
    fn head(&self) -> BrokerFuture<'_, EventId> {
        let head = self
            .0
            .events
            .lock()
            .last()
            .map_or(EventId::new(1, 0), |e| e.id);
        Box::pin(std::future::ready(Ok(head)))
    }

    fn start(
        &self,
        sink: Arc<dyn EventSink>,
        after: EventId,
        stop: CancellationToken,
    ) -> Result<(), sse_hub::HubError> {
        let log = self.0.clone();
        tokio::spawn(async move {
            let mut next = after.seq as usize;
            loop {
                let appended = log.appended.notified();
                let batch: Vec<_> = log.events.lock()[next..].to_vec();
                next += batch.len();
                for e in batch {
                    // Later than publish, like a reader on another machine.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    sink.ingest(e);
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = appended => {}
                }
            }
        });
        Ok(())
    }

    fn publish(&self, new: NewEvent) -> BrokerFuture<'_, Accepted> {
        let mut events = self.0.events.lock();
        let id = EventId::new(1, events.len() as u64 + 1);
        events.push(Arc::new(wire::published(id, new, 0)));
        drop(events);
        self.0.appended.notify_waiters();
        Box::pin(std::future::ready(Ok(Accepted {
            id,
            duplicate: false,
        })))
    }

    fn replay<'a>(
        &'a self,
        after: EventId,
        upto: EventId,
        channels: &'a [Channel],
        _max: usize,
    ) -> BrokerFuture<'a, Replay> {
        let events = self.0.events.lock();
        let replay = if after.epoch != 1 || after > upto {
            Replay::Gap
        } else {
            Replay::Events(
                events[after.seq as usize..upto.seq as usize]
                    .iter()
                    .filter(|e| in_any(e, channels))
                    .cloned()
                    .collect(),
            )
        };
        Box::pin(std::future::ready(Ok(replay)))
    }

    fn recent<'a>(
        &'a self,
        channels: &'a [Channel],
        upto: EventId,
        limit: usize,
    ) -> BrokerFuture<'a, Vec<Arc<Event>>> {
        let events = self.0.events.lock();
        let mut out: Vec<_> = events[..upto.seq as usize]
            .iter()
            .filter(|e| in_any(e, channels))
            .cloned()
            .collect();
        out.drain(..out.len().saturating_sub(limit));
        Box::pin(std::future::ready(Ok(out)))
    }

    fn presence_update<'a>(
        &'a self,
        _node: &'a str,
        _changes: &'a [PresenceCount],
    ) -> BrokerFuture<'a, Vec<PresenceEdge>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn presence<'a>(&'a self, _topic: &'a Topic, _limit: usize) -> BrokerFuture<'a, Presence> {
        Box::pin(std::future::ready(Ok((Vec::new(), 0))))
    }

    fn delivery_lag(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn maintain(&self, _now_ms: u64) -> BrokerFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Whether `e` is kept in one of `channels`.
fn in_any(e: &Event, channels: &[Channel]) -> bool {
    Channel::of_target(&e.target)
        .iter()
        .any(|c| channels.contains(c))
}

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
    NewEvent::json("tick".parse().unwrap(), &n, Target::all())
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
