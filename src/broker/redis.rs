//! The Redis broker: one stream for all events, one `XADD` per publish.
//! `rediss://` URLs connect over TLS (rustls), checked against the system's
//! trust store or a CA given in [`RedisOptions::tls_ca_cert`].
//!
//! Publishing runs a small Lua script so the idempotency check, the `XADD`
//! (trimmed to the history length) and the key's record are one atomic step.
//! Each node's reader tails the stream from the last id it delivered; if
//! Redis goes away the reader retries with backoff and resumes from that id,
//! so nothing published meanwhile is skipped. While Redis is down, publishes
//! fail with [`HubError::BrokerUnavailable`] (503 at the API) instead of
//! being dropped silently, and open streams stay open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, Value};
use sse_protocol::NodeReport;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::contract::{
    Accepted, Broker, BrokerFuture, Channel, EventSink, HistoryLimits, Presence, PresenceCount,
    PresenceEdge, Replay,
};
use crate::error::{BrokerError, HubError};
use crate::event::{Event, EventId, EventName, NewEvent, Target, Topic, UserId};
use crate::wire;

/// How long a node report lives: a node that stops reporting leaves the
/// cluster view after this.
const REPORT_TTL: Duration = Duration::from_secs(6);

/// How often the stream is trimmed by age.
const TRIM_EVERY_MS: u64 = 60_000;

/// Settings of the Redis broker.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://host:port/db`, or `rediss://host:port/db` for TLS.
    pub url: String,
    /// Key prefix, so several hubs can share one Redis.
    pub prefix: String,
    /// TLS: the PEM certificate(s) of the CA that signed the server's
    /// certificate. `None`: the system's trust store.
    pub tls_ca_cert: Option<Vec<u8>>,
    /// TLS: a PEM client certificate and key, for servers that ask for
    /// one (`tls-auth-clients yes`).
    pub tls_client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password and the client key is a secret.
        let url = match self.url.split_once('@') {
            Some((scheme_and_auth, host)) => {
                let scheme = scheme_and_auth.split("://").next().unwrap_or("redis");
                format!("{scheme}://<redacted>@{host}")
            }
            None => self.url.clone(),
        };
        f.debug_struct("RedisOptions")
            .field("url", &url)
            .field("prefix", &self.prefix)
            .field("tls_ca_cert", &self.tls_ca_cert.as_ref().map(|_| "<pem>"))
            .field(
                "tls_client",
                &self.tls_client.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl RedisOptions {
    /// Options for `url` with the default prefix `sse`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "sse".into(),
            tls_ca_cert: None,
            tls_client: None,
        }
    }

    fn is_tls(&self) -> bool {
        self.url.starts_with("rediss://")
    }

    /// The client for these options; TLS settings need a `rediss://` URL.
    fn client(&self) -> Result<Client, HubError> {
        let bad = |e: &dyn std::fmt::Display| HubError::invalid("broker url", &e.to_string());
        let custom_tls = self.tls_ca_cert.is_some() || self.tls_client.is_some();
        if custom_tls && !self.is_tls() {
            return Err(bad(&"TLS certificates need a rediss:// URL"));
        }
        if self.is_tls() {
            // rustls needs a process-wide crypto provider; another part of
            // the program may have installed one already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        if !custom_tls {
            return Client::open(self.url.as_str()).map_err(|e| bad(&e));
        }
        let certs = redis::TlsCertificates {
            client_tls: self
                .tls_client
                .clone()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert,
                    client_key: key,
                }),
            root_cert: self.tls_ca_cert.clone(),
        };
        Client::build_with_tls(self.url.as_str(), certs).map_err(|e| bad(&e))
    }
}

/// An event as stored in the stream.
#[derive(Debug, Clone)]
struct StoredEvent {
    id: EventId,
    name: EventName,
    data: String,
    target: Target,
    audience: Option<Vec<UserId>>,
}

impl StoredEvent {
    /// The event as the hub delivers it (its frame encoded once).
    fn into_event(self) -> Arc<Event> {
        let new = NewEvent {
            name: self.name,
            data: self.data,
            target: self.target,
            audience: self.audience,
            dedup_key: None,
        };
        Arc::new(wire::published(self.id, new, self.id.epoch))
    }
}

/// KEYS[1] the stream every node tails, KEYS[2] the idempotency key,
/// KEYS[3..] the event's history channels. One atomic step: the key check,
/// the `XADD` (which assigns the id), the same entry under the same id in
/// each channel (trimmed to the history length, expiring with the history
/// age when idle), and the key's record.
const PUBLISH: &str = r#"
if ARGV[6] ~= '' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {existing, '1'} end
end
local fields = {'n', ARGV[2], 'd', ARGV[3], 't', ARGV[4], 'a', ARGV[5]}
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
for i = 3, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], id, unpack(fields))
  redis.call('PEXPIRE', KEYS[i], ARGV[8])
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[2], id, 'PX', ARGV[7]) end
return {id, '0'}
"#;

/// The entries of the channels KEYS after ARGV[1] up to ARGV[2], if every
/// channel still holds all of its entries after ARGV[1] and there are at
/// most ARGV[3] of them together; else nil. One atomic script, so a trim
/// cannot land between the check and the read.
///
/// A channel still holds everything after an id when the newest entry it
/// ever deleted (`max-deleted-entry-id`, Redis 7) is not newer. A channel
/// key that is gone expired: nothing was written to it for the history
/// age, so it held nothing newer than a resume point within that age
/// (older ones are refused before this runs).
const REPLAY: &str = r#"
local function newer(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local max = tonumber(ARGV[3])
local out = {}
local total = 0
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[i])
    for j = 1, #info, 2 do
      if info[j] == 'max-deleted-entry-id' and newer(info[j + 1], ARGV[1]) then
        return false
      end
    end
    local entries = redis.call('XRANGE', KEYS[i], '(' .. ARGV[1], ARGV[2], 'COUNT', max + 1)
    total = total + #entries
    if total > max then return false end
    for _, e in ipairs(entries) do table.insert(out, e) end
  end
end
return out
"#;

/// Presence in Redis, for every node: `<p>:presc:<topic>\n<user>` is a hash
/// node → connections, `<p>:presu:<topic>` the set of users present,
/// `<p>:presn:<node>` what a node holds (for the sweep), `<p>:presnodes`
/// the nodes holding any. A node counts while `<p>:alive:<node>` exists
/// (refreshed every 2 s, expiring after 6 s).
const PRESENCE_LIB: &str = r#"
local P = ARGV[1]
local function counts(topic, user) return P .. ':presc:' .. topic .. '\n' .. user end
local function users(topic) return P .. ':presu:' .. topic end
local function live_total(key)
  local fields = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', P .. ':alive:' .. fields[i]) == 1 then
      total = total + tonumber(fields[i + 1])
    end
  end
  return total
end
"#;

/// ARGV: prefix, node, alive ms, then (topic, user, connections) triples.
/// Returns the edges `{'j'|'l', topic, user}` this update caused.
const PRESENCE_UPDATE: &str = r#"
local node = ARGV[2]
redis.call('SET', P .. ':alive:' .. node, '1', 'PX', ARGV[3])
redis.call('SADD', P .. ':presnodes', node)
local edges = {}
for i = 4, #ARGV, 3 do
  local topic, user, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key = counts(topic, user)
  local before = live_total(key)
  if n > 0 then
    redis.call('HSET', key, node, n)
    redis.call('SADD', users(topic), user)
    redis.call('SADD', P .. ':presn:' .. node, topic .. '\n' .. user)
  else
    redis.call('HDEL', key, node)
    redis.call('SREM', P .. ':presn:' .. node, topic .. '\n' .. user)
  end
  local after = live_total(key)
  if after == 0 then redis.call('SREM', users(topic), user) end
  if before == 0 and after > 0 then table.insert(edges, {'j', topic, user}) end
  if before > 0 and after == 0 then table.insert(edges, {'l', topic, user}) end
end
return edges
"#;

/// ARGV: prefix. Forgets nodes whose alive key expired; returns the
/// `{'l', topic, user}` edges of users who left with them (each once:
/// only the sweep that removes the user from the set reports it).
const PRESENCE_SWEEP: &str = r#"
local edges = {}
for _, node in ipairs(redis.call('SMEMBERS', P .. ':presnodes')) do
  if redis.call('EXISTS', P .. ':alive:' .. node) == 0 then
    local idx = P .. ':presn:' .. node
    for _, m in ipairs(redis.call('SMEMBERS', idx)) do
      local nl = string.find(m, '\n', 1, true)
      local topic, user = string.sub(m, 1, nl - 1), string.sub(m, nl + 1)
      local key = counts(topic, user)
      redis.call('HDEL', key, node)
      if live_total(key) == 0 and redis.call('SREM', users(topic), user) == 1 then
        table.insert(edges, {'l', topic, user})
      end
    end
    redis.call('DEL', idx)
    redis.call('SREM', P .. ':presnodes', node)
  end
end
return edges
"#;

/// ARGV: prefix, topic, limit. Returns `{total, {user, n, user, n...}}`
/// with at most `limit` users, by user id.
const PRESENCE_QUERY: &str = r#"
local list = redis.call('SMEMBERS', users(ARGV[2]))
table.sort(list)
local limit = tonumber(ARGV[3])
local out, total = {}, 0
for _, u in ipairs(list) do
  local n = live_total(counts(ARGV[2], u))
  if n > 0 then
    total = total + 1
    if #out < 2 * limit then
      table.insert(out, u)
      table.insert(out, tostring(n))
    end
  end
end
return {total, out}
"#;

/// How long a node counts for presence without refreshing.
const ALIVE_MS: u64 = 6_000;

/// A connection to Redis for one hub node.
pub struct RedisBroker {
    client: Client,
    stream: String,
    prefix: String,
    limits: HistoryLimits,
    /// Shared by publishes, replays and reports (the reader has its own,
    /// as `XREAD BLOCK` holds a connection).
    conn: Mutex<Option<MultiplexedConnection>>,
    /// When the stream was last trimmed by age (unix ms).
    trimmed_ms: AtomicU64,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// `e` stopped the hub while `doing` something with Redis.
fn failed(doing: &str, e: impl std::error::Error + Send + Sync + 'static) -> HubError {
    HubError::BrokerUnavailable(BrokerError::caused(doing, e))
}

/// Redis answered something the hub cannot read.
fn unreadable(what: String) -> HubError {
    HubError::BrokerUnavailable(BrokerError::new(what))
}

fn parse_id(s: &str) -> Result<EventId, HubError> {
    s.parse()
        .map_err(|_| unreadable(format!("unexpected stream id {s:?}")))
}

impl RedisBroker {
    /// Checks the URL; connections are made on first use and remade after
    /// failures. The stream keeps `limits` of history (by count at every
    /// publish, by age every minute).
    pub fn new(options: &RedisOptions, limits: HistoryLimits) -> Result<Self, HubError> {
        let client = options.client()?;
        Ok(Self {
            client,
            stream: format!("{}:events", options.prefix),
            prefix: options.prefix.clone(),
            limits,
            conn: Mutex::new(None),
            trimmed_ms: AtomicU64::new(crate::event::unix_ms()),
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, HubError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| failed("connecting to Redis", e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `cmd`; on failure forgets the connection so the next call
    /// reconnects.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, HubError> {
        let mut c = self.connection().await?;
        let r = cmd.query_async(&mut c).await;
        self.settle(r).await
    }

    /// Maps a reply; a broken connection is forgotten so the next command
    /// (of any kind) reconnects.
    async fn settle<T>(&self, r: redis::RedisResult<T>) -> Result<T, HubError> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    *self.conn.lock().await = None;
                }
                Err(failed("running a Redis command", e))
            }
        }
    }

    /// Appends an event; returns its id and whether the idempotency key
    /// had been used already.
    async fn append(&self, ev: &NewEvent) -> Result<Accepted, HubError> {
        let (max_len, key_ttl) = (self.limits.len, self.limits.max_age);
        let target =
            serde_json::to_string(&ev.target).map_err(|e| failed("encoding a target", e))?;
        let audience = ev
            .audience
            .as_ref()
            .map(|a| serde_json::to_string(a).unwrap_or_default())
            .unwrap_or_default();
        let dedup_key = ev.dedup_key.as_deref();
        let key = format!("{}:dedup:{}", self.prefix, dedup_key.unwrap_or(""));
        let channels = Channel::of_target(&ev.target);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(PUBLISH)
            .arg(2 + channels.len())
            .arg(&self.stream)
            .arg(&key);
        for c in &channels {
            cmd.arg(self.channel_key(c));
        }
        cmd.arg(max_len.max(1))
            .arg(ev.name.as_str())
            .arg(&ev.data)
            .arg(target)
            .arg(audience)
            .arg(dedup_key.unwrap_or(""))
            .arg(key_ttl.as_millis().max(1) as u64)
            .arg(key_ttl.as_millis().max(1) as u64);
        let (id, dup): (String, String) = self.query(&cmd).await?;
        Ok(Accepted {
            id: parse_id(&id)?,
            duplicate: dup == "1",
        })
    }

    /// The newest id in the stream (`0-0` when empty).
    async fn newest(&self) -> Result<EventId, HubError> {
        let reply: StreamRangeReply = self
            .query(
                redis::cmd("XREVRANGE")
                    .arg(&self.stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?;
        match reply.ids.first() {
            Some(e) => parse_id(&e.id),
            None => Ok(EventId::new(0, 0)),
        }
    }

    /// The key of a history channel.
    fn channel_key(&self, channel: &Channel) -> String {
        format!("{}:ch:{}", self.prefix, channel.key())
    }

    /// What a client reading `channels` that saw `after` missed, up to and
    /// including `upto`: every entry in between, merged oldest first, or
    /// `None` when the channels can no longer promise that (one trimmed an
    /// entry after `after`, or more than `max` were missed).
    async fn missed(
        &self,
        after: EventId,
        upto: EventId,
        channels: &[Channel],
        max: usize,
    ) -> Result<Option<Vec<StoredEvent>>, HubError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REPLAY).arg(channels.len());
        for c in channels {
            cmd.arg(self.channel_key(c));
        }
        cmd.arg(after.to_string()).arg(upto.to_string()).arg(max);
        let reply: Option<StreamRangeReply> = self.query(&cmd).await?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        let mut events = reply
            .ids
            .iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.id);
        events.dedup_by_key(|e| e.id);
        Ok(Some(events))
    }

    /// The newest `limit` entries of `channels` up to `upto`, oldest first.
    async fn newest_of(
        &self,
        channels: &[Channel],
        upto: EventId,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, HubError> {
        let mut pipe = redis::pipe();
        for c in channels {
            pipe.cmd("XREVRANGE")
                .arg(self.channel_key(c))
                .arg(upto.to_string())
                .arg("-")
                .arg("COUNT")
                .arg(limit);
        }
        let mut conn = self.connection().await?;
        let r = pipe.query_async::<Vec<StreamRangeReply>>(&mut conn).await;
        let replies = self.settle(r).await?;
        let mut events = Vec::new();
        for reply in replies {
            for entry in &reply.ids {
                events.push(decode(entry)?);
            }
        }
        events.sort_by_key(|e| e.id);
        events.dedup_by_key(|e| e.id);
        let skip = events.len().saturating_sub(limit);
        events.drain(..skip);
        Ok(events)
    }

    /// Trims entries older than `min_ms`.
    async fn trim_older_than(&self, min_ms: u64) -> Result<(), HubError> {
        let _: Value = self
            .query(
                redis::cmd("XTRIM")
                    .arg(&self.stream)
                    .arg("MINID")
                    .arg("~")
                    .arg(min_ms),
            )
            .await?;
        Ok(())
    }

    /// Records this node's numbers for the cluster view (expire after `ttl`).
    async fn report_node(&self, node: &str, json: &str, ttl: Duration) -> Result<(), HubError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(format!("{}:node:{node}", self.prefix))
            .arg(json)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .ignore();
        pipe.cmd("SADD")
            .arg(format!("{}:nodes", self.prefix))
            .arg(node)
            .ignore();
        pipe.cmd("SET")
            .arg(format!("{}:alive:{node}", self.prefix))
            .arg("1")
            .arg("PX")
            .arg(ALIVE_MS)
            .ignore();
        let mut c = self.connection().await?;
        let r = pipe.query_async::<()>(&mut c).await;
        self.settle(r).await
    }

    /// The live nodes' reports.
    async fn live_nodes(&self) -> Result<Vec<(String, String)>, HubError> {
        let ids: Vec<String> = self
            .query(redis::cmd("SMEMBERS").arg(format!("{}:nodes", self.prefix)))
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|n| format!("{}:node:{n}", self.prefix))
            .collect();
        let reports: Vec<Option<String>> = self.query(redis::cmd("MGET").arg(&keys)).await?;
        let mut live = Vec::new();
        for (id, report) in ids.into_iter().zip(reports) {
            match report {
                Some(r) => live.push((id, r)),
                None => {
                    let _: Result<Value, _> = self
                        .query(
                            redis::cmd("SREM")
                                .arg(format!("{}:nodes", self.prefix))
                                .arg(&id),
                        )
                        .await;
                }
            }
        }
        live.sort();
        Ok(live)
    }

    /// A reader for this node, starting after `after`.
    fn reader(&self, after: EventId) -> Reader {
        Reader {
            client: self.client.clone(),
            stream: self.stream.clone(),
            after,
            conn: None,
        }
    }
}

impl Broker for RedisBroker {
    /// The stream's newest id; also checks that Redis answers.
    fn head(&self) -> BrokerFuture<'_, EventId> {
        Box::pin(self.newest())
    }

    /// Tails the stream after `after` in a task of its own.
    fn start(
        &self,
        sink: Arc<dyn EventSink>,
        after: EventId,
        stop: CancellationToken,
    ) -> Result<(), HubError> {
        tokio::spawn(tail(self.reader(after), sink, stop));
        Ok(())
    }

    fn publish(&self, event: NewEvent) -> BrokerFuture<'_, Accepted> {
        Box::pin(async move { self.append(&event).await })
    }

    fn replay<'a>(
        &'a self,
        after: EventId,
        upto: EventId,
        channels: &'a [Channel],
        max: usize,
    ) -> BrokerFuture<'a, Replay> {
        Box::pin(async move {
            if after == upto {
                return Ok(Replay::Events(Vec::new()));
            }
            // Ids are milliseconds: a resume point older than the history
            // age may have lost whole channels (their keys expired).
            let oldest =
                crate::event::unix_ms().saturating_sub(self.limits.max_age.as_millis() as u64);
            let zero = EventId::new(0, 0);
            if after > upto || (after != zero && after.epoch < oldest) {
                return Ok(Replay::Gap);
            }
            // Every missed event exactly once, or a reset: never a part.
            Ok(match self.missed(after, upto, channels, max).await? {
                Some(events) => {
                    Replay::Events(events.into_iter().map(StoredEvent::into_event).collect())
                }
                None => Replay::Gap,
            })
        })
    }

    fn recent<'a>(
        &'a self,
        channels: &'a [Channel],
        upto: EventId,
        limit: usize,
    ) -> BrokerFuture<'a, Vec<Arc<Event>>> {
        Box::pin(async move {
            let events = self.newest_of(channels, upto, limit).await?;
            Ok(events.into_iter().map(StoredEvent::into_event).collect())
        })
    }

    fn presence_update<'a>(
        &'a self,
        node: &'a str,
        changes: &'a [PresenceCount],
    ) -> BrokerFuture<'a, Vec<PresenceEdge>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(format!("{PRESENCE_LIB}{PRESENCE_UPDATE}"))
                .arg(0)
                .arg(&self.prefix)
                .arg(node)
                .arg(ALIVE_MS);
            for c in changes {
                cmd.arg(c.topic.as_str())
                    .arg(c.user.as_str())
                    .arg(c.connections);
            }
            let edges: Vec<(String, String, String)> = self.query(&cmd).await?;
            edges.into_iter().map(edge).collect()
        })
    }

    fn presence<'a>(&'a self, topic: &'a Topic, limit: usize) -> BrokerFuture<'a, Presence> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(format!("{PRESENCE_LIB}{PRESENCE_QUERY}"))
                .arg(0)
                .arg(&self.prefix)
                .arg(topic.as_str())
                .arg(limit);
            let (total, flat): (u64, Vec<String>) = self.query(&cmd).await?;
            let users = flat
                .chunks(2)
                .filter_map(|p| Some((UserId::new(&p[0]).ok()?, p.get(1)?.parse().ok()?)))
                .collect();
            Ok((users, total))
        })
    }

    fn presence_sweep(&self) -> BrokerFuture<'_, Vec<PresenceEdge>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(format!("{PRESENCE_LIB}{PRESENCE_SWEEP}"))
                .arg(0)
                .arg(&self.prefix);
            let edges: Vec<(String, String, String)> = self.query(&cmd).await?;
            edges.into_iter().map(edge).collect()
        })
    }

    /// Each node's reader is at most a blocked `XREAD` behind.
    fn delivery_lag(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn maintain(&self, now_ms: u64) -> BrokerFuture<'_, ()> {
        Box::pin(async move {
            let last = self.trimmed_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) < TRIM_EVERY_MS {
                return Ok(());
            }
            self.trimmed_ms.store(now_ms, Ordering::Relaxed);
            let age = self.limits.max_age.as_millis() as u64;
            self.trim_older_than(now_ms.saturating_sub(age)).await
        })
    }

    fn report(&self, node: &NodeReport) -> BrokerFuture<'_, ()> {
        let json = serde_json::to_string(node).unwrap_or_default();
        let id = node.node_id.clone();
        Box::pin(async move { self.report_node(&id, &json, REPORT_TTL).await })
    }

    fn nodes(&self) -> BrokerFuture<'_, Option<Vec<NodeReport>>> {
        Box::pin(async move {
            let live = self.live_nodes().await?;
            Ok(Some(
                live.iter()
                    .filter_map(|(_, r)| serde_json::from_str(r).ok())
                    .collect(),
            ))
        })
    }
}

/// This node's reader: hands every entry of the stream to `sink`, retrying
/// with backoff (from where it stopped) while Redis is away.
async fn tail(mut reader: Reader, sink: Arc<dyn EventSink>, stop: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let batch = tokio::select! {
            _ = stop.cancelled() => break,
            b = reader.next(Duration::from_millis(1000)) => b,
        };
        match batch {
            Ok(events) => {
                backoff = Duration::from_millis(100);
                for ev in events {
                    sink.ingest(ev.into_event());
                }
            }
            Err(e) => {
                sink.failed(&e);
                tracing::warn!(error = %crate::error::report(&e), retry_in = ?backoff, at = %reader.position(), "redis reader failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Tails the stream for one node.
struct Reader {
    client: Client,
    stream: String,
    after: EventId,
    conn: Option<MultiplexedConnection>,
}

impl Reader {
    /// The next batch after the last one returned, waiting up to `block`.
    /// On error the connection is dropped and remade on the next call; the
    /// position is kept, so nothing is skipped.
    async fn next(&mut self, block: Duration) -> Result<Vec<StoredEvent>, HubError> {
        if self.conn.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(block + Duration::from_secs(2)));
            self.conn = Some(
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| failed("connecting to Redis", e))?,
            );
        }
        let c = self.conn.as_mut().expect("just set");
        let reply: Result<Option<StreamReadReply>, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(512)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(self.after.to_string())
            .query_async(c)
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(failed("reading the event stream", e));
            }
        };
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in &key.ids {
                let ev = decode(entry)?;
                self.after = ev.id;
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// The id after which the next batch starts.
    fn position(&self) -> EventId {
        self.after
    }
}

/// An edge as the presence scripts return it.
fn edge((kind, topic, user): (String, String, String)) -> Result<PresenceEdge, HubError> {
    let bad = || unreadable(format!("unexpected presence entry {topic:?} / {user:?}"));
    let topic = Topic::new(&topic).map_err(|_| bad())?;
    let user = UserId::new(&user).map_err(|_| bad())?;
    Ok(if kind == "j" {
        PresenceEdge::Joined(topic, user)
    } else {
        PresenceEdge::Left(topic, user)
    })
}

fn field(map: &HashMap<String, Value>, k: &str) -> String {
    match map.get(k) {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => String::new(),
    }
}

fn decode(entry: &StreamId) -> Result<StoredEvent, HubError> {
    let id = parse_id(&entry.id)?;
    let bad = |what: &str| unreadable(format!("stream entry {} has a bad {what}", entry.id));
    let name = EventName::new(field(&entry.map, "n")).map_err(|_| bad("name"))?;
    let target: Target =
        serde_json::from_str(&field(&entry.map, "t")).map_err(|_| bad("target"))?;
    let a = field(&entry.map, "a");
    let audience = if a.is_empty() {
        None
    } else {
        Some(serde_json::from_str(&a).map_err(|_| bad("audience"))?)
    };
    Ok(StoredEvent {
        id,
        name,
        data: field(&entry.map, "d"),
        target,
        audience,
    })
}
