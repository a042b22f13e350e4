//! Errors of the hub's Rust API. The HTTP layer maps each to a status code
//! and a JSON body in [`crate::api::ApiError`].

use std::sync::Arc;

use thiserror::Error;

/// What can go wrong when using the hub from Rust.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HubError {
    /// A name, id or value failed validation.
    #[error("invalid {kind}: {reason}")]
    Invalid {
        /// What was being validated ("event name", "topic", ...).
        kind: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The event payload is larger than the configured limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Size of the refused payload.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The hub holds its maximum number of connections.
    #[error("the hub is at its limit of {0} connections")]
    TooManyConnections(usize),
    /// This user holds their maximum number of connections.
    #[error("user already holds the maximum of {0} connections")]
    TooManyUserConnections(usize),
    /// A connection holds too many topics.
    #[error("a connection may hold at most {0} topics")]
    TooManyTopics(usize),
    /// No open connection has that id.
    #[error("no such connection")]
    UnknownConnection,
    /// The connection belongs to another user.
    #[error("that connection belongs to another user")]
    NotYourConnection,
    /// The hub is shutting down and takes no new work.
    #[error("the hub is shutting down")]
    ShuttingDown,
    /// Too many resumes are running on this node; the stream waited its
    /// turn as long as it may. Retry after a while.
    #[error("this node is busy replaying for {0} resuming streams; retry after the given delay")]
    ReplaysBusy(usize),
    /// This node has more publishes waiting for the broker than it queues
    /// (a local overload, not a broker failure). Retry after a while.
    #[error("too many publishes waiting for the broker on this node ({0} queued)")]
    PublishQueueFull(usize),
    /// The broker took longer than the publish deadline to answer: it may
    /// be overloaded, or stalled. Whether the event was stored is unknown;
    /// retrying with the same idempotency key publishes it at most once.
    #[error("the broker did not confirm the publish within {0:?}")]
    BrokerTimeout(std::time::Duration),
    /// The broker behind the hub is unavailable.
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(#[source] BrokerError),
    /// The broker stored the event, but fewer replicas than required
    /// confirmed it within the wait timeout: it may be lost in a failover.
    /// Retrying with the same idempotency key publishes it at most once.
    #[error("only {got} of {wanted} replicas confirmed the event in time")]
    NotReplicated {
        /// Replicas that had to confirm it.
        wanted: u32,
        /// Replicas that did.
        got: u32,
    },
    /// The caller may not subscribe or publish to these topics (their
    /// names: kept as text, so this file needs nothing of `event`, whose
    /// validated names report their errors here).
    #[error("not allowed on topic(s): {}", .0.join(", "))]
    TopicForbidden(Vec<String>),
    /// The caller may not do this (a reason for people).
    #[error("{0}")]
    NotAllowed(String),
    /// Metadata under a trusted key can only come from the token.
    #[error("metadata key `{0}` is trusted: only the token's `meta` claim may set it")]
    TrustedMetadata(String),
}

/// What failed when the broker was used: [`BrokerError`]'s message says
/// what the hub was doing, and the error that stopped it (a Redis or I/O
/// error) is its [`std::error::Error::source`]. Print the whole chain
/// with [`report`].
#[derive(Debug, Clone)]
pub struct BrokerError {
    doing: String,
    /// Shared so that the error stays `Clone` like every [`HubError`].
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl BrokerError {
    /// A failure with no underlying error.
    pub fn new(doing: impl Into<String>) -> Self {
        Self {
            doing: doing.into(),
            cause: None,
        }
    }

    /// `cause` stopped the hub while `doing` something.
    pub fn caused(
        doing: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            doing: doing.into(),
            cause: Some(Arc::new(cause)),
        }
    }
}

impl std::fmt::Display for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.doing)
    }
}

impl std::error::Error for BrokerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two broker errors are equal when they say the same (causes compared by
/// their messages), so [`HubError`] stays `Eq`.
impl PartialEq for BrokerError {
    fn eq(&self, other: &Self) -> bool {
        self.doing == other.doing
            && self.cause.as_ref().map(ToString::to_string)
                == other.cause.as_ref().map(ToString::to_string)
    }
}

impl Eq for BrokerError {}

/// `e` and every error behind it, joined with `: ` (for logs).
pub fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

impl HubError {
    pub(crate) fn invalid(kind: &'static str, reason: &str) -> Self {
        HubError::Invalid {
            kind,
            reason: reason.to_string(),
        }
    }
}
