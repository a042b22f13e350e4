//! Live connection stats for admins: totals, a per-user table and an
//! events-per-second chart drawn in SVG, refreshed every second from
//! `GET /api/sse/stats`.

use leptos::prelude::*;
use sse_protocol::HubStats;

use crate::client;

const SAMPLES: usize = 60;

/// The admin stats panel.
#[component]
pub fn StatsPanel(#[prop(into)] token: Signal<Option<String>>) -> impl IntoView {
    let stats = RwSignal::new(None::<HubStats>);
    let history = RwSignal::new(Vec::<u64>::new());
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let poll = move || {
            let token = token.get_untracked();
            leptos::task::spawn_local(async move {
                match client::get_json::<HubStats>("/api/sse/stats", token.as_deref()).await {
                    Ok(s) => {
                        history.update(|h| {
                            h.push(s.deliveries_per_second);
                            if h.len() > SAMPLES {
                                h.remove(0);
                            }
                        });
                        stats.set(Some(s));
                        error.set(None);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        };
        poll();
        if let Ok(h) = set_interval_with_handle(poll, std::time::Duration::from_secs(1)) {
            on_cleanup(move || h.clear());
        }
    });
    let stat = move |f: fn(&HubStats) -> u64| move || stats.get().map(|s| f(&s)).unwrap_or(0);
    view! {
        <section class="card stats" aria-label="Connection stats" data-testid="stats-panel">
            <h2>"Connection stats"</h2>
            <p class="error">{move || error.get()}</p>
            <dl class="totals">
                <div><dt>"Connections"</dt><dd data-testid="stats-total-connections">{stat(|s| s.total_connections)}</dd></div>
                <div><dt>"Users"</dt><dd data-testid="stats-user-count">{stat(|s| s.user_count)}</dd></div>
                <div><dt>"Events sent"</dt><dd data-testid="stats-events-sent">{stat(|s| s.total_events_sent)}</dd></div>
                <div><dt>"Deliveries/s"</dt><dd data-testid="stats-deliveries-per-second">{stat(|s| s.deliveries_per_second)}</dd></div>
                <div><dt>"Dropped"</dt><dd>{stat(|s| s.dropped_events)}</dd></div>
                <div><dt>"Slow disconnects"</dt><dd>{stat(|s| s.slow_disconnects)}</dd></div>
            </dl>
            <Chart samples=history/>
            <table class="users" data-testid="stats-users">
                <thead>
                    <tr>
                        <th scope="col">"user"</th>
                        <th scope="col">"connections"</th>
                        <th scope="col">"topics"</th>
                        <th scope="col">"filters"</th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || stats.get().map(|s| s.users).unwrap_or_default()
                        key=|u| (u.user_id.clone(), u.connections, u.topics.clone(), u.filters.clone())
                        children=move |u| {
                            view! {
                                <tr data-testid="stats-user-row" data-user=u.user_id.clone()>
                                    <td>{u.user_id.clone()}</td>
                                    <td data-testid="stats-user-connections">{u.connections}</td>
                                    <td>{u.topics.join(", ")}</td>
                                    <td>{if u.filters.is_empty() { "all".to_string() } else { u.filters.join(", ") }}</td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

/// A line chart of the last samples, scaled to the largest.
#[component]
fn Chart(samples: RwSignal<Vec<u64>>) -> impl IntoView {
    const W: f64 = 600.0;
    const H: f64 = 120.0;
    let points = move || {
        let s = samples.get();
        let max = s.iter().copied().max().unwrap_or(0).max(1) as f64;
        let step = W / (SAMPLES - 1) as f64;
        let offset = SAMPLES.saturating_sub(s.len()) as f64 * step;
        s.iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    offset + i as f64 * step,
                    H - (*v as f64 / max) * (H - 10.0)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let peak = move || samples.get().iter().copied().max().unwrap_or(0);
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {W} {H}")
                preserveAspectRatio="none"
                role="img"
                aria-label="Deliveries per second, last 60 seconds"
                data-testid="stats-chart"
            >
                <line x1="0" y1=H x2=W y2=H class="axis"></line>
                <polyline points=points class="series"></polyline>
            </svg>
            <figcaption class="muted small">{move || format!("deliveries/s, last 60 s (peak {})", peak())}</figcaption>
        </figure>
    }
    .into_any()
}
