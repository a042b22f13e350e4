//! Lifecycle webhooks: connects, disconnects and topic changes, POSTed in
//! batches to an endpoint of the application (`--webhook-url`).
//!
//! - Each POST is a JSON array of [`sse_protocol::LifecycleEvent`]s, in the
//!   order they happened, signed with HMAC-SHA256 over the exact body:
//!   `X-Hub-Signature-256: sha256=<hex>` (`--webhook-secret`).
//! - A batch closes at [`WebhookOptions::batch`] events or after
//!   [`WebhookOptions::linger`]. Failures (no answer, 5xx, 429) are retried
//!   with exponential backoff, up to [`WebhookOptions::attempts`] times;
//!   then the batch is dropped and counted. 4xx other than 429 drops it at
//!   once (the receiver refuses it).
//! - The queue is bounded ([`WebhookOptions::queue`]): while the receiver
//!   is down or slow, events beyond it are dropped and counted. The hub
//!   only ever `try_send`s, so streams never wait for the receiver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sse_protocol::LifecycleEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::LifecycleObserver;

/// How the webhook batches, retries and bounds its queue.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Events queued at most while the receiver is slow; beyond, dropped.
    pub queue: usize,
    /// Most events in one POST.
    pub batch: usize,
    /// How long a batch waits for more events before it is sent.
    pub linger: Duration,
    /// Tries per batch, the first included.
    pub attempts: u32,
    /// The wait before the first retry; doubled each time, at most 10 s.
    pub backoff: Duration,
    /// How long one POST may take.
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            queue: 10_000,
            batch: 100,
            linger: Duration::from_millis(200),
            attempts: 5,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
        }
    }
}

/// What the webhook has done, for `/metrics`.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Events delivered (in batches the receiver accepted).
    pub sent: AtomicU64,
    /// Events dropped: the queue was full, or their batch failed for good.
    pub dropped: AtomicU64,
    /// POSTs that failed (each retry counts).
    pub failed_posts: AtomicU64,
}

/// The observer to give [`crate::hub::HubBuilder::lifecycle`]; its sender
/// task runs until the token is cancelled (and then drains what it can).
pub struct LifecycleWebhook {
    tx: mpsc::Sender<LifecycleEvent>,
    counters: Arc<WebhookCounters>,
}

impl LifecycleObserver for LifecycleWebhook {
    fn observe(&self, event: LifecycleEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

impl LifecycleWebhook {
    /// Starts the sender task (needs a tokio runtime). Returns the observer
    /// and its counters; fails only if the HTTP client cannot be built (its
    /// TLS set-up), never falling back to one without the timeout.
    pub fn start(
        url: impl Into<String>,
        secret: impl Into<Vec<u8>>,
        options: WebhookOptions,
        stop: CancellationToken,
    ) -> Result<(Self, Arc<WebhookCounters>), reqwest::Error> {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let counters = Arc::new(WebhookCounters::default());
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let sender = Sender {
            url: url.into(),
            secret: secret.into(),
            client,
            options,
            counters: counters.clone(),
        };
        tokio::spawn(sender.run(rx, stop));
        Ok((
            Self {
                tx,
                counters: counters.clone(),
            },
            counters,
        ))
    }
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

struct Sender {
    url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
    options: WebhookOptions,
    counters: Arc<WebhookCounters>,
}

/// How one POST went.
enum Outcome {
    Delivered,
    /// Worth another try (no answer, 5xx, 429).
    Retry,
    /// The receiver refused the batch (4xx): do not retry.
    Refused,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<LifecycleEvent>, stop: CancellationToken) {
        loop {
            let first = tokio::select! {
                e = rx.recv() => e,
                _ = stop.cancelled() => None,
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            let linger = tokio::time::sleep(self.options.linger);
            tokio::pin!(linger);
            while batch.len() < self.options.batch {
                tokio::select! {
                    e = rx.recv() => match e {
                        Some(e) => batch.push(e),
                        None => break,
                    },
                    _ = &mut linger => break,
                }
            }
            self.deliver(&batch, &stop).await;
        }
    }

    async fn deliver(&self, batch: &[LifecycleEvent], stop: &CancellationToken) {
        let body = serde_json::to_vec(batch).expect("lifecycle events serialize");
        let signature = signature(&self.secret, &body);
        let mut wait = self.options.backoff;
        for attempt in 1..=self.options.attempts.max(1) {
            match self.post(&body, &signature).await {
                Outcome::Delivered => {
                    self.counters
                        .sent
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return;
                }
                Outcome::Refused => break,
                Outcome::Retry if attempt < self.options.attempts => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.cancelled() => break,
                    }
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Outcome::Retry => {}
            }
        }
        self.counters
            .dropped
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        tracing::warn!(
            events = batch.len(),
            "lifecycle webhook batch dropped after failures"
        );
    }

    async fn post(&self, body: &[u8], signature: &str) -> Outcome {
        let res = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body.to_vec())
            .send()
            .await;
        let outcome = match res {
            Ok(r) if r.status().is_success() => return Outcome::Delivered,
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => Outcome::Retry,
            Ok(r) => {
                tracing::warn!(
                    status = r.status().as_u16(),
                    "lifecycle webhook refused a batch"
                );
                Outcome::Refused
            }
            Err(e) => {
                tracing::debug!(error = %e.without_url(), "lifecycle webhook did not answer");
                Outcome::Retry
            }
        };
        self.counters.failed_posts.fetch_add(1, Ordering::Relaxed);
        outcome
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
