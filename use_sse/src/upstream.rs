//! The hook's own connection to the hub: one `fetch` whose body is read as
//! an event stream with [`super::parser`]. Browser only.
//!
//! Why `fetch` and not `EventSource`: the token travels in an
//! `Authorization` header and the resume point in `Last-Event-ID`, so
//! neither lands in the URL (which proxies and access logs keep); a refused
//! stream's status and JSON error are read directly instead of probed with
//! a second request; and every event reaches the hook, whatever its type.
//!
//! This file knows nothing of the hook's state: it reports what happens to
//! the function it was opened with, and the controller decides.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

pub(super) use super::decide::Ending;
use super::parser::{Parsed, Parser};

/// What happens to an upstream, in order: `Opened`, any number of
/// `Parsed`, then one `Ended` (unless it was closed first).
pub(super) enum Report {
    /// The hub answered 200 with an event stream.
    Opened,
    /// An event or a `retry:` hint.
    Parsed(Parsed),
    /// The stream is over.
    Ended(Ending),
}

/// An open (or opening) stream. Dropping it closes it: no report follows.
pub(super) struct Upstream {
    abort: Option<AbortController>,
    closed: Rc<Cell<bool>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.closed.set(true);
        if let Some(a) = &self.abort {
            a.abort();
        }
    }
}

impl Upstream {
    /// Opens `url` with `headers` (and the page's cookies if
    /// `credentials`); `report` hears what happens. A stream resumed from
    /// `last_event_id` reports it on events without an id.
    pub(super) fn open(
        url: String,
        headers: Vec<(String, String)>,
        credentials: bool,
        last_event_id: Option<String>,
        report: impl Fn(Report) + 'static,
    ) -> Upstream {
        let closed = Rc::new(Cell::new(false));
        let abort = AbortController::new().ok();
        let signal = abort.as_ref().map(|a| a.signal());
        let flag = closed.clone();
        leptos::task::spawn_local(async move {
            let ending = read(
                &url,
                &headers,
                credentials,
                signal,
                last_event_id,
                &flag,
                &report,
            )
            .await;
            if !flag.get() {
                report(Report::Ended(ending));
            }
        });
        Upstream { abort, closed }
    }
}

async fn read(
    url: &str,
    headers: &[(String, String)],
    credentials: bool,
    signal: Option<web_sys::AbortSignal>,
    last_event_id: Option<String>,
    closed: &Cell<bool>,
    report: &impl Fn(Report),
) -> Ending {
    let lost = Ending::Lost;
    let Some(window) = web_sys::window() else {
        return lost;
    };
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_cache(web_sys::RequestCache::NoStore);
    if credentials {
        init.set_credentials(web_sys::RequestCredentials::Include);
    }
    init.set_signal(signal.as_ref());
    if let Ok(h) = Headers::new() {
        for (k, v) in headers {
            let _ = h.set(k, v);
        }
        init.set_headers(&h);
    }
    let response: Response = match JsFuture::from(window.fetch_with_str_and_init(url, &init)).await
    {
        Ok(r) => match r.dyn_into() {
            Ok(r) => r,
            Err(_) => return lost,
        },
        Err(_) => return lost,
    };
    let is_stream = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.starts_with("text/event-stream"));
    if response.status() != 200 || !is_stream {
        return refused(&response).await;
    }
    if closed.get() {
        return Ending::Lost;
    }
    report(Report::Opened);
    let Some(body) = response.body() else {
        return Ending::Lost;
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut parser = Parser::resuming(last_event_id.as_deref());
    let mut out = Vec::new();
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            break;
        };
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true)
        {
            break;
        }
        let Ok(value) = Reflect::get(&chunk, &"value".into()) else {
            break;
        };
        let bytes = Uint8Array::new(&value).to_vec();
        if parser.feed(&bytes, &mut out).is_err() {
            let _ = reader.cancel();
            break;
        }
        for p in out.drain(..) {
            if closed.get() {
                return Ending::Lost;
            }
            report(Report::Parsed(p));
        }
    }
    Ending::Lost
}

/// Reads a refusal: its status, the JSON body's `error` and `Retry-After`.
async fn refused(response: &Response) -> Ending {
    let status = response.status();
    let retry_after_ms = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map(|secs| secs.saturating_mul(1000));
    let mut message = String::new();
    if let Ok(p) = response.text() {
        if let Ok(text) = JsFuture::from(p).await {
            let text = text.as_string().unwrap_or_default();
            message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_default();
        }
    }
    if status == 200 {
        // 200 without an event stream: not a hub.
        message = "the answer was not an event stream".into();
    }
    Ending::Refused {
        status,
        message,
        retry_after_ms,
    }
}
