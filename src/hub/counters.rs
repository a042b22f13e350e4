//! Counters the hub keeps for `/api/sse/stats`, `/api/health` and `/metrics`.
//! Plain relaxed atomics: they are read for reporting, never for decisions
//! (beyond whether to log a line again).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Events this node took from the broker (every node counts every
    /// event it reads: not a cluster's publishes).
    pub(crate) events_published: AtomicU64,
    /// Publishes this node's broker accepted (duplicates aside): summed
    /// over nodes, the cluster's publishes.
    pub(crate) events_accepted: AtomicU64,
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
    /// Resumes refused after waiting `replay_wait` for a turn.
    pub(crate) replays_refused: AtomicU64,
    /// Events from the broker not above the head, not delivered.
    pub(crate) events_skipped: AtomicU64,
    /// Times the broker said this node missed events (see `recovery.rs`).
    pub(crate) broker_gaps: AtomicU64,
    pub(crate) broker_errors: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
    pub(crate) lifecycle_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// True at most once a second for `last` (when something was last
    /// logged, in ms since the epoch), which it then moves to now: for log
    /// lines that a failure repeated thousands of times must not flood.
    pub(crate) fn once_a_second(last: &AtomicU64) -> bool {
        let now = crate::event::unix_ms();
        let before = last.load(Ordering::Relaxed);
        now.saturating_sub(before) >= 1000
            && last
                .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
