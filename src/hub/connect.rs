//! Opening, resuming and closing streams, and changing their topics.
//!
//! A new connection is registered under the head lock, so the id it
//! resumes up to (`head`) and live delivery meet exactly: everything up to
//! `head` comes from the broker's history, everything after it live.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use sse_protocol::events;
use tracing::Instrument;

use super::connection::{Connection, Frame, Queued, TopicSet};
use super::core::Hub;
use super::core::TRACE_TARGET;
use super::counters::Counters;
use super::event_stream::{ConnectionGuard, EventStream};
use super::observer::LifecycleKind;
use super::queue::Queue;
use crate::auth::Principal;
use crate::broker::{Channel, Replay};
use crate::error::HubError;
use crate::event::{unix_ms, ConnectionId, EventId, EventName, Topic, UserId};
use crate::wire;

/// What a new stream asks for.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The authenticated user.
    pub principal: Principal,
    /// Only these event types reach the connection (`None`: all).
    pub filter: Option<HashSet<EventName>>,
    /// Topics to start with.
    pub topics: Vec<Topic>,
    /// The client's session id, if it sent one.
    pub session_id: Option<String>,
    /// Free-form metadata for `{"metadata": ...}` targeting.
    pub metadata: BTreeMap<String, String>,
    /// The `Last-Event-ID` the client resumes from, as sent.
    pub last_event_id: Option<String>,
    /// On a fresh stream (no `last_event_id`), first send the newest this
    /// many events of its topics (at most [`MAX_REWIND`]).
    pub rewind: usize,
}

/// Most events `?rewind=` may ask for.
pub const MAX_REWIND: usize = 100;

impl ConnectRequest {
    /// A plain request for `principal`: no filter, topics or resume.
    pub fn new(principal: Principal) -> Self {
        Self {
            principal,
            filter: None,
            topics: Vec::new(),
            session_id: None,
            metadata: BTreeMap::new(),
            last_event_id: None,
            rewind: 0,
        }
    }
}

/// Where a new stream starts.
#[derive(Debug, Clone)]
enum Start {
    /// No `Last-Event-ID`: live events only.
    Fresh,
    /// After this id: the missed events first.
    After(EventId),
    /// A `Last-Event-ID` that is not one of ours: a `reset`.
    Unknown,
}

impl Start {
    fn of(last_event_id: Option<&str>) -> Self {
        match last_event_id {
            None => Start::Fresh,
            Some(s) => s.parse().map_or(Start::Unknown, Start::After),
        }
    }
}

/// What a stream opens with, after `connected`.
enum Opening {
    Live,
    Replay(Vec<Arc<crate::event::Event>>),
    /// The newest events of its topics (`?rewind=`), then live.
    Rewind(Vec<Arc<crate::event::Event>>),
    Reset {
        requested: Option<String>,
    },
}

impl Hub {
    /// Opens a stream for `req`: checks its topics against the topic policy
    /// (all or nothing: [`HubError::TopicForbidden`] names the refused
    /// ones) and its metadata against the trusted keys, checks the limits,
    /// registers the connection and prepares the first frames (`connected`
    /// with the `retry:` hint, then a `reset` or the replayed events).
    pub async fn connect(&self, req: ConnectRequest) -> Result<EventStream, HubError> {
        let span = tracing::trace_span!(
            target: TRACE_TARGET,
            "stream.open",
            connection.id = tracing::field::Empty,
            topics = req.topics.len(),
            resume = req.last_event_id.is_some(),
        );
        let stream = self.open(req).instrument(span.clone()).await?;
        span.record(
            "connection.id",
            tracing::field::display(&stream.guard.conn.id),
        );
        Ok(stream)
    }

    async fn open(&self, mut req: ConnectRequest) -> Result<EventStream, HubError> {
        // Every input is checked before anything waits.
        if req.rewind > MAX_REWIND {
            return Err(HubError::invalid(
                "rewind",
                &format!("at most {MAX_REWIND} events"),
            ));
        }
        let trusted = &self.inner.config.trusted_metadata_keys;
        if let Some(key) = req.metadata.keys().find(|k| trusted.contains(k)) {
            return Err(HubError::TrustedMetadata(key.clone()));
        }
        // The token's metadata wins over anything the client sent.
        let meta = req.principal.meta.clone();
        req.metadata.extend(meta);
        self.authorize_subscribe(&req.principal, &req.topics)
            .await?;
        let start = Start::of(req.last_event_id.as_deref());
        let requested = req.last_event_id.clone();
        // A turn for reading history, taken before anything is registered
        // (a waiting stream holds no slot) and held until the replay is
        // read; a stream that starts live needs none.
        let _turn = match start {
            Start::After(_) => Some(self.replay_turn().await?),
            Start::Fresh if req.rewind > 0 => Some(self.replay_turn().await?),
            _ => None,
        };
        if let Start::After(after) = start {
            // The client may have seen events (on another node) that this
            // node has not delivered yet: let it catch up first.
            self.caught_up(after).await;
        }
        let rewind = req.rewind;
        let (guard, head) = self.register(req)?;
        let broker = &self.inner.broker;
        let opening = match start {
            Start::Fresh if rewind > 0 => {
                let topics: Vec<Channel> = guard
                    .conn
                    .topics
                    .read()
                    .iter()
                    .cloned()
                    .map(Channel::Topic)
                    .collect();
                Opening::Rewind(broker.recent(&topics, head, rewind).await?)
            }
            Start::Fresh => Opening::Live,
            Start::Unknown => Opening::Reset { requested },
            Start::After(after) => {
                let max = self.inner.config.history_len;
                let conn = &guard.conn;
                let channels = Channel::of_connection(&conn.user, conn.topics.read().iter());
                let span = tracing::trace_span!(
                    target: TRACE_TARGET,
                    "resume",
                    after = %after,
                    channels = channels.len(),
                    replayed = tracing::field::Empty,
                    reset = tracing::field::Empty,
                );
                let replay = broker
                    .replay(after, head, &channels, max)
                    .instrument(span.clone())
                    .await?;
                match replay {
                    Replay::Events(events) => {
                        span.record("replayed", events.len());
                        span.record("reset", false);
                        Opening::Replay(events)
                    }
                    Replay::Gap => {
                        span.record("reset", true);
                        Opening::Reset { requested }
                    }
                }
            }
        };
        let resumed_from = match (&opening, &start) {
            (Opening::Replay(_), Start::After(id)) => *id,
            _ => head,
        };
        Ok(self.open_stream(guard, head, resumed_from, opening))
    }

    /// A turn to read history (see [`crate::HubConfig::max_concurrent_replays`]),
    /// waited for up to `replay_wait`.
    async fn replay_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, HubError> {
        let cfg = &self.inner.config;
        match tokio::time::timeout(cfg.replay_wait, self.inner.replays.acquire()).await {
            Ok(Ok(turn)) => Ok(turn),
            // Closed never happens (the hub never closes it); a refusal
            // either way.
            _ => {
                Counters::add(&self.inner.counters.replays_refused, 1);
                Err(HubError::ReplaysBusy(cfg.max_concurrent_replays))
            }
        }
    }

    /// Resumes refused for want of a turn (for `/metrics`).
    pub fn replays_refused(&self) -> u64 {
        Counters::get(&self.inner.counters.replays_refused)
    }

    /// Resumes reading history now (for `/metrics`).
    pub fn replays_running(&self) -> usize {
        self.inner
            .config
            .max_concurrent_replays
            .max(1)
            .saturating_sub(self.inner.replays.available_permits())
    }

    /// Checks the limits and registers the connection. Runs under the head
    /// lock, so no event can slip between the resume point (`head`, which
    /// it returns) and live delivery.
    fn register(&self, req: ConnectRequest) -> Result<(ConnectionGuard, EventId), HubError> {
        let cfg = &self.inner.config;
        if self.is_shutting_down() {
            return Err(HubError::ShuttingDown);
        }
        if req.topics.len() > cfg.max_topics_per_connection {
            return Err(HubError::TooManyTopics(cfg.max_topics_per_connection));
        }
        let topics: HashSet<Topic> = req.topics.into_iter().collect();
        let conn = Arc::new(Connection {
            id: ConnectionId::random(),
            user: req.principal.user.clone(),
            role: req.principal.role,
            session_id: req.session_id,
            metadata: req.metadata,
            filter: req.filter,
            topics: parking_lot::RwLock::new(TopicSet::new(topics)),
            queue: Queue::new(cfg.connection_queue),
            connected_at: Instant::now(),
            last_event_ms: AtomicU64::new(unix_ms()),
            token_exp: Some(req.principal.exp),
        });

        let registry = &self.inner.registry;
        let head = self.inner.head.lock();
        if registry.len() >= cfg.max_connections {
            Counters::add(&self.inner.counters.connections_rejected, 1);
            return Err(HubError::TooManyConnections(cfg.max_connections));
        }
        if cfg.single_connection_per_user {
            for old in registry.of_user(&conn.user) {
                self.close_with(
                    &old,
                    events::CONNECTION_REPLACED,
                    "a newer connection of this user took over",
                );
            }
        } else if registry.count_of(&conn.user) >= cfg.max_connections_per_user {
            Counters::add(&self.inner.counters.connections_rejected, 1);
            return Err(HubError::TooManyUserConnections(
                cfg.max_connections_per_user,
            ));
        }
        registry.add(&conn);
        let resume_upto = *head;
        drop(head);
        self.lifecycle(LifecycleKind::Connected, &conn, conn.topics.read().iter());
        Counters::add(&self.inner.counters.connections_opened, 1);
        tracing::info!(target: "sse_hub::connection.added", connection = %conn.id, user = %conn.user, "connection.added");
        let guard = ConnectionGuard {
            hub: self.clone(),
            conn,
        };
        Ok((guard, resume_upto))
    }

    /// The stream of a registered connection: `connected` (whose id is
    /// `resumed_from`), then a `reset` or the replay, then live frames.
    fn open_stream(
        &self,
        guard: ConnectionGuard,
        head: EventId,
        resumed_from: EventId,
        opening: Opening,
    ) -> EventStream {
        let cfg = &self.inner.config;
        let conn = &guard.conn;
        let rewound = matches!(opening, Opening::Rewind(_));
        let mut first = VecDeque::new();
        // The `connected` event carries the resume point as its id, so a
        // client that drops before anything else arrives resumes correctly.
        let hello = sse_protocol::Connected {
            connection_id: conn.id.to_string(),
            user_id: conn.user.to_string(),
            last_event_id: resumed_from.to_string(),
            retry: cfg.retry_ms,
            heartbeat_ms: cfg.heartbeat_interval.as_millis() as u64,
        };
        let connected = wire::control_frame(Some(resumed_from), events::CONNECTED, &hello);
        first.push_back(wire::with_retry(cfg.retry_ms, &connected));
        match opening {
            Opening::Live => {}
            Opening::Reset { requested } => first.push_back(self.reset_frame(
                "history no longer covers the requested id; refetch state",
                requested,
                head,
            )),
            Opening::Replay(events) | Opening::Rewind(events) => {
                let before = first.len();
                first.extend(
                    events
                        .iter()
                        .filter(|e| conn.is_targeted(&e.target) && self.allowed(conn, e))
                        .map(|e| e.frame.clone()),
                );
                let sent = first.len() - before;
                Counters::add(&self.inner.counters.replayed_events, sent as u64);
                if rewound && sent > 0 {
                    // The rewound events carry older ids: set the client's
                    // resume point back to where live delivery starts (an
                    // `id:` line alone is not an event, only the new id).
                    first.push_back(wire::id_frame(head));
                }
            }
        }
        EventStream {
            first,
            done: false,
            guard,
        }
    }

    /// A `reset` whose id is `head` (counted): the client missed events
    /// that are gone, and resumes from `head` after refetching its state.
    pub(super) fn reset_frame(
        &self,
        reason: &str,
        requested: Option<String>,
        head: EventId,
    ) -> bytes::Bytes {
        Counters::add(&self.inner.counters.resets_sent, 1);
        let body = sse_protocol::Reset {
            reason: reason.into(),
            requested,
            last_event_id: head.to_string(),
        };
        wire::control_frame(Some(head), events::RESET, &body)
    }

    /// Called when a stream is dropped.
    pub(super) fn unregister(&self, conn: &Arc<Connection>) {
        let topics = self.inner.registry.remove(conn);
        self.lifecycle(LifecycleKind::Disconnected, conn, &topics);
        Counters::add(&self.inner.counters.connections_closed, 1);
        tracing::info!(
            target: "sse_hub::connection.removed",
            connection = %conn.id,
            user = %conn.user,
            duration_ms = conn.connected_at.elapsed().as_millis() as u64,
            "connection.removed"
        );
    }

    /// Sends a final control event to `conn` and ends its stream; if its
    /// queue is full it is cut at once.
    pub(super) fn close_with(&self, conn: &Connection, event: &str, reason: &str) {
        let closed = sse_protocol::Closed {
            reason: reason.to_string(),
        };
        let frame = wire::control_frame(None, event, &closed);
        if conn.offer(Frame::Close(frame)) != Queued::Yes {
            conn.queue.cut();
        }
    }

    /// Disconnects one connection (admin action). False if it is unknown.
    pub fn disconnect(&self, id: &ConnectionId) -> bool {
        match self.connection(id) {
            Some(conn) => {
                self.close_with(
                    &conn,
                    events::CONNECTION_CLOSED,
                    "closed by an administrator",
                );
                true
            }
            None => false,
        }
    }

    /// The connection with this id, if open.
    pub fn connection(&self, id: &ConnectionId) -> Option<Arc<Connection>> {
        self.inner.registry.get(id)
    }

    /// The open connections of `user`.
    pub fn connections_of(&self, user: &UserId) -> Vec<Arc<Connection>> {
        self.inner.registry.of_user(user)
    }
}
