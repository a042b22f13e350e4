//! Who may do what, and the requests the dashboard sends (the very types
//! the hub reads): topics, and the demo endpoints'.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: stats, publishing, sending to anyone, disconnecting.
    Admin,
    /// May publish through `/api/sse/publish`.
    Publisher,
    /// May subscribe and manage their own connections.
    #[default]
    User,
}

impl Role {
    /// Whether this role may publish arbitrary events.
    pub fn can_publish(self) -> bool {
        matches!(self, Role::Admin | Role::Publisher)
    }

    /// The role named `s` (`admin`, `publisher`, `user`).
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Admin, Role::Publisher, Role::User]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// The role's name as it appears in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Publisher => "publisher",
            Role::User => "user",
        }
    }
}

/// The `topics` claim of a token: which topics its holder may hear and
/// publish to. A pattern is an exact topic, a prefix ending in `*`
/// (`orders.*` matches `orders.17`, not `orders`) or `*` alone; `{sub}`
/// stands for the token's `sub`, taken literally. A missing list leaves
/// the default rule (subscribe: public topics only; publish: whatever the
/// role allows); an empty list allows nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicGrants {
    /// Patterns of topics the holder may subscribe to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Vec<String>>,
    /// Patterns of topics the holder may publish to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<Vec<String>>,
}

/// What the hub POSTs to a `--subscribe-webhook` for topics the token does
/// not grant: 2xx allows them all, 403 refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeCheck {
    /// Who asks.
    pub user_id: String,
    /// The topics asked for that no grant covers.
    pub topics: Vec<String>,
}

/// The body of every error the API returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// What went wrong, for programs (`unauthorized`, `topic_forbidden`,
    /// `trusted_metadata`, `rate_limited`...).
    pub code: String,
    /// With `topic_forbidden`: the topics refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
}

/// Body of `POST /api/sse/subscribe` and `/unsubscribe`: topics to add to
/// or remove from the caller's connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopicsRequest {
    /// Topics to add or remove.
    pub topics: Vec<String>,
    /// Only this connection (it must be the caller's); all of them if none.
    #[serde(default)]
    pub connection_id: Option<String>,
}

/// Body of `POST /api/auth/demo-token` (demo mode only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DemoTokenRequest {
    /// Who to be.
    pub user_id: String,
    /// With which role (default `user`).
    #[serde(default)]
    pub role: Role,
}

/// Answer of `POST /api/auth/demo-token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoToken {
    /// The JWT.
    pub token: String,
    /// Who it names.
    pub user_id: String,
    /// With which role.
    pub role: Role,
    /// Unix seconds when it expires.
    pub expires_at: u64,
    /// The topics it grants (none for admins, who may use every topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<TopicGrants>,
}

/// Answer of `POST /api/auth/demo-session` (demo mode with a session
/// cookie): the same identity as a [`DemoToken`], but the token itself is
/// only in the HttpOnly cookie the answer sets, where no page script can
/// read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSession {
    /// Who the session names.
    pub user_id: String,
    /// With which role.
    pub role: Role,
    /// Unix seconds when the cookie's token expires.
    pub expires_at: u64,
    /// The topics it grants (none for admins, who may use every topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<TopicGrants>,
    /// The hub the page streams from, when it is not the one that served
    /// the page (an origin such as `https://hub.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_url: Option<String>,
}

/// What the dashboard's send panel can trigger.
#[derive(Debug, Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DemoKind {
    /// A notification to everyone (admins).
    Broadcast,
    /// A notification to one user.
    User,
    /// A system message to everyone (admins).
    System,
    /// A `data_change` for the user.
    Update,
    /// One progress step.
    Progress,
    /// A success notification.
    Success,
    /// An error notification.
    Error,
    /// A simulated job: progress 0→100, then `job.completed`.
    Job,
}

impl DemoKind {
    /// Every kind, in the order the send panel shows them.
    pub const ALL: [DemoKind; 8] = [
        DemoKind::Broadcast,
        DemoKind::User,
        DemoKind::System,
        DemoKind::Update,
        DemoKind::Progress,
        DemoKind::Success,
        DemoKind::Error,
        DemoKind::Job,
    ];

    /// The kind's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DemoKind::Broadcast => "broadcast",
            DemoKind::User => "user",
            DemoKind::System => "system",
            DemoKind::Update => "update",
            DemoKind::Progress => "progress",
            DemoKind::Success => "success",
            DemoKind::Error => "error",
            DemoKind::Job => "job",
        }
    }

    /// Whether only admins may send it (it reaches everyone).
    pub fn is_for_everyone(self) -> bool {
        matches!(self, DemoKind::Broadcast | DemoKind::System)
    }
}

/// Body of `POST /api/sse/demo` (demo mode only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DemoRequest {
    /// What to send.
    #[serde(rename = "type")]
    pub kind: DemoKind,
    /// Recipient (admins only may name someone else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Text to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Extra payload (`update`, `progress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// Answer of `POST /api/sse/demo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSent {
    /// Connections the event reached on this node (0 for a job, whose
    /// events follow).
    pub delivered: u64,
    /// The job's id, for `job`.
    pub job_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_kinds_read_their_own_names() {
        for r in [Role::Admin, Role::Publisher, Role::User] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(Role::parse("root"), None);
        for k in DemoKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
