//! Presence: who is in a topic, over every node, and `presence.join` /
//! `presence.leave` events to its subscribers, for `--presence-topics`.
//!
//! Once a second the hub counts its own connections per user on presence
//! topics and hands the broker what changed; the broker answers which
//! users' presence began or ended over every node, and this node announces
//! exactly those. Every 30 s it sends all its counts again (a Redis that
//! lost them gets them back). Every 2 s it asks the broker to forget nodes
//! that died, and announces who left with them. Nothing here is on the
//! path of a stream: a slow broker delays presence, never events.

use sse_protocol::{events, PresencePage, PresentUser};

use super::core::Hub;
use crate::auth::Principal;
use crate::broker::{PresenceCount, PresenceEdge};
use crate::error::HubError;
use crate::event::{unix_ms, NewEvent, Target, Topic};

/// Most users one presence answer lists (`total` counts them all).
pub const MAX_PRESENCE_USERS: usize = 1000;

impl Hub {
    /// Whether `topic` has presence (`--presence-topics`).
    pub fn is_presence_topic(&self, topic: &Topic) -> bool {
        self.inner
            .config
            .presence_topics
            .iter()
            .any(|p| p.matches_topic(topic))
    }

    /// Who is in `topic`, over every node (as of the last second), for a
    /// caller allowed to subscribe to it.
    pub async fn presence(&self, who: &Principal, topic: Topic) -> Result<PresencePage, HubError> {
        if !self.is_presence_topic(&topic) {
            return Err(HubError::invalid(
                "topic",
                "has no presence (see --presence-topics)",
            ));
        }
        self.authorize_subscribe(who, std::slice::from_ref(&topic))
            .await?;
        let (users, total) = self
            .inner
            .broker
            .presence(&topic, MAX_PRESENCE_USERS)
            .await?;
        Ok(PresencePage {
            topic: topic.to_string(),
            users: users
                .into_iter()
                .map(|(u, n)| PresentUser {
                    user_id: u.to_string(),
                    connections: n,
                })
                .collect(),
            total,
        })
    }

    /// Hands the broker this node's changed presence counts (all of them
    /// when `full`) and announces the edges.
    pub(super) async fn presence_tick(&self, full: bool) {
        if self.inner.config.presence_topics.is_empty() {
            return;
        }
        let now = self
            .inner
            .registry
            .user_counts(|t| self.is_presence_topic(t));
        let changes: Vec<PresenceCount> =
            {
                let sent = self.inner.presence_sent.lock();
                let mut changes: Vec<PresenceCount> = now
                    .iter()
                    .filter(|(k, n)| full || sent.get(*k) != Some(*n))
                    .map(|((topic, user), n)| PresenceCount {
                        topic: topic.clone(),
                        user: user.clone(),
                        connections: *n,
                    })
                    .collect();
                changes.extend(sent.keys().filter(|k| !now.contains_key(*k)).map(
                    |(topic, user)| PresenceCount {
                        topic: topic.clone(),
                        user: user.clone(),
                        connections: 0,
                    },
                ));
                changes
            };
        if changes.is_empty() {
            return;
        }
        match self
            .inner
            .broker
            .presence_update(&self.inner.node_id, &changes)
            .await
        {
            Ok(edges) => {
                *self.inner.presence_sent.lock() = now;
                self.announce(edges).await;
            }
            Err(e) => {
                tracing::warn!(error = %crate::error::report(&e), "presence update failed; retrying next second")
            }
        }
    }

    /// Forgets dead nodes' presence and announces who left with them.
    pub(super) async fn presence_sweep(&self) {
        if self.inner.config.presence_topics.is_empty() {
            return;
        }
        match self.inner.broker.presence_sweep().await {
            Ok(edges) => self.announce(edges).await,
            Err(e) => tracing::debug!(error = %crate::error::report(&e), "presence sweep failed"),
        }
    }

    async fn announce(&self, edges: Vec<PresenceEdge>) {
        let at = unix_ms();
        for edge in edges {
            let (name, topic, user) = match edge {
                PresenceEdge::Joined(t, u) => (events::PRESENCE_JOIN, t, u),
                PresenceEdge::Left(t, u) => (events::PRESENCE_LEAVE, t, u),
            };
            let payload = sse_protocol::PresenceChange {
                topic: topic.to_string(),
                user_id: user.to_string(),
                at,
            };
            let event = NewEvent::json(
                name.parse().expect("presence event names are valid"),
                &payload,
                Target::Topic(topic),
            );
            let published = match event {
                Ok(event) => self.publish(event).await,
                Err(e) => Err(e),
            };
            if let Err(e) = published {
                tracing::warn!(error = %crate::error::report(&e), "presence event not published");
            }
        }
    }
}
