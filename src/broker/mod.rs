//! Where events travel between hub nodes: the [`Broker`] seam.
//!
//! A broker assigns each published event its id, keeps the replay history,
//! and hands every event (published on this node or any other) to the hub
//! through one callback, [`EventSink::ingest`], in id order. The hub never
//! asks which broker it runs on: a third engine (Redis Cluster, NATS
//! JetStream) is one more implementation of this trait, as in
//! centrifugal/centrifuge's `Broker` interface.
//!
//! The trait and what it speaks (`contract`) are one file, each engine
//! another; engines import the contract, never this file.
//!
//! - [`MemoryBroker`] (the default): one node, zero services. Ids and
//!   history live in the process; an event reaches the sink before
//!   `publish` returns.
//! - [`RedisBroker`]: several nodes behind a load balancer. Every publish
//!   is one `XADD` to a Redis Stream, which assigns the id; every node
//!   tails the stream and hands it to its sink. The stream is also the
//!   replay history, so a client resumes on any node, and after every node
//!   restarted, with nothing lost and nothing repeated.

mod channel;
mod contract;
mod history;
pub mod memory;
pub mod redis;
mod timing;

pub use self::contract::{
    Accepted, Broker, BrokerCounters, BrokerFuture, Channel, EventSink, HistoryLimits, Presence,
    PresenceCount, PresenceEdge, Replay,
};
pub use self::memory::MemoryBroker;
pub use self::redis::{RedisBroker, RedisOptions};
pub use self::timing::Timing;

/// Which broker a hub uses (see [`crate::hub::HubBuilder::broker`]).
#[derive(Clone, Debug, Default)]
pub enum BrokerConfig {
    /// In-process only.
    #[default]
    Memory,
    /// Redis Streams at this URL (`redis://host:port/db`).
    Redis(RedisOptions),
}
