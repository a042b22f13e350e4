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

/// One button per demo type, a recipient and a message. Enter in a field
/// sends to the recipient (yourself when empty). Buttons for what the
/// signed-in role may not do are disabled and say why.
#[component]
pub fn SendPanel(
    #[prop(into)] token: Signal<Option<String>>,
    #[prop(into)] role: Signal<String>,
) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);
    let admin = move || role.get() == "admin";
    let send = move |kind: DemoKind| {
        let token = token.get_untracked();
        let to = to.get_untracked().trim().to_string();
        let msg = message.get_untracked();
        let body = DemoRequest {
            kind,
            // Broadcast and System go to everyone: no recipient.
            user_id: (!to.is_empty() && !kind.is_for_everyone()).then_some(to),
            message: (!msg.is_empty()).then_some(msg),
            data: None,
        };
        result.set(None);
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
            let allowed = move || admin() || !kind.is_for_everyone();
            view! {
                <button
                    type="button"
                    data-testid=format!("send-{}", kind.as_str())
                    prop:disabled=move || !allowed()
                    title=move || (!allowed()).then_some("Only admins may send to everyone")
                    on:click=move |_| send(kind)
                >
                    {label(kind)}
                </button>
            }
        })
        .collect_view();
    view! {
        <form
            class="card send"
            aria-label="Send events"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                send(DemoKind::User);
            }
        >
            <h2>"Send"</h2>
            <div class="row">
                <Show
                    when=admin
                    fallback=|| view! { <p class="muted small" data-testid="send-to-hint">"You send to yourself; only admins send to other users or to everyone."</p> }
                >
                    <TextField label="Recipient (user id; empty: yourself)" testid="send-to" placeholder="yourself" value=to/>
                </Show>
                <TextField
                    label="Message"
                    testid="send-message"
                    placeholder="Hello! (Enter sends it to the recipient)"
                    maxlength=1000
                    class="grow"
                    value=message
                />
            </div>
            <div class="actions">
                {buttons}
                <span
                    role="status"
                    data-testid="send-result"
                    class=move || match result.get() {
                        Some(Err(_)) => "error send-result",
                        _ => "muted send-result",
                    }
                >
                    {move || result.get().map(|r| r.unwrap_or_else(|e| e))}
                </span>
            </div>
            <p class="muted small">"Broadcast and System go to everyone and ignore the recipient."</p>
        </form>
    }
    .into_any()
}
