//! # sse-protocol
//!
//! What the hub (`sse-hub`, on the server) and its browsers (`app`, compiled
//! to WASM) must agree on, defined once. A crate of its own so that it builds
//! for `wasm32-unknown-unknown` with nothing of the server's (no tokio, axum
//! or redis): the server names an event with a constant from here and the
//! browser listens with the same constant, so the two cannot drift.
//!
//! Today: every event type the hub emits ([`events`]). The payload types
//! follow (see the issue "One protocol for server and browser").

#![warn(missing_docs)]
#![no_std]

pub mod events;
