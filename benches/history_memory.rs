//! What the memory broker's per-channel history costs: heap bytes per
//! retained event (256-byte payload) and per channel (a user with one
//! event), measured with a counting allocator through the public API.
//!
//! `cargo bench -p sse-hub --bench history_memory`; `bench/run.sh` records
//! the numbers in bench/RESULTS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use futures_util::FutureExt;
use sse_hub::{Hub, HubConfig, NewEvent, Target, Topic, UserId};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 20_000;

fn publish(hub: &Hub, target: Target) {
    let data = format!("{{\"pad\":\"{}\"}}", "x".repeat(244));
    let e = NewEvent::json("tick".parse().unwrap(), &data, target).unwrap();
    hub.publish(e)
        .now_or_never()
        .expect("the memory broker never waits")
        .unwrap();
}

/// Heap bytes `f` leaves allocated, divided by `N`.
fn per_item(f: impl FnOnce(&Hub)) -> f64 {
    let hub = Hub::new(HubConfig {
        history_len: N,
        history_max_channels: N * 2,
        ..HubConfig::default()
    });
    publish(&hub, Target::all()); // warm up what every hub allocates once
    let before = LIVE.load(Ordering::Relaxed);
    f(&hub);
    let after = LIVE.load(Ordering::Relaxed);
    (after - before) as f64 / N as f64
}

fn main() {
    let topic = Topic::new("one").unwrap();
    let event = per_item(|hub| {
        for _ in 0..N {
            publish(hub, Target::Topic(topic.clone()));
        }
    });
    let channel_and_event = per_item(|hub| {
        for i in 0..N {
            publish(hub, Target::User(UserId::new(format!("user-{i}")).unwrap()));
        }
    });
    println!("history/retained_event_256B  bytes: {event:.0}");
    println!(
        "history/channel_overhead     bytes: {:.0}",
        channel_and_event - event
    );
}
