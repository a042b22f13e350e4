//! Topics of open connections: [`Hub::set_topics`] adds or removes them,
//! all or nothing, under the topic policy and the per-connection limit.

use super::core::Hub;
use super::observer::LifecycleKind;
use crate::auth::Principal;
use crate::error::HubError;
use crate::event::{ConnectionId, Topic};

/// Which of a user's connections a topic change applies to.
#[derive(Debug, Clone, Copy)]
pub enum Connections<'a> {
    /// All of them.
    All,
    /// This one (it must be theirs).
    One(&'a ConnectionId),
}

/// Subscribe or unsubscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicChange {
    /// Add the topics.
    Subscribe,
    /// Remove the topics.
    Unsubscribe,
}

impl Hub {
    /// Refuses with [`HubError::TopicForbidden`] unless `who` may
    /// subscribe to every one of `topics`.
    pub(super) async fn authorize_subscribe(
        &self,
        who: &Principal,
        topics: &[Topic],
    ) -> Result<(), HubError> {
        if topics.is_empty() {
            return Ok(());
        }
        let refused = self.inner.topics.refuse_subscribe(who, topics).await;
        if refused.is_empty() {
            Ok(())
        } else {
            Err(HubError::TopicForbidden(
                refused.iter().map(ToString::to_string).collect(),
            ))
        }
    }

    /// Adds or removes `topics` on `who`'s connections (all of them, or
    /// one of theirs). All or nothing: if the topic policy refuses one
    /// topic, or one connection would go over the topic limit, none
    /// changes. Unsubscribing is always allowed. Returns the connections
    /// changed.
    pub async fn set_topics(
        &self,
        who: &Principal,
        which: Connections<'_>,
        topics: &[Topic],
        change: TopicChange,
    ) -> Result<Vec<ConnectionId>, HubError> {
        if change == TopicChange::Subscribe {
            self.authorize_subscribe(who, topics).await?;
        }
        let user = &who.user;
        let targets = match which {
            Connections::One(id) => {
                let conn = self.connection(id).ok_or(HubError::UnknownConnection)?;
                if conn.user != *user {
                    return Err(HubError::NotYourConnection);
                }
                vec![conn]
            }
            Connections::All => self.connections_of(user),
        };
        let max = self.inner.config.max_topics_per_connection;
        // Check and apply under the same locks, so that concurrent
        // subscribes cannot pass the check together and exceed the limit;
        // taken in id order, so two calls on the same connections never
        // wait for each other in a circle.
        let mut targets = targets;
        targets.sort_by(|a, b| a.id.cmp(&b.id));
        let mut sets: Vec<_> = targets.iter().map(|c| c.topics.write()).collect();
        if change == TopicChange::Subscribe {
            for set in sets.iter().filter(|s| !s.is_closed()) {
                let added = topics.iter().filter(|t| !set.contains(t)).count();
                if set.len() + added > max {
                    return Err(HubError::TooManyTopics(max));
                }
            }
        }
        let registry = &self.inner.registry;
        let mut applied = Vec::with_capacity(targets.len());
        for (conn, set) in targets.iter().zip(sets.iter_mut()) {
            if set.is_closed() {
                continue;
            }
            let mut done = Vec::new();
            for t in topics {
                match change {
                    TopicChange::Subscribe if set.insert(t.clone()) => {
                        registry.index_topic(t, conn);
                        done.push(t);
                    }
                    TopicChange::Unsubscribe if set.remove(t) => {
                        registry.unindex_topic(t, conn);
                        done.push(t);
                    }
                    _ => {}
                }
            }
            applied.push((conn, done));
        }
        drop(sets);
        let mut changed = Vec::with_capacity(applied.len());
        for (conn, done) in applied {
            if !done.is_empty() {
                let kind = match change {
                    TopicChange::Subscribe => LifecycleKind::Subscribed,
                    TopicChange::Unsubscribe => LifecycleKind::Unsubscribed,
                };
                self.lifecycle(kind, conn, done);
            }
            changed.push(conn.id.clone());
        }
        Ok(changed)
    }
}
