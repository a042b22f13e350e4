//! The dashboard's pages and files: server-rendered HTML from the Leptos
//! app, and the WASM, JS and CSS it loads.
//!
//! The WASM is most of what a first visit downloads, so the files under
//! `/pkg` are served as the build left them: a release build made with
//! `scripts/build-release.sh` writes a `.br` and a `.gz`
//! beside each file, and the one the browser accepts is sent as it is (no
//! compression per request). With `LEPTOS_HASH_FILES=true` the build also
//! puts a hash of each file's content in its name and writes `hash.txt`
//! beside the server binary: those names never change content, so they
//! are cached for a year, `immutable`; without hashes, and for the pages,
//! browsers revalidate every time (`no-cache`).

use std::path::Path;

use app::{shell, App};
use axum::http::{header, HeaderValue};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;

/// Whether the build named its files by content hash (`hash.txt` beside
/// the binary, as cargo-leptos writes it).
fn hashed_build() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("hash.txt")))
        .is_some_and(|p| p.is_file())
}

fn leptos_options(cfg: &Config, hashed: bool) -> LeptosOptions {
    let output_name = std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "sse-hub".into());
    LeptosOptions::builder()
        .output_name(output_name)
        .site_root(cfg.listener.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(cfg.listener.addr)
        .hash_files(hashed)
        .build()
}

/// `Cache-Control` for the files under `/pkg`.
pub fn pkg_cache_control(hashed: bool) -> &'static str {
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// The dashboard's routes: pages, `/pkg` files, the rest of the site root.
pub fn router(cfg: &Config) -> Router {
    let hashed = hashed_build();
    tracing::debug!(hashed, "dashboard files");
    let options = leptos_options(cfg, hashed);
    let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let files = Router::new()
        .fallback_service(ServeDir::new(pkg).precompressed_br().precompressed_gzip())
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(pkg_cache_control(hashed)),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ));
    let routes = generate_route_list(App);
    Router::new()
        // Browsers and crawlers ask for /favicon.ico whatever the page says.
        .route(
            "/favicon.ico",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/favicon.svg") }),
        )
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        // Pages (and the few files at the site root) are revalidated.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .nest_service("/pkg", files)
}
