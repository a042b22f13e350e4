//! The HTTP API as an axum [`Router`]: mount it in any axum app with
//! `Router::new().merge(sse_hub::router(hub, auth))`. Everything HTTP
//! lives here: token extraction, status codes, JSON errors, CORS, latency
//! metrics; the hub itself takes authenticated principals and returns
//! domain errors, which become responses only at this edge.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/sse/stream` | any user | the SSE stream |
//! | `POST /api/sse/subscribe`, `/unsubscribe` | any user | topics of own connections |
//! | `POST /api/sse/publish` | admin, publisher | publish an event |
//! | `GET /api/sse/history` | any user | newest events of a topic or of oneself |
//! | `GET /api/sse/presence` | any user | who is in a presence topic |
//! | `GET /api/sse/stats` | admin | connection stats |
//! | `DELETE /api/sse/connections/{id}` | admin | disconnect one |
//! | `GET /api/health`, `GET /api/ready` | anyone | liveness, readiness |
//! | `GET /metrics` | anyone | Prometheus |
//!
//! The demo routes (`POST /api/sse/demo`, `POST /api/auth/demo-token`) are
//! a separate router, `Api::demo_router`, for demo deployments only, and
//! only in builds with the `demo` cargo feature (off by default; the
//! binary turns it on).
//!
//! Who is calling is the [`Authenticator`]'s answer (the JWT verifier, or
//! an app's own sessions: [`Api::with_authenticator`]); routes that listen
//! take a [`Listener`], which a session cookie may prove, and routes that
//! act take a [`crate::auth::Principal`], which a cookie never does.

mod admin;
mod authenticator;
mod client_addr;
pub mod credentials;
#[cfg(feature = "demo")]
pub mod demo;
mod error;
mod extract;
mod history;
mod presence;
mod publish;
mod rate;
mod state;
mod stream_route;
mod topics;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

pub use self::authenticator::{Access, AuthFuture, Authenticate, Authenticator};
pub use self::client_addr::{
    AddressSlot, Cidr, ClientAddresses, Peer, DEFAULT_STREAMS_PER_ADDRESS,
};
pub use self::credentials::{cookie_from_parts, token_from_parts};
pub use self::error::ApiError;
pub use self::extract::{ApiJson, Listener};
pub use self::rate::Rate;
pub use self::state::{exact_origin, Api, DEFAULT_STREAM_OPENS};
pub use self::stream_route::{parse_stream_query, StreamQuery};
use crate::hub::Hub;
use crate::metrics::HttpMetrics;

/// The hub's routes, with CORS (any origin, `Last-Event-ID` allowed), a body
/// size limit and per-route latency metrics: `Api::new(hub, auth).router()`.
pub fn router(hub: Hub, auth: crate::auth::Auth) -> Router {
    Api::new(hub, auth).router()
}

impl Api {
    /// The hub's routes (see the module docs).
    pub fn router(&self) -> Router {
        let body_limit = self.hub.config().max_event_bytes + 16 * 1024;
        let routes = Router::new()
            .route("/api/sse/stream", get(stream_route::stream))
            .route("/api/sse/subscribe", post(topics::subscribe))
            .route("/api/sse/unsubscribe", post(topics::unsubscribe))
            .route("/api/sse/publish", post(publish::publish))
            .route("/api/sse/history", get(history::history))
            .route("/api/sse/presence", get(presence::presence))
            .route("/api/sse/stats", get(admin::stats))
            .route("/api/sse/connections/{id}", delete(admin::disconnect))
            .route("/api/health", get(admin::health))
            .route("/api/ready", get(admin::ready))
            .route("/metrics", get(admin::metrics))
            .route("/api/{*rest}", any(unknown_route))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(self.clone());
        self.layers(routes)
    }

    /// The probes alone (`/api/health`, `/api/ready`, `/metrics`), for a
    /// listener of their own: a load balancer's or Prometheus' request
    /// then never waits in the accept queue behind a storm of stream
    /// opens on the main address. Every other path is a 404 JSON.
    pub fn probe_router(&self) -> Router {
        let routes = Router::new()
            .route("/api/health", get(admin::health))
            .route("/api/ready", get(admin::ready))
            .route("/metrics", get(admin::metrics))
            .fallback(unknown_route)
            .layer(DefaultBodyLimit::max(1024))
            .with_state(self.clone());
        self.layers(routes)
    }

    /// The demo routes, for demo deployments only (see [`demo`]).
    #[cfg(feature = "demo")]
    pub fn demo_router(&self, options: demo::DemoOptions) -> Router {
        demo::router(self, options)
    }

    /// Per-route latency metrics and CORS, for every router of the hub.
    fn layers(&self, routes: Router) -> Router {
        let cors = match &self.cors_origins {
            Some(origins) => CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins.iter().cloned()))
                .allow_credentials(true),
            None => CorsLayer::new().allow_origin(Any),
        };
        let cors = cors
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
                HeaderName::from_static("x-auth-token"),
            ])
            .max_age(std::time::Duration::from_secs(600));
        routes
            .layer(middleware::from_fn_with_state(
                self.metrics.clone(),
                track_latency,
            ))
            .layer(cors)
    }
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such API route".into())
}

async fn track_latency(
    State(metrics): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let start = Instant::now();
    let res = next.run(req).await;
    metrics.record(
        &method,
        route.as_ref().map(MatchedPath::as_str),
        res.status().as_u16(),
        start.elapsed(),
    );
    res
}
