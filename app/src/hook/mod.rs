//! `use_sse`: a Server-Sent Events connection as Leptos signals.
//!
//! ```ignore
//! use app::hook::{use_sse_with_options, UseSseOptions};
//! use leptos::prelude::*;
//!
//! #[component]
//! fn Live() -> impl IntoView {
//!     let token = RwSignal::new(Some("jwt".to_string()));
//!     let sse = use_sse_with_options("/api/sse/stream", UseSseOptions {
//!         token: token.into(),
//!         ..Default::default()
//!     });
//!     let count = sse.events_received;
//!     view! { <p>{move || count.get()} " events"</p> }
//! }
//! ```
//!
//! On the server (SSR) the hook renders the disconnected state and never
//! touches browser APIs; in the browser it opens an `EventSource`, closes it
//! when the component unmounts, and reconnects with exponential backoff and
//! jitter, resuming from the last event id so nothing is lost.
//!
//! Reconnects are the hook's own, not the browser's: the delay grows to a
//! cap with jitter, starts from the server's `retry` hint, resets after a
//! stable period, and each attempt carries `lastEventId` and the current
//! token in the URL. A failed attempt is probed once with `fetch` to read
//! the status the `EventSource` API hides: 401, 403 and 204 stop retrying
//! with a clear error. Coming back online reconnects at once.
//!
//! Tabs of one origin that open the same stream share one upstream
//! connection (`share_across_tabs`, on by default): a leader tab elected
//! with Web Locks holds the `EventSource` and relays events and state to
//! the others over a `BroadcastChannel`; when it closes, the next tab takes
//! over and resumes from the last event id.

pub mod backoff;

use std::sync::Arc;

use leptos::prelude::*;
use serde::de::DeserializeOwned;

pub use self::backoff::Backoff;

/// Event types the hook listens to by default: every type the hub emits
/// by itself, from the protocol the hub is built with, so the two cannot
/// drift (a new hub event is heard without touching the hook).
pub const DEFAULT_EVENT_TYPES: &[&str] = sse_protocol::events::ALL;

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SseState {
    /// Not connected and not trying.
    #[default]
    Closed,
    /// Opening the stream.
    Connecting,
    /// The stream is open.
    Open,
    /// Waiting `delay_ms` before attempt `attempt`.
    Reconnecting {
        /// The attempt that will be made.
        attempt: u32,
        /// How long the wait is.
        delay_ms: u32,
    },
    /// Gave up (refused with 401/403/204, or out of attempts); the reason
    /// is in `error`.
    Failed,
}

impl SseState {
    /// A short label for badges.
    pub fn label(&self) -> String {
        match self {
            SseState::Closed => "closed".into(),
            SseState::Connecting => "connecting".into(),
            SseState::Open => "open".into(),
            SseState::Reconnecting { delay_ms, .. } => format!("reconnecting in {delay_ms} ms"),
            SseState::Failed => "failed".into(),
        }
    }
}

/// One received event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseMessage {
    /// The `event:` type (`message` when the server sent none).
    pub event_type: String,
    /// The `data:` payload.
    pub data: String,
    /// The `id:` of the event, if it had one.
    pub id: Option<String>,
}

impl SseMessage {
    /// Reads the payload as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.data)
    }
}

/// Settings of [`use_sse_with_options`].
#[derive(Clone)]
pub struct UseSseOptions {
    /// The JWT, read at every (re)connect so a refreshed token is used.
    pub token: Signal<Option<String>>,
    /// Server-side filter: only these event types are sent (empty: all).
    /// Read at every (re)connect; call `connect()` to apply a change now.
    pub events: Signal<Vec<String>>,
    /// Topics to subscribe to when connecting (read at every connect).
    pub topics: Signal<Vec<String>>,
    /// Session id sent to the hub.
    pub session_id: Option<String>,
    /// Extra query parameters, which the hub keeps as connection metadata.
    pub metadata: Vec<(String, String)>,
    /// Event types to listen to (plus any added with
    /// [`UseSseReturn::add_event_listener`]).
    pub listen: Vec<String>,
    /// Reconnect after errors.
    pub auto_reconnect: bool,
    /// Delays between attempts.
    pub backoff: Backoff,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
    /// After this long open, the attempt counter starts again from zero.
    pub stable_after_ms: u32,
    /// Connect as soon as the component mounts.
    pub immediate: bool,
    /// Called when the token expires or is refused; see [`TokenRefresh`].
    pub refresh_token: Option<TokenRefresh>,
    /// Tabs of this origin that open the same stream (same URL, user,
    /// filter and topics) share one upstream connection: one leader tab
    /// holds it and relays events to the others.
    pub share_across_tabs: bool,
}

impl Default for UseSseOptions {
    fn default() -> Self {
        Self {
            token: Signal::stored(None),
            events: Signal::stored(Vec::new()),
            topics: Signal::stored(Vec::new()),
            session_id: None,
            metadata: Vec::new(),
            listen: DEFAULT_EVENT_TYPES.iter().map(|s| s.to_string()).collect(),
            auto_reconnect: true,
            backoff: Backoff::default(),
            max_attempts: None,
            stable_after_ms: 5000,
            immediate: true,
            refresh_token: None,
            share_across_tabs: true,
        }
    }
}

type Handler = Arc<dyn Fn(&SseMessage) + Send + Sync>;

/// Fetches a fresh token when the hub says the current one expired (or
/// refuses it with 401). It should update the signal passed as
/// [`UseSseOptions::token`] and resolve to `true`; the hook then reconnects
/// from the last event id, so nothing is lost.
pub type TokenRefresh =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> + Send + Sync>;

/// A closure returned by the hook (`connect`, `disconnect`).
pub type Action = Arc<dyn Fn() + Send + Sync>;

/// What [`use_sse`] returns: signals to render and closures to act.
#[derive(Clone)]
pub struct UseSseReturn {
    /// The stream is open.
    pub is_connected: Signal<bool>,
    /// A connection attempt is under way.
    pub is_connecting: Signal<bool>,
    /// The full state.
    pub state: Signal<SseState>,
    /// The newest event.
    pub last_event: Signal<Option<SseMessage>>,
    /// The newest event id (what a reconnect resumes from).
    pub last_event_id: Signal<Option<String>>,
    /// The newest error, cleared when a connection opens.
    pub error: Signal<Option<String>>,
    /// Failed attempts since the last stable connection.
    pub reconnect_attempts: Signal<u32>,
    /// Events received since the hook was created.
    pub events_received: Signal<u64>,
    /// Opens the stream (closing any open one first).
    pub connect: Action,
    /// Closes the stream and cancels any pending reconnect.
    pub disconnect: Action,
    handlers: StoredValue<Vec<(u64, String, Handler)>>,
    next_handler: StoredValue<u64>,
    #[allow(dead_code)]
    ctx: Ctx,
}

impl UseSseReturn {
    /// Calls `handler` for every event of type `event_type` (`"*"`: every
    /// event). Returns a closure that removes the handler.
    pub fn add_event_listener(
        &self,
        event_type: impl Into<String>,
        handler: impl Fn(&SseMessage) + Send + Sync + 'static,
    ) -> impl Fn() + Clone + Send + Sync + 'static {
        let event_type = event_type.into();
        let id = self.next_handler.get_value();
        self.next_handler.set_value(id + 1);
        #[cfg(not(feature = "ssr"))]
        browser::listen_to(self.ctx, &event_type);
        self.handlers
            .update_value(|h| h.push((id, event_type, Arc::new(handler))));
        let handlers = self.handlers;
        move || handlers.update_value(|h| h.retain(|(i, _, _)| *i != id))
    }

    /// Like [`UseSseReturn::add_event_listener`], with the payload decoded
    /// as JSON into `T` (events that do not decode are skipped).
    pub fn on_json<T: DeserializeOwned + 'static>(
        &self,
        event_type: impl Into<String>,
        handler: impl Fn(T) + Send + Sync + 'static,
    ) -> impl Fn() + Clone + Send + Sync + 'static {
        self.add_event_listener(event_type, move |m| {
            if let Ok(v) = m.json::<T>() {
                handler(v)
            }
        })
    }
}

#[derive(Clone, Copy)]
#[cfg_attr(feature = "ssr", allow(dead_code))]
struct Ctx {
    url: StoredValue<String>,
    options: StoredValue<UseSseOptions>,
    state: RwSignal<SseState>,
    last_event: RwSignal<Option<SseMessage>>,
    last_event_id: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    attempts: RwSignal<u32>,
    received: RwSignal<u64>,
    handlers: StoredValue<Vec<(u64, String, Handler)>>,
    #[cfg(not(feature = "ssr"))]
    live: StoredValue<browser::Live, LocalStorage>,
}

/// [`use_sse_with_options`] with the defaults.
pub fn use_sse(url: impl Into<String>) -> UseSseReturn {
    use_sse_with_options(url, UseSseOptions::default())
}

/// Opens (in the browser) an SSE connection to `url` with `options`.
pub fn use_sse_with_options(url: impl Into<String>, options: UseSseOptions) -> UseSseReturn {
    let immediate = options.immediate;
    let ctx = Ctx {
        url: StoredValue::new(url.into()),
        options: StoredValue::new(options),
        state: RwSignal::new(SseState::Closed),
        last_event: RwSignal::new(None),
        last_event_id: RwSignal::new(None),
        error: RwSignal::new(None),
        attempts: RwSignal::new(0),
        received: RwSignal::new(0),
        handlers: StoredValue::new(Vec::new()),
        #[cfg(not(feature = "ssr"))]
        live: StoredValue::new_local(browser::Live::default()),
    };

    #[cfg(not(feature = "ssr"))]
    let (connect, disconnect): (Action, Action) = {
        Effect::new(move |_| {
            if immediate {
                browser::start(ctx);
            }
        });
        // A leader tab tells the others where the connection stands.
        Effect::new(move |_| {
            ctx.state.track();
            ctx.attempts.track();
            ctx.error.track();
            tabs::share_state(ctx);
        });
        on_cleanup(move || {
            browser::stop(ctx);
            browser::unwatch_online(ctx);
        });
        (
            Arc::new(move || browser::start(ctx)),
            Arc::new(move || browser::stop(ctx)),
        )
    };
    #[cfg(feature = "ssr")]
    let (connect, disconnect): (Action, Action) = {
        let _ = immediate;
        (Arc::new(|| {}), Arc::new(|| {}))
    };

    let state = ctx.state;
    UseSseReturn {
        is_connected: Signal::derive(move || state.get() == SseState::Open),
        is_connecting: Signal::derive(move || matches!(state.get(), SseState::Connecting)),
        state: state.into(),
        last_event: ctx.last_event.into(),
        last_event_id: ctx.last_event_id.into(),
        error: ctx.error.into(),
        reconnect_attempts: ctx.attempts.into(),
        events_received: ctx.received.into(),
        connect,
        disconnect,
        handlers: ctx.handlers,
        next_handler: StoredValue::new(0),
        ctx,
    }
}

/// Builds the stream URL with the token, filters, topics, metadata and the
/// id to resume from, all percent-encoded.
pub fn stream_url(
    base: &str,
    options: &UseSseOptions,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> String {
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(t) = token {
        params.push(("token".into(), t.into()));
    }
    let events = options.events.get_untracked();
    if !events.is_empty() {
        params.push(("events".into(), events.join(",")));
    }
    let topics = options.topics.get_untracked();
    if !topics.is_empty() {
        params.push(("topics".into(), topics.join(",")));
    }
    if let Some(s) = &options.session_id {
        params.push(("sessionId".into(), s.clone()));
    }
    if let Some(id) = last_event_id {
        params.push(("lastEventId".into(), id.into()));
    }
    params.extend(options.metadata.iter().cloned());
    if params.is_empty() {
        return base.to_string();
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", query.join("&"))
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(not(feature = "ssr"))]
mod browser;
#[cfg(not(feature = "ssr"))]
mod tabs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_everything() {
        Owner::new().with(url_cases);
    }

    fn url_cases() {
        let o = UseSseOptions {
            events: Signal::stored(vec!["a".into(), "b".into()]),
            topics: Signal::stored(vec!["t 1".into()]),
            metadata: vec![("room".into(), "x&y".into())],
            ..Default::default()
        };
        assert_eq!(
            stream_url("/s", &o, Some("tok"), Some("1-2")),
            "/s?token=tok&events=a%2Cb&topics=t%201&lastEventId=1-2&room=x%26y"
        );
        assert_eq!(
            stream_url(
                "/s",
                &UseSseOptions {
                    listen: vec![],
                    ..Default::default()
                },
                None,
                None
            ),
            "/s"
        );
    }
}
