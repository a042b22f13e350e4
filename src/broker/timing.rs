//! The periods that nodes, their broker and Redis must agree on, in one
//! place with the rule that ties them.
//!
//! A node reports every [`Timing::report_every`]; its report and its
//! presence mark expire after [`Timing::report_ttl`] and
//! [`Timing::alive_for`] unless a later report refreshes them. Expire
//! sooner than three report periods and a node that is merely slow for a
//! tick (a long broker call, a GC pause in Redis) drops out of the cluster
//! view, and every user it holds "leaves" presence and joins again. A
//! reader waits at most [`Timing::reader_block`] in a blocking read, and a
//! resume waits up to [`Timing::delivery_lag`] for this node to catch up
//! with an id another node delivered; the lag must cover a whole block.

use std::time::Duration;

use crate::error::HubError;

/// How often nodes report and how long what they report lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often a node reports its numbers and that it is alive (whole
    /// seconds; the node's background work ticks once a second).
    pub report_every: Duration,
    /// A node counts for presence this long after its last report.
    pub alive_for: Duration,
    /// A node's report stays in the cluster view this long.
    pub report_ttl: Duration,
    /// The longest a reader's blocking read (`XREAD BLOCK`) waits.
    pub reader_block: Duration,
    /// How long a resume may wait for this node to deliver an id that
    /// another node already delivered.
    pub delivery_lag: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            report_every: Duration::from_secs(2),
            alive_for: Duration::from_secs(6),
            report_ttl: Duration::from_secs(6),
            reader_block: Duration::from_secs(1),
            delivery_lag: Duration::from_secs(2),
        }
    }
}

impl Timing {
    /// Checks the rule in the module docs.
    pub fn check(&self) -> Result<(), HubError> {
        let bad = |reason: String| Err(HubError::invalid("timing", &reason));
        if self.report_every < Duration::from_secs(1) || self.report_every.subsec_nanos() != 0 {
            return bad(format!(
                "report_every must be whole seconds, at least 1 (is {:?})",
                self.report_every
            ));
        }
        let three = self.report_every * 3;
        if self.alive_for < three {
            return bad(format!(
                "alive_for ({:?}) must cover three reports ({three:?}): a slow tick would make a node leave presence",
                self.alive_for
            ));
        }
        if self.report_ttl < three {
            return bad(format!(
                "report_ttl ({:?}) must cover three reports ({three:?}): a slow tick would drop a node from the cluster view",
                self.report_ttl
            ));
        }
        if self.reader_block.is_zero() || self.delivery_lag < self.reader_block {
            return bad(format!(
                "delivery_lag ({:?}) must cover a reader's block ({:?}), which must not be zero",
                self.delivery_lag, self.reader_block
            ));
        }
        Ok(())
    }

    /// Report every this many ticks of one second.
    pub(crate) fn report_ticks(&self) -> u64 {
        self.report_every.as_secs().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_agree() {
        assert_eq!(Timing::default().check(), Ok(()));
        assert_eq!(Timing::default().report_ticks(), 2);
    }

    #[test]
    fn periods_that_disagree_are_refused() {
        let d = Timing::default();
        for bad in [
            Timing {
                report_every: Duration::from_millis(1500),
                ..d
            },
            Timing {
                report_every: Duration::ZERO,
                ..d
            },
            Timing {
                alive_for: Duration::from_secs(5),
                ..d
            },
            Timing {
                report_ttl: Duration::from_secs(4),
                ..d
            },
            Timing {
                report_every: Duration::from_secs(3),
                ..d
            },
            Timing {
                reader_block: Duration::from_secs(3),
                ..d
            },
            Timing {
                reader_block: Duration::ZERO,
                ..d
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?} was accepted");
        }
    }
}
