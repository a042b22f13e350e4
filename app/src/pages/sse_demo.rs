//! `/sse-demo`: the live dashboard. Signs in as a guest on load (any user
//! id and role can be chosen), then shows the connection, notifications,
//! jobs, the raw event log and, for admins, live connection stats.

use leptos::prelude::*;
use sse_protocol::{events, HistoryPage};

use crate::client;
use crate::components::badge::ConnectionBadge;
use crate::components::banner::ConnectionBanner;
use crate::components::controls::{EventFilter, TopicControls};
use crate::components::curl::CurlPanel;
use crate::components::event_log::EventLog;
use crate::components::jobs::JobList;
use crate::components::notifications::{NotificationList, Toasts};
use crate::components::presence::WhoIsHere;
use crate::components::send_panel::SendPanel;
use crate::components::sign_in::{Session, SignIn};
use crate::components::sparkline::Sparkline;
use crate::components::stats::StatsPanel;
use crate::pages::feed::Feed;
use use_sse::{use_sse_with_options, SseMessage, UseSseOptions};

/// How long a toast stays.
const TOAST_MS: u64 = 5000;

/// The dashboard page.
#[component]
pub fn SseDemoPage() -> impl IntoView {
    let session = Session::new();
    let filter = RwSignal::new(Vec::<String>::new());
    let topics = RwSignal::new(Vec::<String>::new());
    let sse = use_sse_with_options(
        "/api/sse/stream",
        UseSseOptions {
            token: session.token.into(),
            events: filter.into(),
            topics: topics.into(),
            immediate: false,
            // Demo tokens are short-lived: get a new one for the same user.
            refresh_token: Some(std::sync::Arc::new(move || {
                Box::pin(async move {
                    match (session.user.get_untracked(), session.role.get_untracked()) {
                        (Some(user), role) => session.sign_in(user, role).await.is_ok(),
                        _ => false,
                    }
                })
            })),
            ..Default::default()
        },
    );
    let feed = Feed::new();
    // A toast leaves after a while; the feed only says which is new.
    let expire = move |toast: Option<String>| {
        if let Some(key) = toast {
            set_timeout(
                move || feed.expire_toast(&key),
                std::time::Duration::from_millis(TOAST_MS),
            );
        }
    };
    let _ = sse.add_event_listener("*", move |m| {
        feed.log(m);
        expire(feed.apply(m, js_sys::Date::now() as u64));
    });
    // `reset`: the hub could not replay what this page missed. Rebuild
    // jobs and notifications from the caller's own history instead.
    let _ = sse.add_event_listener(events::RESET, move |m| {
        expire(feed.notify(
            m,
            "warning",
            "Some events were missed; reloading your recent ones from the hub".into(),
        ));
        let token = session.token.get_untracked();
        leptos::task::spawn_local(async move {
            let page: Result<HistoryPage, String> =
                client::get_json("/api/sse/history?user=me&limit=50", token.as_deref()).await;
            if let Ok(page) = page {
                // Known events are recognised by id and not shown twice.
                let now = js_sys::Date::now() as u64;
                for e in page.events {
                    expire(feed.apply(
                        &SseMessage {
                            event_type: e.event,
                            data: e.data,
                            id: Some(e.id),
                        },
                        now,
                    ));
                }
            }
        });
    });
    let presence_changed = RwSignal::new(0u64);
    for kind in events::PRESENCE {
        let _ = sse.add_event_listener(*kind, move |_| presence_changed.update(|n| *n += 1));
    }

    // Sign in as a guest on load so the page is live at once.
    let connect = sse.connect.clone();
    Effect::new(move |_| {
        let connect = connect.clone();
        leptos::task::spawn_local(async move {
            let (user, role) = Session::identity();
            if session.sign_in(user, role).await.is_ok() {
                connect();
            }
        });
    });

    let reconnect = {
        let (connect, disconnect) = (sse.connect.clone(), sse.disconnect.clone());
        Callback::new(move |_: ()| {
            disconnect();
            feed.connection_id.set(None);
            connect();
        })
    };
    let on_signed_in = Callback::new(move |_: ()| {
        topics.set(Vec::new());
        feed.jobs.set(Vec::new());
        feed.notices.set(Vec::new());
        reconnect.run(());
    });
    let (connect, disconnect) = (sse.connect.clone(), sse.disconnect.clone());
    let received = sse.events_received;
    let last = sse.last_event;
    let state = sse.state;
    let live = move || state.get() == use_sse::SseState::Open;
    let retry = {
        let connect = sse.connect.clone();
        Callback::new(move |_: ()| connect())
    };
    view! {
        <main class="page demo">
            <ConnectionBanner state=sse.state error=sse.error retry=retry/>
            <header class="demo-header">
                <h1>"Live dashboard"</h1>
                <ConnectionBadge state=sse.state attempts=sse.reconnect_attempts/>
            </header>
            <Toasts items=feed.toasts/>
            <div class="grid">
                <div class="col">
                    <SignIn session=session on_signed_in=on_signed_in/>
                    <SendPanel token=session.token role=session.role/>
                    <section class="card" aria-label="Connection">
                        <h2>"Connection"</h2>
                        <div class="counter">
                            <span class="big-number" data-testid="events-received">
                                {move || received.get().saturating_sub(feed.ticks.get())}
                            </span>
                            <span class="muted">"events received"</span>
                            <span class="muted small" data-testid="ticks-received">
                                {move || format!("+ {} system ticks", feed.ticks.get())}
                            </span>
                        </div>
                        <Sparkline count=Signal::derive(move || received.get().saturating_sub(feed.ticks.get()))/>
                        <p class="last-event mono" data-testid="last-event">
                            {move || last.get().map(|m| format!("last: {} #{}", m.event_type, m.id.unwrap_or_default()))}
                        </p>
                        <p class="muted small mono" data-testid="connection-id">
                            {move || feed.connection_id.get().map(|c| format!("connection {c}"))}
                        </p>
                        <div class="actions">
                            <button type="button" on:click=move |_| connect() data-testid="connect">"Connect"</button>
                            <button type="button" on:click=move |_| disconnect() data-testid="disconnect">"Disconnect"</button>
                        </div>
                        <EventFilter selected=filter on_change=reconnect/>
                        <TopicControls token=session.token connection_id=feed.connection_id topics=topics user=session.user grants=session.grants/>
                    </section>
                </div>
                <div class="col" class:stale=move || !live() data-testid="live-column">
                    <p class="stale-note" class:hidden=live>
                        "Paused while the connection is down: what you see below may be out of date."
                    </p>
                    <WhoIsHere token=session.token topics=topics changed=presence_changed/>
                    <Show when=move || session.is_admin()>
                        <StatsPanel token=session.token/>
                    </Show>
                    <JobList jobs=feed.jobs/>
                    <CurlPanel token=session.token/>
                    <NotificationList items=feed.notices/>
                </div>
            </div>
            <EventLog entries=feed.log show_ticks=feed.show_ticks/>
        </main>
    }
}
