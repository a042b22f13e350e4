//! The payload of each event the hub emits ([`crate::events`]): the hub
//! serializes these types and the browser deserializes the same ones.
//! Field names are camelCase on the wire. Fields a publisher might leave
//! out (an app can publish its own `notification`) have defaults, so the
//! browser still reads what it can.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Severity of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Neutral information.
    #[default]
    Info,
    /// Something worked.
    Success,
    /// Worth a look.
    Warning,
    /// Something failed.
    Error,
}

impl Level {
    /// The level's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// What happened to an entity, in a [`DataChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeAction {
    /// It was created.
    Created,
    /// It was updated.
    Updated,
    /// It was deleted.
    Deleted,
}

impl ChangeAction {
    /// The action's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Created => "created",
            ChangeAction::Updated => "updated",
            ChangeAction::Deleted => "deleted",
        }
    }
}

/// `connected`: the first event of every stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// This stream's connection id (for subscribe/unsubscribe).
    pub connection_id: String,
    /// Who the token named.
    pub user_id: String,
    /// Where a reconnect resumes from.
    pub last_event_id: String,
    /// The reconnect delay the hub suggests, in milliseconds.
    pub retry: u64,
    /// How often heartbeats come, in milliseconds.
    pub heartbeat_ms: u64,
}

/// `reset`: the client's `Last-Event-ID` is no longer covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reset {
    /// Why, in words.
    pub reason: String,
    /// The id the client asked to resume from.
    pub requested: Option<String>,
    /// Where the stream continues from.
    pub last_event_id: String,
}

/// `shutdown`: the hub is going away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Milliseconds to wait before reconnecting (jittered per client).
    pub retry: u64,
}

/// `auth.expired`, `connection.closed`, `connection.replaced`,
/// `connection.idle`: the hub ends this stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    /// Why, in words.
    pub reason: String,
}

/// `notification` and `system`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The text.
    #[serde(default)]
    pub message: String,
    /// How it should look (a level this version does not know, or none,
    /// reads as [`Level::Info`]).
    #[serde(default, deserialize_with = "lenient_level")]
    pub level: Level,
    /// Unix milliseconds when it was sent.
    #[serde(default)]
    pub timestamp: u64,
    /// Who sent it, when a person did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

fn lenient_level<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    Ok(match Option::<String>::deserialize(d)?.as_deref() {
        Some("success") => Level::Success,
        Some("warning") => Level::Warning,
        Some("error") => Level::Error,
        _ => Level::Info,
    })
}

/// `progress`: how far a long operation got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Which operation.
    pub operation_id: String,
    /// 0–100.
    pub percentage: u8,
    /// What it is doing.
    #[serde(default)]
    pub message: String,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
}

/// `job.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCompleted {
    /// Which job.
    pub job_id: String,
    /// `success`, `failure`, or the application's own word.
    pub result: String,
    /// Anything the UI should show.
    #[serde(default)]
    pub details: Value,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
}

/// `data_change`: an entity changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataChange {
    /// The kind of entity.
    pub entity: String,
    /// Its id.
    pub id: String,
    /// What happened to it.
    pub action: ChangeAction,
    /// The new state, or whatever the application sends.
    #[serde(default)]
    pub data: Value,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
}

/// `message`: a chat-style message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The text.
    pub message: String,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
}

/// `user.activity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserActivity {
    /// Who.
    pub user_id: String,
    /// Did what (came online, is typing...).
    pub activity: String,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
}

/// `metrics`: dashboard numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The numbers, in whatever shape the sender chose.
    pub metrics: Value,
    /// Unix milliseconds.
    #[serde(default)]
    pub timestamp: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_without_extras_still_reads() {
        let n: Notification = serde_json::from_str(r#"{"message":"hi"}"#).unwrap();
        assert_eq!(
            (n.message.as_str(), n.level, n.from),
            ("hi", Level::Info, None)
        );
        for (level, want) in [("error", Level::Error), ("critical", Level::Info)] {
            let json = format!(r#"{{"message":"x","level":"{level}"}}"#);
            let n: Notification = serde_json::from_str(&json).unwrap();
            assert_eq!(n.level, want, "{level}");
        }
        let json = serde_json::to_value(Notification {
            message: "m".into(),
            level: Level::Warning,
            timestamp: 7,
            from: None,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"message": "m", "level": "warning", "timestamp": 7})
        );
    }

    #[test]
    fn names_on_the_wire_are_camel_case() {
        let c = Connected {
            connection_id: "c".into(),
            user_id: "u".into(),
            last_event_id: "1-2".into(),
            retry: 3000,
            heartbeat_ms: 30000,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["connectionId"], "c");
        assert_eq!(v["heartbeatMs"], 30000);
        assert_eq!(serde_json::from_value::<Connected>(v).unwrap(), c);
    }
}

/// `presence.join` and `presence.leave`.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PresenceChange {
    /// The topic.
    pub topic: String,
    /// Who came or went.
    pub user_id: String,
    /// When the hub noticed, unix milliseconds.
    pub at: u64,
}

/// What happened to a connection, as lifecycle webhooks report it.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleKind {
    /// A stream opened (`topics`: those it started with).
    Connected,
    /// A stream ended (`topics`: those it held).
    Disconnected,
    /// Topics were added to an open stream.
    Subscribed,
    /// Topics were removed from an open stream.
    Unsubscribed,
}

/// One lifecycle event; a webhook POST carries a JSON array of them.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: LifecycleKind,
    /// Whose connection.
    pub user_id: String,
    /// Which connection.
    pub connection_id: String,
    /// The topics concerned.
    pub topics: Vec<String>,
    /// When, unix milliseconds.
    pub at: u64,
}
