//! Notifications: a list with levels, and toasts for the newest.

use leptos::prelude::*;

use super::types::Notice;

/// The list of notifications received, newest first.
#[component]
pub fn NotificationList(#[prop(into)] items: Signal<Vec<Notice>>) -> impl IntoView {
    view! {
        <section class="card" aria-label="Notifications">
            <h2>"Notifications"</h2>
            <Show when=move || items.with(|i| i.is_empty())>
                <p class="muted">"Nothing yet. Use the send panel."</p>
            </Show>
            <ul class="notices" data-testid="notifications">
                <For
                    each=move || items.get()
                    key=|n| n.key.clone()
                    children=move |n| {
                        view! {
                            <li class=format!("notice level-{}", n.level) data-testid="notification-item" data-level=n.level.clone()>
                                <span class="level">{n.level.clone()}</span>
                                <span class="source">{n.source.clone()}</span>
                                <span class="text">{n.message.clone()}</span>
                                <span class="muted small latency" data-testid="notification-latency">
                                    {n.latency_ms.map(|ms| format!("{ms} ms after publish"))}
                                </span>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
    .into_any()
}

/// Toasts for the newest notifications; each disappears after a few seconds.
#[component]
pub fn Toasts(#[prop(into)] items: Signal<Vec<Notice>>) -> impl IntoView {
    view! {
        <div class="toasts" aria-live="polite" data-testid="toasts">
            <For
                each=move || items.get()
                key=|n| n.key.clone()
                children=move |n| {
                    view! {
                        <div class=format!("toast level-{}", n.level) role="status" data-testid="toast">
                            {n.message.clone()}
                        </div>
                    }
                }
            />
        </div>
    }
    .into_any()
}
