//! The connection badge: state, attempts, and a countdown while waiting to
//! reconnect.

use leptos::prelude::*;

use crate::hook::SseState;

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

/// Shows `state` (its label is the badge text), the attempt count and,
/// while reconnecting, the seconds left.
#[component]
pub fn ConnectionBadge(
    #[prop(into)] state: Signal<SseState>,
    #[prop(into)] attempts: Signal<u32>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    // When the current wait started, for the countdown.
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
            std::time::Duration::from_millis(200),
        ) {
            on_cleanup(move || h.clear());
        }
    });
    let countdown = move || match state.get() {
        SseState::Reconnecting { delay_ms, .. } => {
            let left = (delay_ms as f64 - (now.get() - since.get())).max(0.0);
            Some(format!("next try in {:.1} s", left / 1000.0))
        }
        _ => None,
    };
    view! {
        <div class="badge-row" role="status" aria-live="polite">
            <span class=move || format!("badge badge-{}", state_class(&state.get())) data-testid="connection-state">
                {move || state.get().label()}
            </span>
            <span class="muted" data-testid="connection-attempts">
                {move || format!("attempts: {}", attempts.get())}
            </span>
            <span class="muted" data-testid="connection-countdown">{countdown}</span>
            <span class="error" data-testid="connection-error">{move || error.get()}</span>
        </div>
    }
    .into_any()
}
