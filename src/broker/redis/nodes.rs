//! The cluster view: each node's report, kept while the node reports.

use redis::Value;

use super::RedisBroker;
use crate::error::HubError;

impl RedisBroker {
    /// Records this node's numbers for the cluster view, and that it is
    /// alive (for presence); both expire unless refreshed.
    pub(super) async fn report_node(&self, node: &str, json: &str) -> Result<(), HubError> {
        let p = &self.keys.prefix;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(format!("{p}:node:{node}"))
            .arg(json)
            .arg("PX")
            .arg(self.timing.report_ttl.as_millis() as u64)
            .ignore();
        pipe.cmd("SADD")
            .arg(format!("{p}:nodes"))
            .arg(node)
            .ignore();
        pipe.cmd("SET")
            .arg(format!("{p}:alive:{node}"))
            .arg("1")
            .arg("PX")
            .arg(self.timing.alive_for.as_millis() as u64)
            .ignore();
        self.link
            .run("reporting this node", |mut c| {
                let pipe = &pipe;
                async move { pipe.query_async::<()>(&mut c).await }
            })
            .await
    }

    /// The live nodes' reports.
    pub(super) async fn live_nodes(&self) -> Result<Vec<(String, String)>, HubError> {
        let p = &self.keys.prefix;
        let ids: Vec<String> = self
            .link
            .query(redis::cmd("SMEMBERS").arg(format!("{p}:nodes")))
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|n| format!("{p}:node:{n}")).collect();
        let reports: Vec<Option<String>> = self.link.query(redis::cmd("MGET").arg(&keys)).await?;
        let mut live = Vec::new();
        for (id, report) in ids.into_iter().zip(reports) {
            match report {
                Some(r) => live.push((id, r)),
                None => {
                    let _: Result<Value, _> = self
                        .link
                        .query(redis::cmd("SREM").arg(format!("{p}:nodes")).arg(&id))
                        .await;
                }
            }
        }
        live.sort();
        Ok(live)
    }
}
