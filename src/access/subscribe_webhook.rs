//! `--subscribe-webhook`: topics no grant covers are asked of an HTTP
//! endpoint of the application, as nchan's `nchan_authorize_request` does.
//!
//! The hub POSTs [`sse_protocol::SubscribeCheck`] (`{userId, topics}`):
//! any 2xx allows all of them, anything else refuses (403 is the intended
//! "no"). A slow or unreachable endpoint refuses after the timeout; it never
//! holds a subscribe longer than that. Answers are cached briefly per user
//! and topic (allowed longer than refused), so a reconnecting crowd does
//! not become a storm on the endpoint.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sse_protocol::SubscribeCheck;

use super::policy::{ClaimsPolicy, TopicAuthorizer, Verdict};
use crate::auth::Principal;
use crate::event::{Topic, UserId};

/// Most cached answers; beyond, expired ones go, then all of them.
const CACHE_CAPACITY: usize = 10_000;

/// The claims policy, plus an HTTP endpoint for what it refuses.
pub struct WebhookPolicy {
    claims: ClaimsPolicy,
    url: String,
    client: reqwest::Client,
    allowed_for: Duration,
    refused_for: Duration,
    cache: Mutex<HashMap<(UserId, Topic), (bool, Instant)>>,
}

impl std::fmt::Debug for WebhookPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookPolicy")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What the endpoint said.
enum Answer {
    Allowed,
    Refused,
    /// No answer in time, or not one we understand: refused, not cached.
    Failed,
}

impl WebhookPolicy {
    /// Asks `url` about topics `claims` refuses, waiting at most `timeout`.
    /// Fails only if the HTTP client cannot be built (its TLS set-up); a
    /// client without the timeout is never used instead.
    pub fn new(
        claims: ClaimsPolicy,
        url: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            claims,
            url: url.into(),
            client,
            allowed_for: Duration::from_secs(30),
            refused_for: Duration::from_secs(5),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// How long answers are kept: allowed, refused.
    pub fn with_cache(mut self, allowed_for: Duration, refused_for: Duration) -> Self {
        self.allowed_for = allowed_for;
        self.refused_for = refused_for;
        self
    }

    fn cached(&self, user: &UserId, topic: &Topic) -> Option<bool> {
        let cache = self.cache.lock();
        let (allowed, until) = cache.get(&(user.clone(), topic.clone()))?;
        (Instant::now() < *until).then_some(*allowed)
    }

    fn remember(&self, user: &UserId, topics: &[Topic], allowed: bool) {
        let ttl = if allowed {
            self.allowed_for
        } else {
            self.refused_for
        };
        let until = Instant::now() + ttl;
        let mut cache = self.cache.lock();
        if cache.len() + topics.len() > CACHE_CAPACITY {
            let now = Instant::now();
            cache.retain(|_, (_, t)| *t > now);
            if cache.len() + topics.len() > CACHE_CAPACITY {
                cache.clear();
            }
        }
        for t in topics {
            cache.insert((user.clone(), t.clone()), (allowed, until));
        }
    }

    async fn ask(&self, user: &UserId, topics: &[Topic]) -> Answer {
        let body = SubscribeCheck {
            user_id: user.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
        };
        match self.client.post(&self.url).json(&body).send().await {
            Ok(res) if res.status().is_success() => Answer::Allowed,
            Ok(res) if res.status() == reqwest::StatusCode::FORBIDDEN => Answer::Refused,
            Ok(res) => {
                tracing::warn!(
                    status = res.status().as_u16(),
                    "subscribe webhook answered neither 2xx nor 403: refused"
                );
                Answer::Failed
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "subscribe webhook did not answer: refused");
                Answer::Failed
            }
        }
    }
}

impl TopicAuthorizer for WebhookPolicy {
    fn refuse_subscribe<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a> {
        Box::pin(async move {
            let mut refused = Vec::new();
            let mut unknown = Vec::new();
            for t in self.claims.refused_subscriptions(who, topics) {
                match self.cached(&who.user, &t) {
                    Some(true) => {}
                    Some(false) => refused.push(t),
                    None => unknown.push(t),
                }
            }
            if unknown.is_empty() {
                return refused;
            }
            match self.ask(&who.user, &unknown).await {
                Answer::Allowed => self.remember(&who.user, &unknown, true),
                Answer::Refused => {
                    self.remember(&who.user, &unknown, false);
                    refused.extend(unknown);
                }
                Answer::Failed => refused.extend(unknown),
            }
            refused
        })
    }

    /// Publishing follows the token alone.
    fn refuse_publish<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a> {
        self.claims.refuse_publish(who, topics)
    }
}
