//! Connection controls: connect/disconnect, the server-side event filter,
//! and topics subscribed at runtime.

use leptos::prelude::*;
use sse_protocol::{events, TopicsRequest};

use super::text_field::TextField;
use crate::client;

/// Event types the filter offers.
pub const FILTERABLE: &[&str] = &[
    events::NOTIFICATION,
    events::SYSTEM,
    events::PROGRESS,
    events::JOB_COMPLETED,
    events::DATA_CHANGE,
    events::METRICS,
];

/// The filter checkboxes. `selected` empty means "all types"; every change
/// runs `on_change` (the page reconnects with the new filter).
#[component]
pub fn EventFilter(
    selected: RwSignal<Vec<String>>,
    #[prop(into)] on_change: Callback<()>,
) -> impl IntoView {
    let boxes = FILTERABLE
        .iter()
        .map(|t| {
            let t = t.to_string();
            let id = format!("filter-{}", t.replace('.', "-"));
            let checked = {
                let t = t.clone();
                move || {
                    let s = selected.get();
                    s.is_empty() || s.contains(&t)
                }
            };
            let toggle = {
                let t = t.clone();
                move |ev: leptos::ev::Event| {
                    let on = event_target_checked(&ev);
                    selected.update(|s| {
                        if s.is_empty() {
                            *s = FILTERABLE.iter().map(|x| x.to_string()).collect();
                        }
                        s.retain(|x| *x != t);
                        if on {
                            s.push(t.clone());
                        }
                        if s.len() == FILTERABLE.len() {
                            s.clear();
                        }
                    });
                    on_change.run(());
                }
            };
            view! {
                <label class="chip">
                    <input type="checkbox" data-testid=id prop:checked=checked on:change=toggle/>
                    {t}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="filter">
            <legend>"Event types (server-side filter)"</legend>
            {boxes}
        </fieldset>
    }
    .into_any()
}

/// Subscribe / unsubscribe this connection to topics.
#[component]
pub fn TopicControls(
    #[prop(into)] token: Signal<Option<String>>,
    #[prop(into)] connection_id: Signal<Option<String>>,
    topics: RwSignal<Vec<String>>,
    /// Who is signed in, and what their token grants (`None`: every topic).
    #[prop(into)]
    user: Signal<Option<String>>,
    #[prop(into)] grants: Signal<Option<sse_protocol::TopicGrants>>,
) -> impl IntoView {
    let allowed = move || match (user.get(), grants.get()) {
        (None, _) => String::new(),
        (Some(_), None) => "You may subscribe to every topic (admin).".to_string(),
        (Some(u), Some(g)) => match g.subscribe {
            Some(list) if !list.is_empty() => format!(
                "You may subscribe to: {}",
                list.iter()
                    .map(|p| p.replace("{sub}", &u))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "Your token grants no topics.".to_string(),
        },
    };
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let change = move |subscribe: bool| {
        let topic = input.get_untracked().trim().to_string();
        if topic.is_empty() {
            return;
        }
        let token = token.get_untracked();
        let body = TopicsRequest {
            topics: vec![topic.clone()],
            connection_id: connection_id.get_untracked(),
        };
        let path = if subscribe {
            "/api/sse/subscribe"
        } else {
            "/api/sse/unsubscribe"
        };
        leptos::task::spawn_local(async move {
            match client::post_json::<_, serde_json::Value>(path, token.as_deref(), &body).await {
                Ok(_) => {
                    error.set(None);
                    topics.update(|t| {
                        t.retain(|x| *x != topic);
                        if subscribe {
                            t.push(topic);
                        }
                    });
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form
            class="topics"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                change(true);
            }
        >
            <TextField label="Topic (Enter subscribes)" testid="topic-input" placeholder="news" value=input/>
            <button type="button" data-testid="topic-subscribe" on:click=move |_| change(true)>"Subscribe"</button>
            <button type="button" data-testid="topic-unsubscribe" on:click=move |_| change(false)>"Unsubscribe"</button>
            <span class="muted" data-testid="topics-list">
                {move || {
                    let t = topics.get();
                    if t.is_empty() { "no topics".to_string() } else { t.join(", ") }
                }}
            </span>
            <span class="error" data-testid="topic-error">{move || error.get()}</span>
            <p class="muted" data-testid="topic-grants">{allowed}</p>
        </form>
    }
    .into_any()
}
