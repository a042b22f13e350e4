//! The one place where a hook's connection state changes. Browser only.
//!
//! Events and state come from one of two sources, and the controller
//! decides which: this tab's own upstream ([`Source::Own`], or
//! [`Source::Leader`] when it relays to other tabs), or the leader tab
//! ([`Source::Follower`]). The upstream and the tab election only report
//! what happens to them; reconnects, backoff, token refresh and giving up
//! are decided here.

use leptos::prelude::*;
use sse_protocol::events;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::ctx::{Ctx, Live, Source};
use super::decide::{self, Ending, Next, SseError, Standing};
use super::message::{SseMessage, SseState};
use super::options::{stream_headers, stream_url};
use super::parser::Parsed;
use super::tabs::{token_subject, TabMessage, Tabs};
use super::upstream::{Report, Upstream};

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Wires a new hook: a leader tells the other tabs where its connection
/// stands whenever that changes.
pub(super) fn attach(ctx: Ctx) {
    Effect::new(move |_| {
        let state = ctx.state.get();
        let attempts = ctx.attempts.get();
        let error = ctx.error.get();
        post_if_leader(
            ctx,
            &TabMessage::State {
                state,
                attempts,
                error,
            },
        );
    });
}

/// `connect()`: open now, whatever the state.
pub(super) fn start(ctx: Ctx) {
    ctx.live.update_value(|l| l.wanted = true);
    watch_online(ctx);
    ctx.attempts.set(0);
    if ctx.options.with_value(|o| o.share_across_tabs) && join(ctx) {
        return;
    }
    ctx.live.update_value(|l| l.source = Source::Own);
    open(ctx);
}

/// `disconnect()` and unmount: close, forget any pending reconnect, and
/// leave the election (the next tab takes over).
pub(super) fn stop(ctx: Ctx) {
    ctx.live.try_update_value(|l| {
        l.wanted = false;
        close(l);
    });
    // `try_set` hands the value back only if the hook is gone.
    if ctx.state.try_set(SseState::Closed).is_none() {
        post_if_leader(
            ctx,
            &TabMessage::State {
                state: SseState::Closed,
                attempts: ctx.attempts.get_untracked(),
                error: None,
            },
        );
    }
    ctx.live.try_update_value(|l| {
        if let Some(t) = &l.tabs {
            t.leave();
        }
        l.source = Source::Own;
    });
}

/// Removes the `online` listener (on unmount).
pub(super) fn unwatch_online(ctx: Ctx) {
    ctx.live.try_update_value(|l| {
        if let (Some(cb), Some(w)) = (l.online.take(), web_sys::window()) {
            let _ = w.remove_event_listener_with_callback("online", cb.as_ref().unchecked_ref());
        }
    });
}

/// Reconnects at once when the browser comes back online.
fn watch_online(ctx: Ctx) {
    if ctx.live.with_value(|l| l.online.is_some()) {
        return;
    }
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        let waiting = ctx
            .live
            .try_with_value(|l| l.wanted && l.source != Source::Follower && l.upstream.is_none())
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

fn close(l: &mut Live) {
    if let Some(t) = l.timer.take() {
        t.clear();
    }
    l.upstream = None;
    l.opened_at = None;
}

// ----- the own upstream ------------------------------------------------------

/// Opens this tab's upstream (closing any open one), resuming from the last
/// event id.
fn open(ctx: Ctx) {
    ctx.live.update_value(close);
    let options = ctx.options.get_value();
    let token = options.token.get_untracked();
    let last_id = ctx.last_event_id.get_untracked();
    let url = stream_url(&ctx.url.get_value(), &options);
    let headers = stream_headers(token.as_deref(), last_id.as_deref());
    ctx.state.set(SseState::Connecting);
    let upstream = Upstream::open(url, headers, options.credentials, last_id, move |r| {
        on_upstream(ctx, r)
    });
    ctx.live.update_value(|l| l.upstream = Some(upstream));
}

fn on_upstream(ctx: Ctx, report: Report) {
    match report {
        Report::Opened => {
            ctx.live.update_value(|l| {
                l.opened_at = Some(now_ms());
                l.refreshed = false;
            });
            ctx.error.set(None);
            ctx.state.set(SseState::Open);
        }
        Report::Parsed(Parsed::Retry(ms)) => {
            ctx.live.update_value(|l| l.server_retry = Some(ms));
        }
        Report::Parsed(Parsed::Event(msg)) => {
            if msg.event_type == events::CONNECTED {
                ctx.live.update_value(|l| l.connected = Some(msg.clone()));
            }
            deliver(ctx, msg.clone());
            post_if_leader(
                ctx,
                &TabMessage::Event {
                    message: msg.clone(),
                },
            );
            if msg.event_type == events::AUTH_EXPIRED {
                token_expired(ctx);
            }
        }
        Report::Ended(ending) => ended(ctx, ending),
    }
}

/// The stream is about to end because the token expires: get a fresh one,
/// then reconnect at once from the last event id.
fn token_expired(ctx: Ctx) {
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

/// The upstream ended: [`decide::on_end`] says what to do, this carries
/// it out.
fn ended(ctx: Ctx, ending: Ending) {
    let options = ctx.options.get_value();
    let stable_ms = options.stable_after_ms as f64;
    let (wanted, stable, refreshed) = ctx.live.with_value(|l| {
        (
            l.wanted,
            l.opened_at.is_some_and(|t| now_ms() - t >= stable_ms),
            l.refreshed,
        )
    });
    ctx.live.update_value(close);
    let now = Standing {
        wanted,
        auto_reconnect: options.auto_reconnect,
        attempts: ctx.attempts.get_untracked(),
        stable,
        max_attempts: options.max_attempts,
        may_refresh: options.refresh_token.is_some() && !refreshed,
    };
    if stable {
        ctx.attempts.set(0);
    }
    match decide::on_end(&ending, now) {
        Next::Close => ctx.state.set(SseState::Closed),
        Next::CloseLost => {
            ctx.error.set(Some(SseError::Lost));
            ctx.state.set(SseState::Closed);
        }
        Next::Retry { attempt, floor_ms } => {
            ctx.attempts.set(attempt);
            ctx.error.set(Some(SseError::Lost));
            let server_retry = ctx.live.with_value(|l| l.server_retry);
            let jitter = js_sys::Math::random();
            let delay = match floor_ms {
                // The hub said when: wait that long, then spread.
                Some(after) => options.backoff.after_refusal(after, jitter),
                None => options.backoff.delay(attempt, server_retry, jitter),
            };
            schedule(ctx, delay);
        }
        Next::Refresh { error } => {
            // One refresh per refusal: a fresh token gets one retry.
            ctx.live.update_value(|l| l.refreshed = true);
            let refresh = options.refresh_token.clone();
            leptos::task::spawn_local(async move {
                match refresh {
                    Some(refresh) if refresh().await => open(ctx),
                    _ => fail(ctx, error),
                }
            });
        }
        Next::Fail(error) => fail(ctx, error),
    }
}

fn fail(ctx: Ctx, error: SseError) {
    ctx.error.set(Some(error));
    ctx.state.set(SseState::Failed);
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

// ----- events, whichever the source ------------------------------------------

/// Updates the signals and runs the listeners for one event, from this
/// tab's upstream or relayed by the leader.
fn deliver(ctx: Ctx, msg: SseMessage) {
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

// ----- sharing between tabs --------------------------------------------------

/// The election key: tabs with the same URL, user, filter and topics share.
fn share_key(ctx: Ctx) -> String {
    let o = ctx.options.get_value();
    let user = o
        .token
        .get_untracked()
        .as_deref()
        .and_then(token_subject)
        .unwrap_or_default();
    format!(
        "sse-hub|{}|{}|{}|{}",
        ctx.url.get_value(),
        user,
        o.events.get_untracked().join(","),
        o.topics.get_untracked().join(",")
    )
}

/// Joins the election as a follower; false when this browser cannot share
/// (the caller then opens its own upstream).
fn join(ctx: Ctx) -> bool {
    let Some(tabs) = Tabs::join(
        &share_key(ctx),
        move |msg| heard(ctx, msg),
        move || elected(ctx),
    ) else {
        return false;
    };
    tabs.post(&TabMessage::Hello);
    ctx.live.update_value(|l| {
        if let Some(old) = l.tabs.replace(tabs) {
            old.leave();
        }
        l.source = Source::Follower;
    });
    ctx.state.set(SseState::Connecting);
    true
}

/// This tab now holds the lock: it opens the upstream the others share.
fn elected(ctx: Ctx) {
    let wanted = ctx.live.try_update_value(|l| {
        l.source = Source::Leader;
        l.wanted
    });
    if wanted == Some(true) {
        open(ctx);
    }
}

fn post_if_leader(ctx: Ctx, msg: &TabMessage) {
    ctx.live.try_with_value(|l| {
        if let (Source::Leader, Some(t)) = (l.source, &l.tabs) {
            t.post(msg);
        }
    });
}

fn heard(ctx: Ctx, msg: TabMessage) {
    let source = ctx.live.try_with_value(|l| l.source);
    match (source, msg) {
        (Some(Source::Leader), TabMessage::Hello) => welcome(ctx),
        (Some(Source::Follower), TabMessage::Event { message }) => deliver(ctx, message),
        (
            Some(Source::Follower),
            TabMessage::State {
                state,
                attempts,
                error,
            },
        ) => {
            ctx.attempts.set(attempts);
            ctx.error.set(error);
            ctx.state.set(match state {
                // The leader closed (its tab is going away); stay ready to
                // take over.
                SseState::Closed => SseState::Connecting,
                other => other,
            });
        }
        _ => {}
    }
}

/// Leader: greets a tab that joined with the state and the connection it
/// shares; the id is the newest event's, so a follower that later takes
/// over resumes from there.
fn welcome(ctx: Ctx) {
    post_if_leader(
        ctx,
        &TabMessage::State {
            state: ctx.state.get_untracked(),
            attempts: ctx.attempts.get_untracked(),
            error: ctx.error.get_untracked(),
        },
    );
    if let Some(mut c) = ctx.live.with_value(|l| l.connected.clone()) {
        c.id = ctx.last_event_id.get_untracked().or(c.id);
        post_if_leader(ctx, &TabMessage::Event { message: c });
    }
}
