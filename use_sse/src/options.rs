//! How a `use_sse` connection is set up: [`UseSseOptions`], and the stream
//! URL and headers built from them.

use std::sync::Arc;

use leptos::prelude::*;

use super::backoff::Backoff;

/// Settings of [`super::use_sse_with_options`].
#[derive(Clone)]
pub struct UseSseOptions {
    /// The JWT, read at every (re)connect so a refreshed token is used.
    /// Sent as `Authorization: Bearer`, never in the URL.
    pub token: Signal<Option<String>>,
    /// Server-side filter: only these event types are sent (empty: all).
    /// Read at every (re)connect; call `connect()` to apply a change now.
    pub events: Signal<Vec<String>>,
    /// Topics to subscribe to when connecting (read at every connect).
    pub topics: Signal<Vec<String>>,
    /// Send the page's cookies to the hub (fetch `credentials: 'include'`),
    /// for a hub that takes the token from an HttpOnly session cookie your
    /// app sets (`--auth-cookie`): then no token is in any script, and
    /// `token` stays `None`. A hub on another origin must list this page's
    /// origin in `--cors-origins`. A refused or removed cookie is a 401,
    /// final as for any refused token.
    pub credentials: bool,
    /// Session id sent to the hub.
    pub session_id: Option<String>,
    /// Extra query parameters, which the hub keeps as connection metadata.
    pub metadata: Vec<(String, String)>,
    /// Reconnect after errors.
    pub auto_reconnect: bool,
    /// Delays between attempts.
    pub backoff: Backoff,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
    /// After this long open, the attempt counter starts again from zero.
    pub stable_after_ms: u32,
    /// Connect as soon as the component mounts.
    pub immediate: bool,
    /// Called when the token expires or is refused; see [`TokenRefresh`].
    pub refresh_token: Option<TokenRefresh>,
    /// Tabs of this origin that open the same stream (same URL, user,
    /// filter and topics) share one upstream connection: one leader tab
    /// holds it and relays events to the others.
    pub share_across_tabs: bool,
}

impl Default for UseSseOptions {
    fn default() -> Self {
        Self {
            token: Signal::stored(None),
            events: Signal::stored(Vec::new()),
            topics: Signal::stored(Vec::new()),
            credentials: false,
            session_id: None,
            metadata: Vec::new(),
            auto_reconnect: true,
            backoff: Backoff::default(),
            max_attempts: None,
            stable_after_ms: 5000,
            immediate: true,
            refresh_token: None,
            share_across_tabs: true,
        }
    }
}

/// Fetches a fresh token when the hub says the current one expired (or
/// refuses it with 401). It should update the signal passed as
/// [`UseSseOptions::token`] and resolve to `true`; the hook then reconnects
/// from the last event id, so nothing is lost.
pub type TokenRefresh =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> + Send + Sync>;

/// The stream URL: filters, topics, session and metadata, percent-encoded.
/// Never the token or the resume id: those go in headers
/// ([`stream_headers`]), which proxies and access logs do not keep.
pub fn stream_url(base: &str, options: &UseSseOptions) -> String {
    let mut params: Vec<(String, String)> = Vec::new();
    let events = options.events.get_untracked();
    if !events.is_empty() {
        params.push(("events".into(), events.join(",")));
    }
    let topics = options.topics.get_untracked();
    if !topics.is_empty() {
        params.push(("topics".into(), topics.join(",")));
    }
    if let Some(s) = &options.session_id {
        params.push(("sessionId".into(), s.clone()));
    }
    params.extend(options.metadata.iter().cloned());
    if params.is_empty() {
        return base.to_string();
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", query.join("&"))
}

/// The request headers of a stream: `Accept`, the token as
/// `Authorization: Bearer`, and `Last-Event-ID` when resuming.
pub fn stream_headers(token: Option<&str>, last_event_id: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![("Accept".to_string(), "text/event-stream".to_string())];
    if let Some(t) = token {
        h.push(("Authorization".into(), format!("Bearer {t}")));
    }
    if let Some(id) = last_event_id {
        h.push(("Last-Event-ID".into(), id.to_string()));
    }
    h
}

/// `s` percent-encoded for a URL query (unreserved characters kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encodes_everything_and_holds_no_secret() {
        Owner::new().with(|| {
            let o = UseSseOptions {
                token: Signal::stored(Some("secret-token".into())),
                events: Signal::stored(vec!["a".into(), "b".into()]),
                topics: Signal::stored(vec!["t 1".into()]),
                metadata: vec![("room".into(), "x&y".into())],
                ..Default::default()
            };
            let url = stream_url("/s", &o);
            assert_eq!(url, "/s?events=a%2Cb&topics=t%201&room=x%26y");
            assert!(!url.contains("secret-token"));
            assert_eq!(stream_url("/s", &UseSseOptions::default()), "/s");
            let headers = stream_headers(Some("secret-token"), Some("1-2"));
            assert!(headers.contains(&("Authorization".into(), "Bearer secret-token".into())));
            assert!(headers.contains(&("Last-Event-ID".into(), "1-2".into())));
        });
    }
}
