//! The one way to make a [`Hub`]: [`Hub::builder`] (or [`Hub::new`] for
//! the common case), then a broker and an authorizer if not the defaults.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::authorizer::EventAuthorizer;
use super::core::{Hub, Inner, Recent};
use super::counters::Counters;
use super::observer::LifecycleObserver;
use super::publish::Sink;
use super::registry::Registry;
use crate::access::policy::{ClaimsPolicy, TopicAuthorizer};
use crate::broker::{Broker, BrokerConfig, HistoryLimits, MemoryBroker, RedisBroker};
use crate::config::HubConfig;
use crate::error::HubError;

/// Settings of a hub being built: see [`Hub::builder`].
pub struct HubBuilder {
    config: HubConfig,
    broker: Engine,
    authorizer: Option<Box<dyn EventAuthorizer>>,
    topics: Box<dyn TopicAuthorizer>,
    lifecycle: Option<Box<dyn LifecycleObserver>>,
}

/// Where the broker comes from.
enum Engine {
    /// Made from a configuration at `build`.
    Config(BrokerConfig),
    /// Made by the caller (a custom [`Broker`]).
    Ready(Arc<dyn Broker>),
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub on the memory broker with the default authorizer, started at
    /// once. Inside a tokio runtime this also starts the background work
    /// (heartbeats, stats, expiry), which stops on [`Hub::shutdown`]. For
    /// Redis or a custom authorizer, use [`Hub::builder`].
    pub fn new(config: HubConfig) -> Self {
        Self::builder(config)
            .build()
            .now_or_never()
            .expect("the memory broker starts without waiting")
            .expect("a fresh memory broker starts")
    }

    /// Starts building a hub with `config`, the memory broker, the default
    /// event authorizer ([`super::AudienceAuthorizer`]: the audience rule
    /// alone) and topic policy
    /// ([`ClaimsPolicy`]).
    pub fn builder(config: HubConfig) -> HubBuilder {
        HubBuilder {
            config,
            broker: Engine::Config(BrokerConfig::Memory),
            authorizer: None,
            topics: Box::new(ClaimsPolicy::new()),
            lifecycle: None,
        }
    }
}

impl HubBuilder {
    /// Uses the broker `config` describes ([`BrokerConfig::Redis`] for
    /// several nodes), with the hub's history limits.
    pub fn broker(mut self, config: BrokerConfig) -> Self {
        self.broker = Engine::Config(config);
        self
    }

    /// Uses a broker of your own (one not built into this crate).
    pub fn broker_engine(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = Engine::Ready(broker);
        self
    }

    /// Uses a custom per-event authorization hook: it narrows what reaches
    /// a connection; the audience rule still holds (see [`EventAuthorizer`]).
    pub fn authorizer(mut self, authorizer: impl EventAuthorizer) -> Self {
        self.authorizer = Some(Box::new(authorizer));
        self
    }

    /// Decides who may subscribe and publish to which topics. The default
    /// is [`ClaimsPolicy::new`]: token grants and admins, no public topics.
    pub fn topic_authorizer(mut self, policy: impl TopicAuthorizer) -> Self {
        self.topics = Box::new(policy);
        self
    }

    /// Tells `observer` about every connect, disconnect and topic change
    /// (for example a [`crate::lifecycle_webhook::LifecycleWebhook`]).
    pub fn lifecycle(mut self, observer: impl LifecycleObserver) -> Self {
        self.lifecycle = Some(Box::new(observer));
        self
    }

    /// Starts the broker (with Redis: checks that it answers and starts
    /// this node's reader) and, inside a tokio runtime, the hub's
    /// background work. With the memory broker this never waits.
    pub async fn build(self) -> Result<Hub, HubError> {
        self.config.timing.check()?;
        let limits = HistoryLimits {
            len: self.config.history_len,
            max_age: self.config.history_max_age,
            max_channels: self.config.history_max_channels,
        };
        let broker: Arc<dyn Broker> = match self.broker {
            Engine::Ready(b) => b,
            Engine::Config(BrokerConfig::Memory) => Arc::new(MemoryBroker::new(limits)),
            Engine::Config(BrokerConfig::Redis(options)) => {
                Arc::new(RedisBroker::new(&options, limits)?.with_timing(self.config.timing))
            }
        };
        let head = broker.head().await?;
        let stop = CancellationToken::new();
        let replays = tokio::sync::Semaphore::new(self.config.max_concurrent_replays.max(1));
        let inner = Arc::new(Inner {
            config: self.config,
            broker: broker.clone(),
            authorizer: self.authorizer,
            topics: self.topics,
            lifecycle: self.lifecycle,
            node_id: format!("{:016x}", rand::random::<u64>()),
            epoch: head.epoch,
            head: Mutex::new(head),
            delivered: watch::Sender::new(head),
            delivery_lag: broker.delivery_lag(),
            recent: Mutex::new(Recent::new()),
            registry: Registry::default(),
            presence_sent: Mutex::new(Default::default()),
            counters: Counters::default(),
            publish_failure_logged_ms: Default::default(),
            skip_logged_ms: Default::default(),
            shutting_down: AtomicBool::new(false),
            broker_problem: Mutex::new(None),
            replays,
            stop: stop.clone(),
            started: Instant::now(),
        });
        broker.start(Arc::new(Sink(Arc::downgrade(&inner))), head, stop)?;
        let hub = Hub { inner };
        if tokio::runtime::Handle::try_current().is_ok() {
            hub.spawn_maintenance();
        }
        tracing::info!(node = %hub.node_id(), head = %head, "hub started");
        Ok(hub)
    }
}
