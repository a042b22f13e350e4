//! The names this broker gives its keys, the timing nodes must agree on,
//! and the newest id a node has seen: what the broker's parts share.

use std::time::Duration;

use crate::broker::contract::Channel;
use crate::event::EventId;

/// The timing the nodes and Redis must agree on.
pub(crate) struct Timing;

impl Timing {
    /// A node counts as alive (for presence) this long after its last
    /// report; reports come every two seconds, so three may be missed.
    pub(crate) const ALIVE: Duration = Duration::from_secs(6);
    /// A node's report stays in the cluster view this long.
    pub(crate) const REPORT_TTL: Duration = Duration::from_secs(6);
}

/// The keys this broker uses, under its prefix.
pub(crate) struct Keys {
    pub(super) prefix: String,
    /// The stream every node tails.
    pub(super) stream: String,
    /// The era record (see the module docs).
    pub(super) era: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            stream: format!("{prefix}:events"),
            era: format!("{prefix}:era"),
        }
    }

    /// The key of a history channel.
    pub(super) fn channel(&self, channel: &Channel) -> String {
        format!("{}:ch:{}", self.prefix, channel.key())
    }

    /// The key of an idempotency key's record.
    pub(super) fn dedup(&self, key: &str) -> String {
        format!("{}:dedup:{key}", self.prefix)
    }
}

/// The newest id this node has seen (read or published): every publish
/// from this node numbers past it, even on a primary that lost the tail.
pub(crate) struct Seen(parking_lot::Mutex<EventId>);

impl Default for Seen {
    fn default() -> Self {
        Self(parking_lot::Mutex::new(EventId::new(0, 0)))
    }
}

impl Seen {
    pub(super) fn get(&self) -> EventId {
        *self.0.lock()
    }

    pub(super) fn raise(&self, id: EventId) {
        let mut seen = self.0.lock();
        if id > *seen {
            *seen = id;
        }
    }
}
