//! The hub's shared state: what every job (publish, connect, maintenance,
//! stats) works on, and why each part is built the way it is.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::authorizer::EventAuthorizer;
use super::counters::Counters;
use super::observer::LifecycleObserver;
use super::registry::Registry;
use crate::access::policy::TopicAuthorizer;
use crate::broker::Broker;
use crate::config::HubConfig;
use crate::event::{EventId, Topic, UserId};
/// The target of the hub's trace spans (`publish`, `stream.open`,
/// `resume`), at TRACE level: off, they cost a level check; an exporter
/// turns them on by this target alone (the binary's `--otlp-endpoint`).
/// They carry ids and counts, never a token or a payload.
pub const TRACE_TARGET: &str = "sse_hub::trace";

pub(super) struct Inner {
    pub(super) config: HubConfig,
    /// Carries events between nodes and keeps the history; the hub only
    /// talks to it through the trait.
    pub(super) broker: Arc<dyn Broker>,
    /// Per-event authorization beyond targeting, a trait object so an
    /// embedder can plug in their own.
    /// `None` for the default (the audience rule alone, which the hub
    /// applies itself): a delivery then makes no dynamic call.
    pub(super) authorizer: Option<Box<dyn EventAuthorizer>>,
    /// Who may subscribe and publish to which topics; asked before a
    /// connection gets a topic, so delivery and replay never need to.
    pub(super) topics: Box<dyn TopicAuthorizer>,
    /// Told about connects, disconnects and topic changes, if anyone asked.
    pub(super) lifecycle: Option<Box<dyn LifecycleObserver>>,
    /// This node's id in a cluster's reports and in logs.
    pub(super) node_id: String,
    pub(super) epoch: u64,
    /// The newest id delivered on this node. Held while an event is
    /// delivered and while a connection registers, so no event slips
    /// between a resume's history and its live delivery.
    pub(super) head: Mutex<EventId>,
    /// The same id for async waiters: a publish waiting to report its local
    /// delivery count, a resume waiting for events seen on another node.
    /// Only kept up to date when the broker has a delivery lag: with none,
    /// nobody ever waits, and a publish skips the cost.
    pub(super) delivered: watch::Sender<EventId>,
    /// The broker's [`crate::broker::Broker::delivery_lag`], read once.
    pub(super) delivery_lag: std::time::Duration,
    /// How many local connections each recent event reached.
    pub(super) recent: Mutex<Recent>,
    pub(super) registry: Registry,
    /// The presence counts last handed to the broker, to send only changes.
    pub(super) presence_sent: Mutex<HashMap<(Topic, UserId), u64>>,
    pub(super) counters: Counters,
    /// When a failed publish was last logged (ms since the epoch): a
    /// broker outage fails every publish, and one line a second says so
    /// (with the count) without flooding the log.
    pub(super) publish_failure_logged_ms: std::sync::atomic::AtomicU64,
    /// The same for events the broker handed over below the head.
    pub(super) skip_logged_ms: std::sync::atomic::AtomicU64,
    pub(super) shutting_down: AtomicBool,
    /// Why the broker failed its last readiness check (`None`: it
    /// answered). Written once a second, read by every probe.
    pub(super) broker_problem: Mutex<Option<String>>,
    /// Turns for resumes ([`HubConfig::max_concurrent_replays`]): a
    /// semaphore, so a storm of resumes queues fairly (first come, first
    /// served) and each waits with a deadline.
    pub(super) replays: tokio::sync::Semaphore,
    /// Cancelled on shutdown or when the hub is dropped: ends the
    /// background work (maintenance, the broker's reader).
    pub(super) stop: CancellationToken,
    pub(super) started: Instant,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The hub. Cheap to clone; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("node", &self.inner.node_id)
            .field("epoch", &self.inner.epoch)
            .field("connections", &self.inner.registry.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// The first part of this node's head when it started: its start time
    /// with the memory broker, the newest stored entry's millisecond with
    /// Redis (see [`EventId`]).
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// This node's id (random per start), as the cluster view shows it.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// The newest id delivered on this node (`<epoch>-0` before the first
    /// event).
    pub fn head(&self) -> EventId {
        *self.inner.head.lock()
    }

    /// Open connections on this node.
    pub fn connection_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Resolves once [`Hub::shutdown`] has been called.
    pub async fn stopped(&self) {
        self.inner.stop.cancelled().await
    }

    /// Whether [`Hub::shutdown`] has been called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }
}

/// How many local connections the most recent events reached, for
/// [`Hub::publish`] to report once its event came back from the broker.
pub(super) struct Recent {
    counts: VecDeque<Delivery>,
}

#[derive(Clone, Copy)]
struct Delivery {
    id: EventId,
    connections: usize,
}

impl Recent {
    /// Enough for every publish in flight to find its count.
    const KEEP: usize = 4096;

    pub(super) fn new() -> Self {
        Self {
            counts: VecDeque::with_capacity(64),
        }
    }

    pub(super) fn record(&mut self, id: EventId, connections: usize) {
        if self.counts.len() == Self::KEEP {
            self.counts.pop_front();
        }
        self.counts.push_back(Delivery { id, connections });
    }

    pub(super) fn find(&self, id: EventId) -> Option<usize> {
        self.counts
            .iter()
            .rev()
            .find(|d| d.id == id)
            .map(|d| d.connections)
    }
}
