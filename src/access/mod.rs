//! Who may hear what: topic patterns and grants ([`pattern`]), the
//! [`TopicAuthorizer`] seam with the token-claims default ([`policy`]),
//! and an HTTP endpoint of the application as a policy ([`subscribe_webhook`]).
//! Plain Rust and HTTP-client code; nothing here serves requests.

pub mod policy;
pub mod subscribe_webhook;

pub use self::policy::{ClaimsPolicy, TopicAuthorizer, Verdict};
pub use self::subscribe_webhook::WebhookPolicy;
pub use crate::pattern::{self, Grants, TopicPattern};
