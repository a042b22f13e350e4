//! Micro-benchmarks of the hub's hot paths: encoding one event, fanning one
//! event out to 10 000 connections in-process, and the same fan-out when
//! half the connections filter the event type out, and one publish that
//! reaches nobody (the per-publish cost without fan-out).
//!
//! `cargo bench --bench hot_paths`; numbers are recorded in bench/RESULTS.md.

use std::collections::HashSet;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures_util::StreamExt;
use sse_hub::{
    wire, ConnectRequest, EventId, EventName, Hub, HubConfig, NewEvent, Principal, Role, Target,
    UserId,
};

fn payload() -> String {
    format!("{{\"seq\":1,\"pad\":\"{}\"}}", "x".repeat(230))
}

fn encode(c: &mut Criterion) {
    let name = EventName::new("notification").unwrap();
    let data = payload();
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("event_256B", |b| {
        b.iter(|| {
            wire::event_frame(
                Some(EventId::new(1_700_000_000_000, 42)),
                Some(&name),
                &data,
            )
        })
    });
    g.finish();
}

/// A hub holding `n` open streams (half with an `events=` filter that
/// excludes `tick` when `filtered`), drained after every publish.
fn hub_with(
    rt: &tokio::runtime::Runtime,
    n: usize,
    filtered: bool,
) -> (Hub, Vec<sse_hub::EventStream>) {
    rt.block_on(async {
        let config = HubConfig {
            max_connections: n + 1,
            max_connections_per_user: n + 1,
            connection_queue: 64,
            ..HubConfig::default()
        };
        let hub = Hub::new(config);
        let mut streams = Vec::with_capacity(n);
        for i in 0..n {
            let mut req = ConnectRequest::new(Principal::new(
                UserId::new(format!("u{}", i % 100)).unwrap(),
                Role::User,
                u64::MAX / 2000,
            ));
            if filtered && i % 2 == 0 {
                req.filter = Some(HashSet::from([EventName::new("other").unwrap()]));
            }
            let mut s = hub.connect(req).await.unwrap();
            s.next().await; // `connected`
            streams.push(s);
        }
        (hub, streams)
    })
}

fn drain(rt: &tokio::runtime::Runtime, streams: &mut [sse_hub::EventStream]) {
    rt.block_on(async {
        for s in streams.iter_mut() {
            while let Some(Some(_)) = futures_util::FutureExt::now_or_never(s.next()) {}
        }
    });
}

fn fan_out(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = payload();
    let tick = EventName::new("tick").unwrap();
    let mut g = c.benchmark_group("fan_out");
    for (label, filtered) in [("10k_connections", false), ("10k_half_filtered", true)] {
        let (hub, mut streams) = hub_with(&rt, 10_000, filtered);
        g.throughput(Throughput::Elements(10_000));
        g.bench_function(label, |b| {
            b.iter_batched(
                || drain(&rt, &mut streams),
                |_| publish_ready(&hub, tick.clone(), data.clone(), Target::all()),
                BatchSize::PerIteration,
            )
        });
        drop(streams);
    }
    g.finish();
}

/// Publishes with the memory broker, which never waits: the future is
/// ready on its first poll.
fn publish_ready(hub: &Hub, name: EventName, data: String, target: Target) -> sse_hub::Published {
    let publish = hub.publish(NewEvent {
        name,
        data,
        target,
        audience: None,
        idempotency_key: None,
    });
    futures_util::FutureExt::now_or_never(publish)
        .expect("the memory broker publishes without waiting")
        .unwrap()
}

/// The cost of one publish itself (id, history, encoding, target lookup)
/// without fan-out: a topic nobody subscribes to.
fn publish(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (hub, _streams) = hub_with(&rt, 1, false);
    let name = EventName::new("tick").unwrap();
    let data = payload();
    let target = Target::Topic(sse_hub::Topic::new("nobody").unwrap());
    let mut g = c.benchmark_group("publish");
    g.throughput(Throughput::Elements(1));
    g.bench_function("no_subscribers", |b| {
        b.iter(|| publish_ready(&hub, name.clone(), data.clone(), target.clone()))
    });
    g.finish();
}

criterion_group!(benches, encode, fan_out, publish);
criterion_main!(benches);
