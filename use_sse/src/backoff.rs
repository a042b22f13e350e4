//! Reconnect delays: exponential and capped, with full jitter (a uniform
//! draw between zero and the capped delay, as in AWS's "Exponential Backoff
//! and Jitter"). Pure functions so the math is unit-tested natively.
//!
//! The balance: the cap (5 s by default) bounds how long a page stays
//! down after the hub is back: at most one cap, 2.5 s on average. Full
//! jitter spreads a crowd of clients evenly over that window instead of
//! in waves, and the hub answers a storm beyond its admission rate with
//! 429 and `Retry-After`, which the hook waits out, then spreads over a
//! window as long again ([`Backoff::after_refusal`]).

/// Backoff settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// First delay, milliseconds (the server's `retry` hint replaces it).
    pub initial_ms: u32,
    /// Largest delay, milliseconds.
    pub max_ms: u32,
    /// Growth per attempt (2.0 doubles).
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_ms: 500,
            max_ms: 5_000,
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

    /// The delay with full jitter: uniformly in `[0, base]`, where `unit`
    /// is a random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, server_retry_ms: Option<u32>, unit: f64) -> u32 {
        let base = self.base_delay(attempt, server_retry_ms);
        (base as f64 * unit.clamp(0.0, 1.0)) as u32
    }

    /// The delay after a refusal that said when to come back
    /// (`Retry-After`, in milliseconds): never sooner, and spread
    /// uniformly over a window as long again (at least a second), so a
    /// refused crowd returns over that window instead of in one wave. The
    /// hub spreads its `Retry-After` values too; the two add up. `unit` is
    /// a random number in `[0, 1)`.
    pub fn after_refusal(&self, retry_after_ms: u32, unit: f64) -> u32 {
        let window = retry_after_ms.max(1000) as f64;
        retry_after_ms.saturating_add((window * unit.clamp(0.0, 1.0)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_waited_out_then_spread_over_a_window_as_long() {
        let b = Backoff::default();
        // Never before the hub said, whatever the draw.
        assert_eq!(b.after_refusal(5000, 0.0), 5000);
        assert_eq!(b.after_refusal(5000, 0.5), 7500);
        assert_eq!(b.after_refusal(5000, 0.999_999), 9999);
        // A short hint still spreads over a second; the cap does not apply
        // (the hub asked for the wait).
        assert_eq!(b.after_refusal(1000, 0.25), 1250);
        assert_eq!(b.after_refusal(0, 0.5), 500);
        assert_eq!(b.after_refusal(60_000, 0.5), 90_000);
        assert_eq!(b.after_refusal(u32::MAX, 0.9), u32::MAX);
        // A crowd refused with the same hint comes back spread out: with
        // draws across [0, 1), no 100 ms slot of the window holds more
        // than its share (within rounding).
        let mut slots = [0u32; 50];
        for i in 0..5000 {
            let d = b.after_refusal(5000, f64::from(i) / 5000.0);
            slots[((d - 5000) / 100) as usize] += 1;
        }
        assert!(slots.iter().all(|&n| (98..=102).contains(&n)), "{slots:?}");
    }

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
    fn full_jitter_spans_zero_to_the_capped_delay() {
        let b = Backoff::default();
        assert_eq!(b.delay(2, None, 0.0), 0);
        assert_eq!(b.delay(2, None, 0.999_999), 999);
        assert_eq!(b.delay(9, Some(3000), 0.5), 2500, "capped at 5 s");
        // A long shutdown hint never pushes a reconnect past the cap.
        assert!(b.delay(1, Some(12_000), 0.999) < 5_000);
    }
}
