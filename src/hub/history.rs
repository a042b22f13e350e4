//! Reading history without a stream: the newest events of a topic, or of
//! a user's own channel, for callers allowed to hear them.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use sse_protocol::{HistoryEvent, HistoryPage};

use super::connection::{Connection, TopicSet};
use super::core::Hub;
use super::queue::Queue;
use crate::auth::Principal;
use crate::broker::Channel;
use crate::error::HubError;
use crate::event::{ConnectionId, Topic, UserId};
use crate::wire;

/// Most events one history request returns.
pub const MAX_HISTORY_LIMIT: usize = 100;

/// Whose history.
#[derive(Debug, Clone)]
pub enum HistoryOf {
    /// A topic's (the caller must be allowed to subscribe to it).
    Topic(Topic),
    /// A user's own targeted events (another user's: admins only).
    User(UserId),
}

impl Hub {
    /// The newest `limit` (1..=[`MAX_HISTORY_LIMIT`]) events of `of`,
    /// oldest first, each checked as live delivery to `who` would be.
    pub async fn history(
        &self,
        who: &Principal,
        of: HistoryOf,
        limit: usize,
    ) -> Result<HistoryPage, HubError> {
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            return Err(HubError::invalid(
                "limit",
                &format!("must be 1 to {MAX_HISTORY_LIMIT}"),
            ));
        }
        let channel = match of {
            HistoryOf::Topic(t) => {
                self.authorize_subscribe(who, std::slice::from_ref(&t))
                    .await?;
                Channel::Topic(t)
            }
            HistoryOf::User(u) => {
                if u != who.user && !who.is_admin() {
                    return Err(HubError::NotAllowed(
                        "only admins read another user's history".into(),
                    ));
                }
                Channel::User(u)
            }
        };
        let head = self.head();
        let events = self
            .inner
            .broker
            .recent(std::slice::from_ref(&channel), head, limit)
            .await?;
        let reader = probe(who);
        Ok(HistoryPage {
            events: events
                .iter()
                .filter(|e| {
                    reader.in_audience(e)
                        && self
                            .inner
                            .authorizer
                            .as_ref()
                            .is_none_or(|a| a.allow(e, &reader))
                })
                .map(|e| HistoryEvent {
                    id: e.id.to_string(),
                    event: e.name.to_string(),
                    data: wire::data_of(&e.frame),
                })
                .collect(),
            head: head.to_string(),
        })
    }
}

/// A connection-shaped view of `who` for the event authorizer: what it
/// would decide for a stream of theirs.
fn probe(who: &Principal) -> Connection {
    Connection {
        id: ConnectionId::random(),
        user: who.user.clone(),
        role: who.role,
        session_id: None,
        metadata: who.meta.clone(),
        filter: None,
        topics: parking_lot::RwLock::new(TopicSet::default()),
        queue: Queue::new(1),
        connected_at: Instant::now(),
        last_event_ms: AtomicU64::new(0),
        token_exp: Some(who.exp),
    }
}
