//! The in-process broker: ids, history and delivery for one node.
//!
//! One short critical section assigns the id, appends to the history and
//! hands the event to the hub, so events reach the hub in id order and a
//! resume can splice history and live delivery without a gap. Nothing
//! inside it waits: the hub's ingest only queues frames.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::contract::{
    Accepted, Broker, BrokerFuture, Channel, EventSink, HistoryLimits, Presence, PresenceCount,
    PresenceEdge, Replay,
};
use super::history::History;
use crate::error::{BrokerError, HubError};
use crate::event::{unix_ms, Event, EventId, NewEvent, Topic, UserId};
use crate::wire;

/// One node's broker (see the module docs).
pub struct MemoryBroker {
    /// The newest id handed out and the history: changed together, under
    /// one lock, which is held while the event is handed to the sink.
    state: Mutex<State>,
    /// The hub, from [`Broker::start`] on.
    sink: OnceLock<Arc<dyn EventSink>>,
    /// Who is in each presence topic, with how many connections (one
    /// node: the hub's own counts).
    presence: Mutex<HashMap<Topic, BTreeMap<UserId, u64>>>,
}

struct State {
    head: EventId,
    history: History,
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("head", &self.state.lock().head)
            .finish_non_exhaustive()
    }
}

impl MemoryBroker {
    /// A broker whose ids start at `<now in ms>-1`, keeping `limits` of
    /// history.
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            state: Mutex::new(State {
                head: EventId::new(unix_ms(), 0),
                history: History::new(limits.len, limits.max_age, limits.max_channels),
            }),
            sink: OnceLock::new(),
            presence: Mutex::new(HashMap::new()),
        }
    }

    fn publish_now(&self, new: NewEvent) -> Result<Accepted, HubError> {
        let sink = self.sink.get().ok_or_else(|| {
            HubError::BrokerUnavailable(BrokerError::new("publishing before the broker started"))
        })?;
        let mut state = self.state.lock();
        if let Some(id) = new
            .idempotency_key
            .as_deref()
            .and_then(|k| state.history.find_key(k))
        {
            return Ok(Accepted {
                id,
                duplicate: true,
            });
        }
        state.head.seq += 1;
        let id = state.head;
        let event = Arc::new(wire::published(id, new, unix_ms()));
        state.history.push(event.clone());
        sink.ingest(event);
        drop(state);
        Ok(Accepted {
            id,
            duplicate: false,
        })
    }
}

impl Broker for MemoryBroker {
    fn head(&self) -> BrokerFuture<'_, EventId> {
        Box::pin(std::future::ready(Ok(self.state.lock().head)))
    }

    /// Only events published from now on exist: `after` is the head.
    fn start(
        &self,
        sink: Arc<dyn EventSink>,
        _after: EventId,
        _stop: CancellationToken,
    ) -> Result<(), HubError> {
        self.sink.set(sink).map_err(|_| {
            HubError::BrokerUnavailable(BrokerError::new("this memory broker already serves a hub"))
        })
    }

    fn publish(&self, event: NewEvent) -> BrokerFuture<'_, Accepted> {
        Box::pin(std::future::ready(self.publish_now(event)))
    }

    fn replay<'a>(
        &'a self,
        after: EventId,
        upto: EventId,
        channels: &'a [Channel],
        _max: usize,
    ) -> BrokerFuture<'a, Replay> {
        // Each channel's length is the bound.
        let replay = self.state.lock().history.since(after, upto, channels);
        Box::pin(std::future::ready(Ok(replay)))
    }

    fn recent<'a>(
        &'a self,
        channels: &'a [Channel],
        upto: EventId,
        limit: usize,
    ) -> BrokerFuture<'a, Vec<Arc<Event>>> {
        let events = self.state.lock().history.recent(channels, upto, limit);
        Box::pin(std::future::ready(Ok(events)))
    }

    fn delivery_lag(&self) -> Duration {
        Duration::ZERO
    }

    fn maintain(&self, now_ms: u64) -> BrokerFuture<'_, ()> {
        self.state.lock().history.expire(now_ms);
        Box::pin(std::future::ready(Ok(())))
    }

    fn presence_update<'a>(
        &'a self,
        _node: &'a str,
        changes: &'a [PresenceCount],
    ) -> BrokerFuture<'a, Vec<PresenceEdge>> {
        let mut presence = self.presence.lock();
        let mut edges = Vec::new();
        for c in changes {
            let users = presence.entry(c.topic.clone()).or_default();
            let before = users.get(&c.user).copied().unwrap_or(0);
            if c.connections == 0 {
                users.remove(&c.user);
            } else {
                users.insert(c.user.clone(), c.connections);
            }
            match (before, c.connections) {
                (0, n) if n > 0 => {
                    edges.push(PresenceEdge::Joined(c.topic.clone(), c.user.clone()))
                }
                (b, 0) if b > 0 => edges.push(PresenceEdge::Left(c.topic.clone(), c.user.clone())),
                _ => {}
            }
            if users.is_empty() {
                presence.remove(&c.topic);
            }
        }
        Box::pin(std::future::ready(Ok(edges)))
    }

    fn presence<'a>(&'a self, topic: &'a Topic, limit: usize) -> BrokerFuture<'a, Presence> {
        let presence = self.presence.lock();
        let page = match presence.get(topic) {
            Some(users) => (
                users
                    .iter()
                    .take(limit)
                    .map(|(u, n)| (u.clone(), *n))
                    .collect(),
                users.len() as u64,
            ),
            None => (Vec::new(), 0),
        };
        Box::pin(std::future::ready(Ok(page)))
    }

    fn retained(&self) -> Option<u64> {
        Some(self.state.lock().history.len() as u64)
    }
}
