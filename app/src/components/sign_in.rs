//! Sign in as a demo user: asks the hub for a demo token.

use leptos::prelude::*;
use sse_protocol::{DemoToken, DemoTokenRequest, Role};

use super::text_field::TextField;
use crate::client;

/// The signed-in identity, shared by the dashboard's panels.
#[derive(Clone, Copy)]
pub struct Session {
    /// The JWT.
    pub token: RwSignal<Option<String>>,
    /// The user id.
    pub user: RwSignal<Option<String>>,
    /// `user`, `publisher` or `admin`.
    pub role: RwSignal<String>,
    /// The topics the token grants (`None` for admins: every topic).
    pub grants: RwSignal<Option<sse_protocol::TopicGrants>>,
}

impl Session {
    /// A signed-out session.
    pub fn new() -> Self {
        Self {
            token: RwSignal::new(None),
            user: RwSignal::new(None),
            role: RwSignal::new("user".into()),
            grants: RwSignal::new(None),
        }
    }

    /// Whether the signed-in user is an admin.
    pub fn is_admin(&self) -> bool {
        self.token.get().is_some() && self.role.get() == "admin"
    }

    /// Gets a demo token for `user` with `role`; on success the session
    /// holds it.
    pub async fn sign_in(self, user: String, role: String) -> Result<(), String> {
        let role = Role::parse(&role).ok_or_else(|| format!("unknown role {role:?}"))?;
        let body = DemoTokenRequest {
            user_id: user,
            role,
        };
        let t: DemoToken = client::post_json("/api/auth/demo-token", None, &body).await?;
        remember(&t.user_id, t.role.as_str());
        self.token.set(Some(t.token));
        self.user.set(Some(t.user_id));
        self.role.set(t.role.as_str().to_string());
        self.grants.set(t.topics);
        Ok(())
    }

    /// The identity this browser signed in with last (shared by its tabs),
    /// or a new guest.
    pub fn identity() -> (String, String) {
        remembered().unwrap_or_else(|| {
            #[cfg(not(feature = "ssr"))]
            let n = (js_sys::Math::random() * 1e6) as u32;
            #[cfg(feature = "ssr")]
            let n = 0;
            (format!("guest-{n}"), "user".to_string())
        })
    }

    /// Forgets this browser's identity and signs in as a new guest.
    pub async fn sign_out(self) -> Result<(), String> {
        forget();
        let (user, role) = Self::identity();
        self.sign_in(user, role).await
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

/// The sign-in form. `on_signed_in` runs after a successful sign-in.
#[component]
pub fn SignIn(session: Session, #[prop(into)] on_signed_in: Callback<()>) -> impl IntoView {
    let user_input = RwSignal::new(String::new());
    let role_input = RwSignal::new("user".to_string());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user = user_input.get_untracked().trim().to_string();
        if user.is_empty() {
            error.set(Some("enter a user id".into()));
            return;
        }
        busy.set(true);
        let role = role_input.get_untracked();
        leptos::task::spawn_local(async move {
            match session.sign_in(user, role).await {
                Ok(()) => {
                    error.set(None);
                    on_signed_in.run(());
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card sign-in" on:submit=submit aria-label="Sign in">
            <h2>"Identity"</h2>
            <p class="whoami" data-testid="user">
                {move || match session.user.get() {
                    Some(u) => format!("Signed in as {u} ({})", session.role.get()),
                    None => "Signing in...".to_string(),
                }}
            </p>
            <div class="row">
                <TextField label="User id" testid="sign-in-user" placeholder="alice" maxlength=64 value=user_input/>
                <label>
                    "Role"
                    <select data-testid="sign-in-role" on:change=move |ev| role_input.set(event_target_value(&ev))>
                        <option value="user" selected>"user"</option>
                        <option value="publisher">"publisher"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <button type="submit" data-testid="sign-in-submit" prop:disabled=move || busy.get()>"Sign in"</button>
                <button
                    type="button"
                    data-testid="sign-out"
                    on:click=move |_| {
                        leptos::task::spawn_local(async move {
                            match session.sign_out().await {
                                Ok(()) => on_signed_in.run(()),
                                Err(e) => error.set(Some(e)),
                            }
                        });
                    }
                >
                    "Sign out"
                </button>
            </div>
            <p class="error" data-testid="sign-in-error">{move || error.get()}</p>
        </form>
    }
    .into_any()
}

#[cfg_attr(feature = "ssr", allow(dead_code))]
const IDENTITY_KEY: &str = "sse-demo-identity";

#[cfg(not(feature = "ssr"))]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Keeps the identity for this browser (every tab reads it on load).
fn remember(user: &str, role: &str) {
    #[cfg(not(feature = "ssr"))]
    if let Some(s) = storage() {
        let v = serde_json::json!({ "user": user, "role": role }).to_string();
        let _ = s.set_item(IDENTITY_KEY, &v);
    }
    #[cfg(feature = "ssr")]
    let _ = (user, role);
}

fn remembered() -> Option<(String, String)> {
    #[cfg(not(feature = "ssr"))]
    {
        let v: serde_json::Value =
            serde_json::from_str(&storage()?.get_item(IDENTITY_KEY).ok()??).ok()?;
        Some((
            v["user"].as_str()?.to_string(),
            v["role"].as_str()?.to_string(),
        ))
    }
    #[cfg(feature = "ssr")]
    None
}

fn forget() {
    #[cfg(not(feature = "ssr"))]
    if let Some(s) = storage() {
        let _ = s.remove_item(IDENTITY_KEY);
    }
}
