//! The send panel: triggers every demo event type through `POST /api/sse/demo`.

use leptos::prelude::*;

use super::text_field::TextField;
use crate::client;

/// Demo types and their button labels.
pub const DEMO_TYPES: &[(&str, &str)] = &[
    ("broadcast", "Broadcast"),
    ("user", "To a user"),
    ("system", "System"),
    ("update", "Data update"),
    ("progress", "Progress"),
    ("success", "Success"),
    ("error", "Error"),
    ("job", "Start a job"),
];

/// One button per demo type, a recipient and a message.
#[component]
pub fn SendPanel(#[prop(into)] token: Signal<Option<String>>) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);
    let send = move |kind: &'static str| {
        let token = token.get_untracked();
        let mut body = serde_json::json!({ "type": kind });
        let to = to.get_untracked().trim().to_string();
        if !to.is_empty() {
            body["userId"] = to.into();
        }
        let msg = message.get_untracked();
        if !msg.is_empty() {
            body["message"] = msg.into();
        }
        leptos::task::spawn_local(async move {
            let r =
                client::post_json::<_, serde_json::Value>("/api/sse/demo", token.as_deref(), &body)
                    .await;
            result.set(Some(r.map(
                |v| match v.get("jobId").and_then(|j| j.as_str()) {
                    Some(job) => format!("{kind}: started {job}"),
                    None => format!("{kind}: delivered to {} connection(s)", v["delivered"]),
                },
            )));
        });
    };
    let buttons = DEMO_TYPES
        .iter()
        .map(|(kind, label)| {
            view! {
                <button type="button" data-testid=format!("send-{kind}") on:click=move |_| send(kind)>
                    {*label}
                </button>
            }
        })
        .collect_view();
    view! {
        <section class="card send" aria-label="Send events">
            <h2>"Send"</h2>
            <div class="row">
                <TextField label="Recipient (user id; empty: yourself)" testid="send-to" placeholder="yourself" value=to/>
                <TextField
                    label="Message"
                    testid="send-message"
                    placeholder="Hello!"
                    maxlength=1000
                    class="grow"
                    value=message
                />
            </div>
            <div class="actions">{buttons}</div>
            <p
                data-testid="send-result"
                class=move || match result.get() {
                    Some(Err(_)) => "error",
                    _ => "muted",
                }
            >
                {move || result.get().map(|r| r.unwrap_or_else(|e| e))}
            </p>
        </section>
    }
    .into_any()
}
