//! # sse-hub
//!
//! A Server-Sent Events push hub for axum. Browsers hold authenticated
//! `EventSource` streams; your code (or anything that can POST) publishes
//! events that reach everyone, a user, a list of users, a topic, one
//! connection or every connection whose metadata matches.
//!
//! ```no_run
//! use sse_hub::{Auth, Hub, HubConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::new(HubConfig::default());
//! let auth = Auth::hs256(b"change me");
//! let app = axum::Router::new().merge(sse_hub::router(hub.clone(), auth));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // `axum::serve(listener, app)` works too; `net::serve` holds an idle
//! // stream in a fraction of the memory (see [`net`]).
//! let shutdown = async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     hub.shutdown(); // every stream gets a final frame, then ends
//! };
//! sse_hub::net::serve(listener, app, Default::default(), shutdown).await;
//! # Ok(())
//! # }
//! ```
//!
//! Modules, from the wire up: [`wire`] encodes frames, [`event`] holds the
//! validated vocabulary, [`broker`] carries events between nodes and keeps
//! the replay history (the [`broker::Broker`] trait; memory or Redis),
//! [`hub`] routes events to connections and knows nothing of HTTP,
//! [`auth`] checks tokens, [`api`] is the HTTP surface and [`typed_events`]
//! the typed shortcuts for common events, and [`net`] serves it all with a
//! lean writer for streams.

#![warn(missing_docs)]

pub mod access;
pub mod api;
pub mod auth;
pub mod broker;
pub mod config;
pub mod error;
pub mod event;
pub mod hub;
pub mod lifecycle_webhook;
pub mod metrics;
pub mod net;
pub mod pattern;
pub mod typed_events;
pub mod wire;

pub use access::{ClaimsPolicy, TopicAuthorizer, TopicPattern, WebhookPolicy};
pub use api::{router, Api, ApiError, Authenticator};
pub use auth::{Audience, Auth, AuthError, Jwks, JwksOptions, Principal, Role};
pub use broker::{Broker, BrokerConfig};
pub use config::HubConfig;
pub use error::HubError;
pub use event::{ConnectionId, Event, EventId, EventName, NewEvent, Target, Topic, UserId};
pub use hub::{
    ClusterStats, ConnectRequest, Connections, Cut, EventStream, Hub, HubBuilder, HubStats,
    Published, TopicChange,
};
/// The vocabulary shared with browsers (event types), re-exported.
pub use sse_protocol as protocol;
pub use typed_events::{ChangeAction, Level};
