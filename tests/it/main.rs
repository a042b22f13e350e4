//! The hub's integration tests, one binary (one link) with a module per
//! area, as axum's `routing/tests/` does; the helpers every area shares are
//! in `common`.

mod common;

mod api;
mod auth;
mod broker_contract;
mod broker_seam;
mod chaos;
mod embed;
mod failover;
mod history;
mod hostile;
mod hub_core;
mod jwks;
mod presence;
mod redis_nodes;
mod serve;
mod serve_tls;
mod storm;
mod topics;
mod webhook;
mod wire_props;
