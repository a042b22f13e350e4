//! Events in and out: [`Hub::publish`] hands an event to the broker; the
//! broker hands every event (from this node or another) back through the
//! hub's one ingest path, which queues it to the local connections it
//! targets and may reach.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use serde::Serialize;

use super::connection::{Connection, Queued};
use super::core::TRACE_TARGET;
use super::core::{Hub, Inner};
use super::counters::Counters;
use crate::auth::Principal;
use crate::broker::EventSink;
use crate::error::HubError;
use crate::event::{Event, EventId, NewEvent, Target};

/// What a publish returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The event's id.
    pub id: EventId,
    /// Connections it was queued to on this node.
    pub delivered: usize,
    /// True when the idempotency key was seen before: nothing was sent.
    pub duplicate: bool,
}

/// The hub as its broker sees it. Weak, so a broker's background reader
/// does not keep a dropped hub alive.
pub(super) struct Sink(pub(super) Weak<Inner>);

impl EventSink for Sink {
    fn ingest(&self, event: Arc<Event>) {
        if let Some(inner) = self.0.upgrade() {
            Hub { inner }.ingest(&event);
        }
    }

    fn failed(&self, error: &HubError) {
        if let Some(inner) = self.0.upgrade() {
            Counters::add(&inner.counters.broker_errors, 1);
            tracing::warn!(
                error = %crate::error::report(error),
                "the broker failed; it retries by itself"
            );
        }
    }

    fn missed(
        &self,
        after: EventId,
        upto: EventId,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let inner = self.0.upgrade();
        Box::pin(async move {
            if let Some(inner) = inner {
                Hub { inner }.recover(after, upto).await;
            }
        })
    }
}

impl Hub {
    /// Hands `event` to the broker, which gives it an id, records it for
    /// replay and delivers it to every node's matching connections. With
    /// the memory broker this never waits.
    pub async fn publish(&self, event: NewEvent) -> Result<Published, HubError> {
        self.check(&event)?;
        let span = publish_span(&event);
        let accepted = match self.inner.broker.publish(event).await {
            Ok(a) => a,
            Err(e) => {
                Counters::add(&self.inner.counters.publish_failures, 1);
                self.log_publish_failure(&e);
                return Err(e);
            }
        };
        if !accepted.duplicate {
            Counters::add(&self.inner.counters.events_accepted, 1);
        }
        let published = if accepted.duplicate {
            Published {
                id: accepted.id,
                delivered: 0,
                duplicate: true,
            }
        } else {
            self.caught_up(accepted.id).await;
            let delivered = self.inner.recent.lock().find(accepted.id).unwrap_or(0);
            Published {
                id: accepted.id,
                delivered,
                duplicate: false,
            }
        };
        if let Some(span) = span {
            record_published(&span, &published);
        }
        Ok(published)
    }

    /// Logs a failed publish with its cause, at most once a second.
    #[cold]
    fn log_publish_failure(&self, error: &HubError) {
        if Counters::once_a_second(&self.inner.publish_failure_logged_ms) {
            tracing::warn!(
                error = %crate::error::report(error),
                failures = self.inner.counters.publish_failures.load(Ordering::Relaxed),
                "a publish failed (at most one such line a second; `failures` counts them all)"
            );
        }
    }

    /// An event the broker handed over with an id not above this node's
    /// head: never delivered (it would break every stream's order, and
    /// resumes rely on ids only rising). Normally a duplicate of a reader
    /// that read again after reconnecting; anything else is a broker bug.
    /// Counted (`sse_hub_events_skipped_total`) and logged at most once a
    /// second, with the count.
    #[cold]
    fn skipped(&self, event: &Event, head: EventId) {
        let c = &self.inner.counters;
        Counters::add(&c.events_skipped, 1);
        if Counters::once_a_second(&self.inner.skip_logged_ms) {
            tracing::warn!(
                id = %event.id,
                head = %head,
                skipped = Counters::get(&c.events_skipped),
                "an event from the broker is not above this node's head and was not delivered \
                 (at most one such line a second; `skipped` counts them all)"
            );
        }
    }

    /// Publishes through this node the broker accepted (duplicates aside).
    pub fn events_accepted(&self) -> u64 {
        Counters::get(&self.inner.counters.events_accepted)
    }

    /// Events the broker handed over that were not above the head (see
    /// `skipped`), since start.
    pub fn events_skipped(&self) -> u64 {
        Counters::get(&self.inner.counters.events_skipped)
    }

    /// [`Hub::publish`] on behalf of `who`: an event for a topic needs the
    /// topic policy's consent ([`HubError::TopicForbidden`] otherwise).
    /// Whether `who` may publish at all (their role) is the caller's check.
    pub async fn publish_as(
        &self,
        who: &Principal,
        event: NewEvent,
    ) -> Result<Published, HubError> {
        // Every target kind is named, so a kind added later must say here
        // whether the topic policy governs it.
        let topics: &[crate::event::Topic] = match &event.target {
            Target::Topic(t) => std::slice::from_ref(t),
            // Not topics: the role alone decides (see above).
            Target::All(_)
            | Target::User(_)
            | Target::Users(_)
            | Target::Connection(_)
            | Target::Metadata(_) => &[],
        };
        if !topics.is_empty() {
            let refused = self.inner.topics.refuse_publish(who, topics).await;
            if !refused.is_empty() {
                return Err(HubError::TopicForbidden(
                    refused.iter().map(ToString::to_string).collect(),
                ));
            }
        }
        self.publish(event).await
    }

    /// The checks every publish passes first.
    fn check(&self, new: &NewEvent) -> Result<(), HubError> {
        let limit = self.inner.config.max_event_bytes;
        if new.data.len() > limit {
            return Err(HubError::PayloadTooLarge {
                size: new.data.len(),
                limit,
            });
        }
        if let Some(k) = &new.idempotency_key {
            if k.is_empty() || k.len() > 256 || k.chars().any(char::is_control) {
                return Err(HubError::invalid(
                    "id",
                    "must be 1-256 characters without control characters",
                ));
            }
        }
        if self.is_shutting_down() {
            return Err(HubError::ShuttingDown);
        }
        Ok(())
    }

    /// Waits until this node delivered `id`, at most the broker's delivery
    /// lag.
    pub(super) async fn caught_up(&self, id: EventId) {
        let limit = self.inner.delivery_lag;
        if limit.is_zero() || *self.inner.delivered.borrow() >= id {
            return;
        }
        let mut rx = self.inner.delivered.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|head| *head >= id)).await;
    }

    /// The one ingest path: an event from the broker, queued to the local
    /// connections it targets.
    fn ingest(&self, event: &Event) {
        let mut head = self.inner.head.lock();
        if event.id <= *head {
            let head = *head;
            self.skipped(event, head);
            return;
        }
        *head = event.id;
        let delivered = self.deliver(event);
        drop(head);
        self.inner.recent.lock().record(event.id, delivered);
        if !self.inner.delivery_lag.is_zero() {
            self.inner.delivered.send_replace(event.id);
        }
        let c = &self.inner.counters;
        Counters::add(&c.events_published, 1);
        Counters::add(&c.events_delivered, delivered as u64);
        c.last_event_ms.store(event.published_ms, Ordering::Relaxed);
        tracing::debug!(target: "sse_hub::event.published", id = %event.id, event = %event.name, delivered, "event.published");
    }

    /// Queues `event` to the local connections it targets; returns how many.
    fn deliver(&self, event: &Event) -> usize {
        let mut n = 0;
        self.inner.registry.for_each_target(&event.target, |conn| {
            if self.allowed(conn, event) && self.offer_to(conn, event) {
                n += 1;
            }
        });
        n
    }

    /// Whether `conn` wants `event` and may see it (live and on replay):
    /// the audience rule always holds, and a custom authorizer can only
    /// narrow it.
    pub(super) fn allowed(&self, conn: &Connection, event: &Event) -> bool {
        conn.wants(&event.name)
            && conn.in_audience(event)
            && self
                .inner
                .authorizer
                .as_ref()
                .is_none_or(|a| a.allow(event, conn))
    }

    fn offer_to(&self, conn: &Connection, event: &Event) -> bool {
        match conn.offer_event(event) {
            Queued::Yes => true,
            Queued::Overflow { dropped } => {
                self.count_slow(conn, dropped);
                false
            }
            Queued::Gone => false,
        }
    }

    pub(super) fn count_slow(&self, conn: &Connection, dropped: usize) {
        let c = &self.inner.counters;
        Counters::add(&c.dropped_events, dropped as u64);
        Counters::add(&c.slow_disconnects, 1);
        tracing::info!(connection = %conn.id, user = %conn.user, "slow consumer disconnected: queue full");
    }
}

/// The `publish` span (see [`TRACE_TARGET`]), if tracing wants it.
/// It lives from the check to the answer; boxed, so a publish without
/// tracing carries one word for it, and out of line, so it adds nothing
/// else to the publish path.
#[inline(never)]
fn publish_span(event: &NewEvent) -> Option<Box<tracing::Span>> {
    tracing::enabled!(target: TRACE_TARGET, tracing::Level::TRACE).then(|| {
        Box::new(tracing::trace_span!(
            target: TRACE_TARGET,
            "publish",
            "event.type" = %event.name,
            event.id = tracing::field::Empty,
            delivered = tracing::field::Empty,
            duplicate = tracing::field::Empty,
        ))
    })
}

#[cold]
fn record_published(span: &tracing::Span, published: &Published) {
    span.record("event.id", tracing::field::display(published.id));
    span.record("delivered", published.delivered);
    span.record("duplicate", published.duplicate);
}
