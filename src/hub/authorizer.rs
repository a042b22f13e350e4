//! Per-event authorization beyond targeting and filters: the hook an
//! embedder implements to keep an event from a connection.

use super::connection::Connection;
use crate::event::Event;

/// Decides whether a connection may see an event, beyond targeting and
/// filters. The default, [`AudienceAuthorizer`], lets an event with an
/// audience (such as `data_change`) reach only those users and admins.
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
