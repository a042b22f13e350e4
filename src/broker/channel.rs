//! History channels: where an event is kept for replay, so a busy channel
//! never evicts another's events.
//!
//! An event is kept in the channel of its audience: everyone (broadcasts,
//! and metadata targets, which any connection may match), each user it
//! names, or its topic. Events for one connection are not kept: a resumed
//! stream is a new connection. A connection reads the everyone channel,
//! its user's and its topics', merged in id order.

use crate::event::{Target, Topic, UserId};

/// One history channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Broadcasts and metadata targets.
    Everyone,
    /// Events for this user.
    User(UserId),
    /// Events for this topic.
    Topic(Topic),
}

impl Channel {
    /// The channels an event for `target` is kept in.
    pub fn of_target(target: &Target) -> Vec<Channel> {
        match target {
            Target::All(_) | Target::Metadata(_) => vec![Channel::Everyone],
            Target::User(u) => vec![Channel::User(u.clone())],
            Target::Users(us) => {
                let mut users: Vec<&UserId> = us.iter().collect();
                users.sort();
                users.dedup();
                users.into_iter().cloned().map(Channel::User).collect()
            }
            Target::Topic(t) => vec![Channel::Topic(t.clone())],
            Target::Connection(_) => Vec::new(),
        }
    }

    /// The channels a connection of `user` with `topics` reads.
    pub fn of_connection<'a>(
        user: &UserId,
        topics: impl IntoIterator<Item = &'a Topic>,
    ) -> Vec<Channel> {
        let mut out = vec![Channel::Everyone, Channel::User(user.clone())];
        out.extend(topics.into_iter().cloned().map(Channel::Topic));
        out
    }

    /// A short name, unique per channel, for keys (`*`, `u:<id>`, `t:<topic>`).
    pub fn key(&self) -> String {
        match self {
            Channel::Everyone => "*".to_string(),
            Channel::User(u) => format!("u:{u}"),
            Channel::Topic(t) => format!("t:{t}"),
        }
    }
}
