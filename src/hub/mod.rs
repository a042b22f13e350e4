//! The hub: who is connected, and getting each event to exactly the
//! connections it is meant for.
//!
//! Design, for a node holding 100k streams:
//! - Connections live in sharded maps (`DashMap`): by id, by user and by
//!   topic, so targeted events touch only their recipients and connects,
//!   disconnects and subscriptions on different shards never contend.
//! - An event is encoded once into a `Bytes` frame; fan-out clones the
//!   reference-counted handle, never the payload.
//! - Each connection has one bounded queue. Fan-out only `try_send`s; a full
//!   queue disconnects that consumer (counted) instead of blocking anyone.
//! - One short critical section ([`Order`]) assigns the id, appends to the
//!   replay history and enqueues. It is what makes every connection see
//!   events in id order and what lets a resuming client splice history and
//!   live events without a gap or a duplicate; nothing inside it waits.

mod cluster;
mod connection;
mod event_stream;
mod history;
mod queue;
mod stats;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use self::cluster::ClusterStats;
pub use self::connection::Connection;
use self::connection::{Frame, Queued};
use self::event_stream::ConnectionGuard;
pub use self::event_stream::{Cut, EventStream};
use self::history::{History, Resume};
use self::stats::Counters;
pub use self::stats::{HubStats, TopicStats, UserStats};
use sse_protocol::events;

use crate::auth::{Auth, Principal};
use crate::config::HubConfig;
use crate::error::HubError;
use crate::event::{
    unix_ms, ConnectionId, Event, EventId, EventName, NewEvent, Target, Topic, UserId,
};
use crate::wire;

/// Decides whether a connection may see an event, beyond targeting and
/// filters. The default, [`AudienceAuthorizer`], lets an event with an
/// audience (such as `data_change`) reach only those users and admins.
pub trait EventAuthorizer: Send + Sync + 'static {
    /// True when `conn` may receive `event`.
    fn allow(&self, event: &Event, conn: &Connection) -> bool;
}

/// The default authorizer: see [`NewEvent::audience`].
#[derive(Debug, Default, Clone, Copy)]
pub struct AudienceAuthorizer;

impl EventAuthorizer for AudienceAuthorizer {
    fn allow(&self, event: &Event, conn: &Connection) -> bool {
        conn.in_audience(event)
    }
}

/// What a publish returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The event's id.
    pub id: EventId,
    /// Connections it was queued to on this node.
    pub delivered: usize,
    /// True when the idempotency key was seen before: nothing was sent.
    pub duplicate: bool,
}

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
}

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
        }
    }
}

struct Order {
    /// The newest id delivered on this node.
    head: EventId,
    /// Replay history (memory broker; with Redis the stream is the history).
    history: History,
}

struct Inner {
    config: HubConfig,
    auth: Auth,
    authorizer: Box<dyn EventAuthorizer>,
    epoch: u64,
    order: Mutex<Order>,
    conns: DashMap<ConnectionId, Arc<Connection>>,
    by_user: DashMap<UserId, Vec<Arc<Connection>>>,
    by_topic: DashMap<Topic, HashMap<ConnectionId, Arc<Connection>>>,
    counters: Counters,
    shutting_down: AtomicBool,
    stop: CancellationToken,
    started: Instant,
    cluster: Option<cluster::Cluster>,
}

/// The hub. Cheap to clone; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("epoch", &self.inner.epoch)
            .field("connections", &self.inner.conns.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub with the default authorizer. Inside a tokio runtime this also
    /// starts the background work (heartbeats, stats, expiry), which stops
    /// on [`Hub::shutdown`].
    pub fn new(config: HubConfig, auth: Auth) -> Self {
        Self::with_authorizer(config, auth, AudienceAuthorizer)
    }

    /// A hub with a custom per-event authorization hook.
    pub fn with_authorizer(
        config: HubConfig,
        auth: Auth,
        authorizer: impl EventAuthorizer,
    ) -> Self {
        let epoch = unix_ms();
        Self::assemble(
            config,
            auth,
            Box::new(authorizer),
            None,
            EventId::new(epoch, 0),
        )
    }

    fn assemble(
        config: HubConfig,
        auth: Auth,
        authorizer: Box<dyn EventAuthorizer>,
        cluster: Option<cluster::Cluster>,
        head: EventId,
    ) -> Self {
        let history = History::new(config.history_len, config.history_max_age);
        let hub = Hub {
            inner: Arc::new(Inner {
                config,
                auth,
                authorizer,
                epoch: head.epoch,
                order: Mutex::new(Order { head, history }),
                conns: DashMap::new(),
                by_user: DashMap::new(),
                by_topic: DashMap::new(),
                counters: Counters::default(),
                shutting_down: AtomicBool::new(false),
                stop: CancellationToken::new(),
                started: Instant::now(),
                cluster,
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            hub.spawn_maintenance();
        }
        hub
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Token verification.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// The epoch of this node's ids (with Redis: of the stream's newest id
    /// when the node started).
    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    /// The newest id delivered on this node (`<epoch>-0` before the first
    /// event).
    pub fn head(&self) -> EventId {
        self.inner.order.lock().head
    }

    /// Open connections on this node.
    pub fn connection_count(&self) -> usize {
        self.inner.conns.len()
    }

    /// Resolves once [`Hub::shutdown`] has been called.
    pub async fn stopped(&self) {
        self.inner.stop.cancelled().await
    }

    /// Whether [`Hub::shutdown`] has been called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }

    // ----- publishing -------------------------------------------------------

    /// Gives `event` an id, records it for replay and queues it to every
    /// matching connection (with Redis: on every node).
    pub async fn publish(&self, event: NewEvent) -> Result<Published, HubError> {
        match &self.inner.cluster {
            None => self.publish_now(event),
            Some(c) => {
                self.check(&event)?;
                c.publish(self, event).await
            }
        }
    }

    /// [`Hub::publish`] without the `async`, for callers outside a runtime.
    /// Memory broker only: with Redis it refuses, use [`Hub::publish`].
    pub fn publish_now(&self, new: NewEvent) -> Result<Published, HubError> {
        if self.inner.cluster.is_some() {
            return Err(HubError::BrokerUnavailable(crate::error::BrokerError::new(
                "publish_now works with the memory broker only",
            )));
        }
        self.check(&new)?;
        let now = unix_ms();
        let mut order = self.inner.order.lock();
        if let Some(id) = new
            .dedup_key
            .as_deref()
            .and_then(|k| order.history.find_key(k))
        {
            return Ok(Published {
                id,
                delivered: 0,
                duplicate: true,
            });
        }
        order.head.seq += 1;
        let id = order.head;
        let event = Arc::new(Event {
            id,
            frame: wire::event_frame(Some(id), Some(&new.name), &new.data),
            name: new.name,
            target: new.target,
            audience: new.audience,
            published_ms: now,
            dedup_key: new.dedup_key,
        });
        order.history.push(event.clone());
        let delivered = self.deliver(&event);
        drop(order);
        self.count_published(&event, delivered);
        Ok(Published {
            id,
            delivered,
            duplicate: false,
        })
    }

    fn count_published(&self, event: &Event, delivered: usize) {
        let c = &self.inner.counters;
        Counters::add(&c.events_published, 1);
        Counters::add(&c.events_delivered, delivered as u64);
        c.last_event_ms.store(event.published_ms, Ordering::Relaxed);
        tracing::debug!(target: "sse_hub::event.published", id = %event.id, event = %event.name, delivered, "event.published");
    }

    /// The checks every publish passes first.
    fn check(&self, new: &NewEvent) -> Result<(), HubError> {
        let limit = self.inner.config.max_event_bytes;
        if new.data.len() > limit {
            return Err(HubError::PayloadTooLarge {
                size: new.data.len(),
                limit,
            });
        }
        if let Some(k) = &new.dedup_key {
            if k.is_empty() || k.len() > 256 || k.chars().any(char::is_control) {
                return Err(HubError::invalid(
                    "id",
                    "must be 1-256 characters without control characters",
                ));
            }
        }
        if self.is_shutting_down() {
            return Err(HubError::ShuttingDown);
        }
        Ok(())
    }

    fn offer_to(&self, conn: &Connection, event: &Event) -> bool {
        match conn.offer_event(event) {
            Queued::Yes => true,
            Queued::Overflow { dropped } => {
                self.count_slow(conn, dropped);
                false
            }
            Queued::Gone => false,
        }
    }

    fn count_slow(&self, conn: &Connection, dropped: usize) {
        let c = &self.inner.counters;
        Counters::add(&c.dropped_events, dropped as u64);
        Counters::add(&c.slow_disconnects, 1);
        tracing::info!(connection = %conn.id, user = %conn.user, "slow consumer disconnected: queue full");
    }

    fn allowed(&self, conn: &Connection, event: &Event) -> bool {
        conn.wants(&event.name) && self.inner.authorizer.allow(event, conn)
    }

    /// Queues `event` to the local connections it targets; returns how many.
    fn deliver(&self, event: &Event) -> usize {
        let mut n = 0;
        let mut send = |conn: &Connection| {
            if self.allowed(conn, event) && self.offer_to(conn, event) {
                n += 1;
            }
        };
        match &event.target {
            Target::All(_) => self.inner.conns.iter().for_each(|c| send(c.value())),
            Target::Metadata(_) => self
                .inner
                .conns
                .iter()
                .filter(|c| c.is_targeted(&event.target))
                .for_each(|c| send(c.value())),
            Target::User(u) => {
                if let Some(list) = self.inner.by_user.get(u) {
                    list.iter().for_each(|c| send(c));
                }
            }
            Target::Users(users) => {
                let unique: BTreeSet<&UserId> = users.iter().collect();
                for u in unique {
                    if let Some(list) = self.inner.by_user.get(u) {
                        list.iter().for_each(|c| send(c));
                    }
                }
            }
            Target::Topic(t) => {
                if let Some(subs) = self.inner.by_topic.get(t) {
                    subs.values().for_each(|c| send(c));
                }
            }
            Target::Connection(id) => {
                if let Some(c) = self.inner.conns.get(id) {
                    send(c.value());
                }
            }
        }
        n
    }

    // ----- connections ------------------------------------------------------

    /// Opens a stream for `req`: checks the limits, registers the
    /// connection and prepares the first frames (`connected` with the
    /// `retry:` hint, then a `reset` or the replayed events).
    pub async fn connect(&self, req: ConnectRequest) -> Result<EventStream, HubError> {
        let resume_from = req.last_event_id.as_deref().map(|s| s.parse::<EventId>());
        if let (Some(c), Some(Ok(after))) = (&self.inner.cluster, &resume_from) {
            // The client may have seen events (on another node) that this
            // node's reader has not delivered yet: let it catch up first.
            c.caught_up(*after, Duration::from_secs(2)).await;
        }
        let requested = req.last_event_id.clone();
        let (guard, head, local) = self.register(req, resume_from.as_ref())?;
        let resume = match (&self.inner.cluster, &resume_from) {
            (_, None) => None,
            (_, Some(Err(_))) => Some(Resume::Gap),
            (None, Some(Ok(_))) => local,
            (Some(c), Some(Ok(after))) => {
                Some(c.resume(*after, head, self.config().history_len).await?)
            }
        };
        Ok(self.open_stream(guard, head, resume, resume_from, requested))
    }

    /// Checks the limits and registers the connection. Runs under the order
    /// lock, so no event can slip between the history snapshot (`head`) and
    /// live delivery.
    #[allow(clippy::type_complexity)]
    fn register(
        &self,
        req: ConnectRequest,
        resume_from: Option<&Result<EventId, HubError>>,
    ) -> Result<(ConnectionGuard, EventId, Option<Resume>), HubError> {
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
            topics: parking_lot::RwLock::new(connection::TopicSet::new(topics.clone())),
            queue: queue::Queue::new(cfg.connection_queue),
            connected_at: Instant::now(),
            last_event_ms: std::sync::atomic::AtomicU64::new(unix_ms()),
            token_exp: Some(req.principal.exp),
        });

        let order = self.inner.order.lock();
        let user_conns = self.inner.by_user.get(&conn.user).map_or(0, |l| l.len());
        if self.inner.conns.len() >= cfg.max_connections {
            Counters::add(&self.inner.counters.connections_rejected, 1);
            return Err(HubError::TooManyConnections(cfg.max_connections));
        }
        if !cfg.single_connection_per_user && user_conns >= cfg.max_connections_per_user {
            Counters::add(&self.inner.counters.connections_rejected, 1);
            return Err(HubError::TooManyUserConnections(
                cfg.max_connections_per_user,
            ));
        }
        if cfg.single_connection_per_user {
            if let Some(old) = self.inner.by_user.get(&conn.user) {
                for c in old.iter() {
                    self.close_with(
                        c,
                        events::CONNECTION_REPLACED,
                        "a newer connection of this user took over",
                    );
                }
            }
        }
        self.inner.conns.insert(conn.id.clone(), conn.clone());
        self.inner
            .by_user
            .entry(conn.user.clone())
            .or_default()
            .push(conn.clone());
        for t in &topics {
            self.inner
                .by_topic
                .entry(t.clone())
                .or_default()
                .insert(conn.id.clone(), conn.clone());
        }
        let head = order.head;
        let local = match resume_from {
            Some(Ok(id)) if self.inner.cluster.is_none() => Some(order.history.since(*id, head)),
            _ => None,
        };
        drop(order);
        Counters::add(&self.inner.counters.connections_opened, 1);
        tracing::info!(target: "sse_hub::connection.added", connection = %conn.id, user = %conn.user, "connection.added");
        let guard = ConnectionGuard {
            hub: self.clone(),
            conn,
        };
        Ok((guard, head, local))
    }

    /// The stream of a registered connection: `connected`, then a `reset`
    /// or the replay, then live frames.
    fn open_stream(
        &self,
        guard: ConnectionGuard,
        head: EventId,
        resume: Option<Resume>,
        resume_from: Option<Result<EventId, HubError>>,
        requested: Option<String>,
    ) -> EventStream {
        let cfg = &self.inner.config;
        let conn = &guard.conn;
        let mut first = VecDeque::new();
        // The `connected` event carries the resume point as its id, so a
        // client that drops before anything else arrives resumes correctly.
        let connected_id = match (&resume, &resume_from) {
            (Some(Resume::Replay(_)), Some(Ok(id))) => *id,
            _ => head,
        };
        let hello = sse_protocol::Connected {
            connection_id: conn.id.to_string(),
            user_id: conn.user.to_string(),
            last_event_id: connected_id.to_string(),
            retry: cfg.retry_ms,
            heartbeat_ms: cfg.heartbeat_interval.as_millis() as u64,
        };
        let connected = control_frame(Some(connected_id), events::CONNECTED, &hello);
        first.push_back(wire::with_retry(cfg.retry_ms, &connected));
        match resume {
            Some(Resume::Gap) => {
                Counters::add(&self.inner.counters.resets_sent, 1);
                let body = sse_protocol::Reset {
                    reason: "history no longer covers the requested id; refetch state".into(),
                    requested,
                    last_event_id: head.to_string(),
                };
                first.push_back(control_frame(Some(head), events::RESET, &body));
            }
            Some(Resume::Replay(events)) => {
                let before = first.len();
                first.extend(
                    events
                        .iter()
                        .filter(|e| conn.is_targeted(&e.target) && self.allowed(conn, e))
                        .map(|e| e.frame.clone()),
                );
                Counters::add(
                    &self.inner.counters.replayed_events,
                    (first.len() - before) as u64,
                );
            }
            None => {}
        }
        EventStream {
            first,
            done: false,
            guard,
        }
    }

    fn unregister(&self, conn: &Arc<Connection>) {
        let topics = conn.topics.write().close();
        self.inner.conns.remove(&conn.id);
        self.inner.by_user.remove_if_mut(&conn.user, |_, list| {
            list.retain(|c| c.id != conn.id);
            list.is_empty()
        });
        for t in topics {
            self.inner.by_topic.remove_if_mut(&t, |_, subs| {
                subs.remove(&conn.id);
                subs.is_empty()
            });
        }
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
    fn close_with(&self, conn: &Connection, event: &str, reason: &str) {
        let closed = sse_protocol::Closed {
            reason: reason.to_string(),
        };
        let frame = control_frame(None, event, &closed);
        if conn.offer(Frame::Close(frame)) != Queued::Yes {
            conn.queue.cut();
        }
    }

    /// Disconnects one connection (admin action). False if it is unknown.
    pub fn disconnect(&self, id: &ConnectionId) -> bool {
        match self.inner.conns.get(id).map(|c| c.value().clone()) {
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
        self.inner.conns.get(id).map(|c| c.value().clone())
    }

    /// The open connections of `user`.
    pub fn connections_of(&self, user: &UserId) -> Vec<Arc<Connection>> {
        self.inner
            .by_user
            .get(user)
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    // ----- topics -----------------------------------------------------------

    /// Adds (`subscribe = true`) or removes topics on `user`'s connections:
    /// all of them, or only `only` (which must be theirs). Returns the
    /// connections changed.
    pub fn set_topics(
        &self,
        user: &UserId,
        only: Option<&ConnectionId>,
        topics: &[Topic],
        subscribe: bool,
    ) -> Result<Vec<ConnectionId>, HubError> {
        let targets = match only {
            Some(id) => {
                let conn = self.connection(id).ok_or(HubError::UnknownConnection)?;
                if conn.user != *user {
                    return Err(HubError::NotYourConnection);
                }
                vec![conn]
            }
            None => self.connections_of(user),
        };
        let max = self.inner.config.max_topics_per_connection;
        if subscribe {
            for conn in &targets {
                let set = conn.topics.read();
                let added = topics.iter().filter(|t| !set.contains(t)).count();
                if set.len() + added > max {
                    return Err(HubError::TooManyTopics(max));
                }
            }
        }
        let mut changed = Vec::with_capacity(targets.len());
        for conn in &targets {
            let mut set = conn.topics.write();
            if set.is_closed() {
                continue;
            }
            for t in topics {
                if subscribe {
                    if set.insert(t.clone()) {
                        self.inner
                            .by_topic
                            .entry(t.clone())
                            .or_default()
                            .insert(conn.id.clone(), conn.clone());
                    }
                } else if set.remove(t) {
                    self.inner.by_topic.remove_if_mut(t, |_, subs| {
                        subs.remove(&conn.id);
                        subs.is_empty()
                    });
                }
            }
            changed.push(conn.id.clone());
        }
        Ok(changed)
    }

    // ----- stats ------------------------------------------------------------

    /// A snapshot for `/api/sse/stats`: the totals of [`Hub::summary`]
    /// plus per-user and per-topic lists and the mean connection age,
    /// which take a walk over every connection.
    pub fn stats(&self) -> HubStats {
        let mut stats = self.summary();
        let mut users: BTreeMap<String, (usize, BTreeSet<String>, BTreeSet<String>)> =
            BTreeMap::new();
        let mut age_sum: u128 = 0;
        let mut total = 0usize;
        for entry in self.inner.conns.iter() {
            let conn = entry.value();
            total += 1;
            age_sum += conn.connected_at.elapsed().as_millis();
            let u = users.entry(conn.user.to_string()).or_default();
            u.0 += 1;
            if let Some(f) = &conn.filter {
                u.1.extend(f.iter().map(|n| n.to_string()));
            }
            u.2.extend(conn.topics.read().iter().map(|t| t.to_string()));
        }
        let mut topics: Vec<TopicStats> = self
            .inner
            .by_topic
            .iter()
            .map(|e| TopicStats {
                topic: e.key().to_string(),
                subscribers: e.value().len() as u64,
            })
            .collect();
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        stats.average_connection_duration_ms = if total == 0 {
            0
        } else {
            (age_sum / total as u128) as u64
        };
        stats.topics = topics;
        stats.users = users
            .into_iter()
            .map(|(user_id, (connections, f, t))| UserStats {
                user_id,
                connections: connections as u64,
                filters: f.into_iter().collect(),
                topics: t.into_iter().collect(),
            })
            .collect();
        stats
    }

    /// The totals and counters of [`Hub::stats`] without walking the
    /// connections: `users` and `topics` are empty and
    /// `average_connection_duration_ms` is 0. Constant time, whatever the
    /// number of connections, for health checks, metrics scrapes and node
    /// reports (at 15 000 streams the full walk takes milliseconds).
    pub fn summary(&self) -> HubStats {
        let c = &self.inner.counters;
        let last = Counters::get(&c.last_event_ms);
        HubStats {
            total_connections: self.inner.conns.len() as u64,
            user_count: self.inner.by_user.len() as u64,
            users: Vec::new(),
            topics: Vec::new(),
            total_events_published: Counters::get(&c.events_published),
            total_events_sent: Counters::get(&c.events_delivered),
            events_per_second: Counters::get(&c.events_per_second),
            deliveries_per_second: Counters::get(&c.deliveries_per_second),
            average_connection_duration_ms: 0,
            last_event_time: (last > 0).then_some(last),
            dropped_events: Counters::get(&c.dropped_events),
            slow_disconnects: Counters::get(&c.slow_disconnects),
            connections_opened: Counters::get(&c.connections_opened),
            connections_rejected: Counters::get(&c.connections_rejected),
            history_len: self.inner.order.lock().history.len() as u64,
            replayed_events: Counters::get(&c.replayed_events),
            resets_sent: Counters::get(&c.resets_sent),
            uptime_secs: self.inner.started.elapsed().as_secs(),
            broker_errors: Counters::get(&c.broker_errors),
            publish_failures: Counters::get(&c.publish_failures),
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    // ----- background work and shutdown -----------------------------------

    fn spawn_maintenance(&self) {
        let weak = Arc::downgrade(&self.inner);
        let stop = self.inner.stop.clone();
        let beat = self.inner.config.heartbeat_interval;
        tokio::spawn(async move {
            let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
            let mut second = tokio::time::interval(Duration::from_secs(1));
            let (mut last_pub, mut last_del) = (0u64, 0u64);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = heartbeat.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        Hub { inner }.send_heartbeats();
                    }
                    _ = second.tick() => {
                        let Some(inner) = weak.upgrade() else { break };
                        let hub = Hub { inner };
                        let c = &hub.inner.counters;
                        let (p, d) = (Counters::get(&c.events_published), Counters::get(&c.events_delivered));
                        c.events_per_second.store(p - last_pub, Ordering::Relaxed);
                        c.deliveries_per_second.store(d - last_del, Ordering::Relaxed);
                        (last_pub, last_del) = (p, d);
                        hub.expire();
                    }
                }
            }
        });
    }

    /// Queues a `:heartbeat` comment to every connection. Runs on the
    /// configured interval; public so embedders can drive it themselves.
    pub fn send_heartbeats(&self) {
        let frame = wire::heartbeat_frame(unix_ms());
        for entry in self.inner.conns.iter() {
            if let Queued::Overflow { dropped } = entry.value().offer(Frame::Data(frame.clone())) {
                self.count_slow(entry.value(), dropped);
            }
        }
    }

    /// Expires history, idle connections and connections whose token runs
    /// out within five seconds.
    fn expire(&self) {
        let now = unix_ms();
        self.inner.order.lock().history.expire(now);
        let idle = self.inner.config.idle_timeout.map(|d| d.as_millis() as u64);
        let check_tokens = self.inner.config.close_on_token_expiry;
        for entry in self.inner.conns.iter() {
            let conn = entry.value();
            if conn.queue.is_cut() {
                continue;
            }
            if check_tokens
                && conn
                    .token_exp
                    .is_some_and(|exp| exp.saturating_mul(1000) <= now + 5000)
            {
                self.close_with(
                    conn,
                    events::AUTH_EXPIRED,
                    "the token expires; reconnect with a fresh one",
                );
            } else if idle.is_some_and(|ms| {
                now.saturating_sub(conn.last_event_ms.load(Ordering::Relaxed)) > ms
            }) {
                self.close_with(
                    conn,
                    events::CONNECTION_IDLE,
                    "no events for the idle timeout",
                );
            }
        }
    }

    /// Stops taking connections and events, sends every stream a final
    /// `shutdown` event with a jittered `retry:` (so clients come back
    /// spread out instead of in one storm), and ends the streams.
    pub fn shutdown(&self) {
        if self.inner.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let base = self.inner.config.retry_ms;
        for entry in self.inner.conns.iter() {
            let retry = base + rand::random_range(0..=base.max(1) * 3);
            let frame = control_frame(None, events::SHUTDOWN, &sse_protocol::Shutdown { retry });
            if entry
                .value()
                .offer(Frame::Close(wire::with_retry(retry, &frame)))
                != Queued::Yes
            {
                entry.value().queue.cut();
            }
        }
        self.inner.stop.cancel();
        tracing::info!(connections = self.inner.conns.len(), "hub shutting down");
    }
}

fn control_frame(id: Option<EventId>, name: &str, data: &impl serde::Serialize) -> Bytes {
    let name = EventName::new(name).expect("control event names are valid");
    let data = serde_json::to_string(data).expect("control payloads serialize");
    wire::event_frame(id, Some(&name), &data)
}
