//! The JSON of the hub's operator endpoints, as the dashboard reads it.

use serde::{Deserialize, Serialize};

/// One user's share of the node, as `/api/sse/stats` lists it.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserStats {
    /// The user.
    pub user_id: String,
    /// Open connections.
    pub connections: u64,
    /// Union of the connections' event filters (empty: no filter).
    pub filters: Vec<String>,
    /// Union of the connections' topics.
    pub topics: Vec<String>,
}

/// A topic with its number of subscribed connections.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStats {
    /// The topic.
    pub topic: String,
    /// Connections subscribed to it.
    pub subscribers: u64,
}

/// A snapshot of the hub.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HubStats {
    /// Open connections on this node.
    pub total_connections: u64,
    /// Distinct users with at least one connection.
    pub user_count: u64,
    /// Per user, sorted by user id.
    pub users: Vec<UserStats>,
    /// Topics with subscribers, sorted by name.
    pub topics: Vec<TopicStats>,
    /// Events this node took from the broker since start (with several
    /// nodes, each counts every event: `/metrics` has
    /// `sse_hub_events_published_total` for publishes through this node).
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
    pub history_len: u64,
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

/// The headline numbers of a node, in constant time: what `/api/health`,
/// the cluster's node reports and the demo's `metrics` events carry.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Summary {
    /// Open connections.
    pub connections: u64,
    /// Distinct users connected.
    pub users: u64,
    /// Events published since start.
    pub events_published: u64,
    /// Events published during the last second.
    pub events_per_second: u64,
    /// Event frames queued during the last second.
    pub deliveries_per_second: u64,
    /// Event frames queued since start.
    pub total_events_sent: u64,
    /// Events currently kept for replay.
    pub history_len: u64,
    /// Seconds since the node started.
    pub uptime_secs: u64,
}

impl From<&HubStats> for Summary {
    fn from(s: &HubStats) -> Self {
        Self {
            connections: s.total_connections,
            users: s.user_count,
            events_published: s.total_events_published,
            events_per_second: s.events_per_second,
            deliveries_per_second: s.deliveries_per_second,
            total_events_sent: s.total_events_sent,
            history_len: s.history_len,
            uptime_secs: s.uptime_secs,
        }
    }
}

/// `GET /api/ready` while the node can serve (otherwise 503 with an
/// [`crate::ErrorBody`] whose code is `not_ready`).
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// The node's id.
    pub node: String,
}

/// `GET /api/health`.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, or `shutting_down` (still 200: liveness).
    pub status: String,
    /// The epoch of the node's event ids.
    pub epoch: u64,
    /// The node's id (random per start; the one the cluster view shows).
    pub node: Option<String>,
    /// The numbers.
    #[serde(flatten)]
    pub summary: Summary,
}

/// What a node reports to the others through the broker every few
/// seconds (listed under `cluster.nodes` in `/api/sse/stats`).
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    /// The node.
    pub node_id: String,
    /// The newest event id it delivered.
    pub head: String,
    /// Its numbers.
    #[serde(flatten)]
    pub summary: Summary,
}

/// `cluster` in `/api/sse/stats` with a broker shared by several nodes:
/// every live node's report and the cluster's totals.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStats {
    /// The node that answered.
    pub node_id: String,
    /// Live nodes and what they last reported.
    pub nodes: Vec<NodeReport>,
    /// Connections on all live nodes.
    pub total_connections: u64,
    /// Sum of the nodes' user counts (a user on two nodes counts twice).
    pub user_count: u64,
}

/// One event as the history API returns it.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Its id (what `Last-Event-ID` takes).
    pub id: String,
    /// Its type.
    pub event: String,
    /// Its `data`, as a stream would deliver it.
    pub data: String,
}

/// `GET /api/sse/history`: the newest events of a channel, oldest first.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The events.
    pub events: Vec<HistoryEvent>,
    /// The newest id this node had delivered when it answered: open a
    /// stream with it as `Last-Event-ID` to continue without a gap.
    pub head: String,
}

/// One user present in a topic.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PresentUser {
    /// The user.
    pub user_id: String,
    /// Their connections subscribed to the topic, on every node.
    pub connections: u64,
}

/// `GET /api/sse/presence?topic=T`.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PresencePage {
    /// The topic.
    pub topic: String,
    /// Who is there, by user id (at most the first 1 000).
    pub users: Vec<PresentUser>,
    /// How many users are there in all.
    pub total: u64,
}
