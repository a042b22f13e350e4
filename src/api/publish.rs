//! Publishing and runtime topic changes.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::ApiJson;
use crate::auth::Principal;
use crate::event::{ConnectionId, EventName, NewEvent, Target, Topic};
use crate::hub::{Hub, Published};

/// Body of `POST /api/sse/publish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// Event type.
    pub event: EventName,
    /// Payload, sent as compact JSON.
    #[serde(default)]
    pub data: Value,
    /// Optional idempotency key.
    #[serde(default)]
    pub id: Option<String>,
    /// Who receives it.
    pub target: Target,
}

/// `POST /api/sse/publish` (admin or publisher).
pub async fn publish(
    State(hub): State<Hub>,
    who: Principal,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<Json<Published>, ApiError> {
    if !who.role.can_publish() {
        return Err(ApiError::Forbidden(
            "publishing needs the admin or publisher role".into(),
        ));
    }
    let mut ev = NewEvent::json(body.event, &body.data, body.target);
    ev.dedup_key = body.id;
    Ok(Json(hub.publish(ev).await?))
}

/// Body of subscribe / unsubscribe.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopicsBody {
    /// Topics to add or remove.
    pub topics: Vec<Topic>,
    /// Only this connection (it must be the caller's).
    #[serde(default)]
    pub connection_id: Option<ConnectionId>,
}

async fn change(
    hub: Hub,
    who: Principal,
    body: TopicsBody,
    subscribe: bool,
) -> Result<Json<Value>, ApiError> {
    if body.topics.is_empty() {
        return Err(ApiError::BadRequest(
            "`topics` must name at least one topic".into(),
        ));
    }
    if body.topics.len() > hub.config().max_topics_per_connection {
        return Err(crate::HubError::TooManyTopics(hub.config().max_topics_per_connection).into());
    }
    let changed = hub.set_topics(
        &who.user,
        body.connection_id.as_ref(),
        &body.topics,
        subscribe,
    )?;
    Ok(Json(
        json!({ "connections": changed, "topics": body.topics }),
    ))
}

/// `POST /api/sse/subscribe`.
pub async fn subscribe(
    State(hub): State<Hub>,
    who: Principal,
    ApiJson(body): ApiJson<TopicsBody>,
) -> Result<Json<Value>, ApiError> {
    change(hub, who, body, true).await
}

/// `POST /api/sse/unsubscribe`.
pub async fn unsubscribe(
    State(hub): State<Hub>,
    who: Principal,
    ApiJson(body): ApiJson<TopicsBody>,
) -> Result<Json<Value>, ApiError> {
    change(hub, who, body, false).await
}
