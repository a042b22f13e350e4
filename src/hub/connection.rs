//! One subscriber: who it is, what it wants, and the bounded queue in front
//! of its socket.
//!
//! The queue is what keeps a slow browser from hurting anyone else: the
//! publisher only ever does a non-blocking `try_send`; when the queue is full
//! the connection is cancelled and counted as a slow consumer, and the
//! publisher moves on.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::RwLock;

pub(crate) use super::queue::Frame;
use super::queue::{Queue, Refused};
use crate::auth::Role;
use crate::event::{ConnectionId, Event, EventName, Target, Topic, UserId};

/// Outcome of queueing a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    Yes,
    /// The queue was full: the connection has been cut, and this many
    /// events (the refused one, if it was one, and those still queued)
    /// will never reach it.
    Overflow {
        dropped: usize,
    },
    /// The stream is already gone.
    Gone,
}

/// A connection's topics; closed once the connection is unregistered so a
/// late subscribe cannot leave it in the topic index.
#[derive(Debug, Default)]
pub(crate) struct TopicSet {
    set: HashSet<Topic>,
    closed: bool,
}

impl TopicSet {
    pub(crate) fn new(set: HashSet<Topic>) -> Self {
        Self { set, closed: false }
    }

    /// Marks the set closed and hands back what it held.
    pub(crate) fn close(&mut self) -> HashSet<Topic> {
        self.closed = true;
        std::mem::take(&mut self.set)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn insert(&mut self, t: Topic) -> bool {
        !self.closed && self.set.insert(t)
    }

    pub(crate) fn remove(&mut self, t: &Topic) -> bool {
        self.set.remove(t)
    }

    pub(crate) fn contains(&self, t: &Topic) -> bool {
        self.set.contains(t)
    }

    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Topic> {
        self.set.iter()
    }
}

/// A live subscriber.
#[derive(Debug)]
pub struct Connection {
    pub(crate) id: ConnectionId,
    pub(crate) user: UserId,
    pub(crate) role: Role,
    pub(crate) session_id: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) filter: Option<HashSet<EventName>>,
    pub(crate) topics: RwLock<TopicSet>,
    /// Frames on their way to the socket; also carries the cut signal.
    pub(crate) queue: Queue,
    pub(crate) connected_at: Instant,
    pub(crate) last_event_ms: AtomicU64,
    /// Token expiry, unix seconds.
    pub(crate) token_exp: Option<u64>,
}

impl Connection {
    /// The connection's id.
    pub fn id(&self) -> &ConnectionId {
        &self.id
    }

    /// The user it belongs to.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The user's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The session id the client sent, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// Metadata from the stream's query string.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The topics it is subscribed to now.
    pub fn topics(&self) -> Vec<Topic> {
        self.topics.read().iter().cloned().collect()
    }

    /// Whether the event's type passes this connection's `events=` filter.
    pub(crate) fn wants(&self, name: &EventName) -> bool {
        self.filter.as_ref().is_none_or(|f| f.contains(name))
    }

    pub(crate) fn in_audience(&self, event: &Event) -> bool {
        match &event.audience {
            None => true,
            Some(users) => self.role == Role::Admin || users.contains(&self.user),
        }
    }

    pub(crate) fn is_targeted(&self, target: &Target) -> bool {
        match target {
            Target::All(_) => true,
            Target::User(u) => *u == self.user,
            Target::Users(us) => us.contains(&self.user),
            Target::Topic(t) => self.topics.read().contains(t),
            Target::Connection(c) => *c == self.id,
            Target::Metadata(m) => m.iter().all(|(k, v)| self.metadata.get(k) == Some(v)),
        }
    }

    /// Queues a frame without waiting; a full queue cuts the connection.
    pub(crate) fn offer(&self, frame: Frame) -> Queued {
        match self.queue.offer(frame) {
            Ok(()) => Queued::Yes,
            Err(Refused::Full { event }) => {
                let queued = self.queue.cut();
                Queued::Overflow {
                    dropped: queued + usize::from(event),
                }
            }
            Err(Refused::Closed) => Queued::Gone,
        }
    }

    /// Queues an event's frame and records the delivery time.
    pub(crate) fn offer_event(&self, event: &Event) -> Queued {
        let q = self.offer(Frame::Data(event.frame.clone()));
        if q == Queued::Yes {
            self.last_event_ms
                .store(event.published_ms, Ordering::Relaxed);
        }
        q
    }
}
