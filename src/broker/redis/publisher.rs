//! Publishing, on a connection of the publisher's own.
//!
//! Without replicas to wait for, each publish is one `EVALSHA publish`
//! sent straight on that connection, which redis-rs pipelines with the
//! other publishes in flight.
//!
//! When replicas must confirm, concurrent publishes are sent together, as
//! one pipeline of `EVALSHA publish` calls followed by one `WAIT`: `WAIT`
//! blocks its connection until the replicas answer or the timeout, so one
//! task owns that connection and one batch is in flight at a time; while
//! it is, new publishes queue up and go out as the next batch. A busy node
//! so makes one `WAIT` for many publishes (it covers every write made
//! before it on its connection), and a slow `WAIT` never holds up replays,
//! presence or reads, which use other connections.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

use super::keys::Seen;
use super::link::{connection_lost, failed, unreadable, Link};
use super::scripts::{unknown_script, SCRIPTS};
use super::stored::parse_id;
use crate::broker::contract::Accepted;
use crate::error::HubError;

/// Most publishes sent in one pipeline.
const BATCH: usize = 128;

/// Publishes waiting for a batch; beyond, a publish is refused at once.
const QUEUE: usize = 8192;

/// What a publish must wait for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wait {
    /// Replicas that must hold the event (0: none).
    pub(super) replicas: u32,
    /// How long to wait for them.
    pub(super) timeout: Duration,
}

/// One publish: its `EVALSHA` call, and where its answer goes.
pub(super) struct Job {
    cmd: redis::Cmd,
    reply: oneshot::Sender<Result<Accepted, HubError>>,
}

/// The handle publishes go through; dropping it ends the batching task.
pub(super) struct Publisher {
    link: Arc<Link>,
    seen: Arc<Seen>,
    wait: Wait,
    /// With replicas to wait for: the batching task's queue.
    batches: Option<mpsc::Sender<Job>>,
    /// Without: the connection publishes are sent on, and the link's
    /// generation it was made in (`None` until first use and after a
    /// failure). A plain lock: it is only held to clone.
    direct: parking_lot::Mutex<Option<(MultiplexedConnection, u64)>>,
}

impl Publisher {
    /// The publisher (with replicas to wait for, its task is started:
    /// needs a tokio runtime).
    pub(super) fn start(link: Arc<Link>, seen: Arc<Seen>, wait: Wait) -> Self {
        let batches = (wait.replicas > 0).then(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(link.clone(), seen.clone(), wait, rx));
            tx
        });
        Self {
            link,
            seen,
            wait,
            batches,
            direct: parking_lot::Mutex::new(None),
        }
    }

    /// Sends `cmd` (an `EVALSHA` of `publish.lua`); answers within the
    /// wait timeout and a second, whatever Redis does.
    pub(super) async fn publish(&self, cmd: redis::Cmd) -> Result<Accepted, HubError> {
        let deadline = self.wait.timeout + Duration::from_secs(1);
        let late = || HubError::BrokerTimeout(deadline);
        let Some(batches) = &self.batches else {
            return tokio::time::timeout(deadline, self.send_direct(cmd))
                .await
                .unwrap_or_else(|_| Err(late()));
        };
        let (reply, answer) = oneshot::channel();
        batches.try_send(Job { cmd, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => HubError::PublishQueueFull(QUEUE),
            mpsc::error::TrySendError::Closed(_) => unreadable("the publisher stopped".into()),
        })?;
        match tokio::time::timeout(deadline, answer).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(unreadable("the publisher stopped".into())),
            Err(_) => Err(late()),
        }
    }

    /// One publish on the direct connection (loading the script once if
    /// Redis lost it).
    async fn send_direct(&self, cmd: redis::Cmd) -> Result<Accepted, HubError> {
        for attempt in 0..2 {
            let generation = self.link.generation();
            let cached = self.direct.lock().clone();
            let mut c = match cached {
                Some((c, made)) if made == generation => c,
                _ => {
                    let c = self
                        .link
                        .connect(self.wait.timeout + Duration::from_secs(2))
                        .await?;
                    *self.direct.lock() = Some((c.clone(), generation));
                    c
                }
            };
            match cmd.query_async::<Value>(&mut c).await {
                Ok(v) => return accepted(v, &self.seen),
                Err(e) if attempt == 0 && unknown_script(&e) => {
                    SCRIPTS
                        .publish
                        .load_async(&mut c)
                        .await
                        .map_err(|e| failed("loading the publish script", e))?;
                }
                Err(e) => {
                    if connection_lost(&e) {
                        *self.direct.lock() = None;
                    }
                    return Err(failed("publishing to Redis", e));
                }
            }
        }
        unreachable!("the second attempt returns")
    }
}

/// The script's answer `{id, duplicate}`; the node has now seen `id`.
fn accepted(value: Value, seen: &Seen) -> Result<Accepted, HubError> {
    let (id, duplicate): (String, String) =
        redis::from_redis_value(value).map_err(|e| failed("reading the publish answer", e))?;
    let id = parse_id(&id)?;
    seen.raise(id);
    Ok(Accepted {
        id,
        duplicate: duplicate == "1",
    })
}

async fn run(link: Arc<Link>, seen: Arc<Seen>, wait: Wait, mut rx: mpsc::Receiver<Job>) {
    let mut conn = None;
    let mut generation = link.generation();
    while let Some(first) = rx.recv().await {
        if generation != link.generation() {
            generation = link.generation();
            conn = None;
        }
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        // Jobs whose publisher gave up need no answer, but are still sent:
        // the publisher may retry with the same idempotency key.
        match send(&link, &mut conn, &seen, wait, &jobs).await {
            Ok(results) => {
                for (job, r) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Sends one batch (loading the script once if Redis lost it).
async fn send(
    link: &Link,
    conn: &mut Option<MultiplexedConnection>,
    seen: &Seen,
    wait: Wait,
    jobs: &[Job],
) -> Result<Vec<Result<Accepted, HubError>>, HubError> {
    let mut pipe = redis::pipe();
    for job in jobs {
        pipe.add_command(job.cmd.clone());
    }
    if wait.replicas > 0 {
        pipe.cmd("WAIT")
            .arg(wait.replicas)
            .arg(wait.timeout.as_millis() as u64);
    }
    for attempt in 0..2 {
        if conn.is_none() {
            *conn = Some(link.connect(wait.timeout + Duration::from_secs(2)).await?);
        }
        let c = conn.as_mut().expect("just set");
        let replies: Vec<RedisResult<Value>> = match pipe.ignore_errors().query_async(c).await {
            Ok(r) => r,
            Err(e) => {
                if connection_lost(&e) {
                    *conn = None;
                }
                return Err(failed("publishing to Redis", e));
            }
        };
        if attempt == 0
            && replies
                .iter()
                .any(|r| matches!(r, Err(e) if unknown_script(e)))
        {
            SCRIPTS
                .publish
                .load_async(c)
                .await
                .map_err(|e| failed("loading the publish script", e))?;
            continue;
        }
        return Ok(settle(conn, seen, wait, replies, jobs.len()));
    }
    unreachable!("the second attempt returns")
}

/// Each job's answer from the pipeline's replies.
fn settle(
    conn: &mut Option<MultiplexedConnection>,
    seen: &Seen,
    wait: Wait,
    mut replies: Vec<RedisResult<Value>>,
    jobs: usize,
) -> Vec<Result<Accepted, HubError>> {
    let replicated = if wait.replicas > 0 {
        match replies.pop() {
            Some(Ok(Value::Int(n))) => Ok(n as u32),
            Some(Ok(other)) => Err(unreadable(format!("WAIT answered {other:?}"))),
            Some(Err(e)) => Err(failed("waiting for replicas", e)),
            None => Err(unreadable("no answer to WAIT".into())),
        }
    } else {
        Ok(0)
    };
    replies
        .into_iter()
        .take(jobs)
        .map(|r| {
            let value = r.map_err(|e| {
                if connection_lost(&e) {
                    *conn = None;
                }
                failed("publishing to Redis", e)
            })?;
            let accepted = accepted(value, seen)?;
            let got = replicated.clone()?;
            if got < wait.replicas {
                return Err(HubError::NotReplicated {
                    wanted: wait.replicas,
                    got,
                });
            }
            Ok(accepted)
        })
        .collect()
}
