//! The raw event log, with ids.

use leptos::prelude::*;

use super::types::LogEntry;

/// The newest events, newest first; the hub's once-a-second `metrics`
/// ticks only when `show_ticks` is on.
#[component]
pub fn EventLog(
    #[prop(into)] entries: Signal<Vec<LogEntry>>,
    show_ticks: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <section class="card" aria-label="Event log">
            <h2>"Event log"</h2>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="show-ticks"
                    prop:checked=move || show_ticks.get()
                    on:change=move |ev| show_ticks.set(event_target_checked(&ev))
                />
                "Show system ticks (metrics, every second)"
            </label>
            <div class="log-wrap">
                <table class="log" data-testid="event-log">
                    <thead>
                        <tr>
                            <th scope="col">"id"</th>
                            <th scope="col">"event"</th>
                            <th scope="col">"data"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || entries.get()
                            key=|e| e.seq
                            children=move |e| {
                                view! {
                                    <tr data-testid="event-log-item" data-event=e.event_type.clone()>
                                        <td class="mono">{e.id.clone()}</td>
                                        <td>{e.event_type.clone()}</td>
                                        <td class="mono data">{e.data.clone()}</td>
                                    </tr>
                                }
                            }
                        />
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}
