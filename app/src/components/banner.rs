//! The connection banner: stays in view while the stream is not open,
//! says what happened in words, counts down to the next try and offers
//! "Retry now". Its live region changes once per state, not per tick.

use leptos::prelude::*;

use use_sse::{SseError, SseState};

/// What an error from the hook means for a person.
pub fn in_words(error: Option<&SseError>) -> String {
    match error {
        Some(SseError::Unauthorized(_)) => {
            "The hub refused your sign-in (it expired or is not valid any more). Sign in again."
                .into()
        }
        Some(SseError::Refused { status: 403, .. }) => {
            "The hub does not allow this stream for your account.".into()
        }
        Some(SseError::Refused { .. }) => "The hub refused this stream.".into(),
        Some(SseError::DoNotReconnect) => "The hub asked this page not to reconnect.".into(),
        Some(SseError::GaveUp { .. }) => "The hub could not be reached after several tries.".into(),
        Some(SseError::Lost) | None => "The connection to the hub was lost.".into(),
    }
}

/// The banner; `retry` reconnects at once.
#[component]
pub fn ConnectionBanner(
    #[prop(into)] state: Signal<SseState>,
    #[prop(into)] error: Signal<Option<SseError>>,
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
            format!("{} Reconnecting…", in_words(error.get().as_ref()))
        }
        SseState::Failed => in_words(error.get().as_ref()),
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
            <p class="detail small" data-testid="connection-error">{move || error.get().map(|e| e.to_string())}</p>
            <button type="button" data-testid="retry-now" on:click=move |_| retry.run(())>"Retry now"</button>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use use_sse::SseError;

    #[test]
    fn errors_read_as_sentences() {
        let words = |e: SseError| super::in_words(Some(&e));
        assert!(words(SseError::Unauthorized("token expired".into())).contains("Sign in again"));
        assert!(words(SseError::Lost).contains("lost"));
        assert!(words(SseError::GaveUp { attempts: 3 }).contains("several tries"));
        assert!(words(SseError::DoNotReconnect).contains("not to reconnect"));
        let forbidden = SseError::Refused {
            status: 403,
            message: String::new(),
        };
        assert!(words(forbidden).contains("does not allow"));
        assert!(super::in_words(None).contains("lost"));
    }
}
