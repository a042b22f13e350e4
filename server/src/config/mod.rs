//! Command-line flags, environment variables and the config file of the
//! hub binary. Every flag has an environment variable (`HUB_*`), shown by
//! `--help`, and a key of the same name in the config file ([`file`]).

pub mod effective;
pub mod file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};

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

/// How log lines are written.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one line per event, fields as `key=value`.
    Text,
    /// For log collectors: one JSON object per line (timestamp, level,
    /// target, fields).
    Json,
}

/// A real-time Server-Sent Events hub with a live demo dashboard.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Config {
    /// TOML file with settings: keys are the long flag names with `_`
    /// (`history_len = 500`). Flags and environment variables win over it.
    #[arg(long, env = "HUB_CONFIG")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration (secrets redacted) and where each
    /// value came from, check it, and exit: 0 if it would start, else 1.
    #[arg(long)]
    pub check_config: bool,

    #[command(flatten)]
    pub listener: ListenerFlags,

    #[command(flatten)]
    pub tokens: AuthFlags,

    #[command(flatten)]
    pub transport: BrokerFlags,

    #[command(flatten)]
    pub limits: LimitFlags,

    #[command(flatten)]
    pub streams: StreamFlags,

    #[command(flatten)]
    pub access: AccessFlags,

    #[command(flatten)]
    pub webhooks: WebhookFlags,

    #[command(flatten)]
    pub logging: LogFlags,

    #[command(flatten)]
    pub demo_mode: DemoFlags,
}

/// Where and how the hub listens.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Listener")]
pub struct ListenerFlags {
    /// Address to listen on.
    #[arg(long, env = "HUB_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// A second address serving only /api/health, /api/ready and /metrics
    /// (plain HTTP), for load balancers and Prometheus: its own accept
    /// queue, so a probe never waits behind a storm of stream opens.
    #[arg(long, env = "HUB_PROBE_ADDR")]
    pub probe_addr: Option<SocketAddr>,

    /// PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1) with it
    /// and --tls-key. SIGHUP reloads both files.
    #[arg(long, env = "HUB_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "HUB_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Folder with the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Seconds a client has to send a whole request (head and body), from
    /// the connection's start or the previous answer; slower ones are cut.
    #[arg(long, env = "HUB_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Drop a connection whose socket has not accepted a byte for this many
    /// seconds (a client that stopped reading).
    #[arg(long, env = "HUB_WRITE_STALL_SECS", default_value_t = 30)]
    pub write_stall_secs: u64,

    /// Seconds to wait for streams to close on shutdown.
    #[arg(long, env = "HUB_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

/// How tokens are checked.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Tokens")]
pub struct AuthFlags {
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

    /// An identity provider's key set (JWKS) URL: https (http only on a
    /// loopback host). Keys by `kid`, each for its own `alg`; refreshed on
    /// the provider's max-age, fetched again on an unknown `kid` at most
    /// once per minute, the last good set kept while the provider fails.
    /// The start fails if the first fetch fails and no --jwt-jwks-file is
    /// given. Needs --jwt-audience.
    #[arg(long, env = "HUB_JWT_JWKS_URL", hide_env_values = true)]
    pub jwt_jwks_url: Option<String>,

    /// A key set (JWKS) file: the keys, read again on the refresh
    /// schedule; with --jwt-jwks-url, what the hub starts from if the
    /// first fetch fails.
    #[arg(long, env = "HUB_JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,

    /// Shortest time between two key set fetches, in seconds (the floor
    /// on max-age, the unknown-`kid` interval, the retry interval).
    #[arg(long, env = "HUB_JWT_JWKS_MIN_REFRESH_SECS", default_value_t = 60)]
    pub jwt_jwks_min_refresh_secs: u64,

    /// Longest time a key set is kept without fetching it again, in
    /// seconds (the ceiling on max-age).
    #[arg(long, env = "HUB_JWT_JWKS_MAX_REFRESH_SECS", default_value_t = 3600)]
    pub jwt_jwks_max_refresh_secs: u64,

    /// Audiences a token's `aud` must name one of (comma-separated), or
    /// `any` for any audience. Unset: a token with an `aud` is refused.
    /// Required with a public key (an identity provider signs tokens for
    /// other applications with the same key).
    #[arg(
        long,
        env = "HUB_JWT_AUDIENCE",
        default_value = "",
        value_delimiter = ','
    )]
    pub jwt_audience: Vec<String>,

    /// The issuer a token's `iss` must be (e.g. `https://tenant.auth0.com/`);
    /// unset: not checked.
    #[arg(long, env = "HUB_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Clock skew forgiven on a token's `exp` and `nbf`, in seconds (at
    /// most 300).
    #[arg(long, env = "HUB_JWT_LEEWAY_SECS", default_value_t = 30)]
    pub jwt_leeway_secs: u64,

    /// Where a token holds the user id: a key, a dotted path
    /// (`user.id`), a JSON pointer (`/user/id`), or a namespaced key taken
    /// whole (`https://example.com/uid`).
    #[arg(long, env = "HUB_JWT_USER_CLAIM", default_value = "sub")]
    pub jwt_user_claim: String,

    /// Where a token holds its role: one name or a list (Keycloak:
    /// `realm_access.roles`); the most powerful mapped name wins, unknown
    /// names are `user`.
    #[arg(long, env = "HUB_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,

    /// Provider role names to the hub's (`hub-admin=admin,svc=publisher`,
    /// comma-separated). Empty: the names `admin`, `publisher` and `user`
    /// are read as they are; with a map, only mapped names count.
    #[arg(
        long,
        env = "HUB_JWT_ROLE_MAP",
        default_value = "",
        value_delimiter = ','
    )]
    pub jwt_role_map: Vec<String>,

    /// Where a token holds its topic grants (`{subscribe, publish}`).
    #[arg(long, env = "HUB_JWT_TOPICS_CLAIM", default_value = "topics")]
    pub jwt_topics_claim: String,

    /// Where a token holds its trusted connection metadata.
    #[arg(long, env = "HUB_JWT_META_CLAIM", default_value = "meta")]
    pub jwt_meta_claim: String,

    /// A cookie the stream, subscribe, history and presence routes also
    /// take the token from (HttpOnly, set by your app when the user signs
    /// in, so no page script holds the token). Publishing and admin routes
    /// never read it. Pages on another origin need --cors-origins.
    #[arg(long, env = "HUB_AUTH_COOKIE")]
    pub auth_cookie: Option<String>,

    /// Origins whose pages may call the hub with credentials (cookies),
    /// exact (`https://app.example.com`, comma-separated). Empty: any
    /// origin may call, never with credentials.
    #[arg(
        long,
        env = "HUB_CORS_ORIGINS",
        default_value = "",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
}

impl AuthFlags {
    /// Where the claims are (`--jwt-*-claim`, `--jwt-role-map`).
    fn claims(&self) -> anyhow::Result<sse_hub::auth::ClaimMapping> {
        use sse_hub::auth::{ClaimMapping, ClaimPath, RoleMap};
        let path = |flag: &str, v: &str| {
            ClaimPath::parse(v).map_err(|e| anyhow::anyhow!("--jwt-{flag}-claim: {e}"))
        };
        Ok(ClaimMapping {
            user: path("user", &self.jwt_user_claim)?,
            role: path("role", &self.jwt_role_claim)?,
            topics: path("topics", &self.jwt_topics_claim)?,
            meta: path("meta", &self.jwt_meta_claim)?,
            roles: RoleMap::parse(&self.jwt_role_map)
                .map_err(|e| anyhow::anyhow!("--jwt-role-map: {e}"))?,
        })
    }

    /// The audience rule of `--jwt-audience`.
    fn audience(&self) -> anyhow::Result<sse_hub::Audience> {
        let names: Vec<String> = self
            .jwt_audience
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(match names.as_slice() {
            [] => sse_hub::Audience::NoneAccepted,
            [any] if any == "any" => sse_hub::Audience::Any,
            names if names.iter().any(|n| n == "any") => {
                anyhow::bail!("--jwt-audience: `any` cannot be listed with other audiences")
            }
            names => sse_hub::Audience::OneOf(names.to_vec()),
        })
    }
}

/// Where events travel between nodes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Broker")]
pub struct BrokerFlags {
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

    /// Key prefix in Redis, so several hubs can share one server.
    #[arg(long, env = "HUB_REDIS_PREFIX", default_value = "sse")]
    pub redis_prefix: String,

    /// Redis: a publish answers 200 only once this many replicas hold it
    /// (Redis `WAIT`), else 503 `not_replicated` (retry with the same `id`).
    /// 0: once the primary holds it.
    #[arg(long, env = "HUB_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// Redis: how long a publish waits for --redis-wait-replicas.
    #[arg(long, env = "HUB_REDIS_WAIT_TIMEOUT_MS", default_value_t = 1000)]
    pub redis_wait_timeout_ms: u64,

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
}

/// What one node, user, address and stream may take.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Limits")]
pub struct LimitFlags {
    /// Most connections on this node (503 beyond).
    #[arg(long, env = "HUB_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most connections per user (429 beyond).
    #[arg(long, env = "HUB_MAX_CONNECTIONS_PER_USER", default_value_t = 10)]
    pub max_connections_per_user: usize,

    /// Most streams open at once from one client address (429 with
    /// `Retry-After` beyond; other addresses are unaffected). 0: no limit.
    /// Generous by default, because many users can share one address
    /// (offices, mobile carriers' NAT); it stops one host from taking
    /// every slot of a node.
    #[arg(long, env = "HUB_MAX_CONNECTIONS_PER_IP", default_value_t = 1_000)]
    pub max_connections_per_ip: usize,

    /// Proxies whose `X-Forwarded-For` is believed (comma-separated
    /// addresses or CIDRs, e.g. `10.0.0.0/8,127.0.0.1`). Empty by default:
    /// the socket's address is the client's.
    #[arg(
        long,
        env = "HUB_TRUSTED_PROXIES",
        default_value = "",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,

    /// One connection per user: a new one closes the older ones.
    #[arg(long, env = "HUB_SINGLE_CONNECTION_PER_USER", default_value_t = false)]
    pub single_connection_per_user: bool,

    /// New streams admitted per second on this node (bursts of four
    /// times as many); a reconnect storm beyond gets 429 with
    /// `Retry-After`, which the `use_sse` hook waits out. 0: no limit.
    #[arg(long, env = "HUB_STREAM_OPENS_PER_SECOND", default_value_t = 5_000)]
    pub stream_opens_per_second: u32,

    /// Resumes (Last-Event-ID replays, ?rewind= reads) this node runs at
    /// once; beyond, a stream waits up to --replay-wait-ms for a turn,
    /// then gets 503 replays_busy with a spread Retry-After.
    #[arg(long, env = "HUB_MAX_CONCURRENT_REPLAYS", default_value_t = 64)]
    pub max_concurrent_replays: usize,

    /// How long a resume waits for a turn before it is refused, in
    /// milliseconds.
    #[arg(long, env = "HUB_REPLAY_WAIT_MS", default_value_t = 10_000)]
    pub replay_wait_ms: u64,

    /// Frames queued per connection before it is dropped as too slow.
    #[arg(long, env = "HUB_CONNECTION_QUEUE", default_value_t = 1024)]
    pub connection_queue: usize,

    /// Largest event payload, in bytes (413 beyond).
    #[arg(long, env = "HUB_MAX_EVENT_BYTES", default_value_t = 65_536)]
    pub max_event_bytes: usize,
}

/// Heartbeats, retries and what is kept for resumes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Streams and history")]
pub struct StreamFlags {
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
}

/// Topics, presence and the subscribe webhook.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Who may hear what")]
pub struct AccessFlags {
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

    /// Ask this URL about topics no grant covers: the hub POSTs
    /// `{userId, topics}`; 2xx allows, 403 (or no answer in time) refuses.
    #[arg(long, env = "HUB_SUBSCRIBE_WEBHOOK")]
    pub subscribe_webhook: Option<String>,

    /// How long the subscribe webhook may take, in milliseconds.
    #[arg(long, env = "HUB_SUBSCRIBE_WEBHOOK_TIMEOUT_MS", default_value_t = 2000)]
    pub subscribe_webhook_timeout_ms: u64,
}

/// The signed lifecycle webhook.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Lifecycle webhook")]
pub struct WebhookFlags {
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
}

/// Logs and traces.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Logs and traces")]
pub struct LogFlags {
    /// Log filter (tracing's EnvFilter syntax, e.g. `info,sse_hub=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Log lines as `text` or `json` (one object per line).
    #[arg(long, env = "HUB_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Send traces (spans of publishes, stream opens and resumes) as
    /// OTLP/HTTP protobuf to this collector: `URL/v1/traces`. Off unless
    /// set.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Share of traces sent (0.0 to 1.0).
    #[arg(long, env = "HUB_OTLP_SAMPLE_RATIO", default_value_t = 1.0)]
    pub otlp_sample_ratio: f64,
}

/// Demo mode (never on a hub people rely on).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Demo")]
pub struct DemoFlags {
    /// Demo mode (off unless asked for): mounts the demo routes, mints
    /// tokens for anyone (admins included) at POST /api/auth/demo-token and
    /// sends a `metrics` event every second. Never on a hub people rely on.
    #[arg(long, env = "HUB_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub demo: bool,

    /// Interval of the demo `metrics` event, in milliseconds (0: off).
    #[arg(long, env = "HUB_DEMO_TICK_MS", default_value_t = 1000)]
    pub demo_tick_ms: u64,

    /// Lifetime of demo tokens, in seconds.
    #[arg(long, env = "HUB_DEMO_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub demo_token_ttl_secs: u64,

    /// The hub /session-demo streams from when it is another one (an exact
    /// origin, e.g. https://hub.example.com; that hub must read the same
    /// --auth-cookie and list this one's origin in --cors-origins).
    #[arg(long, env = "HUB_DEMO_HUB_URL")]
    pub demo_hub_url: Option<String>,
}

impl Config {
    /// How tokens are checked.
    pub fn auth(&self) -> anyhow::Result<sse_hub::Auth> {
        use anyhow::Context;
        use sse_hub::Auth;
        let t = &self.tokens;
        let jwks = t.jwt_jwks_url.is_some() || t.jwt_jwks_file.is_some();
        let auth = match t.jwt_algorithm {
            _ if jwks => {
                if t.jwt_secret.is_some() || t.jwt_public_key.is_some() {
                    anyhow::bail!(
                        "--jwt-jwks-url/--jwt-jwks-file cannot be combined with --jwt-secret or \
                         --jwt-public-key: the key set is where the keys come from"
                    );
                }
                let options = sse_hub::JwksOptions {
                    min_refresh: Duration::from_secs(t.jwt_jwks_min_refresh_secs),
                    max_refresh: Duration::from_secs(t.jwt_jwks_max_refresh_secs),
                    ..Default::default()
                };
                let set = match &t.jwt_jwks_url {
                    Some(url) => sse_hub::Jwks::from_url(url, t.jwt_jwks_file.clone(), options)
                        .map_err(|e| anyhow::anyhow!("--jwt-jwks-url: {e}"))?,
                    None => sse_hub::Jwks::from_file(t.jwt_jwks_file.clone().unwrap(), options)
                        .map_err(|e| anyhow::anyhow!("--jwt-jwks-file: {e}"))?,
                };
                Auth::jwks(set)
            }
            JwtAlgorithm::Hs256 => match &self.tokens.jwt_secret {
                Some(s) if s.len() >= 16 => Auth::hs256(s.as_bytes()),
                Some(_) => anyhow::bail!("--jwt-secret must be at least 16 bytes"),
                None if self.demo_mode.demo => {
                    tracing::warn!("no --jwt-secret: demo mode uses a random secret for this run");
                    let secret: [u8; 32] = rand::random();
                    Auth::hs256(&secret)
                }
                None => anyhow::bail!(
                    "--jwt-secret is required: without it (or --jwt-algorithm rs256/es256 with \
                     --jwt-public-key) the hub could check no token. Set --jwt-secret or \
                     HUB_JWT_SECRET to a long random string, or try the demo with --demo true."
                ),
            },
            alg => {
                let path = self
                    .tokens
                    .jwt_public_key
                    .as_ref()
                    .context("--jwt-public-key is required for rs256/es256")?;
                let pem =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                if alg == JwtAlgorithm::Rs256 {
                    Auth::rs256_pem(&pem)?
                } else {
                    Auth::es256_pem(&pem)?
                }
            }
        };
        let audience = self.tokens.audience()?;
        if auth.verifies_foreign_tokens() && audience == sse_hub::Audience::NoneAccepted {
            anyhow::bail!(
                "--jwt-audience is required with a public key or a key set (JWKS): the provider that holds the \
                 private key signs tokens for other applications too, and only the audience \
                 tells them apart. Name this hub's audience (--jwt-audience sse-hub), or say \
                 --jwt-audience any if every token it signs is meant for this hub."
            );
        }
        let auth = auth
            .with_claims(self.tokens.claims()?)
            .with_audience(audience)
            .with_issuer(self.tokens.jwt_issuer.clone().filter(|s| !s.is_empty()))
            .with_leeway(Duration::from_secs(self.tokens.jwt_leeway_secs))
            .map_err(|e| anyhow::anyhow!("--jwt-leeway-secs: {e}"))?;
        let cookie = self.tokens.auth_cookie.clone().filter(|c| !c.is_empty());
        if let Some(name) = &cookie {
            let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if !name.chars().all(token_char) {
                anyhow::bail!("--auth-cookie: `{name}` is not a cookie name");
            }
        }
        Ok(auth.with_cookie(cookie).with_demo_tokens(
            self.demo_mode.demo,
            Duration::from_secs(self.demo_mode.demo_token_ttl_secs),
        ))
    }

    /// The demo routes' options: `--demo-hub-url` checked, and session
    /// cookies `Secure` when the hub serves TLS.
    pub fn demo_options(&self) -> anyhow::Result<sse_hub::api::demo::DemoOptions> {
        let hub_url = match self.demo_mode.demo_hub_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                sse_hub::api::exact_origin(url)
                    .map_err(|e| anyhow::anyhow!("--demo-hub-url: {e}"))?;
                Some(url.to_string())
            }
        };
        Ok(sse_hub::api::demo::DemoOptions {
            hub_url,
            secure_cookies: self.tls_files().is_some(),
            ..Default::default()
        })
    }

    /// The exact origins of `--cors-origins`, checked.
    pub fn cors_origins(&self) -> anyhow::Result<Vec<String>> {
        let origins: Vec<String> = self
            .tokens
            .cors_origins
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for o in &origins {
            sse_hub::api::exact_origin(o).map_err(|e| anyhow::anyhow!("--cors-origins: {e}"))?;
        }
        Ok(origins)
    }

    /// The lifecycle webhook's URL, checked, if one is set.
    pub fn webhook_url(&self) -> anyhow::Result<Option<&str>> {
        self.webhooks
            .webhook_url
            .as_deref()
            .map(|u| http_url("--webhook-url", u))
            .transpose()
    }

    /// Starts the lifecycle webhook these flags ask for.
    pub fn webhook(
        &self,
    ) -> anyhow::Result<
        Option<(
            std::sync::Arc<sse_hub::lifecycle_webhook::LifecycleWebhook>,
            std::sync::Arc<sse_hub::lifecycle_webhook::WebhookCounters>,
        )>,
    > {
        let (Some(url), Some(secret)) = (self.webhook_url()?, &self.webhooks.webhook_secret) else {
            return Ok(None);
        };
        let options = sse_hub::lifecycle_webhook::WebhookOptions {
            queue: self.webhooks.webhook_queue.max(1),
            ..Default::default()
        };
        let (w, counters) = sse_hub::lifecycle_webhook::LifecycleWebhook::start(
            url.to_string(),
            secret.as_bytes(),
            options,
            Default::default(),
        )
        .map_err(|e| anyhow::anyhow!("--webhook-url: the HTTP client: {e}"))?;
        Ok(Some((std::sync::Arc::new(w), counters)))
    }

    /// Which address a stream counts against, and how many each may hold.
    pub fn client_addresses(&self) -> anyhow::Result<sse_hub::api::ClientAddresses> {
        let proxies: Vec<&str> = self
            .limits
            .trusted_proxies
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        sse_hub::api::ClientAddresses::new(&proxies, self.limits.max_connections_per_ip)
            .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))
    }

    /// The log filter; a filter that does not parse is an error, never a
    /// silent `info`.
    pub fn log_filter(&self) -> anyhow::Result<tracing_subscriber::EnvFilter> {
        tracing_subscriber::EnvFilter::try_new(&self.logging.log)
            .map_err(|e| anyhow::anyhow!("--log / RUST_LOG {:?}: {e}", self.logging.log))
    }

    /// The certificate and key files, when HTTPS is asked for.
    pub fn tls_files(&self) -> Option<(PathBuf, PathBuf)> {
        Some((
            self.listener.tls_cert.clone()?,
            self.listener.tls_key.clone()?,
        ))
    }

    /// The broker these flags name.
    pub fn broker_config(&self) -> anyhow::Result<sse_hub::BrokerConfig> {
        let tls_files =
            self.transport.redis_ca_cert.is_some() || self.transport.redis_client_cert.is_some();
        if self.transport.broker == "memory" {
            if tls_files {
                anyhow::bail!("--redis-ca-cert and --redis-client-cert need a rediss:// --broker");
            }
            return Ok(sse_hub::BrokerConfig::Memory);
        }
        let scheme = self
            .transport
            .broker
            .split_once("://")
            .map_or("", |(s, _)| s);
        let tls = scheme.starts_with("rediss");
        if !["redis", "rediss", "redis+sentinel", "rediss+sentinel"].contains(&scheme) {
            anyhow::bail!(
                "--broker must be `memory` or a redis://, rediss://, redis+sentinel:// or \
                 rediss+sentinel:// URL, not {:?}",
                sse_hub::broker::redis::redact(&self.transport.broker)
            );
        }
        if tls_files && !tls {
            anyhow::bail!("--redis-ca-cert and --redis-client-cert need a rediss:// --broker");
        }
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))
        };
        let mut o = sse_hub::broker::RedisOptions::new(&self.transport.broker);
        o.prefix = self.transport.redis_prefix.clone();
        o.wait_replicas = self.transport.redis_wait_replicas;
        o.wait_timeout = Duration::from_millis(self.transport.redis_wait_timeout_ms.max(1));
        o.tls_ca_cert = self
            .transport
            .redis_ca_cert
            .as_ref()
            .map(read)
            .transpose()?;
        if let (Some(cert), Some(key)) = (
            &self.transport.redis_client_cert,
            &self.transport.redis_client_key,
        ) {
            o.tls_client = Some((read(cert)?, read(key)?));
        }
        Ok(sse_hub::BrokerConfig::Redis(o))
    }

    /// The hub's settings from these flags.
    pub fn hub_config(&self) -> anyhow::Result<sse_hub::HubConfig> {
        let presence_topics = patterns("--presence-topics", &self.access.presence_topics)?;
        Ok(sse_hub::HubConfig {
            presence_topics,
            max_connections: self.limits.max_connections,
            max_connections_per_user: self.limits.max_connections_per_user,
            single_connection_per_user: self.limits.single_connection_per_user,
            connection_queue: self.limits.connection_queue,
            heartbeat_interval: Duration::from_secs(self.streams.heartbeat_secs.max(1)),
            idle_timeout: (self.streams.idle_timeout_secs > 0)
                .then(|| Duration::from_secs(self.streams.idle_timeout_secs)),
            retry_ms: self.streams.retry_ms,
            history_len: self.streams.history_len,
            history_max_channels: self.streams.history_max_channels.max(1),
            history_max_age: Duration::from_secs(self.streams.history_max_age_secs),
            max_event_bytes: self.limits.max_event_bytes,
            max_concurrent_replays: self.limits.max_concurrent_replays.max(1),
            replay_wait: Duration::from_millis(self.limits.replay_wait_ms),
            trusted_metadata_keys: self
                .access
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
        let public = patterns("--public-topics", &self.access.public_topics)?;
        let claims = sse_hub::ClaimsPolicy::new().with_public_topics(public);
        Ok(match &self.access.subscribe_webhook {
            None => Box::new(claims),
            Some(url) => {
                let url = http_url("--subscribe-webhook", url)?;
                Box::new(
                    sse_hub::WebhookPolicy::new(
                        claims,
                        url,
                        Duration::from_millis(self.access.subscribe_webhook_timeout_ms.max(1)),
                    )
                    .map_err(|e| anyhow::anyhow!("--subscribe-webhook: the HTTP client: {e}"))?,
                )
            }
        })
    }
}

/// The OTLP collector's URL for traces: `ENDPOINT/v1/traces`.
pub fn otlp_traces_url(endpoint: &str) -> anyhow::Result<String> {
    let base = endpoint.trim_end_matches('/');
    http_url("--otlp-endpoint", base)?;
    Ok(format!("{base}/v1/traces"))
}

/// `url` if it is an http:// or https:// URL with a host.
fn http_url<'a>(flag: &str, url: &'a str) -> anyhow::Result<&'a str> {
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !h.contains(char::is_whitespace) => Ok(url),
        _ => anyhow::bail!("{flag} must be an http:// or https:// URL, not {url:?}"),
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

/// A TOML file in the system's temp folder for the config tests, removed
/// on drop.
#[cfg(test)]
pub(crate) struct TempFile(pub std::path::PathBuf);

#[cfg(test)]
impl TempFile {
    pub(crate) fn with(text: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "hub-config-test-{}-{}.toml",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&p, text).unwrap();
        Self(p)
    }
}

#[cfg(test)]
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
