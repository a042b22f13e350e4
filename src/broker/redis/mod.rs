//! The Redis broker: one stream every node tails, one script call per
//! publish, history per channel, presence, and the cluster view; on one
//! Redis server or on whichever primary the sentinels name.
//!
//! One file per job: `options` (URLs, TLS, what a publish waits for),
//! `keys` (key names, shared timing), `link` (finding the primary,
//! reconnecting, counting failovers), `publisher` (publishes; batched
//! behind one `WAIT` when replicas must confirm), `reader` (this node's
//! tail of the stream), `history` (replay and recent events), `presence`,
//! `nodes` (the cluster view), `stored` (an event as a stream entry),
//! `scripts` (the Lua scripts, in `scripts/*.lua`).
//!
//! **Never a silent gap.** A resume replays only what `replay.lua` can
//! prove complete; otherwise the client gets a `reset`. The proof rests on
//! an *era* record in Redis (`<prefix>:era`): it is written when first
//! missing, so after Redis lost its data (a restart without persistence,
//! `FLUSHALL`, a replica promoted empty) it is new, and its `floor` is
//! above every id handed out before. The floor is raised past any id Redis
//! can no longer vouch for (`known` in `ids.lua`: neither held, deleted on
//! purpose nor trimmed), which is how a failover that lost the tail shows:
//! the node's newest id is checked at every publish, as the upper bound of
//! every resume, and by the reader when idle. An eviction (the server's
//! `evicted_keys` went up) raises it too. A client's own id must be known
//! the same way, and every channel must still hold all it had after it.
//! Ids never go backwards: each publish passes the newest id its node has
//! seen and Redis numbers past it; a reader whose position was lost moves
//! the stream's last id past it (`sync.lua`). A reader that fell behind by
//! more than the stream keeps (its position trimmed away while its node
//! stalled) sees it from the entry that names a predecessor it never read,
//! and the hub replays or resets each connection (see `reader`).
//!
//! While Redis is down, publishes fail within the wait timeout with
//! [`HubError::BrokerUnavailable`] (503 at the API) instead of being
//! dropped silently, open streams stay open, and the readers reconnect by
//! themselves and resume where they stopped.

mod history;
mod keys;
mod link;
mod nodes;
mod options;
mod presence;
mod publisher;
mod reader;
mod scripts;
mod stored;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sse_protocol::NodeReport;
use tokio_util::sync::CancellationToken;

use self::keys::{Keys, Seen};
use self::link::Link;
pub use self::options::{redact, RedisOptions};
use self::publisher::{Publisher, Wait};
use self::reader::Reader;
use self::stored::StoredEvent;
use super::contract::{
    Accepted, Broker, BrokerCounters, BrokerFuture, Channel, EventSink, HistoryLimits, Presence,
    PresenceCount, PresenceEdge, Replay,
};
use super::timing::Timing;
use crate::error::HubError;
use crate::event::{Event, EventId, NewEvent, Topic};

/// How often the stream is trimmed by age.
const TRIM_EVERY_MS: u64 = 60_000;

/// A hub node's way to Redis (see the module docs).
pub struct RedisBroker {
    link: Arc<Link>,
    keys: Arc<Keys>,
    limits: HistoryLimits,
    seen: Arc<Seen>,
    publisher: Publisher,
    /// When the stream was last trimmed by age (unix ms).
    trimmed_ms: AtomicU64,
    /// Report and alive TTLs, the reader's block, the delivery lag.
    timing: Timing,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("stream", &self.keys.stream)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// Checks the URL and starts the publisher (needs a tokio runtime);
    /// connections are made on first use and remade after failures. The
    /// channels keep `limits` of history (by count at every publish, by
    /// age every minute).
    pub fn new(options: &RedisOptions, limits: HistoryLimits) -> Result<Self, HubError> {
        let link = Arc::new(Link::new(options.endpoint()?));
        let seen = Arc::new(Seen::default());
        let wait = Wait {
            replicas: options.wait_replicas,
            timeout: options.wait_timeout,
        };
        Ok(Self {
            publisher: Publisher::start(link.clone(), seen.clone(), wait),
            link,
            keys: Arc::new(Keys::new(&options.prefix)),
            limits,
            seen,
            trimmed_ms: AtomicU64::new(crate::event::unix_ms()),
            timing: Timing::default(),
        })
    }

    /// Uses `timing` (the hub hands its own, checked, to the broker it
    /// builds) instead of [`Timing::default`].
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Publishes through the batching publisher (`publish.lua`; the last
    /// argument is the newest id this node has seen).
    async fn append(&self, ev: &NewEvent) -> Result<Accepted, HubError> {
        let [target, audience] = stored::encode(ev)?;
        let channels = Channel::of_target(&ev.target);
        let age_ms = self.limits.max_age.as_millis() as u64;
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(scripts::SCRIPTS.publish.get_hash())
            .arg(3 + channels.len())
            .arg(&self.keys.stream)
            .arg(&self.keys.era)
            .arg(
                self.keys
                    .idempotency(ev.idempotency_key.as_deref().unwrap_or("")),
            );
        for c in &channels {
            cmd.arg(self.keys.channel(c));
        }
        cmd.arg(self.limits.len)
            .arg(ev.name.as_str())
            .arg(&ev.data)
            .arg(target)
            .arg(audience)
            .arg(if ev.idempotency_key.is_some() {
                "1"
            } else {
                ""
            })
            .arg(age_ms)
            .arg(age_ms)
            .arg(self.seen.get().to_string());
        self.publisher.publish(cmd).await
    }

    /// Trims entries of the tailed stream older than `min_ms`.
    async fn trim_older_than(&self, min_ms: u64) -> Result<(), HubError> {
        let _: redis::Value = self
            .link
            .query(
                redis::cmd("XTRIM")
                    .arg(&self.keys.stream)
                    .arg("MINID")
                    .arg("~")
                    .arg(min_ms),
            )
            .await?;
        Ok(())
    }
}

/// Says so in the log when Redis may evict keys: an eviction makes every
/// resume from before it a `reset` (see `ids.lua`), and is only noticed
/// through a counter that restarts with the server. (A managed Redis may
/// refuse `CONFIG`: then nothing is said.)
async fn warn_unless_noeviction(link: Arc<Link>) {
    let policy: Result<Vec<String>, _> = link
        .query(redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy"))
        .await;
    match policy.as_deref() {
        Ok([_, policy]) if policy != "noeviction" => tracing::warn!(
            %policy,
            "Redis may evict keys (maxmemory-policy is not noeviction): an eviction resets every client resuming from before it; set maxmemory-policy noeviction"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(error = %crate::error::report(e), "could not read maxmemory-policy")
        }
    }
}

impl Broker for RedisBroker {
    /// The stream's newest id; also checks that Redis answers.
    fn head(&self) -> BrokerFuture<'_, EventId> {
        Box::pin(async move {
            let head = self.newest().await?;
            self.seen.raise(head);
            Ok(head)
        })
    }

    /// Tails the stream after `after` in a task of its own.
    fn start(
        &self,
        sink: Arc<dyn EventSink>,
        after: EventId,
        stop: CancellationToken,
    ) -> Result<(), HubError> {
        let reader = Reader {
            link: self.link.clone(),
            keys: self.keys.clone(),
            seen: self.seen.clone(),
            after,
            conn: None,
            generation: 0,
            block: self.timing.reader_block,
        };
        tokio::spawn(reader::tail(reader, sink, stop));
        tokio::spawn(warn_unless_noeviction(self.link.clone()));
        Ok(())
    }

    fn publish(&self, event: NewEvent) -> BrokerFuture<'_, Accepted> {
        Box::pin(async move { self.append(&event).await })
    }

    fn replay<'a>(
        &'a self,
        after: EventId,
        upto: EventId,
        channels: &'a [Channel],
        max: usize,
    ) -> BrokerFuture<'a, Replay> {
        Box::pin(async move {
            if after == upto {
                return Ok(Replay::Events(Vec::new()));
            }
            // Ids are milliseconds: a resume point older than the history
            // age may have lost whole channels (their keys expired).
            let oldest =
                crate::event::unix_ms().saturating_sub(self.limits.max_age.as_millis() as u64);
            if after > upto || after.epoch < oldest {
                return Ok(Replay::Gap);
            }
            // Every missed event exactly once, or a reset: never a part.
            Ok(match self.missed(after, upto, channels, max).await? {
                Some(events) => {
                    Replay::Events(events.into_iter().map(StoredEvent::into_event).collect())
                }
                None => Replay::Gap,
            })
        })
    }

    fn recent<'a>(
        &'a self,
        channels: &'a [Channel],
        upto: EventId,
        limit: usize,
    ) -> BrokerFuture<'a, Vec<Arc<Event>>> {
        Box::pin(async move {
            let events = self.newest_of(channels, upto, limit).await?;
            Ok(events.into_iter().map(StoredEvent::into_event).collect())
        })
    }

    fn presence_update<'a>(
        &'a self,
        node: &'a str,
        changes: &'a [PresenceCount],
    ) -> BrokerFuture<'a, Vec<PresenceEdge>> {
        Box::pin(self.update_presence(node, changes))
    }

    fn presence<'a>(&'a self, topic: &'a Topic, limit: usize) -> BrokerFuture<'a, Presence> {
        Box::pin(self.who(topic, limit))
    }

    fn presence_sweep(&self) -> BrokerFuture<'_, Vec<PresenceEdge>> {
        Box::pin(self.sweep_presence())
    }

    /// Each node's reader is at most a blocked `XREAD` behind.
    fn delivery_lag(&self) -> Duration {
        self.timing.delivery_lag
    }

    fn maintain(&self, now_ms: u64) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            let last = self.trimmed_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) < TRIM_EVERY_MS {
                return Ok(());
            }
            self.trimmed_ms.store(now_ms, Ordering::Relaxed);
            let age = self.limits.max_age.as_millis() as u64;
            self.trim_older_than(now_ms.saturating_sub(age)).await
        })
    }

    /// The primary answers and says it is the primary.
    fn ready(&self) -> BrokerFuture<'_, ()> {
        Box::pin(self.link.check())
    }

    fn counters(&self) -> BrokerCounters {
        let c = &self.link.counters;
        BrokerCounters {
            reconnections: c.reconnections.load(Ordering::Relaxed),
            failovers: c.failovers.load(Ordering::Relaxed),
            lost_tails: c.lost_tails.load(Ordering::Relaxed),
        }
    }

    fn report(&self, node: &NodeReport) -> BrokerFuture<'_, ()> {
        let json = serde_json::to_string(node);
        let id = node.node_id.clone();
        Box::pin(async move {
            let json = json.map_err(|e| link::failed("encoding the node report", e))?;
            self.report_node(&id, &json).await
        })
    }

    fn nodes(&self) -> BrokerFuture<'_, Option<Vec<NodeReport>>> {
        Box::pin(async move {
            let live = self.live_nodes().await?;
            Ok(Some(
                live.iter()
                    .filter_map(|(_, r)| serde_json::from_str(r).ok())
                    .collect(),
            ))
        })
    }
}
