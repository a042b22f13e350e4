//! One upstream connection for all tabs of an origin. Browser only.
//!
//! Browsers allow six HTTP/1.1 connections per origin; a user with seven tabs
//! open would starve. Tabs that would open the same stream (same URL, user,
//! filter and topics) elect one leader with the Web Locks API: the leader
//! holds the lock and the upstream, and relays every event and state change
//! over a `BroadcastChannel`; the others only listen. When the leader's tab
//! closes the browser releases its lock, the next tab in line becomes
//! leader and reconnects from the last event id it was relayed, so nothing
//! is lost. Browsers without Web Locks fall back to one connection per tab.
//!
//! This file is the mechanism only (the lock, the channel, the messages);
//! what a tab does as leader or follower is the controller's decision.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

use super::decide::SseError;
use super::message::{SseMessage, SseState};

/// What tabs sharing a connection tell each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(super) enum TabMessage {
    /// A tab joined: the leader answers with its state and `connected`.
    Hello,
    /// The leader relays an event.
    Event { message: SseMessage },
    /// The leader's connection state.
    State {
        state: SseState,
        attempts: u32,
        error: Option<SseError>,
    },
}

/// This tab's membership of an election.
pub(super) struct Tabs {
    channel: BroadcastChannel,
    /// The function that releases the lock, once this tab holds it.
    release: Rc<RefCell<Option<js_sys::Function>>>,
    abort: Option<web_sys::AbortController>,
    // Kept alive as long as the election: the browser calls them.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _granted: Closure<dyn FnMut(JsValue) -> js_sys::Promise>,
    _on_reject: Closure<dyn FnMut(JsValue)>,
}

fn locks() -> Option<(JsValue, js_sys::Function)> {
    let nav = web_sys::window()?.navigator();
    let locks = js_sys::Reflect::get(&nav, &"locks".into()).ok()?;
    if locks.is_undefined() {
        return None;
    }
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into()
        .ok()?;
    Some((locks, request))
}

impl Tabs {
    /// Joins the election for `key`: `heard` gets every message of the
    /// other tabs, `elected` is called once this tab leads. `None` when
    /// this browser cannot share (no Web Locks or `BroadcastChannel`).
    pub(super) fn join(
        key: &str,
        heard: impl Fn(TabMessage) + 'static,
        elected: impl Fn() + 'static,
    ) -> Option<Tabs> {
        let (locks, request) = locks()?;
        let channel = BroadcastChannel::new(key).ok()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(msg) = e
                .data()
                .as_string()
                .and_then(|t| serde_json::from_str(&t).ok())
            {
                heard(msg);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let release = Rc::new(RefCell::new(None));
        let slot = release.clone();
        let granted = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock| {
            // The lock is held until this promise resolves: on `leave`, or
            // when the tab goes away.
            let mut resolve = None;
            let held = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
            *slot.borrow_mut() = resolve;
            elected();
            held
        });
        let on_reject = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let abort = web_sys::AbortController::new().ok();
        let opts = js_sys::Object::new();
        if let Some(a) = &abort {
            let _ = js_sys::Reflect::set(&opts, &"signal".into(), &a.signal());
        }
        let Ok(pending) = request.call3(&locks, &JsValue::from_str(key), &opts, granted.as_ref())
        else {
            channel.set_onmessage(None);
            channel.close();
            return None;
        };
        if let Ok(p) = pending.dyn_into::<js_sys::Promise>() {
            let _ = p.catch(&on_reject);
        }
        Some(Tabs {
            channel,
            release,
            abort,
            _on_message: on_message,
            _granted: granted,
            _on_reject: on_reject,
        })
    }

    /// Sends `msg` to the other tabs.
    pub(super) fn post(&self, msg: &TabMessage) {
        if let Ok(text) = serde_json::to_string(msg) {
            let _ = self.channel.post_message(&JsValue::from_str(&text));
        }
    }

    /// Leaves the election: a leader releases the lock (the next tab takes
    /// over), a follower withdraws its request. The closures stay alive
    /// with `self`, as the browser may be calling one right now.
    pub(super) fn leave(&self) {
        if let Some(release) = self.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::NULL);
        }
        if let Some(a) = &self.abort {
            a.abort();
        }
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// The user id in a JWT (its `sub`), without verifying it: only used to
/// keep different users' tabs apart.
pub(super) fn token_subject(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let mut b64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !b64.len().is_multiple_of(4) {
        b64.push('=');
    }
    let json = web_sys::window()?.atob(&b64).ok()?;
    let v: serde_json::Value = serde_json::from_str(&json).ok()?;
    v.get("sub")?.as_str().map(str::to_string)
}
