//! The hub's background work and its end: heartbeats, per-second rates,
//! expiry (history, idle connections, expiring tokens), the node report to
//! the broker, and graceful shutdown.
//!
//! One task per hub holds only a weak reference, so it never keeps a
//! dropped hub alive, and ends when the hub's stop token is cancelled (by
//! [`Hub::shutdown`], or by dropping the hub).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sse_protocol::events;

use super::connection::{Frame, Queued};
use super::core::Hub;
use super::counters::Counters;
use crate::event::unix_ms;
use crate::wire;

/// How often the node sends all its presence counts, not only changes.
const PRESENCE_RESYNC_EVERY: u64 = 30;

/// The published and delivered totals at the last tick, for the rates.
#[derive(Default)]
struct Rates {
    published: u64,
    delivered: u64,
}

impl Hub {
    /// Starts the background task (needs a tokio runtime).
    pub(super) fn spawn_maintenance(&self) {
        let weak = Arc::downgrade(&self.inner);
        let stop = self.inner.stop.clone();
        let beat = self.inner.config.heartbeat_interval;
        // Readiness is checked on its own clock, so a broker that is slow
        // in the upkeep below never delays the probe's answer.
        let (check_weak, check_stop) = (weak.clone(), stop.clone());
        tokio::spawn(async move {
            let mut second = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = check_stop.cancelled() => break,
                    _ = second.tick() => {
                        let Some(inner) = check_weak.upgrade() else { break };
                        Hub { inner }.check_broker().await;
                    }
                }
            }
        });
        tokio::spawn(async move {
            let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
            let mut second = tokio::time::interval(Duration::from_secs(1));
            let mut rates = Rates::default();
            let mut ticks: u64 = 0;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = heartbeat.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        Hub { inner }.send_heartbeats();
                    }
                    _ = second.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        let hub = Hub { inner };
                        hub.update_rates(&mut rates);
                        hub.expire();
                        ticks += 1;
                        // Awaited here, so a slow broker delays the next
                        // tick instead of piling up calls.
                        let report = ticks.is_multiple_of(hub.inner.config.timing.report_ticks());
                        hub.broker_upkeep(report).await;
                        hub.presence_tick(ticks.is_multiple_of(PRESENCE_RESYNC_EVERY)).await;
                        if report {
                            hub.presence_sweep().await;
                        }
                    }
                }
            }
        });
    }

    fn update_rates(&self, last: &mut Rates) {
        let c = &self.inner.counters;
        let now = Rates {
            published: Counters::get(&c.events_published),
            delivered: Counters::get(&c.events_delivered),
        };
        c.events_per_second
            .store(now.published - last.published, Ordering::Relaxed);
        c.deliveries_per_second
            .store(now.delivered - last.delivered, Ordering::Relaxed);
        *last = now;
    }

    /// The broker's upkeep, and this node's report every few seconds.
    async fn broker_upkeep(&self, report: bool) {
        let broker = &self.inner.broker;
        if let Err(e) = broker.maintain(unix_ms()).await {
            tracing::debug!(error = %crate::error::report(&e), "broker upkeep failed");
        }
        if report {
            let node = sse_protocol::NodeReport {
                node_id: self.inner.node_id.clone(),
                head: self.head().to_string(),
                summary: sse_protocol::Summary::from(&self.summary()),
            };
            if let Err(e) = broker.report(&node).await {
                tracing::debug!(error = %crate::error::report(&e), "node report failed");
            }
        }
    }

    /// Queues a `:heartbeat` comment to every connection. Runs on the
    /// configured interval; public so embedders can drive it themselves.
    pub fn send_heartbeats(&self) {
        let frame = wire::heartbeat_frame(unix_ms());
        self.inner.registry.for_each(|conn| {
            if let Queued::Overflow { dropped } = conn.offer(Frame::Data(frame.clone())) {
                self.count_slow(conn, dropped);
            }
        });
    }

    /// Closes idle connections and connections whose token runs out
    /// within five seconds.
    fn expire(&self) {
        let now = unix_ms();
        let idle = self.inner.config.idle_timeout.map(|d| d.as_millis() as u64);
        let check_tokens = self.inner.config.close_on_token_expiry;
        self.inner.registry.for_each(|conn| {
            if conn.queue.is_cut() {
                return;
            }
            if check_tokens
                && conn
                    .token_exp
                    .is_some_and(|exp| exp.saturating_mul(1000) <= now + 5000)
            {
                self.close_with(
                    conn,
                    events::AUTH_EXPIRED,
                    "the token expires; reconnect with a fresh one",
                );
            } else if idle.is_some_and(|ms| {
                now.saturating_sub(conn.last_event_ms.load(Ordering::Relaxed)) > ms
            }) {
                self.close_with(
                    conn,
                    events::CONNECTION_IDLE,
                    "no events for the idle timeout",
                );
            }
        });
    }

    /// Stops taking connections and events, sends every stream a final
    /// `shutdown` event with a jittered `retry:` (so clients come back
    /// spread out instead of in one storm), and ends the streams.
    pub fn shutdown(&self) {
        if self.inner.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let base = self.inner.config.retry_ms;
        self.inner.registry.for_each(|conn| {
            let retry = base + rand::random_range(0..=base.max(1) * 3);
            let frame =
                wire::control_frame(None, events::SHUTDOWN, &sse_protocol::Shutdown { retry });
            if conn.offer(Frame::Close(wire::with_retry(retry, &frame))) != Queued::Yes {
                conn.queue.cut();
            }
        });
        self.inner.stop.cancel();
        tracing::info!(connections = self.inner.registry.len(), "hub shutting down");
    }
}
