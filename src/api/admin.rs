//! Operator endpoints: stats, kicking a connection, health, readiness,
//! metrics.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use sse_protocol::{Health, Ready, Summary};

use super::error::ApiError;
use super::state::Api;
use crate::auth::Principal;
use crate::event::ConnectionId;
use crate::hub::Hub;

fn require_admin(who: &Principal) -> Result<(), ApiError> {
    if who.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this endpoint is for admins".into()))
    }
}

/// `GET /api/sse/stats` (admin): this node, plus `cluster` with Redis
/// (`null` with the memory broker; an `error` string if Redis is down).
pub async fn stats(State(hub): State<Hub>, who: Principal) -> Result<Json<Value>, ApiError> {
    require_admin(&who)?;
    let mut body = serde_json::to_value(hub.stats()).unwrap_or_default();
    body["cluster"] = match hub.cluster_stats().await {
        Ok(None) => Value::Null,
        Ok(Some(c)) => serde_json::to_value(c).unwrap_or_default(),
        Err(e) => json!({ "error": e.to_string() }),
    };
    Ok(Json(body))
}

/// `DELETE /api/sse/connections/{id}` (admin).
pub async fn disconnect(
    State(hub): State<Hub>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&who)?;
    let id = ConnectionId::new(id)?;
    if hub.disconnect(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such connection".into()))
    }
}

/// `GET /api/health`: liveness plus the headline numbers. 200 while the
/// process runs, even with the broker down or while shutting down (the
/// status says which): restarting a node does not bring Redis back.
/// Readiness is [`ready`].
pub async fn health(State(hub): State<Hub>) -> Json<Health> {
    let s = hub.summary();
    let status = if hub.is_shutting_down() {
        "shutting_down"
    } else {
        "ok"
    };
    Json(Health {
        status: status.to_string(),
        epoch: hub.epoch(),
        node: Some(hub.node_id().to_string()),
        summary: Summary::from(&s),
    })
}

/// `GET /api/ready`: 200 while this node can serve, 503 `not_ready` (and
/// why) while its broker does not answer or it is shutting down.
pub async fn ready(State(hub): State<Hub>) -> Result<Json<Ready>, ApiError> {
    match hub.readiness() {
        Ok(()) => Ok(Json(Ready {
            status: "ready".into(),
            node: hub.node_id().to_string(),
        })),
        Err(why) => Err(ApiError::NotReady(why.to_string())),
    }
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(
            api.hub(),
            &api.metrics,
            api.webhook.as_deref(),
            api.auth().and_then(crate::auth::Auth::jwks_status),
        ),
    )
}
