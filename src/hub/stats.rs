//! What the hub reports: [`Hub::summary`] in constant time for health
//! checks and scrapes, [`Hub::stats`] with a walk over every connection,
//! and the cluster view from the broker's node reports.

use std::collections::{BTreeMap, BTreeSet};

pub use sse_protocol::{ClusterStats, HubStats, TopicStats, UserStats};

use super::core::Hub;
use super::counters::Counters;
use crate::error::HubError;

/// One user's connections while [`Hub::stats`] walks them.
#[derive(Default)]
struct UserTally {
    connections: u64,
    filters: BTreeSet<String>,
    topics: BTreeSet<String>,
}

impl Hub {
    /// A snapshot for `/api/sse/stats`: the totals of [`Hub::summary`]
    /// plus per-user and per-topic lists and the mean connection age,
    /// which take a walk over every connection.
    pub fn stats(&self) -> HubStats {
        let mut stats = self.summary();
        let mut users: BTreeMap<String, UserTally> = BTreeMap::new();
        let mut age_sum: u128 = 0;
        let mut total = 0usize;
        self.inner.registry.for_each(|conn| {
            total += 1;
            age_sum += conn.connected_at.elapsed().as_millis();
            let u = users.entry(conn.user.to_string()).or_default();
            u.connections += 1;
            if let Some(f) = &conn.filter {
                u.filters.extend(f.iter().map(|n| n.to_string()));
            }
            u.topics
                .extend(conn.topics.read().iter().map(|t| t.to_string()));
        });
        let mut topics: Vec<TopicStats> = self
            .inner
            .registry
            .topic_counts()
            .into_iter()
            .map(|(topic, n)| TopicStats {
                topic: topic.to_string(),
                subscribers: n as u64,
            })
            .collect();
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        stats.average_connection_duration_ms = if total == 0 {
            0
        } else {
            (age_sum / total as u128) as u64
        };
        stats.topics = topics;
        stats.users = users
            .into_iter()
            .map(|(user_id, t)| UserStats {
                user_id,
                connections: t.connections,
                filters: t.filters.into_iter().collect(),
                topics: t.topics.into_iter().collect(),
            })
            .collect();
        stats
    }

    /// The totals and counters of [`Hub::stats`] without walking the
    /// connections: `users` and `topics` are empty and
    /// `average_connection_duration_ms` is 0. Constant time, whatever the
    /// number of connections, for health checks, metrics scrapes and node
    /// reports (at 15 000 streams the full walk takes milliseconds).
    pub fn summary(&self) -> HubStats {
        let c = &self.inner.counters;
        let last = Counters::get(&c.last_event_ms);
        HubStats {
            total_connections: self.inner.registry.len() as u64,
            user_count: self.inner.registry.user_count() as u64,
            users: Vec::new(),
            topics: Vec::new(),
            total_events_published: Counters::get(&c.events_published),
            total_events_sent: Counters::get(&c.events_delivered),
            events_per_second: Counters::get(&c.events_per_second),
            deliveries_per_second: Counters::get(&c.deliveries_per_second),
            average_connection_duration_ms: 0,
            last_event_time: (last > 0).then_some(last),
            dropped_events: Counters::get(&c.dropped_events),
            slow_disconnects: Counters::get(&c.slow_disconnects),
            connections_opened: Counters::get(&c.connections_opened),
            connections_rejected: Counters::get(&c.connections_rejected),
            history_len: self.inner.broker.retained().unwrap_or(0),
            replayed_events: Counters::get(&c.replayed_events),
            resets_sent: Counters::get(&c.resets_sent),
            uptime_secs: self.inner.started.elapsed().as_secs(),
            broker_errors: Counters::get(&c.broker_errors),
            publish_failures: Counters::get(&c.publish_failures),
        }
    }

    /// Times the broker said this node missed events and its connections
    /// were caught up from the history or reset (for `/metrics`).
    pub fn broker_gaps(&self) -> u64 {
        Counters::get(&self.inner.counters.broker_gaps)
    }

    /// Connections closed since start (for `/metrics`).
    pub fn connections_closed(&self) -> u64 {
        Counters::get(&self.inner.counters.connections_closed)
    }

    /// This node and the others, from the broker's node reports;
    /// `Ok(None)` for a single-node broker.
    pub async fn cluster_stats(&self) -> Result<Option<ClusterStats>, HubError> {
        let Some(nodes) = self.inner.broker.nodes().await? else {
            return Ok(None);
        };
        Ok(Some(ClusterStats {
            node_id: self.node_id().to_string(),
            total_connections: nodes.iter().map(|n| n.summary.connections).sum(),
            user_count: nodes.iter().map(|n| n.summary.users).sum(),
            nodes,
        }))
    }
}
