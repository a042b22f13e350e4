//! A labelled text input bound to a signal: the dashboard's one input
//! pattern, so every field has a label, a test id and the same wiring.

use leptos::prelude::*;

/// `<label>` + `<input type="text">` writing into `value`.
#[component]
pub fn TextField(
    /// The visible label (also the accessible name).
    label: &'static str,
    /// `data-testid` of the input.
    testid: &'static str,
    /// Placeholder text.
    #[prop(optional)]
    placeholder: &'static str,
    /// `maxlength`, if any.
    #[prop(optional)]
    maxlength: Option<u32>,
    /// Extra class on the label (e.g. `grow`).
    #[prop(optional)]
    class: &'static str,
    /// The bound value.
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label class=class>
            {label}
            <input
                type="text"
                data-testid=testid
                placeholder=placeholder
                maxlength=maxlength.map(|m| m.to_string())
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
    .into_any()
}
