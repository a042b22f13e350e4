//! What the dashboard keeps of the events it receives.

use serde::Deserialize;

/// A notification (also `system` messages and job results) shown in the
/// list and as a toast.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// Unique key (the event id).
    pub key: String,
    /// `info`, `success`, `warning` or `error`.
    pub level: String,
    /// The text.
    pub message: String,
    /// The event type it came from.
    pub source: String,
}

/// A job or long operation with its progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The job / operation id.
    pub id: String,
    /// 0–100.
    pub percentage: u8,
    /// The latest progress message.
    pub message: String,
    /// Whether `job.completed` arrived.
    pub done: bool,
}

/// One line of the raw event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Running number (the log's key).
    pub seq: u64,
    /// The event id, if any.
    pub id: String,
    /// The event type.
    pub event_type: String,
    /// The payload.
    pub data: String,
}

/// Payload of `notification` and `system` events.
#[derive(Deserialize, Debug)]
pub struct NotificationData {
    /// The text.
    #[serde(default)]
    pub message: String,
    /// The level.
    #[serde(default)]
    pub level: Option<String>,
}

/// Payload of `progress` events.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ProgressData {
    /// Which operation.
    pub operation_id: String,
    /// 0–100.
    pub percentage: u8,
    /// Text.
    #[serde(default)]
    pub message: String,
}

/// Payload of `job.completed` events.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct JobCompletedData {
    /// Which job.
    pub job_id: String,
    /// `success` or otherwise.
    pub result: String,
}

/// Payload of `data_change` events.
#[derive(Deserialize, Debug)]
pub struct DataChangeData {
    /// The kind of entity.
    pub entity: String,
    /// Its id.
    pub id: String,
    /// created / updated / deleted.
    pub action: String,
}
