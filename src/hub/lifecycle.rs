//! Lifecycle events: connected, disconnected, subscribed, unsubscribed,
//! handed to an observer (such as [`crate::lifecycle_webhook::LifecycleWebhook`]).
//!
//! The hub only calls [`LifecycleObserver::observe`], which must not wait:
//! an observer queues and returns. What it refuses is counted
//! (`lifecycleDropped`), and streams never wait for it.

use sse_protocol::{LifecycleEvent, LifecycleKind};

use super::connection::Connection;
use super::core::Hub;
use super::counters::Counters;
use crate::event::{unix_ms, Topic};

impl Hub {
    /// Tells the observer, if any, what happened to `conn`.
    pub(super) fn lifecycle<'a>(
        &self,
        kind: LifecycleKind,
        conn: &Connection,
        topics: impl IntoIterator<Item = &'a Topic>,
    ) {
        let Some(observer) = &self.inner.lifecycle else {
            return;
        };
        let event = LifecycleEvent {
            kind,
            user_id: conn.user.to_string(),
            connection_id: conn.id.to_string(),
            topics: topics.into_iter().map(|t| t.to_string()).collect(),
            at: unix_ms(),
        };
        if !observer.observe(event) {
            Counters::add(&self.inner.counters.lifecycle_dropped, 1);
        }
    }

    /// Lifecycle events the observer could not take.
    pub fn lifecycle_dropped(&self) -> u64 {
        Counters::get(&self.inner.counters.lifecycle_dropped)
    }
}
