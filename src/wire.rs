//! The one encoder for `text/event-stream`.
//!
//! Every byte the hub writes to a stream comes from here. Header fields
//! (`id:`, `event:`) only take validated types that cannot hold CR, LF or NUL;
//! the payload is split on every line ending the SSE spec knows (CRLF, LF, CR)
//! into one `data:` line each, so a parser following the spec gets back the
//! payload with its line breaks as LF, and nothing else.

use bytes::{BufMut, Bytes, BytesMut};

use crate::event::{Event, EventId, EventName, NewEvent};

/// The published form of `new`: its id, and its frame encoded once for
/// every connection it will be queued to.
pub fn published(id: EventId, new: NewEvent, published_ms: u64) -> Event {
    Event {
        id,
        frame: event_frame(Some(id), Some(&new.name), &new.data),
        name: new.name,
        target: new.target,
        audience: new.audience,
        published_ms,
        idempotency_key: new.idempotency_key,
    }
}

/// The `data` of an encoded event frame, as a client would read it
/// (its `data:` lines joined with LF).
pub fn data_of(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame);
    let mut out: Option<String> = None;
    for line in text.split('\n') {
        if let Some(d) = line.strip_prefix("data:") {
            let d = d.strip_prefix(' ').unwrap_or(d);
            match &mut out {
                Some(o) => {
                    o.push('\n');
                    o.push_str(d);
                }
                None => out = Some(d.to_string()),
            }
        }
    }
    out.unwrap_or_default()
}

/// A frame that only sets the client's last event id (no event is
/// dispatched for it).
pub fn id_frame(id: EventId) -> Bytes {
    Bytes::from(format!("id: {id}\n\n"))
}

/// Encodes one event frame. `id` and `name` are optional, as in the spec.
pub fn event_frame(id: Option<EventId>, name: Option<&EventName>, data: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(data.len() + 64);
    if let Some(id) = id {
        buf.put_slice(b"id: ");
        buf.put_slice(id.to_string().as_bytes());
        buf.put_u8(b'\n');
    }
    if let Some(name) = name {
        buf.put_slice(b"event: ");
        buf.put_slice(name.as_str().as_bytes());
        buf.put_u8(b'\n');
    }
    put_data(&mut buf, data);
    buf.put_u8(b'\n');
    buf.freeze()
}

fn put_data(buf: &mut BytesMut, data: &str) {
    let bytes = data.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                put_line(buf, &bytes[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                put_line(buf, &bytes[start..i]);
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    put_line(buf, &bytes[start..]);
}

fn put_line(buf: &mut BytesMut, line: &[u8]) {
    buf.put_slice(b"data: ");
    buf.put_slice(line);
    buf.put_u8(b'\n');
}

/// `frame` (from [`event_frame`]) with a `retry:` field in the same block,
/// so the hint travels with that event.
pub fn with_retry(retry_ms: u64, frame: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(frame.len() + 24);
    buf.put_slice(format!("retry: {retry_ms}\n").as_bytes());
    buf.put_slice(frame);
    buf.freeze()
}

/// A comment line (ignored by clients, keeps proxies and NATs awake).
/// Line breaks in `text` are replaced by spaces.
pub fn comment_frame(text: &str) -> Bytes {
    let clean: String = text
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    Bytes::from(format!(":{clean}\n\n"))
}

/// The heartbeat comment, `:heartbeat <unix-ms>`.
pub fn heartbeat_frame(unix_ms: u64) -> Bytes {
    Bytes::from(format!(":heartbeat {unix_ms}\n\n"))
}

/// A frame of one of the hub's own events (`connected`, `reset`,
/// `shutdown`, ...): a known name and a payload that always serializes.
pub fn control_frame(id: Option<EventId>, name: &str, data: &impl serde::Serialize) -> Bytes {
    let name = EventName::new(name).expect("control event names are valid");
    let data = serde_json::to_string(data).expect("control payloads serialize");
    event_frame(id, Some(&name), &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_look_like_the_spec() {
        let name = EventName::new("progress").unwrap();
        let f = event_frame(Some(EventId::new(5, 7)), Some(&name), "a\nb\r\nc\rd");
        assert_eq!(
            &f[..],
            b"id: 5-7\nevent: progress\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(&event_frame(None, None, "")[..], b"data: \n\n");
        assert_eq!(&comment_frame("x\ny")[..], b":x y\n\n");
        assert_eq!(
            &with_retry(9, &event_frame(None, None, "x"))[..],
            b"retry: 9\ndata: x\n\n"
        );
    }
}
