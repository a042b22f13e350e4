//! The seam between the hub and whatever carries its events: the
//! [`Broker`] trait, the [`EventSink`] it calls back into, and the types
//! they exchange.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sse_protocol::NodeReport;
use tokio_util::sync::CancellationToken;

pub use super::channel::Channel;
use crate::error::HubError;
use crate::event::{Event, EventId, NewEvent, Topic, UserId};

/// How much history a broker keeps for replay, per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Most events kept per channel.
    pub len: usize,
    /// Age after which an event is dropped.
    pub max_age: Duration,
    /// Most channels kept; beyond, the stalest are dropped.
    pub max_channels: usize,
}

/// What a broker's future resolves to.
pub type BrokerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, HubError>> + Send + 'a>>;

/// What the broker made of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The event's id (the earlier event's, for a duplicate).
    pub id: EventId,
    /// The idempotency key was seen before: nothing was published.
    pub duplicate: bool,
}

/// What a resuming client gets.
#[derive(Debug)]
pub enum Replay {
    /// Everything after the client's id, oldest first (may be empty).
    Events(Vec<Arc<Event>>),
    /// The history no longer covers the client's id: it missed events
    /// that are gone, and gets a `reset`.
    Gap,
}

/// What a broker went through, for `/metrics` (zero for brokers without
/// a connection to lose).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerCounters {
    /// Connections remade after a failure.
    pub reconnections: u64,
    /// Times the broker followed a failover to another server.
    pub failovers: u64,
    /// Times a node found the shared log behind what it had delivered (a
    /// failover lost its tail; clients holding those ids get a reset).
    pub lost_tails: u64,
}

/// This node's count of one user's connections on one topic (0: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceCount {
    /// The topic.
    pub topic: Topic,
    /// The user.
    pub user: UserId,
    /// Their connections on this node subscribed to it.
    pub connections: u64,
}

/// A user's presence in a topic began or ended, over every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceEdge {
    /// Their first connection anywhere subscribed.
    Joined(Topic, UserId),
    /// Their last connection anywhere left (or its node died).
    Left(Topic, UserId),
}

/// Who is in a topic: `(user, connections)` by user id, at most the limit
/// asked for, and how many users there are in all.
pub type Presence = (Vec<(UserId, u64)>, u64);

/// The hub's side of a broker: where events arrive. Implemented by the
/// hub; a broker holds it from [`Broker::start`] on.
pub trait EventSink: Send + Sync + 'static {
    /// One event, to be delivered to this node's connections. Called once
    /// per event, in id order; ids at or below the last one are ignored.
    fn ingest(&self, event: Arc<Event>);

    /// The broker failed in the background (a reader lost Redis); counted
    /// and logged by the hub. The broker keeps retrying by itself.
    fn failed(&self, error: &HubError);

    /// Events after `after` (the last one handed over) up to and including
    /// `upto` were published but will never reach the sink: the broker's
    /// log let go of them before this node read them (it fell behind by
    /// more than the log keeps, e.g. while stalled). The sink must bring
    /// each of its connections up to `upto` from the history
    /// ([`Broker::replay`]) or send it a `reset`; the broker waits for the
    /// returned future before it hands over anything newer, so the
    /// recovered events and the live ones stay in id order.
    fn missed(
        &self,
        after: EventId,
        upto: EventId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// An engine that carries events between publishers and hub nodes.
pub trait Broker: Send + Sync + 'static {
    /// The id of the newest event already published: where a node that
    /// starts now begins (a resume from it replays nothing).
    fn head(&self) -> BrokerFuture<'_, EventId>;

    /// Hands every event after `after` to `sink`, in id order, until `stop`
    /// is cancelled. Called once, from inside a tokio runtime.
    fn start(
        &self,
        sink: Arc<dyn EventSink>,
        after: EventId,
        stop: CancellationToken,
    ) -> Result<(), HubError>;

    /// Assigns an id, records the event for replay and sends it on its way
    /// to every node's sink (see [`Broker::delivery_lag`]).
    fn publish(&self, event: NewEvent) -> BrokerFuture<'_, Accepted>;

    /// Every event of `channels` after `after` up to and including `upto`
    /// (an id this node's sink has received), merged oldest first, or
    /// [`Replay::Gap`] when the history cannot promise all of them (a
    /// channel evicted one) or more than `max` were missed in any one channel
    /// (the same rule on every broker: `tests/it/broker_contract.rs`).
    fn replay<'a>(
        &'a self,
        after: EventId,
        upto: EventId,
        channels: &'a [Channel],
        max: usize,
    ) -> BrokerFuture<'a, Replay>;

    /// The newest `limit` events of `channels` up to and including `upto`,
    /// merged oldest first (for `?rewind=` and the history API).
    fn recent<'a>(
        &'a self,
        channels: &'a [Channel],
        upto: EventId,
        limit: usize,
    ) -> BrokerFuture<'a, Vec<Arc<Event>>>;

    /// The longest an event takes to reach this node's sink once `publish`
    /// returned: the hub waits up to this long to report how many local
    /// connections got an event, and before resuming a client who may have
    /// seen newer events on another node. Zero when the sink is called
    /// before `publish` returns.
    fn delivery_lag(&self) -> Duration;

    /// Upkeep, called by the hub every second (drop history past its age).
    fn maintain(&self, now_ms: u64) -> BrokerFuture<'_, ()>;

    /// Records this node's changed presence counts (`node` is the hub's
    /// node id) and returns the users whose presence began or ended over
    /// every node with them, so exactly one node announces each.
    fn presence_update<'a>(
        &'a self,
        node: &'a str,
        changes: &'a [PresenceCount],
    ) -> BrokerFuture<'a, Vec<PresenceEdge>>;

    /// Who is in `topic` over every live node (at most `limit` users).
    fn presence<'a>(&'a self, topic: &'a Topic, limit: usize) -> BrokerFuture<'a, Presence>;

    /// Forgets the presence of nodes that stopped reporting; the users who
    /// left with them. Called every two seconds by every node.
    fn presence_sweep(&self) -> BrokerFuture<'_, Vec<PresenceEdge>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Whether the broker can serve now (for the readiness probe); the
    /// error says why not. Called every second.
    fn ready(&self) -> BrokerFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// What the broker went through (reconnections, failovers).
    fn counters(&self) -> BrokerCounters {
        BrokerCounters::default()
    }

    /// Events held for replay, when known without a round trip (for stats).
    fn retained(&self) -> Option<u64> {
        None
    }

    /// Shares this node's report with the other nodes (every two seconds).
    /// Single-node brokers have no one to tell.
    fn report(&self, _node: &NodeReport) -> BrokerFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// The reports of every live node, or `None` for a single-node broker.
    fn nodes(&self) -> BrokerFuture<'_, Option<Vec<NodeReport>>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}
