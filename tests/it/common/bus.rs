//! `Bus`, a third broker engine for tests: a small in-process cluster.
//! Every node's broker shares one log, and a task per node delivers it
//! later (as Redis' readers do), so two hubs on one bus behave like two
//! nodes. It keeps every event, but answers a resume as a broker keeping
//! `max` events per channel would.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sse_hub::broker::{
    Accepted, Broker, BrokerFuture, Channel, EventSink, Presence, PresenceCount, PresenceEdge,
    Replay,
};
use sse_hub::{wire, Event, EventId, NewEvent, Topic, UserId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The shared log of a cluster of nodes.
#[derive(Default)]
pub struct Log {
    events: Mutex<Vec<Arc<Event>>>,
    appended: Notify,
    /// Idempotency keys and the ids they got.
    keys: Mutex<HashMap<String, EventId>>,
    /// Each node's connection count per (topic, user).
    presence: Mutex<BTreeMap<(Topic, UserId), HashMap<String, u64>>>,
    /// Set: every publish fails, as with a broker that is down.
    pub down: std::sync::atomic::AtomicBool,
    /// Set: each node's reader hands every event over twice, as a reader
    /// that reads again after a reconnect does.
    pub echo: std::sync::atomic::AtomicBool,
}

/// One node's broker on the shared log.
pub struct Bus(pub Arc<Log>);

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
                    if log.echo.load(std::sync::atomic::Ordering::Relaxed) {
                        sink.ingest(e.clone());
                    }
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
        if self.0.down.load(std::sync::atomic::Ordering::Relaxed) {
            let down =
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "the bus is down");
            return Box::pin(std::future::ready(Err(
                sse_hub::HubError::BrokerUnavailable(sse_hub::error::BrokerError::caused(
                    "publishing on the bus",
                    down,
                )),
            )));
        }
        let mut events = self.0.events.lock();
        let mut keys = self.0.keys.lock();
        if let Some(id) = new.idempotency_key.as_ref().and_then(|k| keys.get(k)) {
            return Box::pin(std::future::ready(Ok(Accepted {
                id: *id,
                duplicate: true,
            })));
        }
        let id = EventId::new(1, events.len() as u64 + 1);
        if let Some(k) = &new.idempotency_key {
            keys.insert(k.clone(), id);
        }
        drop(keys);
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
        max: usize,
    ) -> BrokerFuture<'a, Replay> {
        let events = self.0.events.lock();
        let replay = if after.epoch != 1 || after > upto {
            Replay::Gap
        } else {
            let missed: Vec<_> = events[after.seq as usize..upto.seq as usize]
                .iter()
                .filter(|e| in_any(e, channels))
                .cloned()
                .collect();
            // A channel keeps `max` events: missing more in one is a gap.
            let overflow = channels.iter().any(|c| {
                missed
                    .iter()
                    .filter(|e| in_any(e, std::slice::from_ref(c)))
                    .count()
                    > max
            });
            if overflow {
                Replay::Gap
            } else {
                Replay::Events(missed)
            }
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
        node: &'a str,
        changes: &'a [PresenceCount],
    ) -> BrokerFuture<'a, Vec<PresenceEdge>> {
        let mut presence = self.0.presence.lock();
        let mut edges = Vec::new();
        for c in changes {
            let key = (c.topic.clone(), c.user.clone());
            let nodes = presence.entry(key.clone()).or_default();
            let before: u64 = nodes.values().sum();
            if c.connections == 0 {
                nodes.remove(node);
            } else {
                nodes.insert(node.to_string(), c.connections);
            }
            let after: u64 = nodes.values().sum();
            if after == 0 {
                presence.remove(&key);
            }
            match (before, after) {
                (0, a) if a > 0 => edges.push(PresenceEdge::Joined(key.0, key.1)),
                (b, 0) if b > 0 => edges.push(PresenceEdge::Left(key.0, key.1)),
                _ => {}
            }
        }
        Box::pin(std::future::ready(Ok(edges)))
    }

    fn presence<'a>(&'a self, topic: &'a Topic, limit: usize) -> BrokerFuture<'a, Presence> {
        let presence = self.0.presence.lock();
        let users: Vec<(UserId, u64)> = presence
            .iter()
            .filter(|((t, _), _)| t == topic)
            .map(|((_, u), nodes)| (u.clone(), nodes.values().sum()))
            .collect();
        let total = users.len() as u64;
        Box::pin(std::future::ready(Ok((
            users.into_iter().take(limit).collect(),
            total,
        ))))
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
