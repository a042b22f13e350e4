//! Per-event authorization beyond targeting and filters: the hook an
//! embedder implements to keep an event from a connection.

use super::connection::Connection;
use crate::event::Event;

/// Decides whether a connection may see an event, beyond targeting,
/// filters and the audience rule (an event with an audience, such as
/// `data_change`, reaches only those users and admins). That rule is
/// applied before any authorizer, so a custom one can only narrow what
/// reaches a connection, never widen it. The default,
/// [`AudienceAuthorizer`], adds nothing to it.
pub trait EventAuthorizer: Send + Sync + 'static {
    /// True when `conn` may receive `event`.
    fn allow(&self, event: &Event, conn: &Connection) -> bool;
}

/// The default authorizer: see [`crate::event::NewEvent::audience`].
#[derive(Debug, Default, Clone, Copy)]
pub struct AudienceAuthorizer;

impl EventAuthorizer for AudienceAuthorizer {
    fn allow(&self, event: &Event, conn: &Connection) -> bool {
        conn.in_audience(event)
    }
}
