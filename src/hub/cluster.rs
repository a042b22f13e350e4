//! The hub's side of the Redis broker: publishing through the stream,
//! the reader that delivers the stream to this node's connections, resuming
//! from the stream, and the cluster view for stats.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;

use super::history::Resume;
use super::stats::Counters;
use super::{AudienceAuthorizer, EventAuthorizer, Hub, Published};
use crate::auth::Auth;
use crate::broker::redis::StoredEvent;
use crate::broker::{BrokerConfig, RedisBroker};
use crate::config::HubConfig;
use crate::error::HubError;
use crate::event::{Event, EventId, NewEvent};
use crate::wire;

/// How many recent delivery counts are kept for `publish` to report.
const RECENT: usize = 4096;

pub(super) struct Cluster {
    broker: Arc<RedisBroker>,
    node_id: String,
    /// The newest id this node's reader delivered.
    delivered: watch::Sender<EventId>,
    /// (id, connections it was queued to on this node).
    recent: Mutex<VecDeque<(EventId, usize)>>,
}

/// This node and the others, as `/api/sse/stats` shows them with Redis.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStats {
    /// This node's id.
    pub node_id: String,
    /// Live nodes and what they last reported.
    pub nodes: Vec<serde_json::Value>,
    /// Connections on all live nodes.
    pub total_connections: u64,
    /// Sum of the nodes' user counts (a user on two nodes counts twice).
    pub user_count: u64,
}

pub(super) fn event_from(ev: StoredEvent) -> Arc<Event> {
    Arc::new(Event {
        frame: wire::event_frame(Some(ev.id), Some(&ev.name), &ev.data),
        id: ev.id,
        name: ev.name,
        target: ev.target,
        audience: ev.audience,
        published_ms: ev.id.epoch,
        dedup_key: None,
    })
}

impl Hub {
    /// A hub on `broker`. With Redis this checks that Redis answers, then
    /// starts this node's reader and its reports to the cluster.
    pub async fn with_broker(
        config: HubConfig,
        auth: Auth,
        broker: BrokerConfig,
    ) -> Result<Hub, HubError> {
        Self::with_broker_and_authorizer(config, auth, AudienceAuthorizer, broker).await
    }

    /// [`Hub::with_broker`] with a custom authorization hook.
    pub async fn with_broker_and_authorizer(
        config: HubConfig,
        auth: Auth,
        authorizer: impl EventAuthorizer,
        broker: BrokerConfig,
    ) -> Result<Hub, HubError> {
        let options = match broker {
            BrokerConfig::Memory => return Ok(Hub::with_authorizer(config, auth, authorizer)),
            BrokerConfig::Redis(o) => o,
        };
        let broker = Arc::new(RedisBroker::new(&options)?);
        let head = broker.head().await?;
        let cluster = Cluster {
            broker: broker.clone(),
            node_id: format!("{:016x}", rand::random::<u64>()),
            delivered: watch::Sender::new(head),
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
        };
        let hub = Hub::assemble(config, auth, Box::new(authorizer), Some(cluster), head);
        hub.spawn_reader(head);
        hub.spawn_reports();
        tracing::info!(node = %hub.node_id().unwrap_or_default(), head = %head, "joined the cluster through Redis");
        Ok(hub)
    }

    /// This node's id in the cluster (`None` with the memory broker).
    pub fn node_id(&self) -> Option<String> {
        self.inner.cluster.as_ref().map(|c| c.node_id.clone())
    }

    /// Delivers an event read from the stream to this node's connections.
    fn ingest(&self, stored: StoredEvent) {
        let Some(cluster) = &self.inner.cluster else {
            return;
        };
        let event = event_from(stored);
        let mut order = self.inner.order.lock();
        if event.id <= order.head {
            return;
        }
        order.head = event.id;
        let delivered = self.deliver(&event);
        drop(order);
        {
            let mut recent = cluster.recent.lock();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back((event.id, delivered));
        }
        cluster.delivered.send_replace(event.id);
        self.count_published(&event, delivered);
    }

    fn spawn_reader(&self, from: EventId) {
        let Some(cluster) = &self.inner.cluster else {
            return;
        };
        let mut reader = cluster.broker.reader(from);
        let weak = Arc::downgrade(&self.inner);
        let stop = self.inner.stop.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let batch = tokio::select! {
                    _ = stop.cancelled() => break,
                    b = reader.next(Duration::from_millis(1000)) => b,
                };
                let Some(inner) = weak.upgrade() else { break };
                let hub = Hub { inner };
                match batch {
                    Ok(events) => {
                        backoff = Duration::from_millis(100);
                        for ev in events {
                            hub.ingest(ev);
                        }
                    }
                    Err(e) => {
                        Counters::add(&hub.inner.counters.broker_errors, 1);
                        tracing::warn!(error = %crate::error::report(&e), retry_in = ?backoff, at = %reader.position(), "redis reader failed; retrying");
                        drop(hub);
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        });
    }

    fn spawn_reports(&self) {
        let weak = Arc::downgrade(&self.inner);
        let stop = self.inner.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            let mut n: u64 = 0;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let Some(inner) = weak.upgrade() else { break };
                let hub = Hub { inner };
                let Some(c) = &hub.inner.cluster else { break };
                let report = sse_protocol::NodeReport {
                    node_id: c.node_id.clone(),
                    head: hub.head().to_string(),
                    summary: sse_protocol::Summary::from(&hub.summary()),
                };
                let report = serde_json::to_string(&report).unwrap_or_default();
                if let Err(e) = c
                    .broker
                    .report_node(&c.node_id, &report, Duration::from_secs(6))
                    .await
                {
                    tracing::debug!(error = %crate::error::report(&e), "node report failed");
                }
                n += 1;
                if n.is_multiple_of(30) {
                    let age = hub.config().history_max_age.as_millis() as u64;
                    let _ = c
                        .broker
                        .trim_older_than(crate::event::unix_ms().saturating_sub(age))
                        .await;
                }
            }
        });
    }

    /// The cluster view: every live node's report (`None` with the memory
    /// broker).
    pub async fn cluster_stats(&self) -> Option<Result<ClusterStats, HubError>> {
        let c = self.inner.cluster.as_ref()?;
        Some(c.broker.nodes().await.map(|nodes| {
            let nodes: Vec<serde_json::Value> = nodes
                .iter()
                .filter_map(|(_, r)| serde_json::from_str(r).ok())
                .collect();
            let sum = |k: &str| {
                nodes
                    .iter()
                    .filter_map(|n| n.get(k).and_then(|v| v.as_u64()))
                    .sum()
            };
            ClusterStats {
                node_id: c.node_id.clone(),
                total_connections: sum("connections"),
                user_count: sum("users"),
                nodes,
            }
        }))
    }
}

impl Cluster {
    /// XADD through the broker, then wait (briefly) for this node's reader
    /// to deliver it, to report the local delivery count.
    pub(super) async fn publish(&self, hub: &Hub, new: NewEvent) -> Result<Published, HubError> {
        let cfg = hub.config();
        let res = self
            .broker
            .publish(&new, cfg.history_len, cfg.history_max_age)
            .await;
        let (id, duplicate) = match res {
            Ok(r) => r,
            Err(e) => {
                Counters::add(&hub.inner.counters.publish_failures, 1);
                return Err(e);
            }
        };
        if duplicate {
            return Ok(Published {
                id,
                delivered: 0,
                duplicate: true,
            });
        }
        self.caught_up(id, Duration::from_secs(2)).await;
        let delivered = self
            .recent
            .lock()
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map_or(0, |(_, n)| *n);
        Ok(Published {
            id,
            delivered,
            duplicate: false,
        })
    }

    /// Waits until this node delivered `id` (or `timeout` passed).
    pub(super) async fn caught_up(&self, id: EventId, timeout: Duration) {
        let mut rx = self.delivered.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|head| *head >= id)).await;
    }

    /// What a client resuming after `after` gets, `head` being what this
    /// node had delivered when the connection was registered.
    pub(super) async fn resume(
        &self,
        after: EventId,
        head: EventId,
        max: usize,
    ) -> Result<Resume, HubError> {
        if after == head {
            return Ok(Resume::Replay(Vec::new()));
        }
        if after > head {
            return Ok(Resume::Gap);
        }
        // Every missed event exactly once, or a reset: never a part.
        let Some(events) = self.broker.replay(after, head, max).await? else {
            return Ok(Resume::Gap);
        };
        Ok(Resume::Replay(events.into_iter().map(event_from).collect()))
    }
}
