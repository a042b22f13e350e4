//! An event as it is stored in a Redis stream entry (`n` name, `d` data,
//! `t` target as JSON, `a` audience as JSON or empty; in the tailed stream
//! also `p`, the id of the entry before it), and back.

use std::collections::HashMap;
use std::sync::Arc;

use redis::streams::StreamId;
use redis::Value;

use super::link::unreadable;
use crate::error::HubError;
use crate::event::{Event, EventId, EventName, NewEvent, Target, UserId};
use crate::wire;

/// An event as stored in the stream.
#[derive(Debug, Clone)]
pub(super) struct StoredEvent {
    pub(super) id: EventId,
    name: EventName,
    data: String,
    target: Target,
    audience: Option<Vec<UserId>>,
}

impl StoredEvent {
    /// The event as the hub delivers it (its frame encoded once).
    pub(super) fn into_event(self) -> Arc<Event> {
        let new = NewEvent {
            name: self.name,
            data: self.data,
            target: self.target,
            audience: self.audience,
            idempotency_key: None,
        };
        Arc::new(wire::published(self.id, new, self.id.epoch))
    }
}

/// The fields of a new entry: target and audience as JSON. An audience
/// that cannot be encoded refuses the publish: storing it empty would
/// drop the restriction.
pub(super) fn encode(ev: &NewEvent) -> Result<[String; 2], HubError> {
    let target = serde_json::to_string(&ev.target)
        .map_err(|e| super::link::failed("encoding a target", e))?;
    let audience = match &ev.audience {
        Some(a) => {
            serde_json::to_string(a).map_err(|e| super::link::failed("encoding an audience", e))?
        }
        None => String::new(),
    };
    Ok([target, audience])
}

pub(super) fn parse_id(s: &str) -> Result<EventId, HubError> {
    s.parse()
        .map_err(|_| unreadable(format!("unexpected stream id {s:?}")))
}

fn field(map: &HashMap<String, Value>, k: &str) -> String {
    match map.get(k) {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The id of the entry before this one in the tailed stream (`p`), if the
/// entry names it (entries written before it was recorded do not).
pub(super) fn prev_of(entry: &StreamId) -> Option<EventId> {
    match entry.map.get("p") {
        Some(Value::BulkString(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Reads a stream entry back.
pub(super) fn decode(entry: &StreamId) -> Result<StoredEvent, HubError> {
    let id = parse_id(&entry.id)?;
    let bad = |what: &str| unreadable(format!("stream entry {} has a bad {what}", entry.id));
    let name = EventName::new(field(&entry.map, "n")).map_err(|_| bad("name"))?;
    let target: Target =
        serde_json::from_str(&field(&entry.map, "t")).map_err(|_| bad("target"))?;
    let a = field(&entry.map, "a");
    let audience = if a.is_empty() {
        None
    } else {
        Some(serde_json::from_str(&a).map_err(|_| bad("audience"))?)
    };
    Ok(StoredEvent {
        id,
        name,
        data: field(&entry.map, "d"),
        target,
        audience,
    })
}
