//! Catching this node's connections up after the broker lost events on
//! their way here ([`crate::broker::EventSink::missed`]): a node that
//! stalled while more was published than the shared log keeps finds its
//! position trimmed away. Every connection is then behind by the same
//! range, and each gets what its channels' history still holds of it, or a
//! `reset` when a channel cannot prove it holds all of it: never a silent
//! gap.
//!
//! Why per channel rather than per connection: the connections of a node
//! share most of their channels (everyone reads the everyone channel), so
//! each channel is read once and its events are shared by reference; a
//! node with many users still makes one read per user channel, a few at a
//! time so that recovery does not crowd out what else Redis serves.
//!
//! Why under the head first: the head moves to the end of the range
//! before anything is read, so a stream that opens meanwhile resumes up to
//! it from the history itself, and the broker hands over nothing newer
//! until the recovery is done, so each connection gets the recovered
//! events before any later one, in id order.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use super::connection::{Connection, Frame, Queued};
use super::core::Hub;
use super::counters::Counters;
use crate::broker::{Broker, Channel, Replay};
use crate::event::{Event, EventId};

/// Channel reads in flight at once during a recovery.
const CONCURRENT_READS: usize = 16;

impl Hub {
    /// Brings every connection up to `upto` after events in `(after, upto]`
    /// did not arrive (see the module docs).
    pub(super) async fn recover(&self, after: EventId, upto: EventId) {
        let behind: Vec<(Arc<Connection>, Vec<Channel>)> = {
            let mut head = self.inner.head.lock();
            if upto <= *head {
                return;
            }
            *head = upto;
            let mut behind = Vec::with_capacity(self.inner.registry.len());
            self.inner.registry.for_each(|c| {
                let channels = Channel::of_connection(&c.user, c.topics.read().iter());
                behind.push((c.clone(), channels));
            });
            behind
        };
        Counters::add(&self.inner.counters.broker_gaps, 1);
        let wanted: BTreeSet<Channel> = behind
            .iter()
            .flat_map(|(_, chs)| chs.iter().cloned())
            .collect();
        let max = self.inner.config.history_len;
        // `None`: the channel cannot prove it holds everything it had in
        // the range (or could not be read): its readers get a reset.
        let held: HashMap<Channel, Option<Vec<Arc<Event>>>> = stream::iter(wanted)
            .map(|ch| {
                let broker = self.inner.broker.clone();
                async move {
                    let events = read_channel(broker, after, upto, &ch, max).await;
                    (ch, events)
                }
            })
            .buffer_unordered(CONCURRENT_READS)
            .collect()
            .await;

        let (mut replayed, mut reset) = (0u64, 0u64);
        for (conn, channels) in &behind {
            let mut missed: Vec<&Arc<Event>> = Vec::new();
            let complete = channels.iter().all(|ch| match held.get(ch) {
                Some(Some(events)) => {
                    missed.extend(events);
                    true
                }
                _ => false,
            });
            if !complete {
                let frame = self.reset_frame(
                    "this node fell behind and the history no longer covers what it missed; refetch state",
                    None,
                    upto,
                );
                if conn.offer(Frame::Data(frame)) == Queued::Yes {
                    reset += 1;
                }
                continue;
            }
            missed.sort_by_key(|e| e.id);
            missed.dedup_by_key(|e| e.id);
            for e in missed {
                if conn.is_targeted(&e.target) && self.allowed(conn, e) {
                    match conn.offer_event(e) {
                        Queued::Yes => replayed += 1,
                        Queued::Overflow { dropped } => {
                            self.count_slow(conn, dropped);
                            break;
                        }
                        Queued::Gone => break,
                    }
                }
            }
        }
        Counters::add(&self.inner.counters.replayed_events, replayed);
        if !self.inner.delivery_lag.is_zero() {
            self.inner.delivered.send_replace(upto);
        }
        tracing::warn!(
            %after,
            %upto,
            connections = behind.len(),
            replayed,
            reset,
            "caught up after missing events"
        );
    }
}

/// What `channel` holds in `(after, upto]`, or `None` when it cannot
/// prove that is all (or could not be read).
async fn read_channel(
    broker: Arc<dyn Broker>,
    after: EventId,
    upto: EventId,
    channel: &Channel,
    max: usize,
) -> Option<Vec<Arc<Event>>> {
    match broker
        .replay(after, upto, std::slice::from_ref(channel), max)
        .await
    {
        Ok(Replay::Events(events)) => Some(events),
        Ok(Replay::Gap) => None,
        Err(e) => {
            tracing::warn!(channel = %channel.key(), error = %crate::error::report(&e), "could not read a channel's history to catch up: its connections get a reset");
            None
        }
    }
}
