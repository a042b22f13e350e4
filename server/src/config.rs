//! Command-line flags and environment variables of the hub binary.
//! Every flag has an environment variable (`HUB_*`), shown by `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// JWT verification algorithm.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with a shared secret (`--jwt-secret`).
    Hs256,
    /// RSA signature, verified with `--jwt-public-key`.
    Rs256,
    /// ECDSA P-256 signature, verified with `--jwt-public-key`.
    Es256,
}

/// A real-time Server-Sent Events hub with a live demo dashboard.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HUB_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder with the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Where events travel between nodes: `memory` (one node, no
    /// services) or a Redis URL (`redis://127.0.0.1:6379/0`, or
    /// `rediss://` for TLS) to share events and replay history across
    /// nodes; or Redis behind Sentinel:
    /// `redis+sentinel://[user:pass@]HOST:PORT[,HOST:PORT…][/DB]?sentinel_master_name=NAME`
    /// (`rediss+sentinel://` for TLS; the sentinels' own password as
    /// `&sentinel_password=…`). Nodes follow a failover by themselves.
    #[arg(long, env = "HUB_BROKER", default_value = "memory")]
    pub broker: String,

    /// Tries to reach the broker at start-up (500 ms apart) before failing.
    #[arg(long, env = "HUB_BROKER_CONNECT_ATTEMPTS", default_value_t = 20)]
    pub broker_connect_attempts: u32,

    /// `rediss://` only: PEM file of the CA that signed the Redis server's
    /// certificate (default: the system's trust store).
    #[arg(long, env = "HUB_REDIS_CA_CERT")]
    pub redis_ca_cert: Option<PathBuf>,

    /// `rediss://` only: PEM client certificate, for a Redis that asks for
    /// one (with --redis-client-key).
    #[arg(long, env = "HUB_REDIS_CLIENT_CERT", requires = "redis_client_key")]
    pub redis_client_cert: Option<PathBuf>,

    /// `rediss://` only: PEM key of --redis-client-cert.
    #[arg(long, env = "HUB_REDIS_CLIENT_KEY", requires = "redis_client_cert")]
    pub redis_client_key: Option<PathBuf>,

    /// Redis: a publish answers 200 only once this many replicas hold it
    /// (Redis `WAIT`), else 503 `not_replicated` (retry with the same `id`).
    /// 0: once the primary holds it.
    #[arg(long, env = "HUB_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// Redis: how long a publish waits for --redis-wait-replicas.
    #[arg(long, env = "HUB_REDIS_WAIT_TIMEOUT_MS", default_value_t = 1000)]
    pub redis_wait_timeout_ms: u64,

    /// Key prefix in Redis, so several hubs can share one server.
    #[arg(long, env = "HUB_REDIS_PREFIX", default_value = "sse")]
    pub redis_prefix: String,

    /// Demo mode (off unless asked for): mounts the demo routes, mints
    /// tokens for anyone (admins included) at POST /api/auth/demo-token and
    /// sends a `metrics` event every second. Never on a hub people rely on.
    #[arg(long, env = "HUB_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub demo: bool,

    /// Interval of the demo `metrics` event, in milliseconds (0: off).
    #[arg(long, env = "HUB_DEMO_TICK_MS", default_value_t = 1000)]
    pub demo_tick_ms: u64,

    /// JWT algorithm.
    #[arg(long, env = "HUB_JWT_ALGORITHM", value_enum, default_value = "hs256")]
    pub jwt_algorithm: JwtAlgorithm,

    /// HS256 secret (at least 16 bytes). Required unless a public key is
    /// used; only demo mode may run without one (a random secret per run).
    #[arg(long, env = "HUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM public key file for RS256 / ES256.
    #[arg(long, env = "HUB_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Lifetime of demo tokens, in seconds.
    #[arg(long, env = "HUB_DEMO_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub demo_token_ttl_secs: u64,

    /// Most connections on this node (503 beyond).
    #[arg(long, env = "HUB_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most connections per user (429 beyond).
    #[arg(long, env = "HUB_MAX_CONNECTIONS_PER_USER", default_value_t = 10)]
    pub max_connections_per_user: usize,

    /// One connection per user: a new one closes the older ones.
    #[arg(long, env = "HUB_SINGLE_CONNECTION_PER_USER", default_value_t = false)]
    pub single_connection_per_user: bool,

    /// Frames queued per connection before it is dropped as too slow.
    #[arg(long, env = "HUB_CONNECTION_QUEUE", default_value_t = 1024)]
    pub connection_queue: usize,

    /// Heartbeat comment interval, in seconds.
    #[arg(long, env = "HUB_HEARTBEAT_SECS", default_value_t = 30)]
    pub heartbeat_secs: u64,

    /// Close connections without events for this many seconds (0: never).
    #[arg(long, env = "HUB_IDLE_TIMEOUT_SECS", default_value_t = 0)]
    pub idle_timeout_secs: u64,

    /// The `retry:` hint for clients, in milliseconds.
    #[arg(long, env = "HUB_RETRY_MS", default_value_t = 3000)]
    pub retry_ms: u64,

    /// Events kept for Last-Event-ID replay, per channel (everyone, each
    /// user, each topic).
    #[arg(long, env = "HUB_HISTORY_LEN", default_value_t = 10_000)]
    pub history_len: usize,

    /// Most history channels kept (everyone, each user, each topic with
    /// events); beyond, the stalest tenth is dropped.
    #[arg(long, env = "HUB_HISTORY_MAX_CHANNELS", default_value_t = 100_000)]
    pub history_max_channels: usize,

    /// Oldest event kept for replay, in seconds.
    #[arg(long, env = "HUB_HISTORY_MAX_AGE_SECS", default_value_t = 3600)]
    pub history_max_age_secs: u64,

    /// Largest event payload, in bytes (413 beyond).
    #[arg(long, env = "HUB_MAX_EVENT_BYTES", default_value_t = 65_536)]
    pub max_event_bytes: usize,

    /// Drop a connection whose socket has not accepted a byte for this many
    /// seconds (a client that stopped reading).
    #[arg(long, env = "HUB_WRITE_STALL_SECS", default_value_t = 30)]
    pub write_stall_secs: u64,

    /// Seconds a client has to send a whole request (head and body), from
    /// the connection's start or the previous answer; slower ones are cut.
    #[arg(long, env = "HUB_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Seconds to wait for streams to close on shutdown.
    #[arg(long, env = "HUB_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Topics any signed-in user may subscribe to without a grant in their
    /// token: comma-separated patterns (`news`, `orders.*`, `*`). Empty by
    /// default: then only tokens with a `topics.subscribe` grant (and
    /// admins) subscribe to anything.
    #[arg(
        long,
        env = "HUB_PUBLIC_TOPICS",
        default_value = "",
        value_delimiter = ','
    )]
    pub public_topics: Vec<String>,

    /// Metadata keys only a token's `meta` claim may set; a stream asking
    /// for one in its query string gets 400 `trusted_metadata`.
    /// Replaces the default list.
    #[arg(
        long,
        env = "HUB_TRUSTED_METADATA_KEYS",
        default_value = "userId,user,role,tenant",
        value_delimiter = ','
    )]
    pub trusted_metadata_keys: Vec<String>,

    /// Topics with presence (comma-separated patterns): who is there
    /// (`GET /api/sse/presence`) and `presence.join` / `presence.leave`
    /// events to their subscribers. Empty by default.
    #[arg(
        long,
        env = "HUB_PRESENCE_TOPICS",
        default_value = "",
        value_delimiter = ','
    )]
    pub presence_topics: Vec<String>,

    /// Ask this URL about topics no grant covers: the hub POSTs
    /// `{userId, topics}`; 2xx allows, 403 (or no answer in time) refuses.
    #[arg(long, env = "HUB_SUBSCRIBE_WEBHOOK")]
    pub subscribe_webhook: Option<String>,

    /// How long the subscribe webhook may take, in milliseconds.
    #[arg(long, env = "HUB_SUBSCRIBE_WEBHOOK_TIMEOUT_MS", default_value_t = 2000)]
    pub subscribe_webhook_timeout_ms: u64,

    /// POST lifecycle events (connected, disconnected, subscribed,
    /// unsubscribed) in signed batches to this URL.
    #[arg(long, env = "HUB_WEBHOOK_URL", requires = "webhook_secret")]
    pub webhook_url: Option<String>,

    /// The HMAC-SHA256 key of the `X-Hub-Signature-256` header.
    #[arg(long, env = "HUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Lifecycle events queued at most while the webhook is slow or down;
    /// beyond, they are dropped and counted in /metrics.
    #[arg(long, env = "HUB_WEBHOOK_QUEUE", default_value_t = 10_000)]
    pub webhook_queue: usize,

    /// New streams admitted per second on this node (bursts of four
    /// times as many); a reconnect storm beyond gets 429 with
    /// `Retry-After`, which the `use_sse` hook waits out. 0: no limit.
    #[arg(long, env = "HUB_STREAM_OPENS_PER_SECOND", default_value_t = 5_000)]
    pub stream_opens_per_second: u32,

    /// Log filter (tracing's EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// The broker these flags name.
    pub fn broker_config(&self) -> anyhow::Result<sse_hub::BrokerConfig> {
        let tls_files = self.redis_ca_cert.is_some() || self.redis_client_cert.is_some();
        if self.broker == "memory" {
            if tls_files {
                anyhow::bail!("--redis-ca-cert and --redis-client-cert need a rediss:// --broker");
            }
            return Ok(sse_hub::BrokerConfig::Memory);
        }
        let scheme = self.broker.split_once("://").map_or("", |(s, _)| s);
        let tls = scheme.starts_with("rediss");
        if !["redis", "rediss", "redis+sentinel", "rediss+sentinel"].contains(&scheme) {
            anyhow::bail!(
                "--broker must be `memory` or a redis://, rediss://, redis+sentinel:// or \
                 rediss+sentinel:// URL, not {:?}",
                sse_hub::broker::redis::redact(&self.broker)
            );
        }
        if tls_files && !tls {
            anyhow::bail!("--redis-ca-cert and --redis-client-cert need a rediss:// --broker");
        }
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))
        };
        let mut o = sse_hub::broker::RedisOptions::new(&self.broker);
        o.prefix = self.redis_prefix.clone();
        o.wait_replicas = self.redis_wait_replicas;
        o.wait_timeout = Duration::from_millis(self.redis_wait_timeout_ms.max(1));
        o.tls_ca_cert = self.redis_ca_cert.as_ref().map(read).transpose()?;
        if let (Some(cert), Some(key)) = (&self.redis_client_cert, &self.redis_client_key) {
            o.tls_client = Some((read(cert)?, read(key)?));
        }
        Ok(sse_hub::BrokerConfig::Redis(o))
    }

    /// The hub's settings from these flags.
    pub fn hub_config(&self) -> anyhow::Result<sse_hub::HubConfig> {
        let presence_topics = patterns("--presence-topics", &self.presence_topics)?;
        Ok(sse_hub::HubConfig {
            presence_topics,
            max_connections: self.max_connections,
            max_connections_per_user: self.max_connections_per_user,
            single_connection_per_user: self.single_connection_per_user,
            connection_queue: self.connection_queue,
            heartbeat_interval: Duration::from_secs(self.heartbeat_secs.max(1)),
            idle_timeout: (self.idle_timeout_secs > 0)
                .then(|| Duration::from_secs(self.idle_timeout_secs)),
            retry_ms: self.retry_ms,
            history_len: self.history_len,
            history_max_channels: self.history_max_channels.max(1),
            history_max_age: Duration::from_secs(self.history_max_age_secs),
            max_event_bytes: self.max_event_bytes,
            trusted_metadata_keys: self
                .trusted_metadata_keys
                .iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            ..sse_hub::HubConfig::default()
        })
    }

    /// Who may subscribe and publish to which topics, from these flags.
    pub fn topic_policy(&self) -> anyhow::Result<Box<dyn sse_hub::TopicAuthorizer>> {
        let public = patterns("--public-topics", &self.public_topics)?;
        let claims = sse_hub::ClaimsPolicy::new().with_public_topics(public);
        Ok(match &self.subscribe_webhook {
            None => Box::new(claims),
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    anyhow::bail!("--subscribe-webhook must be an http:// or https:// URL");
                }
                Box::new(sse_hub::WebhookPolicy::new(
                    claims,
                    url,
                    Duration::from_millis(self.subscribe_webhook_timeout_ms.max(1)),
                ))
            }
        })
    }
}

/// The topic patterns of a comma-separated flag (blanks ignored).
fn patterns(flag: &str, list: &[String]) -> anyhow::Result<Vec<sse_hub::TopicPattern>> {
    let list: Vec<&str> = list
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    sse_hub::TopicPattern::parse_all(&list).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}
