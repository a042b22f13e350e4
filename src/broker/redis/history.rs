//! Reading the history back: what a resuming client missed (`replay.lua`,
//! one atomic proof-and-read) and the newest events of some channels.

use crate::broker::contract::Channel;
use crate::error::HubError;
use crate::event::EventId;

use super::scripts::SCRIPTS;
use super::stored::{decode, StoredEvent};
use super::RedisBroker;
use redis::streams::StreamRangeReply;

impl RedisBroker {
    /// What a client reading `channels` that saw `after` missed, up to and
    /// including `upto`: every entry in between, merged oldest first, or
    /// `None` when this Redis cannot prove it holds all of them (see
    /// `replay.lua`), or a channel missed more than `max`.
    pub(super) async fn missed(
        &self,
        after: EventId,
        upto: EventId,
        channels: &[Channel],
        max: usize,
    ) -> Result<Option<Vec<StoredEvent>>, HubError> {
        let mut invocation = SCRIPTS.replay.prepare_invoke();
        invocation.key(&self.keys.stream).key(&self.keys.era);
        for c in channels {
            invocation.key(self.keys.channel(c));
        }
        invocation
            .arg(after.to_string())
            .arg(upto.to_string())
            .arg(max);
        let reply: Option<StreamRangeReply> =
            self.link.invoke("replaying history", &invocation).await?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        let mut events = reply
            .ids
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.id);
        events.dedup_by_key(|e| e.id);
        Ok(Some(events))
    }

    /// The newest `limit` entries of `channels` up to `upto`, oldest first.
    pub(super) async fn newest_of(
        &self,
        channels: &[Channel],
        upto: EventId,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, HubError> {
        let mut pipe = redis::pipe();
        for c in channels {
            pipe.cmd("XREVRANGE")
                .arg(self.keys.channel(c))
                .arg(upto.to_string())
                .arg("-")
                .arg("COUNT")
                .arg(limit);
        }
        let replies: Vec<StreamRangeReply> = self
            .link
            .run("reading history", |mut c| {
                let pipe = &pipe;
                async move { pipe.query_async(&mut c).await }
            })
            .await?;
        let mut events = Vec::new();
        for reply in replies {
            for entry in &reply.ids {
                events.push(decode(entry)?);
            }
        }
        events.sort_by_key(|e| e.id);
        events.dedup_by_key(|e| e.id);
        let skip = events.len().saturating_sub(limit);
        events.drain(..skip);
        Ok(events)
    }

    /// The stream's last id (see `head.lua`).
    pub(super) async fn newest(&self) -> Result<EventId, HubError> {
        let mut invocation = SCRIPTS.head.prepare_invoke();
        invocation.key(&self.keys.stream).key(&self.keys.era);
        let id: String = self
            .link
            .invoke("reading the stream's last id", &invocation)
            .await?;
        super::stored::parse_id(&id)
    }
}
