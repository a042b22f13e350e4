//! The way to the current primary: connections made on demand, checked to
//! be the primary, and remade (through the sentinels, when there are any)
//! after any failure.
//!
//! redis-rs resolves a sentinel's primary only when a connection is made
//! and does not follow `+switch-master`, so this does it itself: any
//! connection error, timeout or `READONLY` answer forgets the connection,
//! and the next use asks the sentinels again. A connection is only used
//! after `ROLE` said `master`, so a node never stays on a demoted primary
//! whose reads still work (centrifugo 766, 1189).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Value};
use tokio::sync::Mutex;

use super::options::Endpoint;
use crate::error::{BrokerError, HubError};

/// How long making a connection (and asking a sentinel) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// `e` stopped the hub while `doing` something with Redis.
pub(super) fn failed(doing: &str, e: impl std::error::Error + Send + Sync + 'static) -> HubError {
    HubError::BrokerUnavailable(BrokerError::caused(doing, e))
}

/// Redis answered something the hub cannot read.
pub(super) fn unreadable(what: String) -> HubError {
    HubError::BrokerUnavailable(BrokerError::new(what))
}

/// Whether `e` means this connection is useless: the server went away,
/// did not answer, or is no longer the primary.
pub(super) fn connection_lost(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.code() == Some("READONLY")
        || e.code() == Some("LOADING")
        || e.code() == Some("MASTERDOWN")
}

/// Counters of what the link went through, for `/metrics`.
#[derive(Default)]
pub(super) struct LinkCounters {
    /// Connections made after a failure (not the first ones).
    pub(super) reconnections: AtomicU64,
    /// Times the primary's address changed (a failover followed).
    pub(super) failovers: AtomicU64,
    /// Times a reader found that Redis lost the last id it delivered.
    pub(super) lost_tails: AtomicU64,
}

/// See the module docs.
pub(super) struct Link {
    endpoint: Endpoint,
    /// The connection shared by replays, history, presence and reports
    /// (the publisher and each reader make their own: `WAIT` and
    /// `XREAD BLOCK` hold a connection). `None` until first use and after
    /// a failure.
    shared: Mutex<Option<MultiplexedConnection>>,
    /// The primary's `host:port` last connected to, to notice a failover.
    primary: parking_lot::Mutex<Option<String>>,
    /// Whether any connection was made yet (later ones are reconnections).
    connected_once: std::sync::atomic::AtomicBool,
    /// Bumped when the sentinels name another primary than the one
    /// connected to: the publisher and the reader compare it with their
    /// connection's and reconnect. (An isolated old primary still says
    /// `master` to `ROLE`; only the sentinels know it was replaced.)
    generation: AtomicU64,
    pub(super) counters: LinkCounters,
}

impl Link {
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            shared: Mutex::new(None),
            primary: parking_lot::Mutex::new(None),
            connected_once: Default::default(),
            generation: AtomicU64::new(0),
            counters: LinkCounters::default(),
        }
    }

    /// The primary's client: the URL's server, or the one the first
    /// sentinel that answers names.
    async fn primary_client(&self) -> Result<(Client, String), HubError> {
        let s = match &self.endpoint {
            Endpoint::Direct(c) => {
                let addr = c.get_connection_info().addr().to_string();
                return Ok((c.clone(), addr));
            }
            Endpoint::Sentinel(s) => s,
        };
        let mut last = None;
        for (addr, sentinel) in &s.sentinels {
            let asked = async {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(CONNECT_TIMEOUT));
                let mut c = sentinel
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&s.master)
                    .query_async::<Option<(String, u16)>>(&mut c)
                    .await
            };
            match asked.await {
                Ok(Some((host, port))) => {
                    let client = (s.primary_url)(&host, port)?;
                    return Ok((client, format!("{host}:{port}")));
                }
                Ok(None) => {
                    last = Some(unreadable(format!(
                        "sentinel {addr} knows no primary named {:?}",
                        s.master
                    )))
                }
                Err(e) => last = Some(failed(&format!("asking sentinel {addr}"), e)),
            }
        }
        Err(last.unwrap_or_else(|| unreadable("no sentinel to ask".into())))
    }

    /// A new connection to the primary, whose answers may take up to
    /// `response_timeout`; checked with `ROLE` to be the primary.
    pub(super) async fn connect(
        &self,
        response_timeout: Duration,
    ) -> Result<MultiplexedConnection, HubError> {
        let (client, addr) = self.primary_client().await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        let mut c = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| failed("connecting to Redis", e))?;
        check_primary(&mut c, &addr).await?;
        if self.connected_once.swap(true, Ordering::Relaxed) {
            self.counters.reconnections.fetch_add(1, Ordering::Relaxed);
        }
        let mut primary = self.primary.lock();
        if primary.as_deref().is_some_and(|p| p != addr) {
            self.counters.failovers.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(from = ?primary.as_deref(), to = %addr, "the Redis primary changed");
        }
        *primary = Some(addr);
        Ok(c)
    }

    /// The shared connection (made if there is none).
    pub(super) async fn shared(&self) -> Result<MultiplexedConnection, HubError> {
        let mut slot = self.shared.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.connect(Duration::from_secs(2)).await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `op` on the shared connection, once more on a new connection
    /// if the first one turned out to be dead (a restart or failover since
    /// its last use): only for operations that may safely run twice.
    pub(super) async fn run<T, F, Fut>(&self, doing: &str, op: F) -> Result<T, HubError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut last = None;
        for _ in 0..2 {
            let c = self.shared().await?;
            match op(c).await {
                Ok(v) => return Ok(v),
                Err(e) if connection_lost(&e) => {
                    *self.shared.lock().await = None;
                    last = Some(e);
                }
                Err(e) => return Err(failed(doing, e)),
            }
        }
        Err(failed(doing, last.expect("an error was kept")))
    }

    /// Runs a script on the shared connection once: for scripts whose
    /// answer would differ on a second run (presence updates report each
    /// change once), a dead connection is an error for the caller.
    pub(super) async fn invoke_once<T: redis::FromRedisValue>(
        &self,
        doing: &str,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, HubError> {
        let mut c = self.shared().await?;
        match script.invoke_async(&mut c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if connection_lost(&e) {
                    *self.shared.lock().await = None;
                }
                Err(failed(doing, e))
            }
        }
    }

    /// Runs a script on the shared connection (see [`Link::run`]).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        doing: &str,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, HubError> {
        self.run(
            doing,
            |mut c| async move { script.invoke_async(&mut c).await },
        )
        .await
    }

    /// Runs `cmd` on the shared connection (see [`Link::run`]).
    pub(super) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, HubError> {
        self.run("running a Redis command", |mut c| async move {
            cmd.query_async(&mut c).await
        })
        .await
    }

    /// See the field.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets every connection: the shared one now, the publisher's and
    /// the reader's at their next use.
    async fn leave_primary(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.shared.lock().await = None;
    }

    /// Whether the shared connection reaches a primary that answers, and,
    /// with sentinels, whether it is still the one they name.
    pub(super) async fn check(&self) -> Result<(), HubError> {
        if let Endpoint::Sentinel(_) = &self.endpoint {
            let (_, named) = self.primary_client().await?;
            let current = self.primary.lock().clone();
            if current.as_deref().is_some_and(|c| c != named) {
                tracing::warn!(from = ?current, to = %named, "the sentinels name another primary: reconnecting");
                self.leave_primary().await;
            }
        }
        let mut c = self.shared().await?;
        let addr = self.primary.lock().clone().unwrap_or_default();
        match check_primary(&mut c, &addr).await {
            Ok(()) => Ok(()),
            Err(e) => {
                *self.shared.lock().await = None;
                Err(e)
            }
        }
    }
}

/// Fails unless `c` is connected to a primary (`ROLE` says `master`).
pub(super) async fn check_primary(
    c: &mut MultiplexedConnection,
    addr: &str,
) -> Result<(), HubError> {
    let role: Value = redis::cmd("ROLE")
        .query_async(c)
        .await
        .map_err(|e| failed(&format!("asking Redis at {addr} for its role"), e))?;
    let is_primary = match &role {
        Value::Array(parts) => {
            matches!(parts.first(), Some(Value::BulkString(b)) if b == b"master")
        }
        _ => false,
    };
    if is_primary {
        Ok(())
    } else {
        Err(unreadable(format!(
            "Redis at {addr} is not the primary (a replica is read-only)"
        )))
    }
}
