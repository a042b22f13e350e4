//! `/metrics` in the Prometheus text format, without a metrics framework:
//! the hub's own counters plus a latency histogram per HTTP route, recorded
//! by a middleware in [`crate::api`].
//!
//! Label values come from the network, so none is taken as sent: the
//! method is one of the standard ones or `other`, the route is the matched
//! route template or `unmatched`, and the status is a number. The number
//! of series is bounded whatever clients send (and capped besides, in case
//! a router ever grows routes without end).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use http::Method;

use crate::auth::JwksStatus;
use crate::hub::Hub;
use crate::lifecycle_webhook::WebhookCounters;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Most latency series kept; requests that would start another are only
/// counted (`sse_hub_http_requests_unlabelled_total`).
const MAX_SERIES: usize = 1024;

/// Request latency per (method, route, status), recorded by the API's
/// middleware ([`crate::api::Api`] holds it).
#[derive(Debug, Default)]
pub struct HttpMetrics {
    routes: DashMap<(&'static str, String, u16), Histogram>,
    unlabelled: AtomicU64,
}

/// The method as a label: a standard method's name, or `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", |m| m.as_str())
}

impl HttpMetrics {
    /// Records one request. `route` is the matched route template (`None`:
    /// no route matched).
    pub(crate) fn record(
        &self,
        method: &Method,
        route: Option<&str>,
        status: u16,
        elapsed: Duration,
    ) {
        let key = (
            method_label(method),
            route.unwrap_or("unmatched").to_string(),
            status,
        );
        if self.routes.len() >= MAX_SERIES && !self.routes.contains_key(&key) {
            self.unlabelled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let h = self.routes.entry(key).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Renders every metric of `hub`, the request latencies in `http`, and
/// the lifecycle webhook's counters when there is one.
pub fn render(
    hub: &Hub,
    http: &HttpMetrics,
    webhook: Option<&WebhookCounters>,
    jwks: Option<JwksStatus>,
) -> String {
    let s = hub.summary();
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "sse_hub_connections",
        "gauge",
        "Open SSE connections on this node.",
        s.total_connections,
    );
    metric(
        "sse_hub_users",
        "gauge",
        "Distinct users connected to this node.",
        s.user_count,
    );
    metric(
        "sse_hub_events_published_total",
        "counter",
        "Events published through this node (accepted by the broker, duplicates aside): summed over nodes, the cluster's publishes.",
        hub.events_accepted(),
    );
    metric(
        "sse_hub_events_ingested_total",
        "counter",
        "Events this node took from the broker for its connections (every node counts every event it reads).",
        s.total_events_published,
    );
    metric(
        "sse_hub_publish_failures_total",
        "counter",
        "Publishes through this node that failed (broker down, slow or busy).",
        s.publish_failures,
    );
    metric(
        "sse_hub_broker_errors_total",
        "counter",
        "Errors this node's broker met in the background (it retries by itself).",
        s.broker_errors,
    );
    metric(
        "sse_hub_events_delivered_total",
        "counter",
        "Event frames queued to connections.",
        s.total_events_sent,
    );
    metric(
        "sse_hub_events_dropped_total",
        "counter",
        "Event frames dropped because a queue was full.",
        s.dropped_events,
    );
    metric(
        "sse_hub_slow_disconnects_total",
        "counter",
        "Connections closed for not keeping up.",
        s.slow_disconnects,
    );
    metric(
        "sse_hub_connections_opened_total",
        "counter",
        "Connections opened.",
        s.connections_opened,
    );
    metric(
        "sse_hub_connections_rejected_total",
        "counter",
        "Streams refused by a connection limit.",
        s.connections_rejected,
    );
    metric(
        "sse_hub_history_events",
        "gauge",
        "Events held for Last-Event-ID replay.",
        s.history_len,
    );
    metric(
        "sse_hub_replayed_events_total",
        "counter",
        "Events replayed to resuming clients.",
        s.replayed_events,
    );
    metric(
        "sse_hub_resets_total",
        "counter",
        "reset events sent to clients beyond the history.",
        s.resets_sent,
    );
    metric(
        "sse_hub_events_skipped_total",
        "counter",
        "Events the broker handed over with an id not above this node's head (not delivered).",
        hub.events_skipped(),
    );
    metric(
        "sse_hub_replays_running",
        "gauge",
        "Resumes reading history now (at most max_concurrent_replays).",
        hub.replays_running() as u64,
    );
    metric(
        "sse_hub_replays_refused_total",
        "counter",
        "Resumes refused with 503 replays_busy after waiting replay_wait for a turn.",
        hub.replays_refused(),
    );
    metric(
        "sse_hub_uptime_seconds",
        "gauge",
        "Seconds since the hub started.",
        s.uptime_secs,
    );
    let closed = hub.connections_closed();
    metric(
        "sse_hub_connections_closed_total",
        "counter",
        "Connections closed.",
        closed,
    );
    metric(
        "sse_hub_lifecycle_events_refused_total",
        "counter",
        "Lifecycle events the observer could not take (its queue was full).",
        hub.lifecycle_dropped(),
    );
    let broker = hub.broker_counters();
    metric(
        "sse_hub_broker_reconnections_total",
        "counter",
        "Broker connections remade after a failure.",
        broker.reconnections,
    );
    metric(
        "sse_hub_broker_failovers_total",
        "counter",
        "Times the broker followed a failover to another primary.",
        broker.failovers,
    );
    metric(
        "sse_hub_broker_lost_tails_total",
        "counter",
        "Times this node found the broker's log behind what it delivered (a failover lost its tail).",
        broker.lost_tails,
    );
    metric(
        "sse_hub_broker_gaps_total",
        "counter",
        "Times this node fell behind the broker's log by more than it keeps (a stall); its connections were replayed from the history or reset.",
        hub.broker_gaps(),
    );
    metric(
        "sse_hub_ready",
        "gauge",
        "1 while this node is ready (broker answers, not shutting down).",
        u64::from(hub.readiness().is_ok()),
    );
    if let Some(w) = webhook {
        metric(
            "sse_hub_webhook_events_sent_total",
            "counter",
            "Lifecycle events the webhook receiver accepted.",
            w.sent.load(Ordering::Relaxed),
        );
        metric(
            "sse_hub_webhook_events_dropped_total",
            "counter",
            "Lifecycle events dropped: queue full, or their batch failed for good.",
            w.dropped.load(Ordering::Relaxed),
        );
        metric(
            "sse_hub_webhook_failed_posts_total",
            "counter",
            "Webhook POSTs that failed (each retry counts).",
            w.failed_posts.load(Ordering::Relaxed),
        );
    }

    if let Some(k) = jwks {
        metric(
            "sse_hub_jwks_stale",
            "gauge",
            "1 while the last fetch of the identity provider's key set failed (the last good set is in use).",
            u64::from(k.stale),
        );
        metric(
            "sse_hub_jwks_age_seconds",
            "gauge",
            "Seconds since the key set in use was fetched.",
            k.age_secs,
        );
        metric(
            "sse_hub_jwks_keys",
            "gauge",
            "Signing keys in the key set in use.",
            k.keys as u64,
        );
        metric(
            "sse_hub_jwks_fetches_total",
            "counter",
            "Fetches of the key set (on schedule, and for an unknown kid at most once per floor interval).",
            k.fetches,
        );
        metric(
            "sse_hub_jwks_fetch_failures_total",
            "counter",
            "Key set fetches that failed.",
            k.failures,
        );
    }

    metric(
        "sse_hub_http_requests_unlabelled_total",
        "counter",
        "Requests not recorded by route because the series limit was reached.",
        http.unlabelled.load(Ordering::Relaxed),
    );

    let name = "sse_hub_http_request_duration_seconds";
    let _ = writeln!(out, "# HELP {name} HTTP request latency (to the response head) by route.\n# TYPE {name} histogram");
    let mut rows: Vec<_> = http
        .routes
        .iter()
        .map(|e| (e.key().clone(), snapshot(e.value())))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for ((method, route, status), (buckets, count, sum)) in rows {
        let labels = format!(
            "method=\"{method}\",route=\"{}\",status=\"{status}\"",
            escape(&route)
        );
        for (b, n) in BUCKETS.iter().zip(buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", sum as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
    out
}

fn snapshot(h: &Histogram) -> ([u64; BUCKETS.len()], u64, u64) {
    let mut b = [0; BUCKETS.len()];
    for (i, v) in h.buckets.iter().enumerate() {
        b[i] = v.load(Ordering::Relaxed);
    }
    (
        b,
        h.count.load(Ordering::Relaxed),
        h.sum_micros.load(Ordering::Relaxed),
    )
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_whatever_the_method() {
        let m = HttpMetrics::default();
        for i in 0..5000 {
            let method = Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
            m.record(&method, None, 404, Duration::from_millis(1));
            m.record(&Method::GET, Some("/api/health"), 200, Duration::ZERO);
        }
        assert_eq!(m.routes.len(), 2);
        let other = m
            .routes
            .get(&("other", "unmatched".to_string(), 404))
            .unwrap();
        assert_eq!(other.count.load(Ordering::Relaxed), 5000);
        drop(other);
        // Even statuses without end would stop at the cap.
        for status in 0..2000 {
            m.record(&Method::GET, None, status, Duration::ZERO);
        }
        assert_eq!(m.routes.len(), MAX_SERIES);
        assert!(m.unlabelled.load(Ordering::Relaxed) > 0);
    }
}
