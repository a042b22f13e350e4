//! The state every handler of the API shares: the hub, how tokens are
//! checked, and the request latencies its routers record.

use std::sync::Arc;

use axum::extract::FromRef;

use super::authenticator::{Authenticate, Authenticator};
use crate::auth::Auth;
use crate::hub::Hub;
use crate::lifecycle_webhook::WebhookCounters;

use super::client_addr::ClientAddresses;
use super::rate::{Rate, RateLimiter};

/// New streams admitted per node by default: bursts of 20 000 (every
/// client of a full node reconnecting at once), then 5 000 a second.
pub const DEFAULT_STREAM_OPENS: Rate = Rate {
    burst: 20_000,
    per_second: 5_000.0,
};
use crate::metrics::HttpMetrics;

/// The HTTP surface of one hub: the state its handlers share. Its routers
/// record into one set of per-route latency metrics (what `/metrics`
/// shows), so build every router of a hub from the same `Api`.
#[derive(Clone, Debug)]
pub struct Api {
    pub(super) hub: Hub,
    /// Who is calling is decided here, at the edge, not in the hub: the
    /// hub takes an already authenticated [`crate::auth::Principal`].
    pub(super) authenticate: Authenticate,
    /// The JWT verifier, when that is how callers are known (the demo
    /// routes mint tokens with it).
    pub(super) auth: Option<Auth>,
    /// Shared by every router built from this `Api`, written by each
    /// request's middleware, read by `/metrics`.
    pub(super) metrics: Arc<HttpMetrics>,
    /// The lifecycle webhook's counters, for `/metrics`, if there is one.
    pub(super) webhook: Option<Arc<WebhookCounters>>,
    /// How fast new streams are admitted on this node: a reconnect storm
    /// beyond it gets 429 with `Retry-After` instead of all at once.
    pub(super) opens: Option<Arc<RateLimiter>>,
    /// Who the client is (the socket, or a trusted proxy's
    /// `X-Forwarded-For`) and how many streams one address may hold.
    pub(super) addresses: ClientAddresses,
    /// Origins whose pages may call with credentials (cookies); `None`:
    /// any origin, never with credentials. Shared: read when a router is
    /// built.
    pub(super) cors_origins: Option<Arc<[axum::http::HeaderValue]>>,
}

impl FromRef<Api> for Hub {
    fn from_ref(api: &Api) -> Hub {
        api.hub.clone()
    }
}

impl FromRef<Api> for Authenticate {
    fn from_ref(api: &Api) -> Authenticate {
        api.authenticate.clone()
    }
}

impl Api {
    /// The HTTP surface of `hub`, checking tokens with `auth`.
    pub fn new(hub: Hub, auth: Auth) -> Self {
        let mut api = Self::with_authenticator(hub, auth.clone());
        api.auth = Some(auth);
        api
    }

    /// The HTTP surface of `hub`, knowing callers by `authenticator` (an
    /// application's own sessions, say) instead of tokens.
    pub fn with_authenticator(hub: Hub, authenticator: impl Authenticator) -> Self {
        Self {
            hub,
            authenticate: Authenticate::new(authenticator),
            auth: None,
            metrics: Arc::default(),
            webhook: None,
            opens: Some(Arc::new(RateLimiter::new(
                DEFAULT_STREAM_OPENS,
                DEFAULT_STREAM_OPENS,
                1,
            ))),
            addresses: ClientAddresses::default(),
            cors_origins: None,
        }
    }

    /// Counts streams per client address with `addresses` (by default:
    /// the socket's address, [`super::DEFAULT_STREAMS_PER_ADDRESS`] each).
    pub fn with_client_addresses(mut self, addresses: ClientAddresses) -> Self {
        self.addresses = addresses;
        self
    }

    /// Admits new streams at `rate` on this node (`None`: no limit).
    pub fn with_stream_open_rate(mut self, rate: Option<Rate>) -> Self {
        self.opens = rate.map(|r| Arc::new(RateLimiter::new(r, r, 1)));
        self
    }

    /// Lets pages of exactly these origins (`https://app.example.com`)
    /// call with credentials (a session cookie: fetch's `credentials:
    /// 'include'`); every other origin gets no CORS grant. Without it, any
    /// origin may call, never with credentials (a wildcard never carries
    /// them). An origin that is not `scheme://host[:port]` is an error.
    pub fn with_cors_origins(mut self, origins: &[String]) -> Result<Self, String> {
        let out = origins
            .iter()
            .map(|o| exact_origin(o))
            .collect::<Result<Vec<_>, _>>()?;
        self.cors_origins = (!out.is_empty()).then(|| out.into());
        Ok(self)
    }

    /// Shows the lifecycle webhook's counters in `/metrics`.
    pub fn with_webhook_counters(mut self, counters: Arc<WebhookCounters>) -> Self {
        self.webhook = Some(counters);
        self
    }

    /// The hub behind it.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// How it checks tokens, when it knows callers by tokens
    /// ([`Api::new`]; `None` after [`Api::with_authenticator`]).
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }
}

/// `origin` as a CORS grant, if it is exact: `http(s)://host[:port]`, no
/// path, no wildcard.
pub fn exact_origin(origin: &str) -> Result<axum::http::HeaderValue, String> {
    let o = origin.trim();
    let bad =
        || format!("`{o}` is not an exact origin (scheme://host[:port], no path, no wildcard)");
    let uri: axum::http::Uri = o.parse().map_err(|_| bad())?;
    let exact = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && !o
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .contains('/')
        && !o.contains('*');
    if !exact {
        return Err(bad());
    }
    axum::http::HeaderValue::from_str(o).map_err(|_| bad())
}
