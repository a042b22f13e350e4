//! The state every handler of the API shares: the hub, how tokens are
//! checked, and the request latencies its routers record.

use std::sync::Arc;

use axum::extract::FromRef;

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
    /// Token verification lives here, at the edge, not in the hub: the hub
    /// takes an already authenticated [`crate::auth::Principal`].
    pub(super) auth: Auth,
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
}

impl FromRef<Api> for Hub {
    fn from_ref(api: &Api) -> Hub {
        api.hub.clone()
    }
}

impl FromRef<Api> for Auth {
    fn from_ref(api: &Api) -> Auth {
        api.auth.clone()
    }
}

impl Api {
    /// The HTTP surface of `hub`, checking tokens with `auth`.
    pub fn new(hub: Hub, auth: Auth) -> Self {
        Self {
            hub,
            auth,
            metrics: Arc::default(),
            webhook: None,
            opens: Some(Arc::new(RateLimiter::new(
                DEFAULT_STREAM_OPENS,
                DEFAULT_STREAM_OPENS,
                1,
            ))),
            addresses: ClientAddresses::default(),
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

    /// Shows the lifecycle webhook's counters in `/metrics`.
    pub fn with_webhook_counters(mut self, counters: Arc<WebhookCounters>) -> Self {
        self.webhook = Some(counters);
        self
    }

    /// The hub behind it.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// How it checks tokens.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }
}
