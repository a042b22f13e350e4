//! The hub: a registry of connections, and getting each event to exactly
//! the connections it is meant for. It knows nothing of HTTP (the `api`
//! module is its web face) and nothing of which [`crate::broker::Broker`] carries its
//! events: every event, published here or on another node, arrives through
//! one ingest path ([`crate::broker::EventSink`]).
//!
//! Design, for a node holding 100k streams:
//! - Connections live in sharded maps (`DashMap`, in `registry`): by id,
//!   by user and by topic, so targeted events touch only their recipients,
//!   and connects, disconnects and subscriptions on different shards never
//!   contend.
//! - An event is encoded once into a `Bytes` frame; fan-out clones the
//!   reference-counted handle, never the payload.
//! - Each connection has one bounded queue. Fan-out only `try_send`s; a full
//!   queue disconnects that consumer (counted) instead of blocking anyone.
//! - One short critical section (`Inner::head`) covers both the delivery
//!   of an event and the registration of a connection, which is what lets a
//!   resuming client splice the broker's history and live events without a
//!   gap or a duplicate; nothing inside it waits.
//!
//! One file per job: `core` (the shared state), `builder` (the one way to
//! make a hub), `registry` (who is connected, target lookup), `connection`
//! (one subscriber) and `queue` (its bounded queue), `event_stream` (a
//! connection's bytes and the guard that unregisters it), `publish`
//! (events in, fan-out), `recovery` (catching connections up when the
//! broker lost events on their way here), `connect` (open, resume, close),
//! `topics` (subscribing at run time), `history` and `presence` (reads for
//! the API), `authorizer` (who may see an event) and `observer` with
//! `lifecycle` (connect and topic events for whoever listens),
//! `maintenance` (heartbeats, expiry, reports, shutdown), `readiness`,
//! `counters` and `stats`. Each
//! imports `core`, none imports this file, so they form no circle.

mod authorizer;

mod builder;
mod connect;
mod connection;
mod core;
mod counters;
mod event_stream;
mod history;
mod lifecycle;
mod maintenance;
mod observer;
mod presence;
mod publish;
mod queue;
mod readiness;
mod recovery;
mod registry;
mod stats;
mod topics;

pub use self::authorizer::{AudienceAuthorizer, EventAuthorizer};
pub use self::builder::HubBuilder;
pub use self::connect::{ConnectRequest, MAX_REWIND};
pub use self::connection::Connection;
pub use self::core::{Hub, TRACE_TARGET};
pub use self::event_stream::{Cut, EventStream};
pub use self::history::{HistoryOf, MAX_HISTORY_LIMIT};
pub use self::observer::{LifecycleEvent, LifecycleKind, LifecycleObserver};
pub use self::presence::MAX_PRESENCE_USERS;
pub use self::publish::Published;
pub use self::readiness::NotReady;
pub use self::stats::{ClusterStats, HubStats, TopicStats, UserStats};
pub use self::topics::{Connections, TopicChange};
