//! `GET /api/sse/history`: the newest events of a topic
//! (`?topic=T&limit=N`) or of the caller's own channel (`?user=me`), for
//! callers allowed to hear them. `limit` is 1 to 100 (default 20).

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use sse_protocol::HistoryPage;

use super::error::ApiError;
use super::extract::{query_params, Listener};
use crate::event::{Topic, UserId};
use crate::hub::{HistoryOf, Hub, MAX_HISTORY_LIMIT};

const DEFAULT_LIMIT: usize = 20;

/// The handler.
pub async fn history(
    State(hub): State<Hub>,
    Listener(who): Listener,
    uri: Uri,
) -> Result<Json<HistoryPage>, ApiError> {
    let mut topic = None;
    let mut user = None;
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in query_params(&uri, &["topic", "user", "limit"])? {
        match k.as_str() {
            "topic" => topic = Some(Topic::new(&v)?),
            "user" if v == "me" => user = Some(who.user.clone()),
            "user" => user = Some(UserId::new(&v)?),
            // The range (1 to 100) is the hub's to check.
            _ => {
                limit = v.parse().map_err(|_| {
                    ApiError::BadRequest(format!("limit must be 1 to {MAX_HISTORY_LIMIT}"))
                })?
            }
        }
    }
    let of = match (topic, user) {
        (Some(t), None) => HistoryOf::Topic(t),
        (None, Some(u)) => HistoryOf::User(u),
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `topic` or `user`".into(),
            ))
        }
    };
    Ok(Json(hub.history(&who, of, limit).await?))
}
