//! What the hook reports: where the connection stands ([`SseState`]) and
//! each event ([`SseMessage`]). Both are serde types, because a leader tab
//! sends them as they are to the tabs that share its connection.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum SseState {
    /// Not connected and not trying.
    #[default]
    Closed,
    /// Opening the stream.
    Connecting,
    /// The stream is open.
    Open,
    /// Waiting `delay_ms` before attempt `attempt`.
    Reconnecting {
        /// The attempt that will be made.
        attempt: u32,
        /// How long the wait is.
        delay_ms: u32,
    },
    /// Gave up (a status in [`super::decide::FINAL_STATUSES`], or out of
    /// attempts); why is in `error`.
    Failed,
}

impl SseState {
    /// A short label for badges.
    pub fn label(&self) -> String {
        match self {
            SseState::Closed => "closed".into(),
            SseState::Connecting => "connecting".into(),
            SseState::Open => "open".into(),
            SseState::Reconnecting { .. } => "reconnecting".into(),
            SseState::Failed => "failed".into(),
        }
    }
}

/// One received event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseMessage {
    /// The `event:` type (`message` when the server sent none).
    pub event_type: String,
    /// The `data:` payload.
    pub data: String,
    /// The stream's last event id when the event arrived (its own `id:`,
    /// or the latest one before it), as `EventSource` reports it.
    pub id: Option<String>,
}

impl SseMessage {
    /// Reads the payload as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.data)
    }
}
