//! Everything the dashboard derives from the stream: the connection id,
//! notices and toasts (once per event id), jobs and their progress, the
//! event log. Plain signal updates with the clock passed in, so every rule
//! is tested natively; the page wires it to `use_sse` and takes toasts
//! down after a while.

use leptos::prelude::*;
use sse_protocol::{events, Connected, DataChange, JobCompleted, Notification, Progress};

use crate::components::types::{Job, LogEntry, Notice};
use use_sse::SseMessage;

const LOG_SIZE: usize = 100;
const NOTICES: usize = 50;

/// Everything the page derives from the stream.
#[derive(Clone, Copy)]
pub struct Feed {
    pub connection_id: RwSignal<Option<String>>,
    pub notices: RwSignal<Vec<Notice>>,
    pub toasts: RwSignal<Vec<Notice>>,
    pub jobs: RwSignal<Vec<Job>>,
    pub log: RwSignal<Vec<LogEntry>>,
    log_seq: StoredValue<u64>,
    /// System ticks (`metrics`) received: kept out of the log by default.
    pub ticks: RwSignal<u64>,
    /// Whether ticks go into the log too.
    pub show_ticks: RwSignal<bool>,
}

impl Feed {
    /// An empty feed.
    pub fn new() -> Self {
        Self {
            connection_id: RwSignal::new(None),
            notices: RwSignal::new(Vec::new()),
            toasts: RwSignal::new(Vec::new()),
            jobs: RwSignal::new(Vec::new()),
            log: RwSignal::new(Vec::new()),
            log_seq: StoredValue::new(0),
            ticks: RwSignal::new(0),
            show_ticks: RwSignal::new(false),
        }
    }

    /// What one event changes on the page (live, or refetched on `reset`),
    /// at `now_ms` (for the publish-to-screen latency); the key of the
    /// toast it raised, if any, for the page to take down later.
    pub fn apply(&self, m: &SseMessage, now_ms: u64) -> Option<String> {
        match m.event_type.as_str() {
            events::CONNECTED => {
                if let Ok(c) = m.json::<Connected>() {
                    self.connection_id.set(Some(c.connection_id));
                }
            }
            events::NOTIFICATION | events::SYSTEM => {
                if let Ok(d) = m.json::<Notification>() {
                    // Publish to screen: the hub's timestamp against this
                    // page's clock (one machine in the demo); replays and
                    // refetches are older than a minute and show none.
                    let latency = now_ms.saturating_sub(d.timestamp);
                    let latency = (latency < 60_000).then_some(latency);
                    return self.notify_timed(m, d.level.as_str(), d.message, latency);
                }
            }
            events::DATA_CHANGE => {
                if let Ok(d) = m.json::<DataChange>() {
                    let action = d.action.as_str();
                    return self.notify(m, "info", format!("{} {} was {action}", d.entity, d.id));
                }
            }
            events::JOB_COMPLETED => {
                if let Ok(d) = m.json::<JobCompleted>() {
                    self.completed(&d);
                    let level = if d.result == "success" {
                        "success"
                    } else {
                        "error"
                    };
                    return self.notify(
                        m,
                        level,
                        format!("Job {} finished: {}", d.job_id, d.result),
                    );
                }
            }
            events::PROGRESS => {
                if let Ok(p) = m.json::<Progress>() {
                    self.progress(p);
                }
            }
            _ => {}
        }
        None
    }

    /// Adds `m` to the event log (ticks only when asked for).
    pub fn log(&self, m: &SseMessage) {
        if m.event_type == events::METRICS {
            self.ticks.update(|n| *n += 1);
            if !self.show_ticks.get_untracked() {
                return;
            }
        }
        let seq = self.log_seq.get_value() + 1;
        self.log_seq.set_value(seq);
        let entry = LogEntry {
            seq,
            id: m.id.clone().unwrap_or_default(),
            event_type: m.event_type.clone(),
            data: m.data.clone(),
        };
        self.log.update(|l| {
            l.insert(0, entry);
            l.truncate(LOG_SIZE);
        });
    }

    /// A notice (and a toast) for `m`, once per event id; the toast's key.
    pub fn notify(&self, m: &SseMessage, level: &str, message: String) -> Option<String> {
        self.notify_timed(m, level, message, None)
    }

    fn notify_timed(
        &self,
        m: &SseMessage,
        level: &str,
        message: String,
        latency_ms: Option<u64>,
    ) -> Option<String> {
        if let Some(id) = &m.id {
            if self
                .notices
                .with_untracked(|n| n.iter().any(|x| &x.key == id))
            {
                return None;
            }
        }
        let notice = Notice {
            key: m
                .id
                .clone()
                .unwrap_or_else(|| format!("local-{}", self.log_seq.get_value())),
            level: level.to_string(),
            message,
            source: m.event_type.clone(),
            latency_ms,
        };
        self.notices.update(|n| {
            n.insert(0, notice.clone());
            n.truncate(NOTICES);
        });
        let key = notice.key.clone();
        self.toasts.update(|t| t.push(notice));
        Some(key)
    }

    /// Takes the toast `key` down.
    pub fn expire_toast(&self, key: &str) {
        self.toasts.update(|t| t.retain(|n| n.key != key));
    }

    fn progress(&self, p: Progress) {
        self.jobs.update(
            |jobs| match jobs.iter_mut().find(|j| j.id == p.operation_id) {
                Some(j) if !j.done => {
                    j.percentage = j.percentage.max(p.percentage.min(100));
                    j.message = p.message;
                }
                Some(_) => {}
                None => jobs.insert(
                    0,
                    Job {
                        id: p.operation_id,
                        percentage: p.percentage.min(100),
                        message: p.message,
                        done: false,
                    },
                ),
            },
        );
    }

    fn completed(&self, c: &JobCompleted) {
        self.jobs
            .update(|jobs| match jobs.iter_mut().find(|j| j.id == c.job_id) {
                Some(j) => {
                    j.done = true;
                    j.percentage = 100;
                    j.message = format!("finished: {}", c.result);
                }
                None => jobs.insert(
                    0,
                    Job {
                        id: c.job_id.clone(),
                        percentage: 100,
                        message: format!("finished: {}", c.result),
                        done: true,
                    },
                ),
            });
    }
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(event: &str, id: &str, data: serde_json::Value) -> SseMessage {
        SseMessage {
            event_type: event.into(),
            data: data.to_string(),
            id: Some(id.into()),
        }
    }

    /// Signals need an owner (and, on the server build, its arena).
    fn within<T>(f: impl FnOnce() -> T) -> T {
        Owner::new_root(None).with(f)
    }

    #[test]
    fn a_notice_shows_once_per_event_id_with_its_latency() {
        within(notice_once);
    }

    fn notice_once() {
        let feed = Feed::new();
        let n = msg(
            events::NOTIFICATION,
            "1-5",
            serde_json::json!({"level": "info", "message": "hi", "timestamp": 1_000}),
        );
        assert_eq!(feed.apply(&n, 1_250), Some("1-5".into()));
        // A replay or a refetch of the same event: nothing new.
        assert_eq!(feed.apply(&n, 90_000), None);
        let notices = feed.notices.get_untracked();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].latency_ms, Some(250));
        assert_eq!(feed.toasts.get_untracked().len(), 1);
        feed.expire_toast("1-5");
        assert!(feed.toasts.get_untracked().is_empty());
    }

    #[test]
    fn progress_only_rises_and_a_finished_job_stays_finished() {
        within(progress_rises);
    }

    fn progress_rises() {
        let feed = Feed::new();
        let p = |pct: u32, id: &str| {
            msg(
                events::PROGRESS,
                id,
                serde_json::json!({"operationId": "job", "percentage": pct, "message": "m"}),
            )
        };
        feed.apply(&p(40, "1-1"), 0);
        feed.apply(&p(20, "1-2"), 0);
        assert_eq!(feed.jobs.get_untracked()[0].percentage, 40);
        feed.apply(&p(250, "1-3"), 0);
        assert_eq!(feed.jobs.get_untracked()[0].percentage, 100);
        let done = msg(
            events::JOB_COMPLETED,
            "1-4",
            serde_json::json!({"jobId": "job", "result": "success"}),
        );
        assert!(feed.apply(&done, 0).is_some());
        feed.apply(&p(10, "1-5"), 0);
        let job = &feed.jobs.get_untracked()[0];
        assert!(job.done && job.percentage == 100, "{job:?}");
    }

    #[test]
    fn ticks_stay_out_of_the_log_unless_asked_for_and_the_log_is_bounded() {
        within(ticks_and_bound);
    }

    fn ticks_and_bound() {
        let feed = Feed::new();
        let tick = msg(events::METRICS, "1-1", serde_json::json!({}));
        feed.log(&tick);
        assert_eq!(feed.ticks.get_untracked(), 1);
        assert!(feed.log.get_untracked().is_empty());
        feed.show_ticks.set(true);
        feed.log(&tick);
        assert_eq!(feed.log.get_untracked().len(), 1);
        for i in 0..(LOG_SIZE + 20) {
            feed.log(&msg("custom", &format!("2-{i}"), serde_json::json!(i)));
        }
        let log = feed.log.get_untracked();
        assert_eq!(log.len(), LOG_SIZE);
        assert_eq!(log[0].id, format!("2-{}", LOG_SIZE + 19), "newest first");
    }
}
