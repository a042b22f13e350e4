//! Publishing and runtime topic changes.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sse_protocol::TopicsRequest;

use super::error::ApiError;
use super::extract::ApiJson;
use crate::auth::Principal;
use crate::event::{ConnectionId, EventName, NewEvent, Target, Topic};
use crate::hub::{Connections, Hub, Published, TopicChange};

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
    let mut ev = NewEvent::json(body.event, &body.data, body.target)?;
    ev.dedup_key = body.id;
    Ok(Json(hub.publish_as(&who, ev).await?))
}

async fn change(
    hub: Hub,
    who: Principal,
    body: TopicsRequest,
    change: TopicChange,
) -> Result<Json<Value>, ApiError> {
    // The count first: validating a list over the bound is wasted work.
    if body.topics.is_empty() {
        return Err(ApiError::BadRequest(
            "`topics` must name at least one topic".into(),
        ));
    }
    if body.topics.len() > hub.config().max_topics_per_connection {
        return Err(crate::HubError::TooManyTopics(hub.config().max_topics_per_connection).into());
    }
    let topics = body
        .topics
        .iter()
        .map(Topic::new)
        .collect::<Result<Vec<_>, _>>()?;
    let connection_id = body.connection_id.map(ConnectionId::new).transpose()?;
    let which = match &connection_id {
        Some(id) => Connections::One(id),
        None => Connections::All,
    };
    let changed = hub.set_topics(&who, which, &topics, change).await?;
    Ok(Json(json!({ "connections": changed, "topics": topics })))
}

/// `POST /api/sse/subscribe`.
pub async fn subscribe(
    State(hub): State<Hub>,
    who: Principal,
    ApiJson(body): ApiJson<TopicsRequest>,
) -> Result<Json<Value>, ApiError> {
    change(hub, who, body, TopicChange::Subscribe).await
}

/// `POST /api/sse/unsubscribe`.
pub async fn unsubscribe(
    State(hub): State<Hub>,
    who: Principal,
    ApiJson(body): ApiJson<TopicsRequest>,
) -> Result<Json<Value>, ApiError> {
    change(hub, who, body, TopicChange::Unsubscribe).await
}
