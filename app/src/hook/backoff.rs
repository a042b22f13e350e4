//! Reconnect delays: exponential, capped, with full jitter on the upper half,
//! in the manner of launchdarkly's eventsource client. Pure functions so the
//! math is unit-tested natively.

/// Backoff settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// First delay, milliseconds.
    pub initial_ms: u32,
    /// Largest delay, milliseconds.
    pub max_ms: u32,
    /// Growth per attempt (2.0 doubles).
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_ms: 1000,
            max_ms: 30_000,
            factor: 2.0,
        }
    }
}

impl Backoff {
    /// The un-jittered delay before attempt `attempt` (1-based), using
    /// `server_retry_ms` as the base when the server sent one.
    pub fn base_delay(&self, attempt: u32, server_retry_ms: Option<u32>) -> u32 {
        let base = server_retry_ms.unwrap_or(self.initial_ms).max(1) as f64;
        let exp = attempt.saturating_sub(1).min(30) as i32;
        let d = base * self.factor.max(1.0).powi(exp);
        d.min(self.max_ms.max(1) as f64) as u32
    }

    /// The delay with jitter: uniformly in `[base/2, base]`, where `unit` is
    /// a random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, server_retry_ms: Option<u32>, unit: f64) -> u32 {
        let base = self.base_delay(attempt, server_retry_ms);
        let half = base / 2;
        half + ((base - half) as f64 * unit.clamp(0.0, 1.0)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap() {
        let b = Backoff {
            initial_ms: 1000,
            max_ms: 10_000,
            factor: 2.0,
        };
        let seq: Vec<u32> = (1..=6).map(|a| b.base_delay(a, None)).collect();
        assert_eq!(seq, vec![1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(b.base_delay(1, Some(3000)), 3000);
        assert_eq!(b.base_delay(3, Some(3000)), 10_000);
        assert_eq!(b.base_delay(u32::MAX, None), 10_000);
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let b = Backoff::default();
        assert_eq!(b.delay(2, None, 0.0), 1000);
        assert_eq!(b.delay(2, None, 0.999_999), 1999);
        assert!((1000..=2000).contains(&b.delay(2, None, 0.5)));
    }
}
