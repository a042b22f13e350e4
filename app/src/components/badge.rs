//! The connection badge: one word for the state (announced once per
//! change), and the failed attempts while the stream is not open. The
//! countdown lives in the banner, outside any live region.

use leptos::prelude::*;

use use_sse::SseState;

/// CSS modifier for a state.
pub fn state_class(s: &SseState) -> &'static str {
    match s {
        SseState::Open => "open",
        SseState::Connecting => "connecting",
        SseState::Reconnecting { .. } => "reconnecting",
        SseState::Failed => "failed",
        SseState::Closed => "closed",
    }
}

/// Shows `state` and, unless open, the attempt count.
#[component]
pub fn ConnectionBadge(
    #[prop(into)] state: Signal<SseState>,
    #[prop(into)] attempts: Signal<u32>,
) -> impl IntoView {
    let attempts_text = move || match (state.get(), attempts.get()) {
        (SseState::Open, _) | (_, 0) => String::new(),
        (_, n) => format!("attempt {n}"),
    };
    view! {
        <div class="badge-row">
            <span
                class=move || format!("badge badge-{}", state_class(&state.get()))
                role="status"
                aria-live="polite"
                data-testid="connection-state"
            >
                {move || state.get().label()}
            </span>
            <span class="muted" data-testid="connection-attempts">{attempts_text}</span>
        </div>
    }
    .into_any()
}
