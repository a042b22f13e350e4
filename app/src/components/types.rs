//! What the dashboard keeps of the events it receives (the events' own
//! payloads are `sse_protocol`'s types).

/// A notification (also `system` messages and job results) shown in the
/// list and as a toast.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// Unique key (the event id).
    pub key: String,
    /// `info`, `success`, `warning` or `error`.
    pub level: String,
    /// The text.
    pub message: String,
    /// The event type it came from.
    pub source: String,
    /// Milliseconds from publish to this page, for live events.
    pub latency_ms: Option<u64>,
}

/// A job or long operation with its progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The job / operation id.
    pub id: String,
    /// 0–100.
    pub percentage: u8,
    /// The latest progress message.
    pub message: String,
    /// Whether `job.completed` arrived.
    pub done: bool,
}

/// One line of the raw event log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Running number (the log's key).
    pub seq: u64,
    /// The event id, if any.
    pub id: String,
    /// The event type.
    pub event_type: String,
    /// The payload.
    pub data: String,
}
