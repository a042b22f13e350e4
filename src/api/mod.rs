//! The HTTP API as an axum [`Router`]: mount it in any axum app with
//! `Router::new().merge(sse_hub::router(hub))`.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/sse/stream` | any user | the SSE stream |
//! | `POST /api/sse/subscribe`, `/unsubscribe` | any user | topics of own connections |
//! | `POST /api/sse/publish` | admin, publisher | publish an event |
//! | `POST /api/sse/demo` | any user | demo events (to self; admins: anyone) |
//! | `GET /api/sse/stats` | admin | connection stats |
//! | `DELETE /api/sse/connections/{id}` | admin | disconnect one |
//! | `GET /api/health`, `GET /metrics` | anyone | health, Prometheus |
//! | `POST /api/auth/demo-token` | anyone, demo mode only | mint a demo JWT |

mod admin;
mod demo;
mod error;
mod extract;
mod publish;
mod stream;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

pub use self::error::ApiError;
pub use self::extract::ApiJson;
pub use self::stream::{parse_stream_query, StreamQuery};
use crate::hub::Hub;

/// The hub's routes, with CORS (any origin, `Last-Event-ID` allowed), a body
/// size limit and per-route latency metrics.
pub fn router(hub: Hub) -> Router {
    let body_limit = hub.config().max_event_bytes + 16 * 1024;
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("x-auth-token"),
        ])
        .max_age(std::time::Duration::from_secs(600));
    Router::new()
        .route("/api/sse/stream", get(stream::stream))
        .route("/api/sse/subscribe", post(publish::subscribe))
        .route("/api/sse/unsubscribe", post(publish::unsubscribe))
        .route("/api/sse/publish", post(publish::publish))
        .route("/api/sse/demo", post(demo::demo))
        .route("/api/sse/stats", get(admin::stats))
        .route("/api/sse/connections/{id}", delete(admin::disconnect))
        .route("/api/auth/demo-token", post(demo::demo_token))
        .route("/api/health", get(admin::health))
        .route("/metrics", get(admin::metrics))
        .route("/api/{*rest}", any(unknown_route))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(hub.clone(), track_latency))
        .layer(cors)
        .with_state(hub)
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such API route".into())
}

async fn track_latency(State(hub): State<Hub>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let start = Instant::now();
    let res = next.run(req).await;
    hub.http_metrics().record(
        method.as_str(),
        &route,
        res.status().as_u16(),
        start.elapsed(),
    );
    res
}
