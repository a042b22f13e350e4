//! `use_sse`: a Server-Sent Events connection as Leptos signals.
//!
//! ```no_run
//! use use_sse::{use_sse_with_options, UseSseOptions};
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
//! touches browser APIs; in the browser it reads the stream with `fetch`
//! (see `upstream.rs` for why not `EventSource`), closes it when the
//! component unmounts, and reconnects with exponential backoff and jitter,
//! resuming from the last event id so nothing is lost.
//!
//! The token goes in an `Authorization: Bearer` header and the resume
//! point in `Last-Event-ID`: never in the URL, where proxies and access
//! logs would keep them. The delay between attempts grows to a cap with
//! jitter, starts from the server's `retry` hint, honours `Retry-After` on
//! 429/503, and resets after a stable period. 401 refreshes the token once
//! (see [`UseSseOptions::refresh_token`]); the statuses in
//! [`decide::FINAL_STATUSES`] stop retrying with a typed [`SseError`]
//! ([`decide::on_end`] makes that decision, tested natively). Coming back
//! online reconnects at once.
//!
//! Tabs of one origin that open the same stream share one upstream
//! connection (`share_across_tabs`, on by default): a leader tab elected
//! with Web Locks holds the stream and relays events and state to the
//! others over a `BroadcastChannel`; when it closes, the next tab takes
//! over and resumes from the last event id.
//!
//! Files: `message` (what the hook reports), `options`, `parser` (the
//! event-stream parser), `backoff`, `ctx` (what a hook holds), and in the
//! browser `controller` (every state change, own upstream vs follower tab),
//! `upstream` (the `fetch` stream) and `tabs` (the election); the last two
//! only report to the controller.

pub mod backoff;
mod ctx;
pub mod decide;
mod message;
mod options;
pub mod parser;

#[cfg(not(feature = "ssr"))]
mod controller;
#[cfg(not(feature = "ssr"))]
mod tabs;
#[cfg(not(feature = "ssr"))]
mod upstream;

use std::sync::Arc;

use leptos::prelude::*;
use serde::de::DeserializeOwned;

pub use self::backoff::Backoff;
use self::ctx::Ctx;
pub use self::decide::SseError;
pub use self::message::{SseMessage, SseState};
pub use self::options::{encode, stream_headers, stream_url, TokenRefresh, UseSseOptions};

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
    pub error: Signal<Option<SseError>>,
    /// Failed attempts since the last stable connection.
    pub reconnect_attempts: Signal<u32>,
    /// Events received since the hook was created.
    pub events_received: Signal<u64>,
    /// Opens the stream (closing any open one first).
    pub connect: Action,
    /// Closes the stream and cancels any pending reconnect.
    pub disconnect: Action,
    next_handler: StoredValue<u64>,
    ctx: Ctx,
}

impl UseSseReturn {
    /// Calls `handler` for every event of type `event_type`, or for every
    /// event whatever its type with `"*"` (the hook reads the whole stream,
    /// so there is no list of types to keep up to date). Returns a closure
    /// that removes the handler.
    pub fn add_event_listener(
        &self,
        event_type: impl Into<String>,
        handler: impl Fn(&SseMessage) + Send + Sync + 'static,
    ) -> impl Fn() + Clone + Send + Sync + 'static {
        let event_type = event_type.into();
        let id = self.next_handler.get_value();
        self.next_handler.set_value(id + 1);
        let handlers = self.ctx.handlers;
        handlers.update_value(|h| h.push((id, event_type, Arc::new(handler))));
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

/// [`use_sse_with_options`] with the defaults.
pub fn use_sse(url: impl Into<String>) -> UseSseReturn {
    use_sse_with_options(url, UseSseOptions::default())
}

/// Opens (in the browser) an SSE connection to `url` with `options`.
pub fn use_sse_with_options(url: impl Into<String>, options: UseSseOptions) -> UseSseReturn {
    let immediate = options.immediate;
    let ctx = Ctx::new(url.into(), options);

    #[cfg(not(feature = "ssr"))]
    let (connect, disconnect): (Action, Action) = {
        controller::attach(ctx);
        Effect::new(move |_| {
            if immediate {
                controller::start(ctx);
            }
        });
        on_cleanup(move || {
            controller::stop(ctx);
            controller::unwatch_online(ctx);
        });
        (
            Arc::new(move || controller::start(ctx)),
            Arc::new(move || controller::stop(ctx)),
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
        next_handler: StoredValue::new(0),
        ctx,
    }
}
