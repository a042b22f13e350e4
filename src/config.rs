//! Tunables of the hub, with defaults that suit one node serving a few
//! thousand browsers. The server binary maps its CLI flags and environment
//! variables onto this struct; library users fill it in directly.

use crate::broker::Timing;
use std::time::Duration;

/// Settings of a [`crate::Hub`].
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Most connections the node holds; beyond, new streams get 503.
    pub max_connections: usize,
    /// Most connections one user holds; beyond, new streams get 429.
    pub max_connections_per_user: usize,
    /// When true, a user's new connection closes their older ones.
    pub single_connection_per_user: bool,
    /// Frames queued per connection before it counts as a slow consumer and
    /// is disconnected.
    pub connection_queue: usize,
    /// Interval of the `:heartbeat` comment.
    pub heartbeat_interval: Duration,
    /// Close connections that received no event (heartbeats aside) for this
    /// long. `None` keeps them while the client is there.
    pub idle_timeout: Option<Duration>,
    /// The `retry:` hint sent when a stream opens, in milliseconds.
    pub retry_ms: u64,
    /// Events kept for `Last-Event-ID` replay, per channel (everyone, each
    /// user, each topic).
    pub history_len: usize,
    /// Most history channels kept; beyond, the stalest are dropped.
    pub history_max_channels: usize,
    /// Age after which an event leaves the replay history.
    pub history_max_age: Duration,
    /// Largest `data` payload of one event, in bytes (413 beyond).
    pub max_event_bytes: usize,
    /// Most topics one connection may hold.
    pub max_topics_per_connection: usize,
    /// Most event types in one connection's filter.
    pub max_filters_per_connection: usize,
    /// Most metadata pairs taken from the stream's query string.
    pub max_metadata_pairs: usize,
    /// Close a stream shortly before its token expires, with an
    /// `auth.expired` event, so the client fetches a new token.
    pub close_on_token_expiry: bool,
    /// Metadata keys only a token's `meta` claim may set: a stream asking
    /// for one in its query string is refused, so `{"metadata": ...}`
    /// targets on these keys reach only connections whose token says so.
    pub trusted_metadata_keys: Vec<String>,
    /// Topics with presence: who is there (`Hub::presence`), and
    /// `presence.join` / `presence.leave` events to their subscribers.
    pub presence_topics: Vec<crate::access::TopicPattern>,
    /// Most resumes (`Last-Event-ID` replays, `?rewind=` reads) this node
    /// runs at once. A reconnect storm brings every client back with a
    /// replay; beyond this many at once, a stream waits for a turn up to
    /// [`HubConfig::replay_wait`], then gets 503 `replays_busy` with a
    /// spread `Retry-After`, so the broker is not flooded with reads and
    /// live delivery, publishing and the probes keep their share.
    pub max_concurrent_replays: usize,
    /// How long a resume waits for a turn before it is refused.
    pub replay_wait: Duration,
    /// How often nodes report and how long their reports last, checked
    /// by [`Timing::check`] when the hub is built and handed to its broker.
    pub timing: Timing,
}

/// The default [`HubConfig::trusted_metadata_keys`].
pub const DEFAULT_TRUSTED_METADATA_KEYS: &[&str] = &["userId", "user", "role", "tenant"];

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_user: 10,
            single_connection_per_user: false,
            connection_queue: 1024,
            heartbeat_interval: Duration::from_secs(30),
            idle_timeout: None,
            retry_ms: 3000,
            history_len: 10_000,
            history_max_channels: 100_000,
            history_max_age: Duration::from_secs(3600),
            max_event_bytes: 64 * 1024,
            max_topics_per_connection: 64,
            max_filters_per_connection: 64,
            max_metadata_pairs: 16,
            close_on_token_expiry: true,
            trusted_metadata_keys: DEFAULT_TRUSTED_METADATA_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            presence_topics: Vec::new(),
            max_concurrent_replays: 64,
            replay_wait: Duration::from_secs(10),
            timing: Timing::default(),
        }
    }
}
