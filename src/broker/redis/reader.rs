//! This node's reader: tails the stream every node publishes to and hands
//! each entry to the hub, in id order.
//!
//! It has a connection of its own (`XREAD BLOCK` holds it) whose answers
//! may take the block time and two seconds more (redis-rs's default of
//! 500 ms would cut every long block). If Redis goes away, or stops being
//! the primary, it reconnects with backoff (through the sentinels when
//! there are any) and resumes from the last id it delivered, so nothing
//! published meanwhile is skipped. After each connect, and whenever a
//! block ends with nothing, it runs `sync.lua`, which notices when Redis no
//! longer vouches for the last id this node delivered (a failover lost the
//! tail), raises the era's floor past it and moves the stream's ids past
//! it.
//!
//! **Falling behind is never silent.** The stream keeps only the newest
//! entries (trimmed to the history length), so a node that stalls while
//! more than that is published finds its position trimmed away, and
//! `XREAD` simply answers with what is left. Each entry names the one
//! before it (`p`, see `publish.lua`): an entry whose predecessor is above
//! the reader's position means everything in between is gone from the
//! stream. The reader then hands the range to the hub
//! ([`EventSink::missed`]) and waits while the hub replays each
//! connection's channels or resets it, before it goes on.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use tokio_util::sync::CancellationToken;

use super::keys::{Keys, Seen};
use super::link::{check_primary, failed, Link};
use super::scripts::SCRIPTS;
use super::stored::{decode, StoredEvent};
use crate::broker::contract::EventSink;
use crate::error::HubError;
use crate::event::EventId;

/// Entries read at most per `XREAD`.
const COUNT: usize = 512;

/// What one read of the stream brought.
#[derive(Debug)]
pub(super) enum Step {
    /// The next event.
    Event(StoredEvent),
    /// Entries after `after` up to and including `upto` were trimmed away
    /// before this node read them.
    Missed { after: EventId, upto: EventId },
}

/// Tails the stream for one node.
pub(super) struct Reader {
    pub(super) link: Arc<Link>,
    pub(super) keys: Arc<Keys>,
    pub(super) seen: Arc<Seen>,
    pub(super) after: EventId,
    pub(super) conn: Option<MultiplexedConnection>,
    /// The link's generation when `conn` was made (see `Link::generation`).
    pub(super) generation: u64,
    /// How long one `XREAD` blocks ([`crate::broker::Timing::reader_block`]).
    pub(super) block: Duration,
}

/// Hands every entry of the stream to `sink`, retrying with backoff (from
/// where it stopped) while Redis is away, until `stop`.
pub(super) async fn tail(mut reader: Reader, sink: Arc<dyn EventSink>, stop: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let batch = tokio::select! {
            _ = stop.cancelled() => break,
            b = reader.next() => b,
        };
        match batch {
            Ok(steps) => {
                backoff = Duration::from_millis(100);
                for step in steps {
                    match step {
                        Step::Event(ev) => sink.ingest(ev.into_event()),
                        Step::Missed { after, upto } => {
                            tracing::warn!(%after, %upto, "this node fell behind the event stream by more than it keeps (a stall?): catching its connections up from the history, or resetting them");
                            tokio::select! {
                                _ = stop.cancelled() => return,
                                () = sink.missed(after, upto) => {}
                            }
                        }
                    }
                }
            }
            Err(e) => {
                sink.failed(&e);
                tracing::warn!(error = %crate::error::report(&e), retry_in = ?backoff, at = %reader.after, "redis reader failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

impl Reader {
    /// The next batch after the last one returned. On error the
    /// connection is dropped and remade on the next call; the position is
    /// kept, so nothing is skipped.
    async fn next(&mut self) -> Result<Vec<Step>, HubError> {
        if self.generation != self.link.generation() {
            // The sentinels named another primary: leave this one.
            self.conn = None;
        }
        if self.conn.is_none() {
            self.generation = self.link.generation();
            let mut c = self
                .link
                .connect(self.block + Duration::from_secs(2))
                .await?;
            self.sync(&mut c).await?;
            self.conn = Some(c);
        }
        let c = self.conn.as_mut().expect("just set");
        let reply: Result<Option<StreamReadReply>, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(COUNT)
            .arg("BLOCK")
            .arg(self.block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(self.after.to_string())
            .query_async(c)
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(failed("reading the event stream", e));
            }
        };
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in &key.ids {
                if let Some(prev) = super::stored::prev_of(entry) {
                    if prev > self.after {
                        out.push(Step::Missed {
                            after: self.after,
                            upto: prev,
                        });
                    }
                }
                // An entry this hub cannot read (written by something
                // else under our prefix) is skipped and logged, never
                // allowed to stop the reader.
                match decode(entry) {
                    Ok(ev) => out.push(Step::Event(ev)),
                    Err(e) => {
                        tracing::error!(id = %entry.id, error = %crate::error::report(&e), "skipping an unreadable stream entry")
                    }
                }
                if let Ok(id) = super::stored::parse_id(&entry.id) {
                    self.after = id;
                }
            }
        }
        self.seen.raise(self.after);
        if out.is_empty() {
            // Idle: is this still the primary, and the stream where we are?
            let mut c = self.conn.take().expect("still set");
            let checked = async {
                check_primary(&mut c, "the reader's server").await?;
                self.sync(&mut c).await
            };
            checked.await?;
            self.conn = Some(c);
        }
        Ok(out)
    }

    /// Runs `sync.lua` for the reader's position (see the module docs).
    async fn sync(&mut self, c: &mut MultiplexedConnection) -> Result<(), HubError> {
        let keys = [&self.keys.stream, &self.keys.era];
        let mut invocation = SCRIPTS.sync.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        invocation.arg(self.after.to_string());
        let r: Result<(u8, String), _> = invocation.invoke_async(c).await;
        match r {
            Ok((1, top)) => {
                self.link
                    .counters
                    .lost_tails
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(stream_top = %top, delivered = %self.after, "Redis lost the last events this node delivered (a failover lost the stream's tail): clients resuming from at or before that point get a reset, new ids continue past it");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(failed(
                "checking the stream against this node's position",
                e,
            )),
        }
    }
}
