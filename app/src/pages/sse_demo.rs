//! `/sse-demo`: the live dashboard. Signs in as a guest on load (any user
//! id and role can be chosen), then shows the connection, notifications,
//! jobs, the raw event log and, for admins, live connection stats.

use leptos::prelude::*;
use sse_protocol::{
    events, Connected, DataChange, HistoryPage, JobCompleted, Notification, Progress,
};

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
use crate::components::types::{Job, LogEntry, Notice};
use crate::hook::{use_sse_with_options, SseMessage, UseSseOptions};

const LOG_SIZE: usize = 100;
const NOTICES: usize = 50;
const TOAST_MS: u64 = 5000;

/// Everything the page derives from the stream.
#[derive(Clone, Copy)]
struct Feed {
    connection_id: RwSignal<Option<String>>,
    notices: RwSignal<Vec<Notice>>,
    toasts: RwSignal<Vec<Notice>>,
    jobs: RwSignal<Vec<Job>>,
    log: RwSignal<Vec<LogEntry>>,
    log_seq: StoredValue<u64>,
    /// System ticks (`metrics`) received: kept out of the log by default.
    ticks: RwSignal<u64>,
    show_ticks: RwSignal<bool>,
}

impl Feed {
    fn new() -> Self {
        Self {
            connection_id: RwSignal::new(None),
            notices: RwSignal::new(Vec::new()),
            toasts: RwSignal::new(Vec::new()),
            jobs: RwSignal::new(Vec::new()),
            log: RwSignal::new(Vec::new()),
            log_seq: StoredValue::new(0),
            ticks: RwSignal::new(0),
            show_ticks: RwSignal::new(false),
        }
    }

    /// What one event changes on the page (live, or refetched on `reset`).
    fn apply(&self, m: &SseMessage) {
        match m.event_type.as_str() {
            events::CONNECTED => {
                if let Ok(c) = m.json::<Connected>() {
                    self.connection_id.set(Some(c.connection_id));
                }
            }
            events::NOTIFICATION | events::SYSTEM => {
                if let Ok(d) = m.json::<Notification>() {
                    // Publish to screen: the hub's timestamp against this
                    // page's clock (one machine in the demo); replays and
                    // refetches are older than a minute and show none.
                    let latency = (js_sys::Date::now() as u64).saturating_sub(d.timestamp);
                    let latency = (latency < 60_000).then_some(latency);
                    self.notify_timed(m, d.level.as_str(), d.message, latency);
                }
            }
            events::DATA_CHANGE => {
                if let Ok(d) = m.json::<DataChange>() {
                    let action = d.action.as_str();
                    self.notify(m, "info", format!("{} {} was {action}", d.entity, d.id));
                }
            }
            events::JOB_COMPLETED => {
                if let Ok(d) = m.json::<JobCompleted>() {
                    self.completed(&d);
                    let level = if d.result == "success" {
                        "success"
                    } else {
                        "error"
                    };
                    self.notify(m, level, format!("Job {} finished: {}", d.job_id, d.result));
                }
            }
            events::PROGRESS => {
                if let Ok(p) = m.json::<Progress>() {
                    self.progress(p);
                }
            }
            _ => {}
        }
    }

    fn log(&self, m: &SseMessage) {
        if m.event_type == events::METRICS {
            self.ticks.update(|n| *n += 1);
            if !self.show_ticks.get_untracked() {
                return;
            }
        }
        let seq = self.log_seq.get_value() + 1;
        self.log_seq.set_value(seq);
        let entry = LogEntry {
            seq,
            id: m.id.clone().unwrap_or_default(),
            event_type: m.event_type.clone(),
            data: m.data.clone(),
        };
        self.log.update(|l| {
            l.insert(0, entry);
            l.truncate(LOG_SIZE);
        });
    }

    fn notify(&self, m: &SseMessage, level: &str, message: String) {
        self.notify_timed(m, level, message, None);
    }

    fn notify_timed(&self, m: &SseMessage, level: &str, message: String, latency_ms: Option<u64>) {
        if let Some(id) = &m.id {
            if self
                .notices
                .with_untracked(|n| n.iter().any(|x| &x.key == id))
            {
                return;
            }
        }
        let notice = Notice {
            key: m
                .id
                .clone()
                .unwrap_or_else(|| format!("local-{}", self.log_seq.get_value())),
            level: level.to_string(),
            message,
            source: m.event_type.clone(),
            latency_ms,
        };
        self.notices.update(|n| {
            n.insert(0, notice.clone());
            n.truncate(NOTICES);
        });
        let key = notice.key.clone();
        self.toasts.update(|t| t.push(notice));
        let toasts = self.toasts;
        set_timeout(
            move || toasts.update(|t| t.retain(|n| n.key != key)),
            std::time::Duration::from_millis(TOAST_MS),
        );
    }

    fn progress(&self, p: Progress) {
        self.jobs.update(
            |jobs| match jobs.iter_mut().find(|j| j.id == p.operation_id) {
                Some(j) if !j.done => {
                    j.percentage = j.percentage.max(p.percentage.min(100));
                    j.message = p.message;
                }
                Some(_) => {}
                None => jobs.insert(
                    0,
                    Job {
                        id: p.operation_id,
                        percentage: p.percentage.min(100),
                        message: p.message,
                        done: false,
                    },
                ),
            },
        );
    }

    fn completed(&self, c: &JobCompleted) {
        self.jobs
            .update(|jobs| match jobs.iter_mut().find(|j| j.id == c.job_id) {
                Some(j) => {
                    j.done = true;
                    j.percentage = 100;
                    j.message = format!("finished: {}", c.result);
                }
                None => jobs.insert(
                    0,
                    Job {
                        id: c.job_id.clone(),
                        percentage: 100,
                        message: format!("finished: {}", c.result),
                        done: true,
                    },
                ),
            });
    }
}

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
    let _ = sse.add_event_listener("*", move |m| {
        feed.log(m);
        feed.apply(m);
    });
    // `reset`: the hub could not replay what this page missed. Rebuild
    // jobs and notifications from the caller's own history instead.
    let _ = sse.add_event_listener(events::RESET, move |m| {
        feed.notify(
            m,
            "warning",
            "Some events were missed; reloading your recent ones from the hub".into(),
        );
        let token = session.token.get_untracked();
        leptos::task::spawn_local(async move {
            let page: Result<HistoryPage, String> =
                client::get_json("/api/sse/history?user=me&limit=50", token.as_deref()).await;
            if let Ok(page) = page {
                // Known events are recognised by id and not shown twice.
                for e in page.events {
                    feed.apply(&SseMessage {
                        event_type: e.event,
                        data: e.data,
                        id: Some(e.id),
                    });
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
    let live = move || state.get() == crate::hook::SseState::Open;
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
