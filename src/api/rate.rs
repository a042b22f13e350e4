//! Token buckets: for the demo endpoints, which anyone can reach in demo
//! mode (one per user and one for everybody together: demo identities cost
//! nothing to make, so a per-user limit alone would not bound the load),
//! and for admitting new streams on a node (one bucket for all).
//!
//! The per-user map is bounded: full buckets carry no information and are
//! pruned when the map is full; if it is still full, a newcomer is refused
//! rather than making room by forgetting someone's debt.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Refill rate and burst of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests added back per second.
    pub per_second: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate.burst),
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let gained = now.duration_since(self.at).as_secs_f64() * rate.per_second;
        self.tokens = (self.tokens + gained).min(f64::from(rate.burst));
        self.at = now;
    }

    /// Takes one token, or says how long until one is there.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            Err(Duration::from_secs_f64(missing / rate.per_second.max(1e-3)))
        }
    }
}

/// A per-key rate limit plus one for all keys together.
#[derive(Debug)]
pub struct RateLimiter {
    per_key: Rate,
    overall: Rate,
    max_keys: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    all: Bucket,
    keys: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// `per_key` for each key, `overall` for all of them, at most `max_keys`
    /// keys tracked at once.
    pub fn new(per_key: Rate, overall: Rate, max_keys: usize) -> Self {
        let now = Instant::now();
        Self {
            per_key,
            overall,
            max_keys: max_keys.max(1),
            state: Mutex::new(State {
                all: Bucket::full(overall, now),
                keys: HashMap::new(),
            }),
        }
    }

    /// Counts one request of `key`; `Err` holds how long to wait.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut st = self.state.lock();
        if !st.keys.contains_key(key) && st.keys.len() >= self.max_keys {
            let rate = self.per_key;
            st.keys.retain(|_, b| {
                b.refill(rate, now);
                b.tokens < f64::from(rate.burst)
            });
            if st.keys.len() >= self.max_keys {
                return Err(Duration::from_secs(1));
            }
        }
        // Check the user's bucket first, without taking from it, so that a
        // refusal by the overall bucket costs the user nothing.
        let mut mine = st
            .keys
            .get(key)
            .copied()
            .unwrap_or_else(|| Bucket::full(self.per_key, now));
        let mut probe = mine;
        probe.take(self.per_key, now)?;
        st.all.take(self.overall, now)?;
        mine.take(self.per_key, now).expect("the probe had a token");
        st.keys.insert(key.to_string(), mine);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits() {
        let per_key = Rate {
            burst: 3,
            per_second: 1.0,
        };
        let overall = Rate {
            burst: 5,
            per_second: 1.0,
        };
        let l = RateLimiter::new(per_key, overall, 2);
        for _ in 0..3 {
            l.check("a").unwrap();
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(1));
        // Another key has its own burst, until the overall bucket is empty.
        l.check("b").unwrap();
        l.check("b").unwrap();
        assert!(l.check("b").is_err(), "overall limit");
        // The map is full (a and b, neither refilled): a third key waits.
        assert!(l.check("c").is_err());
    }
}
