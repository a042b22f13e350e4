//! The memory broker's replay history, one bounded log per channel
//! (see [`super::channel`]).
//!
//! Each channel keeps its newest `max_len` events younger than `max_age`,
//! and remembers the newest id it ever evicted. A resume after id `a` over
//! some channels is complete only if none of them evicted anything newer
//! than `a`; then the missed events are merged in id order. Otherwise the
//! client gets a `reset`, because the hub can no longer promise
//! completeness. Channels that empty out are dropped; what they evicted is
//! kept in one floor id, so a dropped channel can never make a resume look
//! complete when it is not.
//!
//! Idempotency keys live apart from the logs, for the history age (as the
//! Redis broker keeps them), not for as long as their event stays in some
//! channel: an event sent to many users leaves a busy user's log early,
//! and a publisher retrying within the age must still get a duplicate, not
//! a second event. They are bounded in number ([`MAX_KEYS`], oldest
//! forgotten first).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::channel::Channel;
use super::contract::Replay;
use crate::event::{Event, EventId};

/// Most idempotency keys held; beyond, the oldest is forgotten.
pub(crate) const MAX_KEYS: usize = 100_000;

/// One channel's events, oldest first.
#[derive(Debug)]
struct Log {
    events: VecDeque<Arc<Event>>,
    /// The newest id this channel evicted (or the floor when it was made).
    evicted: EventId,
}

#[derive(Debug)]
pub(crate) struct History {
    channels: HashMap<Channel, Log>,
    by_key: HashMap<String, EventId>,
    /// The keys in the order they came, with their event's time, for
    /// expiry and the bound.
    key_order: VecDeque<(u64, String, EventId)>,
    /// The newest id any dropped channel had evicted.
    floor: EventId,
    /// Events held, summed over channels.
    held: usize,
    max_len: usize,
    max_age_ms: u64,
    max_channels: usize,
}

impl History {
    pub(crate) fn new(max_len: usize, max_age: Duration, max_channels: usize) -> Self {
        Self {
            channels: HashMap::new(),
            by_key: HashMap::new(),
            key_order: VecDeque::new(),
            floor: EventId::new(0, 0),
            held: 0,
            max_len,
            max_age_ms: max_age.as_millis() as u64,
            max_channels: max_channels.max(1),
        }
    }

    pub(crate) fn push(&mut self, event: Arc<Event>) {
        if self.max_len == 0 {
            return;
        }
        let channels = Channel::of_target(&event.target);
        if channels.is_empty() {
            return;
        }
        if let Some(k) = &event.idempotency_key {
            self.by_key.insert(k.clone(), event.id);
            self.key_order
                .push_back((event.published_ms, k.clone(), event.id));
            if self.key_order.len() > MAX_KEYS {
                self.forget_oldest_key();
            }
        }
        let floor = self.floor;
        for ch in channels {
            let log = self.channels.entry(ch).or_insert_with(|| Log {
                events: VecDeque::new(),
                evicted: floor,
            });
            log.events.push_back(event.clone());
            self.held += 1;
            if log.events.len() > self.max_len {
                if let Some(old) = log.events.pop_front() {
                    log.evicted = log.evicted.max(old.id);
                    self.held -= 1;
                }
            }
        }
        if self.channels.len() > self.max_channels {
            self.drop_stalest();
        }
    }

    /// Over the channel cap: drops the tenth of channels whose newest
    /// event is oldest (one scan for many inserts).
    fn drop_stalest(&mut self) {
        let mut newest: Vec<(EventId, Channel)> = self
            .channels
            .iter()
            .map(|(c, l)| (l.events.back().map_or(l.evicted, |e| e.id), c.clone()))
            .collect();
        let n = (self.channels.len() / 10).max(1);
        newest.select_nth_unstable_by_key(n - 1, |(id, _)| *id);
        for (_, ch) in newest.into_iter().take(n) {
            self.drop_channel(&ch);
        }
    }

    fn drop_channel(&mut self, ch: &Channel) {
        if let Some(log) = self.channels.remove(ch) {
            let newest = log.events.back().map_or(log.evicted, |e| e.id);
            self.floor = self.floor.max(newest);
            self.held -= log.events.len();
        }
    }

    /// Drops events older than the age limit, and channels left empty.
    pub(crate) fn expire(&mut self, now_ms: u64) {
        let max_age = self.max_age_ms;
        let mut emptied = Vec::new();
        for (ch, log) in self.channels.iter_mut() {
            while let Some(front) = log.events.front() {
                if now_ms.saturating_sub(front.published_ms) <= max_age {
                    break;
                }
                let old = log.events.pop_front().expect("front exists");
                log.evicted = log.evicted.max(old.id);
                self.held -= 1;
            }
            if log.events.is_empty() {
                emptied.push(ch.clone());
            }
        }
        for ch in emptied {
            self.drop_channel(&ch);
        }
        while self
            .key_order
            .front()
            .is_some_and(|(at, _, _)| now_ms.saturating_sub(*at) > max_age)
        {
            self.forget_oldest_key();
        }
    }

    fn forget_oldest_key(&mut self) {
        if let Some((_, k, id)) = self.key_order.pop_front() {
            // A key published again later points at the newer event.
            if self.by_key.get(&k) == Some(&id) {
                self.by_key.remove(&k);
            }
        }
    }

    /// The id a publish with this idempotency key already got, if still held.
    pub(crate) fn find_key(&self, key: &str) -> Option<EventId> {
        self.by_key.get(key).copied()
    }

    /// Events held, summed over channels.
    pub(crate) fn len(&self) -> usize {
        self.held
    }

    /// Channels held.
    #[cfg(test)]
    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// What a connection reading `channels` missed after `after`, up to
    /// and including `upto` (an id handed out already), merged in id order.
    pub(crate) fn since(&self, after: EventId, upto: EventId, channels: &[Channel]) -> Replay {
        if after.epoch != upto.epoch || after > upto {
            return Replay::Gap;
        }
        if after == upto {
            return Replay::Events(Vec::new());
        }
        let mut out = Vec::new();
        for ch in channels {
            match self.channels.get(ch) {
                Some(log) => {
                    if log.evicted > after {
                        return Replay::Gap;
                    }
                    let from = log.events.partition_point(|e| e.id <= after);
                    out.extend(
                        log.events
                            .range(from..)
                            .take_while(|e| e.id <= upto)
                            .cloned(),
                    );
                }
                None if self.floor > after => return Replay::Gap,
                None => {}
            }
        }
        out.sort_by_key(|e| e.id);
        out.dedup_by_key(|e| e.id);
        Replay::Events(out)
    }

    /// The newest `limit` events up to `upto` over `channels`, oldest first.
    pub(crate) fn recent(
        &self,
        channels: &[Channel],
        upto: EventId,
        limit: usize,
    ) -> Vec<Arc<Event>> {
        let mut out = Vec::new();
        for ch in channels {
            if let Some(log) = self.channels.get(ch) {
                let end = log.events.partition_point(|e| e.id <= upto);
                out.extend(log.events.range(end.saturating_sub(limit)..end).cloned());
            }
        }
        out.sort_by_key(|e| e.id);
        out.dedup_by_key(|e| e.id);
        let skip = out.len().saturating_sub(limit);
        out.drain(..skip);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventName, Target, Topic, UserId};
    use bytes::Bytes;

    fn ev(seq: u64, at: u64, target: Target) -> Arc<Event> {
        Arc::new(Event {
            id: EventId::new(1, seq),
            name: EventName::new("x").unwrap(),
            target,
            audience: None,
            frame: Bytes::new(),
            published_ms: at,
            idempotency_key: Some(format!("k{seq}")),
        })
    }

    fn all() -> Target {
        Target::all()
    }

    fn user(u: &str) -> Target {
        Target::User(UserId::new(u).unwrap())
    }

    fn topic(t: &str) -> Target {
        Target::Topic(Topic::new(t).unwrap())
    }

    fn reader(u: &str, topics: &[&str]) -> Vec<Channel> {
        let topics: Vec<Topic> = topics.iter().map(|t| Topic::new(t).unwrap()).collect();
        Channel::of_connection(&UserId::new(u).unwrap(), &topics)
    }

    fn seqs(r: Replay) -> Option<Vec<u64>> {
        match r {
            Replay::Events(v) => Some(v.iter().map(|e| e.id.seq).collect()),
            Replay::Gap => None,
        }
    }

    #[test]
    fn replays_after_id_and_reports_gaps() {
        let mut h = History::new(3, Duration::from_secs(10), 100);
        for s in 1..=5 {
            h.push(ev(s, 0, all()));
        }
        let head = EventId::new(1, 5);
        let ann = reader("ann", &[]);
        assert_eq!(
            seqs(h.since(EventId::new(1, 2), head, &ann)),
            Some(vec![3, 4, 5])
        );
        assert_eq!(seqs(h.since(EventId::new(1, 4), head, &ann)), Some(vec![5]));
        assert_eq!(seqs(h.since(head, head, &ann)), Some(vec![]));
        assert_eq!(seqs(h.since(EventId::new(1, 1), head, &ann)), None);
        assert_eq!(seqs(h.since(EventId::new(0, 4), head, &ann)), None);
        assert_eq!(seqs(h.since(EventId::new(1, 6), head, &ann)), None);
        // Events newer than `upto` are live, not replayed.
        assert_eq!(
            seqs(h.since(EventId::new(1, 2), EventId::new(1, 4), &ann)),
            Some(vec![3, 4])
        );
        // Keys live for the age, whatever left the logs (as on Redis).
        assert_eq!(h.find_key("k5"), Some(EventId::new(1, 5)));
        assert_eq!(h.find_key("k1"), Some(EventId::new(1, 1)));
        h.expire(10_001);
        assert_eq!(h.find_key("k1"), None);
        assert_eq!(h.find_key("k5"), None);
    }

    #[test]
    fn a_busy_channel_does_not_evict_a_quiet_one() {
        let mut h = History::new(3, Duration::from_secs(10), 100);
        h.push(ev(1, 0, user("ann")));
        for s in 2..=40 {
            h.push(ev(s, 0, topic("busy")));
        }
        h.push(ev(41, 0, topic("other")));
        let head = EventId::new(1, 41);
        // Ann (not on `busy`) resumes from before her event: complete.
        assert_eq!(
            seqs(h.since(EventId::new(1, 0), head, &reader("ann", &["other"]))),
            Some(vec![1, 41])
        );
        // A reader of `busy` from that far back gets a reset.
        assert_eq!(
            seqs(h.since(EventId::new(1, 0), head, &reader("bob", &["busy"]))),
            None
        );
        assert_eq!(
            seqs(h.since(EventId::new(1, 37), head, &reader("bob", &["busy"]))),
            Some(vec![38, 39, 40])
        );
        assert_eq!(h.len(), 1 + 3 + 1);
    }

    #[test]
    fn dropped_channels_raise_the_floor() {
        let mut h = History::new(10, Duration::from_millis(100), 100);
        h.push(ev(1, 0, user("ann")));
        h.push(ev(2, 150, user("bob")));
        h.expire(200);
        assert_eq!(h.channel_count(), 1);
        // Ann's channel is gone with an event after 0: no promise.
        assert_eq!(
            seqs(h.since(EventId::new(1, 0), EventId::new(1, 2), &reader("ann", &[]))),
            None
        );
        assert_eq!(
            seqs(h.since(EventId::new(1, 1), EventId::new(1, 2), &reader("bob", &[]))),
            Some(vec![2])
        );
    }

    #[test]
    fn the_channel_cap_drops_the_stalest() {
        let mut h = History::new(10, Duration::from_secs(10), 10);
        for s in 1..=11 {
            h.push(ev(s, 0, user(&format!("u{s}"))));
        }
        assert_eq!(h.channel_count(), 10);
        assert_eq!(
            seqs(h.since(EventId::new(1, 0), EventId::new(1, 11), &reader("u1", &[]))),
            None
        );
        assert_eq!(
            seqs(h.since(EventId::new(1, 1), EventId::new(1, 11), &reader("u11", &[]))),
            Some(vec![11])
        );
    }

    #[test]
    fn recent_merges_channels_newest_last() {
        let mut h = History::new(10, Duration::from_secs(10), 100);
        for s in 1..=6 {
            h.push(ev(s, 0, topic(if s % 2 == 0 { "a" } else { "b" })));
        }
        let chans = vec![
            Channel::Topic(Topic::new("a").unwrap()),
            Channel::Topic(Topic::new("b").unwrap()),
        ];
        let ids: Vec<u64> = h
            .recent(&chans, EventId::new(1, 5), 3)
            .iter()
            .map(|e| e.id.seq)
            .collect();
        assert_eq!(ids, vec![3, 4, 5]);
    }
}
