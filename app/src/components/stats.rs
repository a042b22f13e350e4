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
    let history = RwSignal::new(Vec::<Sample>::new());
    // The hub's uptime at the last poll: a smaller one means it restarted.
    let uptime = StoredValue::new(None::<u64>);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let poll = move || {
            let token = token.get_untracked();
            leptos::task::spawn_local(async move {
                match client::get_json::<HubStats>("/api/sse/stats", token.as_deref()).await {
                    Ok(s) => {
                        let restart = uptime
                            .get_value()
                            .is_some_and(|before| s.uptime_secs < before);
                        uptime.set_value(Some(s.uptime_secs));
                        history.update(|h| {
                            h.push(Sample {
                                value: s.deliveries_per_second,
                                restart,
                            });
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
                <div><dt>"Events sent since the hub started"</dt><dd data-testid="stats-events-sent">{stat(|s| s.total_events_sent)}</dd></div>
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

/// One poll's deliveries per second, and whether the hub had restarted
/// since the poll before (its counters start again from zero).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    value: u64,
    restart: bool,
}

/// The smallest of 10, 20, 50, 100, 200, 500... at or above `peak`, so
/// the scale is round and a value of 1 does not fill the chart.
fn nice_max(peak: u64) -> u64 {
    let mut unit = 10u64;
    loop {
        for m in [1, 2, 5] {
            if unit * m >= peak {
                return unit * m;
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// A line chart of the last 60 s with labelled axes, a round scale and a
/// mark where the hub restarted.
#[component]
fn Chart(samples: RwSignal<Vec<Sample>>) -> impl IntoView {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 24.0;
    let plot_h = H - BOTTOM - 6.0;
    let scale = move || nice_max(samples.get().iter().map(|s| s.value).max().unwrap_or(0));
    let x_of = move |i: usize, len: usize| {
        let step = (W - LEFT) / (SAMPLES - 1) as f64;
        LEFT + (SAMPLES.saturating_sub(len) + i) as f64 * step
    };
    let y_of = move |v: u64, max: u64| H - BOTTOM - (v as f64 / max as f64) * plot_h;
    let points = move || {
        let s = samples.get();
        let max = scale();
        s.iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x_of(i, s.len()), y_of(p.value, max)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let restarts = move || {
        let s = samples.get();
        s.iter()
            .enumerate()
            .filter(|(_, p)| p.restart)
            .map(|(i, _)| x_of(i, s.len()))
            .collect::<Vec<_>>()
    };
    let peak = move || samples.get().iter().map(|s| s.value).max().unwrap_or(0);
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {W} {H}")
                role="img"
                aria-label=move || format!("Deliveries per second over the last 60 seconds; peak {}", peak())
                data-testid="stats-chart"
            >
                <line x1=LEFT y1=H - BOTTOM x2=W y2=H - BOTTOM class="axis"></line>
                <line x1=LEFT y1=H - BOTTOM - plot_h x2=LEFT y2=H - BOTTOM class="axis"></line>
                <text x=LEFT - 4.0 y=H - BOTTOM class="tick" text-anchor="end" data-testid="chart-min">"0"</text>
                <text x=LEFT - 4.0 y=H - BOTTOM - plot_h / 2.0 + 6.0 class="tick" text-anchor="end">{move || (scale() / 2).to_string()}</text>
                <text x=LEFT - 4.0 y=H - BOTTOM - plot_h + 14.0 class="tick" text-anchor="end" data-testid="chart-max">{move || scale().to_string()}</text>
                <text x=LEFT y=H - 3.0 class="tick">"−60 s"</text>
                <text x=(LEFT + W) / 2.0 y=H - 3.0 class="tick" text-anchor="middle">"−30 s"</text>
                <text x=W y=H - 3.0 class="tick" text-anchor="end">"now"</text>
                <For each=restarts key=|x| (*x * 10.0) as i64 let:x>
                    <g class="restart" data-testid="chart-restart">
                        <line x1=x y1=H - BOTTOM - plot_h x2=x y2=H - BOTTOM></line>
                        <text x=x + 4.0 y=H - BOTTOM - plot_h + 14.0 class="tick">"hub restarted"</text>
                    </g>
                </For>
                <polyline points=points class="series"></polyline>
            </svg>
            <figcaption class="muted small">
                {move || format!("Deliveries per second (events × connections), last 60 s; peak {}", peak())}
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scales_are_round_and_never_tiny() {
        let m: Vec<u64> = [0, 1, 10, 11, 25, 99, 101, 4300]
            .into_iter()
            .map(super::nice_max)
            .collect();
        assert_eq!(m, vec![10, 10, 10, 20, 50, 100, 200, 5000]);
    }
}
