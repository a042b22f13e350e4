//! "Try it with curl": the exact commands that stream and send as the
//! signed-in demo user, to paste into a terminal.

use leptos::prelude::*;

/// The page's origin (`http://host:port`), in the browser.
fn origin() -> String {
    #[cfg(not(feature = "ssr"))]
    {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(feature = "ssr")]
    String::new()
}

/// The commands for `token`.
#[component]
pub fn CurlPanel(#[prop(into)] token: Signal<Option<String>>) -> impl IntoView {
    let base = RwSignal::new(String::new());
    Effect::new(move |_| base.set(origin()));
    let stream = move || {
        token.get().map(|t| {
            format!(
                "curl -N -H 'Authorization: Bearer {t}' '{}/api/sse/stream'",
                base.get()
            )
        })
    };
    let send = move || {
        token.get().map(|t| {
            format!(
                r#"curl -X POST -H 'Authorization: Bearer {t}' -H 'Content-Type: application/json' -d '{{"type":"success","message":"hello from curl"}}' '{}/api/sse/demo'"#,
                base.get()
            )
        })
    };
    view! {
        <section class="card curl" aria-label="Try it with curl">
            <h2>"Try it with curl"</h2>
            <p class="muted small">"As the signed-in user (the token is yours and short-lived):"</p>
            <pre class="mono" data-testid="curl-stream">{stream}</pre>
            <pre class="mono" data-testid="curl-send">{send}</pre>
        </section>
    }
    .into_any()
}
