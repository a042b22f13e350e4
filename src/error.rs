//! Errors of the hub's Rust API. The HTTP layer maps each to a status code
//! and a JSON body in [`crate::api::ApiError`].

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
    /// The broker behind the hub is unavailable.
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(String),
}

impl HubError {
    pub(crate) fn invalid(kind: &'static str, reason: &str) -> Self {
        HubError::Invalid {
            kind,
            reason: reason.to_string(),
        }
    }
}
