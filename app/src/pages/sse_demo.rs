//! `/sse-demo`: signs in as a demo user and shows the live stream.

use leptos::prelude::*;
use serde::Deserialize;

use crate::client;
use crate::hook::{use_sse_with_options, SseState, UseSseOptions};

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    token: String,
    user_id: String,
}

/// The dashboard page.
#[component]
pub fn SseDemoPage() -> impl IntoView {
    let token = RwSignal::new(None::<String>);
    let user = RwSignal::new(None::<String>);
    let sign_in_error = RwSignal::new(None::<String>);
    let sse = use_sse_with_options(
        "/api/sse/stream",
        UseSseOptions {
            token: token.into(),
            immediate: false,
            ..Default::default()
        },
    );

    let connect = sse.connect.clone();
    Effect::new(move |_| {
        let connect = connect.clone();
        leptos::task::spawn_local(async move {
            let name = format!("guest-{}", (js_sys::Math::random() * 1e6) as u32);
            let body = serde_json::json!({ "userId": name, "role": "user" });
            match client::post_json::<_, TokenResponse>("/api/auth/demo-token", None, &body).await {
                Ok(t) => {
                    token.set(Some(t.token));
                    user.set(Some(t.user_id));
                    connect();
                }
                Err(e) => sign_in_error.set(Some(e)),
            }
        });
    });

    let state = sse.state;
    let received = sse.events_received;
    let last = sse.last_event;
    let (connect, disconnect) = (sse.connect.clone(), sse.disconnect.clone());
    view! {
        <main class="page demo">
            <header class="demo-header">
                <h1>"Live dashboard"</h1>
                <span
                    class=move || format!("badge badge-{}", badge_class(&state.get()))
                    data-testid="connection-state"
                >
                    {move || state.get().label()}
                </span>
            </header>
            <p class="whoami" data-testid="user">
                {move || user.get().map(|u| format!("Signed in as {u}")).unwrap_or_else(|| "Signing in...".into())}
            </p>
            <p class="error" data-testid="sign-in-error">{move || sign_in_error.get()}</p>
            <section class="card">
                <h2>"Events received"</h2>
                <p class="big-number" data-testid="events-received">{move || received.get()}</p>
                <p class="last-event" data-testid="last-event">
                    {move || last.get().map(|m| format!("{} #{}", m.event_type, m.id.unwrap_or_default()))}
                </p>
                <div class="actions">
                    <button on:click=move |_| connect() data-testid="connect">"Connect"</button>
                    <button on:click=move |_| disconnect() data-testid="disconnect">"Disconnect"</button>
                </div>
            </section>
        </main>
    }
}

fn badge_class(s: &SseState) -> &'static str {
    match s {
        SseState::Open => "open",
        SseState::Connecting => "connecting",
        SseState::Reconnecting { .. } => "reconnecting",
        SseState::Failed => "failed",
        SseState::Closed => "closed",
    }
}
