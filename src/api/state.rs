//! The state every handler of the API shares: the hub, how tokens are
//! checked, and the request latencies its routers record.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Auth;
use crate::hub::Hub;
use crate::lifecycle::WebhookCounters;
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
        }
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
