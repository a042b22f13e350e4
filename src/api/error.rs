//! Every error the HTTP API returns: a status and `{"error", "code"}`.

use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use sse_protocol::ErrorBody;

use crate::auth::AuthError;
use crate::error::HubError;

/// An API failure; renders as a JSON body with the matching status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 400: a parameter or field is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// A request body that could not be read as the expected JSON
    /// (400 malformed or wrong shape, 413 too large, 415 content type).
    #[error("{message}")]
    Body {
        /// The status axum picked for the rejection.
        status: StatusCode,
        /// What was wrong.
        message: String,
    },
    /// 429: too many requests; try again after `retry_after`.
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// When a request will be taken again.
        retry_after: std::time::Duration,
    },
    /// 429: this client address holds as many streams as it may.
    #[error("{0}")]
    TooManyFromAddress(String),
    /// 503 from the readiness probe: the node cannot serve now (why).
    #[error("{0}")]
    NotReady(String),
    /// Anything the hub itself refused.
    #[error(transparent)]
    Hub(#[from] HubError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::TooManyFromAddress(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_address_connections",
            ),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Body { status, .. } => (
                *status,
                match status.as_u16() {
                    413 => "payload_too_large",
                    415 => "unsupported_media_type",
                    _ => "invalid_body",
                },
            ),
            ApiError::Hub(e) => match e {
                HubError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_value"),
                HubError::PayloadTooLarge { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
                }
                HubError::TooManyConnections(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "too_many_connections")
                }
                HubError::TooManyUserConnections(_) => {
                    (StatusCode::TOO_MANY_REQUESTS, "too_many_user_connections")
                }
                HubError::TooManyTopics(_) => (StatusCode::BAD_REQUEST, "too_many_topics"),
                HubError::UnknownConnection => (StatusCode::NOT_FOUND, "unknown_connection"),
                HubError::NotYourConnection => (StatusCode::FORBIDDEN, "forbidden"),
                HubError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
                HubError::ReplaysBusy(_) => (StatusCode::SERVICE_UNAVAILABLE, "replays_busy"),
                HubError::PublishQueueFull(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "publish_queue_full")
                }
                HubError::BrokerTimeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "broker_timeout"),
                HubError::BrokerUnavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable")
                }
                HubError::NotReplicated { .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, "not_replicated")
                }
                HubError::TopicForbidden(_) => (StatusCode::FORBIDDEN, "topic_forbidden"),
                HubError::NotAllowed(_) => (StatusCode::FORBIDDEN, "forbidden"),
                HubError::TrustedMetadata(_) => (StatusCode::BAD_REQUEST, "trusted_metadata"),
            },
        }
    }
}

/// A `Retry-After` of `secs`, spread uniformly over `[secs, 2 secs]` by
/// `unit` (a random number in `[0, 1)`): every client refused in the same
/// moment would otherwise come back in the same second, as one more wave.
pub fn spread(secs: u64, unit: f64) -> u64 {
    secs + (((secs + 1) as f64) * unit.clamp(0.0, 0.999_999)) as u64
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Unauthorized(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rej: JsonRejection) -> Self {
        // A body of the wrong shape (unknown field, wrong type, a name with
        // CR/LF) is bad input like any other: 400, not axum's 422.
        let status = match &rej {
            JsonRejection::JsonDataError(_) => StatusCode::BAD_REQUEST,
            other => other.status(),
        };
        ApiError::Body {
            status,
            message: rej.body_text(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let topics = match &self {
            ApiError::Hub(HubError::TopicForbidden(t)) => Some(t.clone()),
            _ => None,
        };
        let body = Json(ErrorBody {
            error: self.to_string(),
            code: code.to_string(),
            topics,
        });
        let mut res = (status, body).into_response();
        let wait = match &self {
            // Whole seconds, rounded up: 0 would invite an instant retry.
            ApiError::RateLimited { retry_after, .. } => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            // A replay turn or a queue slot frees up within moments.
            ApiError::Hub(HubError::ReplaysBusy(_) | HubError::PublishQueueFull(_)) => Some(1),
            _ if matches!(
                status,
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ) =>
            {
                Some(5)
            }
            _ => None,
        };
        if let Some(secs) = wait {
            let secs = spread(secs.max(1), rand::random::<f64>());
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn retry_after_is_spread_over_as_long_again_and_never_shorter() {
        assert_eq!(spread(5, 0.0), 5);
        assert_eq!(spread(5, 0.999_999_9), 10);
        assert_eq!(spread(1, 0.4), 1);
        assert_eq!(spread(1, 0.6), 2);
        // Every value of the window is drawn about as often.
        let mut seen = [0u32; 11];
        for i in 0..6000 {
            seen[spread(5, f64::from(i) / 6000.0) as usize] += 1;
        }
        assert_eq!(&seen[..5], &[0; 5]);
        assert!(
            seen[5..].iter().all(|&n| (995..=1005).contains(&n)),
            "{seen:?}"
        );
    }
}
