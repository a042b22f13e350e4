//! Jobs as live progress bars.

use leptos::prelude::*;

use super::types::Job;

/// A progress bar per job or operation.
#[component]
pub fn JobList(#[prop(into)] jobs: Signal<Vec<Job>>) -> impl IntoView {
    view! {
        <section class="card" aria-label="Jobs">
            <h2>"Jobs"</h2>
            <Show when=move || jobs.with(|j| j.is_empty())>
                <p class="muted">"No jobs. Start one from the send panel."</p>
            </Show>
            <For
                each=move || jobs.get()
                key=|j| (j.id.clone(), j.percentage, j.done)
                children=move |j| {
                    let label = format!("Job {}", j.id);
                    view! {
                        <div class=if j.done { "job done" } else { "job" } data-testid="job" data-job-id=j.id.clone()>
                            <div class="job-head">
                                <span class="job-id">{j.id.clone()}</span>
                                <span class="job-status" data-testid="job-status">
                                    {if j.done { "completed".to_string() } else { format!("{}%", j.percentage) }}
                                </span>
                            </div>
                            <div
                                class="progress"
                                role="progressbar"
                                aria-label=label
                                aria-valuemin="0"
                                aria-valuemax="100"
                                aria-valuenow=j.percentage.to_string()
                                data-testid="job-progress"
                            >
                                <div class="progress-fill" style=format!("width: {}%", j.percentage)></div>
                            </div>
                            <p class="muted small">{j.message.clone()}</p>
                        </div>
                    }
                }
            />
        </section>
    }
    .into_any()
}
