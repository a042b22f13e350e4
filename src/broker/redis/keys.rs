//! The names this broker gives its keys and the newest id a node has seen:
//! what the broker's parts share (the timing they agree on is
//! [`crate::broker::Timing`]).

use crate::broker::contract::Channel;
use crate::event::EventId;

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
    pub(super) fn idempotency(&self, key: &str) -> String {
        format!("{}:idempotency:{key}", self.prefix)
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
