//! `/session-demo`: streaming with a session cookie instead of a token.
//!
//! Why a page of its own: this is how an app with its own sign-in uses the
//! hub (`--auth-cookie`). Signing in asks this origin for a session
//! (`POST /api/auth/demo-session`), whose answer sets an HttpOnly cookie
//! and names the hub to stream from; the stream is opened with
//! `credentials: true` and no token, so no script on the page ever holds
//! one. The hub may be on another origin (`--demo-hub-url`), which then
//! lists this one in `--cors-origins` and reads the same cookie. When the
//! cookie is gone, the hub answers 401 and the hook stops, as for any
//! refused credential.

use leptos::prelude::*;
use sse_protocol::{DemoSession, DemoTokenRequest, Role};

use crate::client;
use crate::components::badge::ConnectionBadge;
use crate::components::banner::ConnectionBanner;
use crate::components::text_field::TextField;
use use_sse::{use_sse_with_options, UseSseOptions};

/// The page: a sign-in form, then the stream of the signed-in user.
#[component]
pub fn SessionDemoPage() -> impl IntoView {
    let session = RwSignal::new(None::<DemoSession>);
    let user = RwSignal::new("guest".to_string());
    let error = RwSignal::new(None::<String>);
    let sign_in = move |_| {
        let body = DemoTokenRequest {
            user_id: user.get_untracked(),
            role: Role::User,
        };
        leptos::task::spawn_local(async move {
            match client::post_json::<_, DemoSession>("/api/auth/demo-session", None, &body).await {
                Ok(s) => {
                    error.set(None);
                    session.set(Some(s));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let sign_out = Callback::new(move |_: ()| {
        session.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = client::delete("/api/auth/demo-session").await {
                error.set(Some(e));
            }
        });
    });
    view! {
        <main class="page session-demo">
            <h1>"Cookie session"</h1>
            <p class="muted">
                "Signing in sets an HttpOnly cookie; the stream sends it, and no script on this page holds a token."
            </p>
            <p class="error" data-testid="session-error">{move || error.get()}</p>
            <Show
                when=move || session.get().is_some()
                fallback=move || view! {
                    <section class="card" aria-label="Sign in">
                        <TextField label="User id" value=user testid="session-user-input" maxlength=64/>
                        <button type="button" data-testid="session-sign-in" on:click=sign_in>"Sign in"</button>
                    </section>
                }
            >
                {move || session.get().map(|s| view! { <SessionStream session=s sign_out=sign_out/> })}
            </Show>
        </main>
    }
}

/// The stream of a signed-in session; signing out unmounts it, which
/// closes the stream.
#[component]
fn SessionStream(session: DemoSession, sign_out: Callback<()>) -> impl IntoView {
    let url = format!(
        "{}/api/sse/stream",
        session.hub_url.as_deref().unwrap_or_default()
    );
    let sse = use_sse_with_options(
        url.clone(),
        UseSseOptions {
            credentials: true,
            // One page per test run; a shared upstream would hide which
            // page's cookie opened it.
            share_across_tabs: false,
            ..Default::default()
        },
    );
    let (received, last) = (sse.events_received, sse.last_event);
    let retry = {
        let connect = sse.connect.clone();
        Callback::new(move |_: ()| connect())
    };
    view! {
        <ConnectionBanner state=sse.state error=sse.error retry=retry/>
        <section class="card" aria-label="Stream">
            <ConnectionBadge state=sse.state attempts=sse.reconnect_attempts/>
            <p>"Signed in as " <strong data-testid="session-user">{session.user_id.clone()}</strong></p>
            <p class="muted small mono" data-testid="session-hub">{url}</p>
            <p><span class="big-number" data-testid="events-received">{move || received.get()}</span> " events received"</p>
            <p class="mono" data-testid="last-event">
                {move || last.get().map(|m| format!("{}: {}", m.event_type, m.data))}
            </p>
            <button type="button" data-testid="session-sign-out" on:click=move |_| sign_out.run(())>"Sign out"</button>
        </section>
    }
}
