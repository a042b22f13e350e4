//! Who is here: for each topic this page is subscribed to, the users
//! present over every node (`GET /api/sse/presence`), refetched whenever a
//! `presence.join` / `presence.leave` arrives or the topics change.

use leptos::prelude::*;
use sse_protocol::PresencePage;

use crate::client;
use use_sse::encode;

/// One line per subscribed topic.
#[component]
pub fn WhoIsHere(
    #[prop(into)] token: Signal<Option<String>>,
    #[prop(into)] topics: Signal<Vec<String>>,
    /// Bumped by the page on every presence event.
    #[prop(into)]
    changed: Signal<u64>,
) -> impl IntoView {
    let pages = RwSignal::new(Vec::<(String, Result<PresencePage, String>)>::new());
    Effect::new(move |_| {
        changed.track();
        let topics = topics.get();
        let token = token.get_untracked();
        leptos::task::spawn_local(async move {
            let mut out = Vec::new();
            for t in topics {
                let path = format!("/api/sse/presence?topic={}", encode(&t));
                let page = client::get_json::<PresencePage>(&path, token.as_deref()).await;
                out.push((t, page));
            }
            pages.set(out);
        });
    });
    view! {
        <section class="card presence" aria-label="Who is here" data-testid="presence-panel">
            <h2>"Who is here"</h2>
            <Show when=move || pages.with(|p| p.is_empty())>
                <p class="muted">"Subscribe to a topic to see who else is in it."</p>
            </Show>
            <ul>
                <For each=move || pages.get() key=|(t, p)| format!("{t}{p:?}") let:item>
                    {
                        let (topic, page) = item;
                        let text = match page {
                            Ok(p) if p.users.is_empty() => "nobody".to_string(),
                            Ok(p) => {
                                let names: Vec<String> = p
                                    .users
                                    .iter()
                                    .map(|u| {
                                        if u.connections > 1 {
                                            format!("{} ×{}", u.user_id, u.connections)
                                        } else {
                                            u.user_id.clone()
                                        }
                                    })
                                    .collect();
                                format!("{} ({})", names.join(", "), p.total)
                            }
                            Err(e) => e,
                        };
                        let label = topic.clone();
                        view! {
                            <li data-testid="presence-topic" data-topic=topic>
                                <strong>{label}</strong>": "<span>{text}</span>
                            </li>
                        }
                    }
                </For>
            </ul>
        </section>
    }
    .into_any()
}
