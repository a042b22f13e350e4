//! What one `use_sse` hook holds: the signals it exposes, its listeners,
//! and (in the browser) the live parts the controller works on.

use std::sync::Arc;

use leptos::prelude::*;

use super::decide::SseError;
use super::message::{SseMessage, SseState};
use super::options::UseSseOptions;

/// A listener added with `add_event_listener`.
pub(super) type Handler = Arc<dyn Fn(&SseMessage) + Send + Sync>;

/// The hook's state: `Copy` handles into the reactive owner, so closures
/// and callbacks can hold it freely.
#[derive(Clone, Copy)]
#[cfg_attr(feature = "ssr", allow(dead_code))]
pub(super) struct Ctx {
    pub(super) url: StoredValue<String>,
    pub(super) options: StoredValue<UseSseOptions>,
    pub(super) state: RwSignal<SseState>,
    pub(super) last_event: RwSignal<Option<SseMessage>>,
    pub(super) last_event_id: RwSignal<Option<String>>,
    pub(super) error: RwSignal<Option<SseError>>,
    pub(super) attempts: RwSignal<u32>,
    pub(super) received: RwSignal<u64>,
    /// `(id, event type or "*", listener)`.
    pub(super) handlers: StoredValue<Vec<(u64, String, Handler)>>,
    #[cfg(not(feature = "ssr"))]
    pub(super) live: StoredValue<Live, LocalStorage>,
}

impl Ctx {
    pub(super) fn new(url: String, options: UseSseOptions) -> Self {
        Self {
            url: StoredValue::new(url),
            options: StoredValue::new(options),
            state: RwSignal::new(SseState::Closed),
            last_event: RwSignal::new(None),
            last_event_id: RwSignal::new(None),
            error: RwSignal::new(None),
            attempts: RwSignal::new(0),
            received: RwSignal::new(0),
            handlers: StoredValue::new(Vec::new()),
            #[cfg(not(feature = "ssr"))]
            live: StoredValue::new_local(Live::default()),
        }
    }
}

/// Where this tab's events come from.
#[cfg(not(feature = "ssr"))]
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Its own upstream; no sharing.
    #[default]
    Own,
    /// Its own upstream, relayed to the other tabs.
    Leader,
    /// The leader tab's upstream, relayed; ready to take over.
    Follower,
}

/// The browser-side parts of a hook, changed only by the controller.
#[cfg(not(feature = "ssr"))]
#[derive(Default)]
pub(super) struct Live {
    pub(super) source: Source,
    /// This tab's stream, when it has one.
    pub(super) upstream: Option<super::upstream::Upstream>,
    /// The election, when sharing.
    pub(super) tabs: Option<super::tabs::Tabs>,
    pub(super) timer: Option<TimeoutHandle>,
    /// Whether the user wants a connection (connect called, not disconnect).
    pub(super) wanted: bool,
    /// The server's `retry` hint (`retry:` field, `connected`, `shutdown`).
    pub(super) server_retry: Option<u32>,
    pub(super) opened_at: Option<f64>,
    /// The `online` listener, installed once per hook.
    pub(super) online: Option<wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>>,
    /// Whether the token was refreshed since the last open connection.
    pub(super) refreshed: bool,
    /// The leader's `connected` event, for tabs that join later.
    pub(super) connected: Option<SseMessage>,
}
