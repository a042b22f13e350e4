//! Where events travel between hub nodes.
//!
//! - **memory** (the default): one node, zero services. Ids, history and
//!   delivery all live in the process ([`crate::Hub::new`]).
//! - **redis**: several nodes behind a load balancer. Every publish is one
//!   `XADD` to a Redis Stream, which assigns the id; every node tails the
//!   stream with `XREAD` and delivers to its own connections. The stream is
//!   also the replay history, so a client resumes on any node, and after
//!   every node restarted, with nothing lost and nothing repeated.

pub mod redis;

pub use self::redis::{RedisBroker, RedisOptions};

/// Which broker a hub uses.
#[derive(Clone, Debug, Default)]
pub enum BrokerConfig {
    /// In-process only.
    #[default]
    Memory,
    /// Redis Streams at this URL (`redis://host:port/db`).
    Redis(RedisOptions),
}
