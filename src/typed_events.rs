//! The helper API: the handful of event shapes applications send all day,
//! so they don't each invent their own field names. Each method returns how
//! many connections on this node the event was queued to.
//!
//! | method | event | target |
//! |---|---|---|
//! | [`Hub::broadcast`] | any | everyone |
//! | [`Hub::notify_user`] / [`Hub::notify_users`] | `notification` | user(s) |
//! | [`Hub::to_topic`] | any | topic |
//! | [`Hub::system_notification`] | `system` | everyone |
//! | [`Hub::progress`] | `progress` | user |
//! | [`Hub::job_completed`] | `job.completed` | user |
//! | [`Hub::data_change`] | `data_change` | affected users + admins |
//! | [`Hub::new_message`] | `message` | user |
//! | [`Hub::user_activity`] | `user.activity` | everyone |
//! | [`Hub::metrics_update`] | `metrics` | everyone |
//! | [`Hub::success`] / [`Hub::error`] | `notification` | user |

use serde::Serialize;
use serde_json::Value;
use sse_protocol::{
    events, ChatMessage, DataChange, JobCompleted, Metrics, Notification, Progress, UserActivity,
};

use crate::error::HubError;
use crate::event::{unix_ms, EventName, NewEvent, Target, Topic, UserId};
use crate::hub::Hub;

pub use sse_protocol::{ChangeAction, Level};

fn name(s: &'static str) -> EventName {
    EventName::new(s).expect("built-in event names are valid")
}

impl Hub {
    async fn send(
        &self,
        event: &'static str,
        data: &impl Serialize,
        target: Target,
    ) -> Result<usize, HubError> {
        Ok(self
            .publish(NewEvent::json(name(event), data, target)?)
            .await?
            .delivered)
    }

    /// Sends `data` as event `event` to every connection.
    pub async fn broadcast(
        &self,
        event: EventName,
        data: &impl Serialize,
    ) -> Result<usize, HubError> {
        Ok(self
            .publish(NewEvent::json(event, data, Target::all())?)
            .await?
            .delivered)
    }

    /// A `notification` to every connection of `user`.
    pub async fn notify_user(
        &self,
        user: &UserId,
        message: &str,
        level: Level,
    ) -> Result<usize, HubError> {
        self.send(
            events::NOTIFICATION,
            &notification(message, level),
            Target::User(user.clone()),
        )
        .await
    }

    /// A `notification` to every connection of each user in `users`.
    pub async fn notify_users(
        &self,
        users: &[UserId],
        message: &str,
        level: Level,
    ) -> Result<usize, HubError> {
        self.send(
            events::NOTIFICATION,
            &notification(message, level),
            Target::Users(users.to_vec()),
        )
        .await
    }

    /// Sends `data` as event `event` to every subscriber of `topic`.
    pub async fn to_topic(
        &self,
        topic: &Topic,
        event: EventName,
        data: &impl Serialize,
    ) -> Result<usize, HubError> {
        Ok(self
            .publish(NewEvent::json(event, data, Target::Topic(topic.clone()))?)
            .await?
            .delivered)
    }

    /// A `system` message to everyone (maintenance, incidents).
    pub async fn system_notification(
        &self,
        message: &str,
        level: Level,
    ) -> Result<usize, HubError> {
        self.send(events::SYSTEM, &notification(message, level), Target::all())
            .await
    }

    /// Progress of a long operation, `percentage` clamped to 0–100.
    pub async fn progress(
        &self,
        operation_id: &str,
        user: &UserId,
        percentage: u8,
        message: &str,
    ) -> Result<usize, HubError> {
        let data = Progress {
            operation_id: operation_id.to_string(),
            percentage: percentage.min(100),
            message: message.to_string(),
            timestamp: unix_ms(),
        };
        self.send(events::PROGRESS, &data, Target::User(user.clone()))
            .await
    }

    /// A finished job: `result` is `"success"` or `"failure"` (or your own
    /// word), `details` anything the UI should show.
    pub async fn job_completed(
        &self,
        job_id: &str,
        user: &UserId,
        result: &str,
        details: Value,
    ) -> Result<usize, HubError> {
        let data = JobCompleted {
            job_id: job_id.to_string(),
            result: result.to_string(),
            details,
            timestamp: unix_ms(),
        };
        self.send(events::JOB_COMPLETED, &data, Target::User(user.clone()))
            .await
    }

    /// An entity changed. Reaches only `affected_users` and admins (the
    /// event's audience), whatever else a connection subscribed to.
    pub async fn data_change(
        &self,
        entity: &str,
        id: &str,
        action: ChangeAction,
        data: Value,
        affected_users: &[UserId],
    ) -> Result<usize, HubError> {
        let body = DataChange {
            entity: entity.to_string(),
            id: id.to_string(),
            action,
            data,
            timestamp: unix_ms(),
        };
        let mut ev = NewEvent::json(name(events::DATA_CHANGE), &body, Target::all())?;
        ev.audience = Some(affected_users.to_vec());
        Ok(self.publish(ev).await?.delivered)
    }

    /// A chat-style `message` from `from` to `to`.
    pub async fn new_message(
        &self,
        from: &UserId,
        to: &UserId,
        message: &str,
    ) -> Result<usize, HubError> {
        let data = ChatMessage {
            from: from.to_string(),
            to: to.to_string(),
            message: message.to_string(),
            timestamp: unix_ms(),
        };
        self.send(events::MESSAGE, &data, Target::User(to.clone()))
            .await
    }

    /// Presence: `user` did `activity` (came online, is typing...).
    pub async fn user_activity(&self, user: &UserId, activity: &str) -> Result<usize, HubError> {
        let data = UserActivity {
            user_id: user.to_string(),
            activity: activity.to_string(),
            timestamp: unix_ms(),
        };
        self.send(events::USER_ACTIVITY, &data, Target::all()).await
    }

    /// Dashboard numbers for everyone.
    pub async fn metrics_update(&self, metrics: Value) -> Result<usize, HubError> {
        self.send(
            events::METRICS,
            &Metrics {
                metrics,
                timestamp: unix_ms(),
            },
            Target::all(),
        )
        .await
    }

    /// A success `notification` to `user`.
    pub async fn success(&self, user: &UserId, message: &str) -> Result<usize, HubError> {
        self.notify_user(user, message, Level::Success).await
    }

    /// An error `notification` to `user`.
    pub async fn error(&self, user: &UserId, message: &str) -> Result<usize, HubError> {
        self.notify_user(user, message, Level::Error).await
    }
}

fn notification(message: &str, level: Level) -> Notification {
    Notification {
        message: message.to_string(),
        level,
        timestamp: unix_ms(),
        from: None,
    }
}
