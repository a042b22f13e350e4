//! `POST /api/sse/subscribe` and `/unsubscribe`: topics of a user's open
//! connections, changed at runtime.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use sse_protocol::TopicsRequest;

use super::error::ApiError;
use super::extract::{ApiJson, Listener};
use crate::auth::Principal;
use crate::event::{ConnectionId, Topic};
use crate::hub::{Connections, Hub, TopicChange};

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
    Listener(who): Listener,
    ApiJson(body): ApiJson<TopicsRequest>,
) -> Result<Json<Value>, ApiError> {
    change(hub, who, body, TopicChange::Subscribe).await
}

/// `POST /api/sse/unsubscribe`.
pub async fn unsubscribe(
    State(hub): State<Hub>,
    Listener(who): Listener,
    ApiJson(body): ApiJson<TopicsRequest>,
) -> Result<Json<Value>, ApiError> {
    change(hub, who, body, TopicChange::Unsubscribe).await
}
