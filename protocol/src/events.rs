//! Every event type the hub emits by itself. Events published through the
//! API (`POST /api/sse/publish`) carry whatever names their publishers give
//! them; these are the hub's own.

/// The first event of every stream: `{connectionId, userId, lastEventId,
/// retry, heartbeatMs}`.
pub const CONNECTED: &str = "connected";
/// The client's `Last-Event-ID` is no longer covered by the history: it
/// missed events that are gone and must refetch its state.
pub const RESET: &str = "reset";
/// The hub is shutting down; reconnect after the `retry` it gives.
pub const SHUTDOWN: &str = "shutdown";
/// The stream's token is about to expire; reconnect with a fresh one.
pub const AUTH_EXPIRED: &str = "auth.expired";
/// An administrator closed this connection.
pub const CONNECTION_CLOSED: &str = "connection.closed";
/// A newer connection of the same user took over (one connection per user).
pub const CONNECTION_REPLACED: &str = "connection.replaced";
/// No event reached the connection for the idle timeout; it is closed.
pub const CONNECTION_IDLE: &str = "connection.idle";

/// A notification for a person (`notify_user`, `success`, `error`).
pub const NOTIFICATION: &str = "notification";
/// A system message to everyone (maintenance, incidents).
pub const SYSTEM: &str = "system";
/// Progress of a long operation.
pub const PROGRESS: &str = "progress";
/// A job finished.
pub const JOB_COMPLETED: &str = "job.completed";
/// An entity changed (reaches the affected users and admins).
pub const DATA_CHANGE: &str = "data_change";
/// A chat-style message from one user to another.
pub const MESSAGE: &str = "message";
/// A user did something (came online, is typing).
pub const USER_ACTIVITY: &str = "user.activity";
/// Dashboard numbers.
pub const METRICS: &str = "metrics";

/// A user's first connection (on any node) subscribed to a presence topic:
/// `{topic, userId, at}`, sent to the topic.
pub const PRESENCE_JOIN: &str = "presence.join";
/// A user's last connection left a presence topic (or its node died).
pub const PRESENCE_LEAVE: &str = "presence.leave";

/// Events about the stream itself.
pub const CONTROL: &[&str] = &[
    CONNECTED,
    RESET,
    SHUTDOWN,
    AUTH_EXPIRED,
    CONNECTION_CLOSED,
    CONNECTION_REPLACED,
    CONNECTION_IDLE,
];

/// Events of the hub's helper API.
pub const HELPERS: &[&str] = &[
    NOTIFICATION,
    SYSTEM,
    PROGRESS,
    JOB_COMPLETED,
    DATA_CHANGE,
    MESSAGE,
    USER_ACTIVITY,
    METRICS,
];

/// Who comes and goes on presence topics (`--presence-topics`).
pub const PRESENCE: &[&str] = &[PRESENCE_JOIN, PRESENCE_LEAVE];

const CONTROL_AND_HELPERS: [&str; CONTROL.len() + HELPERS.len()] = concat(CONTROL, HELPERS);

/// Every event type the hub emits by itself ([`CONTROL`], [`HELPERS`] and
/// [`PRESENCE`]).
pub const ALL: &[&str] =
    &concat::<{ CONTROL.len() + HELPERS.len() + PRESENCE.len() }>(&CONTROL_AND_HELPERS, PRESENCE);

/// `a` then `b`, as an array of `N` (their lengths added).
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_control_helpers_and_presence_without_repeats() {
        assert_eq!(ALL.len(), CONTROL.len() + HELPERS.len() + PRESENCE.len());
        for name in CONTROL.iter().chain(HELPERS).chain(PRESENCE) {
            assert!(ALL.contains(name), "{name} missing from ALL");
        }
        for (i, a) in ALL.iter().enumerate() {
            assert!(!ALL[i + 1..].contains(a), "{a} twice");
        }
    }
}
