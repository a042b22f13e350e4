//! The connection banner: stays in view while the stream is not open,
//! says what happened in words, counts down to the next try and offers
//! "Retry now". Its live region changes once per state, not per tick.

use leptos::prelude::*;

use crate::hook::SseState;

/// What an error from the hook means for a person.
pub fn in_words(error: &str) -> String {
    let e = error.to_ascii_lowercase();
    if e.contains("401") || e.contains("unauthorized") {
        "The hub refused your sign-in (it expired or is not valid any more). Sign in again.".into()
    } else if e.contains("403") {
        "The hub does not allow this stream for your account.".into()
    } else if e.contains("204") {
        "The hub asked this page not to reconnect.".into()
    } else if e.contains("gave up") {
        "The hub could not be reached after several tries.".into()
    } else if e.contains("429") || e.contains("503") {
        "The hub is busy; this page will try again shortly.".into()
    } else {
        "The connection to the hub was lost.".into()
    }
}

/// The banner; `retry` reconnects at once.
#[component]
pub fn ConnectionBanner(
    #[prop(into)] state: Signal<SseState>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] retry: Callback<()>,
) -> impl IntoView {
    let since = RwSignal::new(0.0f64);
    let now = RwSignal::new(0.0f64);
    Effect::new(move |_| {
        if let SseState::Reconnecting { .. } = state.get() {
            let t = js_sys::Date::now();
            since.set(t);
            now.set(t);
        }
    });
    Effect::new(move |_| {
        if let Ok(h) = set_interval_with_handle(
            move || now.set(js_sys::Date::now()),
            std::time::Duration::from_millis(250),
        ) {
            on_cleanup(move || h.clear());
        }
    });
    let shown = move || {
        matches!(
            state.get(),
            SseState::Reconnecting { .. } | SseState::Failed
        )
    };
    // The announced text: one sentence per state, no numbers that tick.
    let headline = move || match state.get() {
        SseState::Reconnecting { .. } => {
            format!(
                "{} Reconnecting…",
                in_words(&error.get().unwrap_or_default())
            )
        }
        SseState::Failed => in_words(&error.get().unwrap_or_default()),
        _ => String::new(),
    };
    let countdown = move || match state.get() {
        SseState::Reconnecting { delay_ms, .. } => {
            let left = (delay_ms as f64 - (now.get() - since.get())).max(0.0);
            format!("Next try in {:.0} s.", (left / 1000.0).ceil())
        }
        _ => String::new(),
    };
    view! {
        <div class="banner" class:hidden=move || !shown() data-testid="connection-banner">
            <p role="status" aria-live="polite" data-testid="banner-text">{headline}</p>
            <p class="countdown" aria-hidden="true" data-testid="banner-countdown">{countdown}</p>
            <p class="detail small" data-testid="connection-error">{move || error.get()}</p>
            <button type="button" data-testid="retry-now" on:click=move |_| retry.run(())>"Retry now"</button>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_read_as_sentences() {
        assert!(super::in_words("unauthorized (401): token expired").contains("Sign in again"));
        assert!(super::in_words("connection lost; reconnecting").contains("lost"));
        assert!(super::in_words("gave up after 3 attempts").contains("several tries"));
    }
}
