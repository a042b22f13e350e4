//! `GET /api/sse/presence?topic=T`: who is in a presence topic, over every
//! node, for callers allowed to subscribe to it. At most 1 000 users are
//! listed (by user id); `total` counts them all.

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use sse_protocol::PresencePage;

use super::error::ApiError;
use super::extract::{query_params, Listener};
use crate::event::Topic;
use crate::hub::Hub;

/// The handler.
pub async fn presence(
    State(hub): State<Hub>,
    Listener(who): Listener,
    uri: Uri,
) -> Result<Json<PresencePage>, ApiError> {
    let mut topic = None;
    for (_, v) in query_params(&uri, &["topic"])? {
        topic = Some(Topic::new(&v)?);
    }
    let topic = topic.ok_or_else(|| ApiError::BadRequest("`topic` is required".into()))?;
    Ok(Json(hub.presence(&who, topic).await?))
}
