//! The send panel: triggers every demo event type through `POST /api/sse/demo`.

use leptos::prelude::*;
use sse_protocol::{DemoKind, DemoRequest, DemoSent};

use super::text_field::TextField;
use crate::client;

/// The button label of each demo kind.
fn label(kind: DemoKind) -> &'static str {
    match kind {
        DemoKind::Broadcast => "Broadcast",
        DemoKind::User => "To a user",
        DemoKind::System => "System",
        DemoKind::Update => "Data update",
        DemoKind::Progress => "Progress",
        DemoKind::Success => "Success",
        DemoKind::Error => "Error",
        DemoKind::Job => "Start a job",
    }
}

/// One button per demo type, a recipient and a message.
#[component]
pub fn SendPanel(#[prop(into)] token: Signal<Option<String>>) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);
    let send = move |kind: DemoKind| {
        let token = token.get_untracked();
        let to = to.get_untracked().trim().to_string();
        let msg = message.get_untracked();
        let body = DemoRequest {
            kind,
            user_id: (!to.is_empty()).then_some(to),
            message: (!msg.is_empty()).then_some(msg),
            data: None,
        };
        leptos::task::spawn_local(async move {
            let r =
                client::post_json::<_, DemoSent>("/api/sse/demo", token.as_deref(), &body).await;
            let kind = kind.as_str();
            result.set(Some(r.map(|sent| match sent.job_id {
                Some(job) => format!("{kind}: started {job}"),
                None => format!("{kind}: delivered to {} connection(s)", sent.delivered),
            })));
        });
    };
    let buttons = DemoKind::ALL
        .into_iter()
        .map(|kind| {
            view! {
                <button type="button" data-testid=format!("send-{}", kind.as_str()) on:click=move |_| send(kind)>
                    {label(kind)}
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
