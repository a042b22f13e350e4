//! Who may hear and publish to which topics: the [`TopicAuthorizer`] seam
//! and its default, [`ClaimsPolicy`] (token grants, `--public-topics`,
//! admins).
//!
//! Async, so an embedder's policy can ask a database or a service (as
//! [`super::subscribe_webhook::WebhookPolicy`] asks an HTTP endpoint); the hub calls
//! it before a stream opens with topics, before topics are added to open
//! connections, and before an authenticated caller publishes to a topic.

use std::future::Future;
use std::pin::Pin;

use crate::auth::{Principal, Role};
use crate::event::Topic;
use crate::pattern::{any_matches, TopicPattern};

/// What a policy's future resolves to: the topics refused (empty when
/// everything asked for is allowed).
pub type Verdict<'a> = Pin<Box<dyn Future<Output = Vec<Topic>> + Send + 'a>>;

/// Decides who may subscribe and publish to which topics. A policy that
/// cannot decide (its backend is down) must refuse, never hang: the hub
/// puts no timeout around it.
pub trait TopicAuthorizer: Send + Sync + 'static {
    /// Of `topics`, those `who` may not subscribe to.
    fn refuse_subscribe<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a>;

    /// Of `topics`, those `who` may not publish to.
    fn refuse_publish<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a>;
}

/// The default policy, from the token's claims:
/// - admins may subscribe and publish to every topic;
/// - others may subscribe to a topic their `topics.subscribe` grant or
///   the public topics match (publishers included: only admins are exempt);
/// - publishers may publish to a topic when their token has no
///   `topics.publish` (service tokens) or a pattern of it matches; an empty
///   `topics.publish` allows no topic. Users may not publish at all.
#[derive(Debug, Clone, Default)]
pub struct ClaimsPolicy {
    public: Vec<TopicPattern>,
}

impl ClaimsPolicy {
    /// Only token grants (and admins); no public topics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Topics any signed-in user may subscribe to without a grant.
    pub fn with_public_topics(mut self, patterns: Vec<TopicPattern>) -> Self {
        self.public = patterns;
        self
    }

    /// The subscribe rule, synchronously.
    pub fn may_subscribe(&self, who: &Principal, topic: &Topic) -> bool {
        who.role == Role::Admin
            || any_matches(&self.public, topic, &who.user)
            || who
                .grants
                .subscribe
                .as_deref()
                .is_some_and(|g| any_matches(g, topic, &who.user))
    }

    /// The publish rule, synchronously.
    pub fn may_publish(&self, who: &Principal, topic: &Topic) -> bool {
        match who.role {
            Role::Admin => true,
            Role::Publisher => who
                .grants
                .publish
                .as_deref()
                .is_none_or(|g| any_matches(g, topic, &who.user)),
            Role::User => false,
        }
    }

    /// Of `topics`, those [`ClaimsPolicy::may_subscribe`] refuses.
    pub fn refused_subscriptions(&self, who: &Principal, topics: &[Topic]) -> Vec<Topic> {
        topics
            .iter()
            .filter(|t| !self.may_subscribe(who, t))
            .cloned()
            .collect()
    }
}

impl TopicAuthorizer for ClaimsPolicy {
    fn refuse_subscribe<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a> {
        Box::pin(std::future::ready(self.refused_subscriptions(who, topics)))
    }

    fn refuse_publish<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a> {
        let refused = topics
            .iter()
            .filter(|t| !self.may_publish(who, t))
            .cloned()
            .collect();
        Box::pin(std::future::ready(refused))
    }
}

impl<T: TopicAuthorizer + ?Sized> TopicAuthorizer for Box<T> {
    fn refuse_subscribe<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a> {
        (**self).refuse_subscribe(who, topics)
    }

    fn refuse_publish<'a>(&'a self, who: &'a Principal, topics: &'a [Topic]) -> Verdict<'a> {
        (**self).refuse_publish(who, topics)
    }
}
