//! The `text/event-stream` parser the hook reads its stream with, after the
//! WHATWG HTML standard's "event stream interpretation": lines end in CR,
//! LF or CRLF (also split across chunks), a leading BOM is dropped, `:`
//! starts a comment, `data` lines join with LF, `id` persists across events
//! (and is ignored if it holds NUL), `retry` takes digits only, and an event
//! with no data is not dispatched. Pure Rust, so it is tested natively
//! against the hub's own encoder.
//!
//! Reading the stream with `fetch` instead of `EventSource` is what lets the
//! hook send its token in a header (never in the URL), read the status of a
//! refused stream directly, and hear every event type, named or not.

use super::message::SseMessage;

/// What a chunk of the stream yields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A complete event.
    Event(SseMessage),
    /// A `retry:` field: the server's reconnect delay, milliseconds.
    Retry(u32),
}

/// The stream sent a line (or one event's data) longer than the parser
/// will hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// An incremental parser: feed it chunks as they arrive.
#[derive(Debug)]
pub struct Parser {
    /// The unfinished line.
    line: Vec<u8>,
    /// The last chunk ended in CR: an LF starting the next one belongs to it.
    after_cr: bool,
    /// Nothing read yet (a BOM may come).
    at_start: bool,
    event_type: String,
    data: String,
    /// Whether a `data` field was seen for the pending event.
    has_data: bool,
    last_event_id: String,
    max_line: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new(Self::MAX_LINE)
    }
}

impl Parser {
    /// Lines longer than this end the stream with [`TooLong`]: 16 MiB,
    /// far above any event the hub sends (64 KiB by default).
    pub const MAX_LINE: usize = 16 * 1024 * 1024;

    /// A parser for a new stream; lines over `max_line` bytes are refused.
    pub fn new(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event_type: String::new(),
            data: String::new(),
            has_data: false,
            last_event_id: String::new(),
            max_line,
        }
    }

    /// A parser that starts with a known last event id (a resumed stream:
    /// events without an `id:` line still report it).
    pub fn resuming(last_event_id: Option<&str>) -> Self {
        Self {
            last_event_id: last_event_id.unwrap_or_default().to_string(),
            ..Self::default()
        }
    }

    /// Parses `chunk`, appending what it completes to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<Parsed>) -> Result<(), TooLong> {
        if self.at_start && !chunk.is_empty() {
            // A BOM may itself arrive split; only a whole one is dropped.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let have = self.line.len() + chunk.len();
            if have < BOM.len() && BOM.starts_with(&[&self.line[..], chunk].concat()) {
                self.line.extend_from_slice(chunk);
                return Ok(());
            }
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(chunk);
            self.at_start = false;
            let rest = head.strip_prefix(BOM).unwrap_or(&head).to_vec();
            return self.feed(&rest, out);
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&chunk[..end]);
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out)?;
            let cr = chunk[end] == b'\r';
            chunk = &chunk[end + 1..];
            if cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
        }
        self.line.extend_from_slice(chunk);
        if self.line.len() > self.max_line {
            return Err(TooLong);
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Parsed>) -> Result<(), TooLong> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event_type = value.into_owned(),
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
                if self.data.len() > self.max_line {
                    return Err(TooLong);
                }
            }
            b"id" if !value.contains('\0') => self.last_event_id = value.into_owned(),
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse() {
                    out.push(Parsed::Retry(ms));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<Parsed>) {
        let event_type = std::mem::take(&mut self.event_type);
        if !self.has_data {
            return;
        }
        self.has_data = false;
        out.push(Parsed::Event(SseMessage {
            event_type: if event_type.is_empty() {
                "message".to_string()
            } else {
                event_type
            },
            data: std::mem::take(&mut self.data),
            id: (!self.last_event_id.is_empty()).then(|| self.last_event_id.clone()),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_chunks(bytes: &[u8], size: usize) -> Vec<Parsed> {
        let mut p = Parser::default();
        let mut out = Vec::new();
        for c in bytes.chunks(size.max(1)) {
            p.feed(c, &mut out).unwrap();
        }
        out
    }

    fn ev(t: &str, d: &str, id: Option<&str>) -> Parsed {
        Parsed::Event(SseMessage {
            event_type: t.into(),
            data: d.into(),
            id: id.map(str::to_string),
        })
    }

    #[test]
    fn follows_the_spec_whatever_the_chunking() {
        let stream = b"\xEF\xBB\xBF: hello\r\nretry: 2500\nretry: 1x\n\nid: 7\nevent: a\ndata: one\r\ndata:two\r\rdata\n\n:beat\n\ndata: no type\n\nevent: empty\n\nid: 8\0\ndata: nul id ignored\n\n";
        let want = vec![
            Parsed::Retry(2500),
            ev("a", "one\ntwo", Some("7")),
            ev("message", "", Some("7")),
            ev("message", "no type", Some("7")),
            ev("message", "nul id ignored", Some("7")),
        ];
        for size in 1..stream.len() {
            assert_eq!(parse_in_chunks(stream, size), want, "chunks of {size}");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_refused() {
        let mut p = Parser::new(8);
        let mut out = Vec::new();
        assert_eq!(p.feed(b"data: 1234", &mut out), Err(TooLong));
        let mut p = Parser::new(8);
        assert_eq!(p.feed(b"data: 1\n\n", &mut out), Ok(()));
        // Many short data lines are one event's data: bounded too.
        let mut p = Parser::new(8);
        assert_eq!(p.feed(b"data: 1234\ndata: 5678\n", &mut out), Err(TooLong));
    }

    #[test]
    fn a_resumed_stream_reports_the_id_it_resumed_from() {
        let mut p = Parser::resuming(Some("5-1"));
        let mut out = Vec::new();
        p.feed(b"event: x\ndata: {}\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("x", "{}", Some("5-1"))]);
    }
}
