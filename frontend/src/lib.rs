//! The browser entry point: hydrates the server-rendered page so the
//! `use_sse` hook can open its `EventSource`.

/// Called by the hydration script cargo-leptos generates.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
