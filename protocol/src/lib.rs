//! # sse-protocol
//!
//! What the hub (`sse-hub`, on the server) and its browsers (`app`, compiled
//! to WASM) must agree on, defined once. A crate of its own so that it builds
//! for `wasm32-unknown-unknown` with nothing of the server's (no tokio, axum
//! or redis): the server names an event with a constant from here and the
//! browser listens with the same constant, so the two cannot drift.
//!
//! - [`events`]: every event type the hub emits;
//! - the payload of each ([`Connected`], [`Notification`], [`Progress`]...),
//!   with [`Level`] and [`ChangeAction`];
//! - the JSON of `/api/sse/stats` ([`HubStats`]), `/api/health`
//!   ([`Health`]) and the nodes' reports ([`NodeReport`]), with the
//!   headline numbers they share ([`Summary`]);
//! - [`Role`], and the requests the dashboard sends: [`TopicsRequest`],
//!   and the demo endpoints' ([`DemoRequest`], [`DemoTokenRequest`],
//!   [`DemoToken`], [`DemoSession`], [`DemoSent`]).

#![warn(missing_docs)]

mod access;
pub mod events;
mod payload;
mod stats;

pub use access::*;
pub use payload::*;
pub use stats::*;
