//! The browser half of `use_sse`: the `EventSource`, its listeners and the
//! reconnect timer. Only compiled without the `ssr` feature.

use std::collections::HashSet;

use leptos::prelude::*;
use sse_protocol::events;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use super::{stream_url, Ctx, SseMessage, SseState};

/// The open `EventSource` and everything that must live as long as it.
#[derive(Default)]
pub(super) struct Live {
    source: Option<EventSource>,
    closures: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    /// Closures of a closed source. Kept until the next open: dropping a
    /// closure while it runs (close from inside `onerror`) would trap.
    retired: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    listening: HashSet<String>,
    timer: Option<TimeoutHandle>,
    /// Whether the user wants a connection (connect called, not disconnect).
    pub(super) wanted: bool,
    /// The server's `retry` hint, from the `connected` / `shutdown` events.
    server_retry: Option<u32>,
    opened_at: Option<f64>,
    /// The `online` listener, installed once per hook.
    online: Option<Closure<dyn FnMut(web_sys::Event)>>,
    /// Whether the token was refreshed since the last open connection.
    refreshed: bool,
    /// Sharing one connection between tabs.
    pub(super) tabs: super::tabs::Tabs,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// `connect()`: open now, whatever the state.
pub(super) fn start(ctx: Ctx) {
    ctx.live.update_value(|l| l.wanted = true);
    watch_online(ctx);
    ctx.attempts.set(0);
    if ctx.options.with_value(|o| o.share_across_tabs) && super::tabs::join(ctx) {
        return;
    }
    open(ctx);
}

/// Reconnects at once when the browser comes back online.
fn watch_online(ctx: Ctx) {
    if ctx.live.with_value(|l| l.online.is_some()) {
        return;
    }
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        let waiting = ctx
            .live
            .try_with_value(|l| l.wanted && l.source.is_none())
            .unwrap_or(false);
        if waiting && ctx.state.get_untracked() != SseState::Failed {
            open(ctx);
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("online", cb.as_ref().unchecked_ref());
    }
    ctx.live.update_value(|l| l.online = Some(cb));
}

/// Removes the `online` listener (on unmount).
pub(super) fn unwatch_online(ctx: Ctx) {
    ctx.live.try_update_value(|l| {
        if let (Some(cb), Some(w)) = (l.online.take(), web_sys::window()) {
            let _ = w.remove_event_listener_with_callback("online", cb.as_ref().unchecked_ref());
        }
    });
}

/// `disconnect()` and unmount: close and forget any pending reconnect.
pub(super) fn stop(ctx: Ctx) {
    ctx.live.try_update_value(|l| {
        l.wanted = false;
        close(l);
    });
    let _ = ctx.state.try_set(SseState::Closed);
    super::tabs::share_state(ctx);
    super::tabs::leave(ctx);
}

fn close(l: &mut Live) {
    if let Some(t) = l.timer.take() {
        t.clear();
    }
    if let Some(es) = l.source.take() {
        es.close();
    }
    let mut old = std::mem::take(&mut l.closures);
    l.retired.append(&mut old);
    l.listening.clear();
    l.opened_at = None;
}

pub(super) fn open(ctx: Ctx) {
    ctx.live.update_value(|l| {
        l.retired.clear();
        close(l);
    });
    let options = ctx.options.get_value();
    let token = options.token.get_untracked();
    let last_id = ctx.last_event_id.get_untracked();
    let url = stream_url(
        &ctx.url.get_value(),
        &options,
        token.as_deref(),
        last_id.as_deref(),
    );
    let es = match EventSource::new(&url) {
        Ok(es) => es,
        Err(e) => {
            ctx.error
                .set(Some(format!("cannot open EventSource: {e:?}")));
            ctx.state.set(SseState::Failed);
            return;
        }
    };
    ctx.state.set(SseState::Connecting);

    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        ctx.live.update_value(|l| {
            l.opened_at = Some(now_ms());
            l.refreshed = false;
        });
        ctx.error.set(None);
        ctx.state.set(SseState::Open);
    });
    es.set_onopen(Some(on_open.as_ref().unchecked_ref()));

    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_error(ctx));
    es.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    let mut types: Vec<String> = options.listen.clone();
    ctx.handlers
        .with_value(|h| types.extend(h.iter().map(|(_, t, _)| t.clone())));
    ctx.live.update_value(|l| {
        l.closures.push(on_open);
        l.closures.push(on_error);
        l.source = Some(es);
    });
    for t in types {
        listen_to(ctx, &t);
    }
}

/// Makes sure the open `EventSource` dispatches events of type `t`.
pub(super) fn listen_to(ctx: Ctx, t: &str) {
    if t == "*" {
        return;
    }
    ctx.live.update_value(|l| {
        let Some(es) = l.source.clone() else { return };
        if !l.listening.insert(t.to_string()) {
            return;
        }
        let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            if let Ok(m) = e.dyn_into::<MessageEvent>() {
                on_message(ctx, m);
            }
        });
        let _ = es.add_event_listener_with_callback(t, cb.as_ref().unchecked_ref());
        l.closures.push(cb);
    });
}

fn on_message(ctx: Ctx, m: MessageEvent) {
    let id = m.last_event_id();
    let msg = SseMessage {
        event_type: m.type_(),
        data: m.data().as_string().unwrap_or_default(),
        id: (!id.is_empty()).then_some(id),
    };
    deliver(ctx, msg.clone());
    super::tabs::relay(ctx, &msg);
    if msg.event_type == events::AUTH_EXPIRED {
        // The stream ends next: get a fresh token, then reconnect at once
        // from the last event id.
        ctx.live.update_value(close);
        match ctx.options.with_value(|o| o.refresh_token.clone()) {
            Some(refresh) => leptos::task::spawn_local(async move {
                let _ = refresh().await;
                if ctx.live.try_with_value(|l| l.wanted) == Some(true) {
                    schedule(ctx, 0);
                }
            }),
            None => schedule(ctx, 0),
        }
    }
}

/// Updates the signals and runs the handlers for one event, whether it came
/// from this tab's `EventSource` or was relayed by the leader tab.
pub(super) fn deliver(ctx: Ctx, msg: SseMessage) {
    if [events::CONNECTED, events::SHUTDOWN].contains(&msg.event_type.as_str()) {
        if let Ok(v) = msg.json::<serde_json::Value>() {
            if let Some(r) = v.get("retry").and_then(|r| r.as_u64()) {
                ctx.live.update_value(|l| l.server_retry = Some(r as u32));
            }
        }
    }
    if msg.id.is_some() {
        ctx.last_event_id.set(msg.id.clone());
    }
    ctx.received.update(|n| *n += 1);
    let handlers: Vec<_> = ctx.handlers.with_value(|h| {
        h.iter()
            .filter(|(_, t, _)| t == "*" || *t == msg.event_type)
            .map(|(_, _, f)| f.clone())
            .collect()
    });
    ctx.last_event.set(Some(msg.clone()));
    for f in handlers {
        f(&msg);
    }
}

fn on_error(ctx: Ctx) {
    // Close the browser's own retry loop: reconnects are ours, so they can
    // back off, count, carry the last id in the URL and pick up a new token.
    let stable_ms = ctx.options.with_value(|o| o.stable_after_ms) as f64;
    let (wanted, opened, stable, url) = ctx.live.with_value(|l| {
        (
            l.wanted,
            l.opened_at.is_some(),
            l.opened_at.is_some_and(|t| now_ms() - t >= stable_ms),
            l.source.as_ref().map(|es| es.url()),
        )
    });
    ctx.live.update_value(close);
    if !wanted {
        ctx.state.set(SseState::Closed);
        return;
    }
    if stable {
        ctx.attempts.set(0);
    }
    match url {
        // The attempt never opened: ask the server why before retrying.
        Some(url) if !opened => leptos::task::spawn_local(async move {
            match refusal(&url).await {
                Some(Refusal::Unauthorized(reason)) => {
                    // One refresh per refusal: a fresh token gets one retry.
                    let refresh = ctx.options.with_value(|o| o.refresh_token.clone());
                    let retried = ctx
                        .live
                        .try_update_value(|l| std::mem::replace(&mut l.refreshed, true));
                    match refresh {
                        Some(refresh) if retried == Some(false) && refresh().await => open(ctx),
                        _ => {
                            ctx.error.set(Some(reason));
                            ctx.state.set(SseState::Failed);
                        }
                    }
                }
                Some(Refusal::Final(reason)) => {
                    ctx.error.set(Some(reason));
                    ctx.state.set(SseState::Failed);
                }
                None if ctx.live.with_value(|l| l.wanted && l.source.is_none()) => retry_later(ctx),
                None => {}
            }
        }),
        _ => retry_later(ctx),
    }
}

/// Why the server refused a connection.
enum Refusal {
    /// 401: a fresh token may help.
    Unauthorized(String),
    /// 403 or 204: retrying will not help.
    Final(String),
}

/// Why the server refuses `url` for good (401, 403, 204), if it does.
async fn refusal(url: &str) -> Option<Refusal> {
    let abort = web_sys::AbortController::new().ok()?;
    let res = gloo_net::http::Request::get(url)
        .abort_signal(Some(&abort.signal()))
        .send()
        .await
        .ok()?;
    let status = res.status();
    let reason = match status {
        401 | 403 => {
            let body: Option<serde_json::Value> = res.json().await.ok();
            let msg = body
                .and_then(|b| b.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_default();
            if status == 401 {
                Some(Refusal::Unauthorized(format!("unauthorized (401): {msg}")))
            } else {
                Some(Refusal::Final(format!("forbidden (403): {msg}")))
            }
        }
        204 => Some(Refusal::Final(
            "the server asked not to reconnect (204)".to_string(),
        )),
        _ => None,
    };
    abort.abort();
    reason
}

/// Schedules the next attempt with backoff, or gives up.
fn retry_later(ctx: Ctx) {
    let options = ctx.options.get_value();
    if !options.auto_reconnect {
        ctx.error.set(Some("connection lost".into()));
        ctx.state.set(SseState::Closed);
        return;
    }
    let attempt = ctx.attempts.get_untracked() + 1;
    if options.max_attempts.is_some_and(|max| attempt > max) {
        ctx.error
            .set(Some(format!("gave up after {} attempts", attempt - 1)));
        ctx.state.set(SseState::Failed);
        return;
    }
    ctx.attempts.set(attempt);
    ctx.error.set(Some("connection lost; reconnecting".into()));
    let server_retry = ctx.live.with_value(|l| l.server_retry);
    let delay = options
        .backoff
        .delay(attempt, server_retry, js_sys::Math::random());
    schedule(ctx, delay);
}

fn schedule(ctx: Ctx, delay: u32) {
    let attempt = ctx.attempts.get_untracked();
    ctx.state.set(SseState::Reconnecting {
        attempt,
        delay_ms: delay,
    });
    let handle = set_timeout_with_handle(
        move || {
            ctx.live.update_value(|l| l.timer = None);
            open(ctx);
        },
        std::time::Duration::from_millis(delay as u64),
    )
    .ok();
    ctx.live.update_value(|l| {
        if let Some(old) = l.timer.take() {
            old.clear();
        }
        l.timer = handle;
    });
}
