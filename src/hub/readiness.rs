//! Readiness: whether this node should be sent new streams and publishes.
//! Liveness (`/api/health`) only says the process runs; a node is *ready*
//! while its broker answers (for Redis: the primary, checked every
//! second) and it is not shutting down. A load balancer stops sending
//! traffic to a node that is not ready, and sends it again once it is.

use std::time::Duration;

use super::core::Hub;
use crate::broker::BrokerCounters;

/// How long one broker check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a node is not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// It is shutting down (SIGTERM): it takes no new streams.
    #[error("the hub is shutting down")]
    ShuttingDown,
    /// Its broker did not answer its last check (the reason).
    #[error("the broker is unreachable: {0}")]
    Broker(String),
}

impl Hub {
    /// Ready, or why not (see the module docs).
    pub fn readiness(&self) -> Result<(), NotReady> {
        if self.is_shutting_down() {
            return Err(NotReady::ShuttingDown);
        }
        match self.inner.broker_problem.lock().clone() {
            Some(why) => Err(NotReady::Broker(why)),
            None => Ok(()),
        }
    }

    /// What the broker went through (reconnections, failovers).
    pub fn broker_counters(&self) -> BrokerCounters {
        self.inner.broker.counters()
    }

    /// Asks the broker whether it can serve and remembers the answer.
    pub(super) async fn check_broker(&self) {
        let problem = match tokio::time::timeout(CHECK_TIMEOUT, self.inner.broker.ready()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(crate::error::report(&e)),
            Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        let mut slot = self.inner.broker_problem.lock();
        if *slot != problem {
            match &problem {
                Some(why) => tracing::warn!(reason = %why, "not ready: the broker does not answer"),
                None => tracing::info!("ready: the broker answers again"),
            }
            *slot = problem;
        }
    }
}
