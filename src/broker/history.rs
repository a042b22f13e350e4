//! The memory broker's replay history behind `Last-Event-ID`.
//!
//! A bounded, ordered log of the node's recent events (by count and by age).
//! A reconnecting client names the last id it saw; if that id is still
//! covered by the log, the events after it are replayed, each checked against
//! the connection exactly as live delivery would; if it is not (too old, from
//! an earlier epoch, unknown), the client gets a `reset` event and must
//! refetch its state, because the hub can no longer promise completeness.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::contract::Replay;
use crate::event::{Event, EventId};

#[derive(Debug)]
pub(crate) struct History {
    events: VecDeque<Arc<Event>>,
    by_key: HashMap<String, EventId>,
    max_len: usize,
    max_age_ms: u64,
}

impl History {
    pub(crate) fn new(max_len: usize, max_age: Duration) -> Self {
        Self {
            events: VecDeque::with_capacity(max_len.min(4096)),
            by_key: HashMap::new(),
            max_len,
            max_age_ms: max_age.as_millis() as u64,
        }
    }

    pub(crate) fn push(&mut self, event: Arc<Event>) {
        if self.max_len == 0 {
            return;
        }
        if let Some(k) = &event.dedup_key {
            self.by_key.insert(k.clone(), event.id);
        }
        self.events.push_back(event);
        while self.events.len() > self.max_len {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(old) = self.events.pop_front() {
            if let Some(k) = &old.dedup_key {
                if self.by_key.get(k) == Some(&old.id) {
                    self.by_key.remove(k);
                }
            }
        }
    }

    /// Drops events older than the age limit.
    pub(crate) fn expire(&mut self, now_ms: u64) {
        while let Some(front) = self.events.front() {
            if now_ms.saturating_sub(front.published_ms) <= self.max_age_ms {
                break;
            }
            self.pop_front();
        }
    }

    /// The id a publish with this idempotency key already got, if still held.
    pub(crate) fn find_key(&self, key: &str) -> Option<EventId> {
        self.by_key.get(key).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Events after `after` up to and including `upto`, an id handed out
    /// already (so it is in the log unless it aged out).
    pub(crate) fn since(&self, after: EventId, upto: EventId) -> Replay {
        if after.epoch != upto.epoch || after.seq > upto.seq {
            return Replay::Gap;
        }
        if after.seq == upto.seq {
            return Replay::Events(Vec::new());
        }
        let oldest = match self.events.front() {
            Some(e) => e.id.seq,
            None => return Replay::Gap,
        };
        if after.seq + 1 < oldest {
            return Replay::Gap;
        }
        // Sequence numbers are contiguous inside the log.
        let skip = (after.seq + 1 - oldest) as usize;
        let take = (upto.seq - after.seq) as usize;
        Replay::Events(self.events.iter().skip(skip).take(take).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventName, Target};
    use bytes::Bytes;

    fn ev(seq: u64, at: u64) -> Arc<Event> {
        Arc::new(Event {
            id: EventId::new(1, seq),
            name: EventName::new("x").unwrap(),
            target: Target::all(),
            audience: None,
            frame: Bytes::new(),
            published_ms: at,
            dedup_key: Some(format!("k{seq}")),
        })
    }

    fn seqs(r: Replay) -> Option<Vec<u64>> {
        match r {
            Replay::Events(v) => Some(v.iter().map(|e| e.id.seq).collect()),
            Replay::Gap => None,
        }
    }

    #[test]
    fn replays_after_id_and_reports_gaps() {
        let mut h = History::new(3, Duration::from_secs(10));
        for s in 1..=5 {
            h.push(ev(s, 0));
        }
        let head = EventId::new(1, 5);
        assert_eq!(seqs(h.since(EventId::new(1, 2), head)), Some(vec![3, 4, 5]));
        assert_eq!(seqs(h.since(EventId::new(1, 4), head)), Some(vec![5]));
        // Events newer than `upto` are live, not replayed.
        assert_eq!(
            seqs(h.since(EventId::new(1, 2), EventId::new(1, 4))),
            Some(vec![3, 4])
        );
        assert_eq!(seqs(h.since(head, head)), Some(vec![]));
        assert_eq!(seqs(h.since(EventId::new(1, 1), head)), None);
        assert_eq!(seqs(h.since(EventId::new(0, 4), head)), None);
        assert_eq!(seqs(h.since(EventId::new(1, 6), head)), None);
        assert_eq!(h.find_key("k5"), Some(EventId::new(1, 5)));
        assert_eq!(h.find_key("k1"), None);
    }

    #[test]
    fn expires_by_age() {
        let mut h = History::new(10, Duration::from_millis(100));
        h.push(ev(1, 0));
        h.push(ev(2, 150));
        h.expire(200);
        assert_eq!(h.len(), 1);
        assert_eq!(seqs(h.since(EventId::new(1, 0), EventId::new(1, 2))), None);
        assert_eq!(
            seqs(h.since(EventId::new(1, 1), EventId::new(1, 2))),
            Some(vec![2])
        );
    }
}
