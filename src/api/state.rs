//! The state every handler of the API shares: the hub, and the request
//! latencies its routers record.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::hub::Hub;
use crate::metrics::HttpMetrics;

/// The HTTP surface of one hub: the state its handlers share. Its routers
/// record into one set of per-route latency metrics (what `/metrics`
/// shows), so build every router of a hub from the same `Api`.
#[derive(Clone, Debug)]
pub struct Api {
    pub(super) hub: Hub,
    /// Shared by every router built from this `Api`, written by each
    /// request's middleware, read by `/metrics`.
    pub(super) metrics: Arc<HttpMetrics>,
}

impl FromRef<Api> for Hub {
    fn from_ref(api: &Api) -> Hub {
        api.hub.clone()
    }
}

impl Api {
    /// The HTTP surface of `hub`.
    pub fn new(hub: Hub) -> Self {
        Self {
            hub,
            metrics: Arc::default(),
        }
    }

    /// The hub behind it.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}
