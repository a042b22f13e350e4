//! The hub's UI: the `/sse-demo` dashboard, built on the [`use_sse`]
//! hook exactly as any Leptos app would use it (the hook is a crate of its
//! own, `use_sse/`).

pub mod client;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                // File names carry a content hash in release builds made
                // with LEPTOS_HASH_FILES=true (see server/src/site.rs).
                <HashedStylesheet id="leptos" options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: its routes (the stylesheet is in [`shell`]).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="SSE Hub"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=pages::home::HomePage/>
                <Route path=StaticSegment("sse-demo") view=pages::sse_demo::SseDemoPage/>
                <Route path=StaticSegment("session-demo") view=pages::session_demo::SessionDemoPage/>
            </Routes>
        </Router>
    }
}
