//! `/`: what this is and where to go.

use leptos::prelude::*;

/// The landing page.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <main class="page home">
            <h1>"SSE Hub"</h1>
            <p>"A real-time push hub: authenticated Server-Sent Events streams, targeting, topics, replay."</p>
            <p><a href="/sse-demo" data-testid="demo-link">"Open the live dashboard"</a></p>
            <ul class="links">
                <li><a href="/api/health">"/api/health"</a></li>
                <li><a href="/metrics">"/metrics"</a></li>
            </ul>
        </main>
    }
}
