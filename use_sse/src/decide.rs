//! What the hook does when its stream ends: retry, refresh the token, or
//! give up. A pure function of what happened and where the hook stands,
//! so every case is tested natively ([`on_end`]); the controller only
//! carries out the [`Next`] step it returns.

use std::fmt;

/// Statuses that end the hook's retries: the hub will answer the same
/// again (401 too, once a token refresh did not help or there is none).
/// 429 and 503 are retried after `Retry-After`; anything else with backoff.
pub const FINAL_STATUSES: [u16; 6] = [204, 400, 401, 403, 404, 405];

/// How an upstream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The hub answered with an error status instead of a stream.
    Refused {
        status: u16,
        /// The JSON body's `error`, if any.
        message: String,
        /// `Retry-After`, in milliseconds, if sent (429, 503).
        retry_after_ms: Option<u32>,
    },
    /// The network failed, or an open stream ended.
    Lost,
}

/// Where the hook stands when its upstream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The page still wants a stream (it did not call `close`).
    pub wanted: bool,
    /// `UseSseOptions::auto_reconnect`.
    pub auto_reconnect: bool,
    /// Attempts made since the last stable connection (before this end).
    pub attempts: u32,
    /// The stream that ended had been open long enough to count as
    /// stable: attempts start again from zero.
    pub stable: bool,
    /// `UseSseOptions::max_attempts`.
    pub max_attempts: Option<u32>,
    /// A token refresh may be tried for this refusal (there is a
    /// `refresh_token` and it has not been tried since the last open).
    pub may_refresh: bool,
}

/// Why the hook stopped or is between connections: what its `error`
/// signal holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SseError {
    /// The connection was lost; reconnecting (or, without
    /// `auto_reconnect`, closed).
    Lost,
    /// The hub refused the token (401) and no refresh helped.
    Unauthorized(String),
    /// The hub asked not to reconnect (204).
    DoNotReconnect,
    /// The hub refused the stream for good (400, 403, 404, 405).
    Refused { status: u16, message: String },
    /// `max_attempts` attempts failed.
    GaveUp { attempts: u32 },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::Lost => f.write_str("connection lost"),
            SseError::Unauthorized(m) => write!(f, "unauthorized (401): {m}"),
            SseError::DoNotReconnect => f.write_str("the server asked not to reconnect (204)"),
            SseError::Refused { status, message } => write!(f, "refused ({status}): {message}"),
            SseError::GaveUp { attempts } => write!(f, "gave up after {attempts} attempts"),
        }
    }
}

impl std::error::Error for SseError {}

/// The step after an upstream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nobody wants the stream: state `Closed`, no error.
    Close,
    /// Lost and not reconnecting by itself: state `Closed` with `Lost`.
    CloseLost,
    /// Attempt `attempt` after a backoff of at least `floor_ms` (the
    /// hub's `Retry-After`) or the usual backoff.
    Retry { attempt: u32, floor_ms: Option<u32> },
    /// Refresh the token once, then open again at once; if the refresh
    /// fails, fail with `error`.
    Refresh { error: SseError },
    /// Give up: state `Failed` with this error.
    Fail(SseError),
}

/// What to do when the upstream ended with `ending`, standing at `now`.
pub fn on_end(ending: &Ending, now: Standing) -> Next {
    if !now.wanted {
        return Next::Close;
    }
    let attempts = if now.stable { 0 } else { now.attempts };
    match ending {
        Ending::Refused {
            status, message, ..
        } if FINAL_STATUSES.contains(status) => {
            let error = match status {
                401 => SseError::Unauthorized(message.clone()),
                204 => SseError::DoNotReconnect,
                _ => SseError::Refused {
                    status: *status,
                    message: message.clone(),
                },
            };
            if *status == 401 && now.may_refresh {
                Next::Refresh { error }
            } else {
                Next::Fail(error)
            }
        }
        Ending::Refused { retry_after_ms, .. } => retry(attempts, now, *retry_after_ms),
        Ending::Lost => retry(attempts, now, None),
    }
}

fn retry(attempts: u32, now: Standing, floor_ms: Option<u32>) -> Next {
    if !now.auto_reconnect {
        return Next::CloseLost;
    }
    let attempt = attempts + 1;
    if now.max_attempts.is_some_and(|max| attempt > max) {
        return Next::Fail(SseError::GaveUp {
            attempts: attempt - 1,
        });
    }
    Next::Retry { attempt, floor_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Standing = Standing {
        wanted: true,
        auto_reconnect: true,
        attempts: 0,
        stable: false,
        max_attempts: None,
        may_refresh: false,
    };

    fn refused(status: u16) -> Ending {
        Ending::Refused {
            status,
            message: format!("m{status}"),
            retry_after_ms: None,
        }
    }

    #[test]
    fn a_stream_nobody_wants_closes_whatever_ended_it() {
        let closed = Standing {
            wanted: false,
            ..OPEN
        };
        for e in [Ending::Lost, refused(401), refused(503)] {
            assert_eq!(on_end(&e, closed), Next::Close);
        }
    }

    #[test]
    fn a_lost_stream_retries_and_counts_attempts() {
        assert_eq!(
            on_end(&Ending::Lost, OPEN),
            Next::Retry {
                attempt: 1,
                floor_ms: None
            }
        );
        let third = Standing {
            attempts: 2,
            ..OPEN
        };
        assert_eq!(
            on_end(&Ending::Lost, third),
            Next::Retry {
                attempt: 3,
                floor_ms: None
            }
        );
        // A stable connection starts the count again.
        let stable = Standing {
            attempts: 7,
            stable: true,
            ..OPEN
        };
        assert_eq!(
            on_end(&Ending::Lost, stable),
            Next::Retry {
                attempt: 1,
                floor_ms: None
            }
        );
    }

    #[test]
    fn busy_answers_wait_for_retry_after() {
        for status in [429, 503] {
            let busy = Ending::Refused {
                status,
                message: String::new(),
                retry_after_ms: Some(5000),
            };
            assert_eq!(
                on_end(&busy, OPEN),
                Next::Retry {
                    attempt: 1,
                    floor_ms: Some(5000)
                }
            );
        }
        // Other statuses retry with the usual backoff.
        assert_eq!(
            on_end(&refused(500), OPEN),
            Next::Retry {
                attempt: 1,
                floor_ms: None
            }
        );
    }

    #[test]
    fn final_statuses_give_up_with_a_typed_error() {
        assert_eq!(
            on_end(&refused(204), OPEN),
            Next::Fail(SseError::DoNotReconnect)
        );
        for status in [400, 403, 404, 405] {
            assert_eq!(
                on_end(&refused(status), OPEN),
                Next::Fail(SseError::Refused {
                    status,
                    message: format!("m{status}")
                })
            );
        }
        assert_eq!(
            on_end(&refused(401), OPEN),
            Next::Fail(SseError::Unauthorized("m401".into()))
        );
        // Every final status is decided here, none falls through to retry.
        for status in FINAL_STATUSES {
            assert!(
                matches!(on_end(&refused(status), OPEN), Next::Fail(_)),
                "{status}"
            );
        }
    }

    #[test]
    fn a_401_refreshes_the_token_once_when_it_can() {
        let can = Standing {
            may_refresh: true,
            ..OPEN
        };
        assert_eq!(
            on_end(&refused(401), can),
            Next::Refresh {
                error: SseError::Unauthorized("m401".into())
            }
        );
        // Only a 401: a 403 is final even with a refresh at hand.
        assert!(matches!(on_end(&refused(403), can), Next::Fail(_)));
    }

    #[test]
    fn without_auto_reconnect_a_loss_closes_and_final_statuses_still_fail() {
        let manual = Standing {
            auto_reconnect: false,
            ..OPEN
        };
        assert_eq!(on_end(&Ending::Lost, manual), Next::CloseLost);
        assert_eq!(on_end(&refused(503), manual), Next::CloseLost);
        assert!(matches!(on_end(&refused(403), manual), Next::Fail(_)));
    }

    #[test]
    fn attempts_run_out_at_max_attempts() {
        let last = Standing {
            attempts: 2,
            max_attempts: Some(3),
            ..OPEN
        };
        assert_eq!(
            on_end(&Ending::Lost, last),
            Next::Retry {
                attempt: 3,
                floor_ms: None
            }
        );
        let over = Standing {
            attempts: 3,
            max_attempts: Some(3),
            ..OPEN
        };
        assert_eq!(
            on_end(&Ending::Lost, over),
            Next::Fail(SseError::GaveUp { attempts: 3 })
        );
    }

    #[test]
    fn errors_read_as_before() {
        assert_eq!(
            SseError::Unauthorized("bad".into()).to_string(),
            "unauthorized (401): bad"
        );
        assert_eq!(
            SseError::GaveUp { attempts: 4 }.to_string(),
            "gave up after 4 attempts"
        );
    }
}
