//! `POST /api/sse/publish`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::extract::ApiJson;
use crate::auth::Principal;
use crate::event::{EventName, NewEvent, Target};
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
    let mut ev = NewEvent::json(body.event, &body.data, body.target)?;
    ev.idempotency_key = body.id;
    Ok(Json(hub.publish_as(&who, ev).await?))
}
