//! Presence over every node, kept by the `presence_*.lua` scripts.

use crate::broker::contract::{Presence, PresenceCount, PresenceEdge};
use crate::error::HubError;
use crate::event::{Topic, UserId};

use super::link::unreadable;
use super::scripts::SCRIPTS;
use super::RedisBroker;

impl RedisBroker {
    /// Records `node`'s changed counts; the edges they caused.
    pub(super) async fn update_presence(
        &self,
        node: &str,
        changes: &[PresenceCount],
    ) -> Result<Vec<PresenceEdge>, HubError> {
        let p = &self.keys.prefix;
        let mut invocation = SCRIPTS.presence_update.prepare_invoke();
        invocation
            .key(format!("{p}:alive:{node}"))
            .key(format!("{p}:presnodes"))
            .key(format!("{p}:presn:{node}"));
        invocation
            .arg(p)
            .arg(node)
            .arg(self.timing.alive_for.as_millis() as u64);
        for c in changes {
            invocation
                .key(format!("{p}:presc:{}\n{}", c.topic, c.user))
                .key(format!("{p}:presu:{}", c.topic));
            invocation
                .arg(c.topic.as_str())
                .arg(c.user.as_str())
                .arg(c.connections);
        }
        let edges: Vec<(String, String, String)> = self
            .link
            .invoke_once("updating presence", &invocation)
            .await?;
        edges.into_iter().map(edge).collect()
    }

    /// Who is in `topic` (at most `limit` users).
    pub(super) async fn who(&self, topic: &Topic, limit: usize) -> Result<Presence, HubError> {
        let p = &self.keys.prefix;
        let mut invocation = SCRIPTS.presence_query.prepare_invoke();
        invocation
            .key(format!("{p}:presu:{topic}"))
            .arg(p)
            .arg(topic.as_str())
            .arg(limit);
        let (total, flat): (u64, Vec<String>) =
            self.link.invoke("reading presence", &invocation).await?;
        let users = flat
            .chunks(2)
            .filter_map(|p| Some((UserId::new(&p[0]).ok()?, p.get(1)?.parse().ok()?)))
            .collect();
        Ok((users, total))
    }

    /// Forgets dead nodes' presence; the users who left with them.
    pub(super) async fn sweep_presence(&self) -> Result<Vec<PresenceEdge>, HubError> {
        let p = &self.keys.prefix;
        let mut invocation = SCRIPTS.presence_sweep.prepare_invoke();
        invocation.key(format!("{p}:presnodes")).arg(p);
        let edges: Vec<(String, String, String)> =
            self.link.invoke("sweeping presence", &invocation).await?;
        edges.into_iter().map(edge).collect()
    }
}

/// An edge as the presence scripts return it.
fn edge((kind, topic, user): (String, String, String)) -> Result<PresenceEdge, HubError> {
    let bad = || unreadable(format!("unexpected presence entry {topic:?} / {user:?}"));
    let topic = Topic::new(&topic).map_err(|_| bad())?;
    let user = UserId::new(&user).map_err(|_| bad())?;
    Ok(if kind == "j" {
        PresenceEdge::Joined(topic, user)
    } else {
        PresenceEdge::Left(topic, user)
    })
}
