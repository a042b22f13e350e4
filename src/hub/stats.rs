//! Counters the hub keeps for `/api/sse/stats`, `/api/health` and `/metrics`.
//! Plain relaxed atomics: they are read for reporting, never for decisions.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) events_published: AtomicU64,
    pub(crate) events_delivered: AtomicU64,
    pub(crate) dropped_events: AtomicU64,
    pub(crate) slow_disconnects: AtomicU64,
    pub(crate) connections_opened: AtomicU64,
    pub(crate) connections_closed: AtomicU64,
    pub(crate) connections_rejected: AtomicU64,
    pub(crate) last_event_ms: AtomicU64,
    pub(crate) events_per_second: AtomicU64,
    pub(crate) deliveries_per_second: AtomicU64,
    pub(crate) replayed_events: AtomicU64,
    pub(crate) resets_sent: AtomicU64,
    pub(crate) broker_errors: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// One user's share of the node, as `/api/sse/stats` lists it.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UserStats {
    /// The user.
    pub user_id: String,
    /// Open connections.
    pub connections: usize,
    /// Union of the connections' event filters (empty: no filter).
    pub filters: Vec<String>,
    /// Union of the connections' topics.
    pub topics: Vec<String>,
}

/// A topic with its number of subscribed connections.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TopicStats {
    /// The topic.
    pub topic: String,
    /// Connections subscribed to it.
    pub subscribers: usize,
}

/// A snapshot of the hub.
#[derive(Debug, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct HubStats {
    /// Open connections on this node.
    pub total_connections: usize,
    /// Distinct users with at least one connection.
    pub user_count: usize,
    /// Per user, sorted by user id.
    pub users: Vec<UserStats>,
    /// Topics with subscribers, sorted by name.
    pub topics: Vec<TopicStats>,
    /// Events published since start.
    pub total_events_published: u64,
    /// Event frames queued to connections since start.
    pub total_events_sent: u64,
    /// Events published during the last second.
    pub events_per_second: u64,
    /// Event frames queued during the last second.
    pub deliveries_per_second: u64,
    /// Mean age of the open connections.
    pub average_connection_duration_ms: u64,
    /// Unix ms of the last publish, if any.
    pub last_event_time: Option<u64>,
    /// Frames that could not be queued (slow consumers).
    pub dropped_events: u64,
    /// Connections closed for not keeping up.
    pub slow_disconnects: u64,
    /// Connections opened since start.
    pub connections_opened: u64,
    /// Streams refused by a connection limit.
    pub connections_rejected: u64,
    /// Events currently kept for replay.
    pub history_len: usize,
    /// Events replayed to resuming clients.
    pub replayed_events: u64,
    /// `reset` events sent to clients whose id was no longer covered.
    pub resets_sent: u64,
    /// Seconds since the hub started.
    pub uptime_secs: u64,
    /// Failed reads from the broker (each retried).
    pub broker_errors: u64,
    /// Publishes refused because the broker was unavailable.
    pub publish_failures: u64,
}
