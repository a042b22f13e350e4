//! A live sparkline of how many events per second this page receives
//! (system ticks aside), sampled each second, for everyone (the hub-wide
//! chart needs the admin stats).

use leptos::prelude::*;

const SAMPLES: usize = 60;

/// Events per second from a running `count`.
#[component]
pub fn Sparkline(#[prop(into)] count: Signal<u64>) -> impl IntoView {
    let samples = RwSignal::new(Vec::<u64>::new());
    let last = StoredValue::new(None::<u64>);
    Effect::new(move |_| {
        let tick = move || {
            let now = count.get_untracked();
            let delta = last.get_value().map_or(0, |l| now.saturating_sub(l));
            last.set_value(Some(now));
            samples.update(|s| {
                s.push(delta);
                if s.len() > SAMPLES {
                    s.remove(0);
                }
            });
        };
        tick();
        if let Ok(h) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || h.clear());
        }
    });
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let points = move || {
        let s = samples.get();
        let max = s.iter().copied().max().unwrap_or(0).max(5) as f64;
        let step = W / (SAMPLES - 1) as f64;
        let offset = SAMPLES.saturating_sub(s.len()) as f64 * step;
        s.iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    offset + i as f64 * step,
                    H - 1.0 - (*v as f64 / max) * (H - 2.0)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let now = move || samples.get().last().copied().unwrap_or(0);
    view! {
        <div class="sparkline" data-testid="sparkline">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label="Events per second you received, last 60 seconds">
                <polyline points=points></polyline>
            </svg>
            <span class="muted small" data-testid="sparkline-now">{move || format!("{} events/s now (last 60 s)", now())}</span>
        </div>
    }
    .into_any()
}
