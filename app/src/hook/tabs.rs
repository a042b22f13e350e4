//! One upstream connection for all tabs of an origin.
//!
//! Browsers allow six HTTP/1.1 connections per origin; a user with seven tabs
//! open would starve. Tabs that would open the same stream (same URL, user,
//! filter and topics) elect one leader with the Web Locks API: the leader
//! holds the lock and the `EventSource`, and relays every event and state
//! change over a `BroadcastChannel`; the others only listen. When the
//! leader's tab closes the browser releases its lock, the next tab in line
//! becomes leader and reconnects from the last event id it was relayed, so
//! nothing is lost. Browsers without Web Locks fall back to one connection
//! per tab.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use sse_protocol::events;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

use super::{Ctx, SseMessage, SseState};

/// This tab's part in the election.
#[derive(Default)]
pub(super) struct Tabs {
    channel: Option<BroadcastChannel>,
    on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
    granted: Option<Closure<dyn FnMut(JsValue) -> js_sys::Promise>>,
    on_reject: Option<Closure<dyn FnMut(JsValue)>>,
    abort: Option<web_sys::AbortController>,
    release: Option<js_sys::Function>,
    leader: bool,
    /// The leader's `connected` event, for tabs that join later.
    connected: Option<SseMessage>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "lowercase")]
enum Wire {
    Hello,
    Event {
        t: String,
        d: String,
        i: Option<String>,
    },
    State {
        s: String,
        a: u32,
        ms: u32,
        e: Option<String>,
    },
}

/// The user id in a JWT (its `sub`), without verifying it: only used to
/// keep different users' tabs apart.
fn token_subject(token: &str) -> Option<String> {
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

fn share_key(ctx: Ctx) -> Option<String> {
    let o = ctx.options.get_value();
    let user = o
        .token
        .get_untracked()
        .as_deref()
        .and_then(token_subject)
        .unwrap_or_default();
    Some(format!(
        "sse-hub|{}|{}|{}|{}",
        ctx.url.get_value(),
        user,
        o.events.get_untracked().join(","),
        o.topics.get_untracked().join(",")
    ))
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

fn post(ctx: Ctx, msg: &Wire) {
    ctx.live.with_value(|l| {
        if let (Some(ch), Ok(text)) = (&l.tabs.channel, serde_json::to_string(msg)) {
            let _ = ch.post_message(&JsValue::from_str(&text));
        }
    });
}

/// Joins the election. Returns false when this browser cannot share (the
/// caller then connects on its own).
pub(super) fn join(ctx: Ctx) -> bool {
    let Some(key) = share_key(ctx) else {
        return false;
    };
    let Some((locks, request)) = locks() else {
        return false;
    };
    let Ok(channel) = BroadcastChannel::new(&key) else {
        return false;
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            if let Ok(msg) = serde_json::from_str::<Wire>(&text) {
                receive(ctx, msg);
            }
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let granted = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock: JsValue| {
        let mut release = None;
        let held = js_sys::Promise::new(&mut |resolve, _reject| release = Some(resolve));
        let still_wanted = ctx.live.try_update_value(|l| {
            l.tabs.leader = true;
            l.tabs.release = release.take();
            l.wanted
        });
        if still_wanted == Some(true) {
            super::browser::open(ctx);
        }
        held
    });
    let on_reject = Closure::<dyn FnMut(JsValue)>::new(|_| {});
    let abort = web_sys::AbortController::new().ok();
    let opts = js_sys::Object::new();
    if let Some(a) = &abort {
        let _ = js_sys::Reflect::set(&opts, &"signal".into(), &a.signal());
    }
    ctx.live.update_value(|l| {
        l.tabs.channel = Some(channel);
        l.tabs.on_message = Some(on_message);
        l.tabs.abort = abort;
    });
    ctx.state.set(SseState::Connecting);
    post(ctx, &Wire::Hello);
    match request.call3(&locks, &JsValue::from_str(&key), &opts, granted.as_ref()) {
        Ok(p) => {
            if let Ok(p) = p.dyn_into::<js_sys::Promise>() {
                let _ = p.catch(&on_reject);
            }
        }
        Err(_) => {
            leave(ctx);
            return false;
        }
    }
    ctx.live.update_value(|l| {
        l.tabs.granted = Some(granted);
        l.tabs.on_reject = Some(on_reject);
    });
    true
}

/// Leaves the election: a leader releases the lock (the next tab takes
/// over), a follower withdraws its request.
pub(super) fn leave(ctx: Ctx) {
    ctx.live.try_update_value(|l| {
        let t = &mut l.tabs;
        if let Some(release) = t.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
        if let Some(a) = t.abort.take() {
            a.abort();
        }
        if let Some(ch) = t.channel.take() {
            ch.set_onmessage(None);
            ch.close();
        }
        t.leader = false;
        // The closures may be mid-call (a lock granted while leaving):
        // keep them until the hook is dropped.
    });
}

pub(super) fn is_follower(ctx: Ctx) -> bool {
    ctx.live
        .with_value(|l| l.tabs.channel.is_some() && !l.tabs.leader)
}

/// Leader: passes an event on to the other tabs.
pub(super) fn relay(ctx: Ctx, m: &SseMessage) {
    let leader = ctx.live.try_update_value(|l| {
        if m.event_type == events::CONNECTED {
            l.tabs.connected = Some(m.clone());
        }
        l.tabs.leader
    });
    if leader == Some(true) {
        post(
            ctx,
            &Wire::Event {
                t: m.event_type.clone(),
                d: m.data.clone(),
                i: m.id.clone(),
            },
        );
    }
}

/// Leader: greets a tab that joined with the state and the connection it
/// shares; the id is the newest event's, so a follower that later takes
/// over resumes from there.
fn welcome(ctx: Ctx) {
    share_state(ctx);
    let connected = ctx.live.with_value(|l| {
        if l.tabs.leader {
            l.tabs.connected.clone()
        } else {
            None
        }
    });
    if let Some(c) = connected {
        let i = ctx.last_event_id.get_untracked().or(c.id);
        post(
            ctx,
            &Wire::Event {
                t: c.event_type,
                d: c.data,
                i,
            },
        );
    }
}

/// Leader: tells the other tabs where the connection stands.
pub(super) fn share_state(ctx: Ctx) {
    if !ctx.live.try_with_value(|l| l.tabs.leader).unwrap_or(false) {
        return;
    }
    let (s, ms) = match ctx.state.get_untracked() {
        SseState::Closed => ("closed", 0),
        SseState::Connecting => ("connecting", 0),
        SseState::Open => ("open", 0),
        SseState::Reconnecting { delay_ms, .. } => ("reconnecting", delay_ms),
        SseState::Failed => ("failed", 0),
    };
    post(
        ctx,
        &Wire::State {
            s: s.into(),
            a: ctx.attempts.get_untracked(),
            ms,
            e: ctx.error.get_untracked(),
        },
    );
}

fn receive(ctx: Ctx, msg: Wire) {
    match msg {
        Wire::Hello => welcome(ctx),
        Wire::Event { t, d, i } if is_follower(ctx) => {
            super::browser::deliver(
                ctx,
                SseMessage {
                    event_type: t,
                    data: d,
                    id: i,
                },
            );
        }
        Wire::State { s, a, ms, e } if is_follower(ctx) => {
            ctx.attempts.set(a);
            ctx.error.set(e);
            ctx.state.set(match s.as_str() {
                "open" => SseState::Open,
                "connecting" => SseState::Connecting,
                "reconnecting" => SseState::Reconnecting {
                    attempt: a,
                    delay_ms: ms,
                },
                "failed" => SseState::Failed,
                // The leader closed (its tab is going away); stay ready to
                // take over.
                _ => SseState::Connecting,
            });
        }
        _ => {}
    }
}
