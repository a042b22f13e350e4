//! Who is connected: the connections of one node, indexed by id, by user
//! and by topic, and the lookup from an event's [`Target`] to them.
//!
//! Three `DashMap`s (sharded locks) rather than one map behind a lock: a
//! publish to one user or topic touches only that shard, and connects,
//! disconnects and subscriptions on different shards never contend.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use dashmap::DashMap;

use super::connection::Connection;
use crate::event::{ConnectionId, Target, Topic, UserId};

#[derive(Default)]
pub(super) struct Registry {
    /// Every open connection.
    conns: DashMap<ConnectionId, Arc<Connection>>,
    /// A user's connections, for user targets and per-user limits.
    by_user: DashMap<UserId, Vec<Arc<Connection>>>,
    /// A topic's subscribers; a topic leaves the map with its last one.
    by_topic: DashMap<Topic, HashMap<ConnectionId, Arc<Connection>>>,
}

impl Registry {
    pub(super) fn len(&self) -> usize {
        self.conns.len()
    }

    pub(super) fn user_count(&self) -> usize {
        self.by_user.len()
    }

    /// How many connections `user` holds.
    pub(super) fn count_of(&self, user: &UserId) -> usize {
        self.by_user.get(user).map_or(0, |l| l.len())
    }

    pub(super) fn get(&self, id: &ConnectionId) -> Option<Arc<Connection>> {
        self.conns.get(id).map(|c| c.value().clone())
    }

    pub(super) fn of_user(&self, user: &UserId) -> Vec<Arc<Connection>> {
        self.by_user
            .get(user)
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Adds `conn` under its id, its user and the topics it starts with.
    pub(super) fn add(&self, conn: &Arc<Connection>) {
        self.conns.insert(conn.id.clone(), conn.clone());
        self.by_user
            .entry(conn.user.clone())
            .or_default()
            .push(conn.clone());
        for t in conn.topics.read().iter() {
            self.index_topic(t, conn);
        }
    }

    /// Removes `conn` everywhere; its topic set is closed first, so a
    /// subscribe racing with the removal cannot leave it in the topic map.
    /// Returns the topics it held.
    pub(super) fn remove(&self, conn: &Connection) -> Vec<Topic> {
        let topics = conn.topics.write().close();
        self.conns.remove(&conn.id);
        self.by_user.remove_if_mut(&conn.user, |_, list| {
            list.retain(|c| c.id != conn.id);
            list.is_empty()
        });
        for t in &topics {
            self.unindex_topic(t, conn);
        }
        topics.into_iter().collect()
    }

    pub(super) fn index_topic(&self, topic: &Topic, conn: &Arc<Connection>) {
        self.by_topic
            .entry(topic.clone())
            .or_default()
            .insert(conn.id.clone(), conn.clone());
    }

    pub(super) fn unindex_topic(&self, topic: &Topic, conn: &Connection) {
        self.by_topic.remove_if_mut(topic, |_, subs| {
            subs.remove(&conn.id);
            subs.is_empty()
        });
    }

    /// Calls `f` with every connection `target` names, each once.
    pub(super) fn for_each_target(&self, target: &Target, mut f: impl FnMut(&Connection)) {
        match target {
            Target::All(_) => self.conns.iter().for_each(|c| f(c.value())),
            Target::Metadata(_) => self
                .conns
                .iter()
                .filter(|c| c.is_targeted(target))
                .for_each(|c| f(c.value())),
            Target::User(u) => {
                if let Some(list) = self.by_user.get(u) {
                    list.iter().for_each(|c| f(c));
                }
            }
            Target::Users(users) => {
                let unique: BTreeSet<&UserId> = users.iter().collect();
                for u in unique {
                    if let Some(list) = self.by_user.get(u) {
                        list.iter().for_each(|c| f(c));
                    }
                }
            }
            Target::Topic(t) => {
                if let Some(subs) = self.by_topic.get(t) {
                    subs.values().for_each(|c| f(c));
                }
            }
            Target::Connection(id) => {
                if let Some(c) = self.conns.get(id) {
                    f(c.value());
                }
            }
        }
    }

    /// Calls `f` with every connection.
    pub(super) fn for_each(&self, mut f: impl FnMut(&Arc<Connection>)) {
        self.conns.iter().for_each(|c| f(c.value()));
    }

    /// How many connections each user has on each topic `wanted` accepts.
    pub(super) fn user_counts(
        &self,
        wanted: impl Fn(&Topic) -> bool,
    ) -> HashMap<(Topic, UserId), u64> {
        let mut out = HashMap::new();
        for entry in self.by_topic.iter() {
            if !wanted(entry.key()) {
                continue;
            }
            for conn in entry.value().values() {
                *out.entry((entry.key().clone(), conn.user.clone()))
                    .or_insert(0) += 1;
            }
        }
        out
    }

    /// Every topic with its subscriber count.
    pub(super) fn topic_counts(&self) -> Vec<(Topic, usize)> {
        self.by_topic
            .iter()
            .map(|e| (e.key().clone(), e.value().len()))
            .collect()
    }
}
