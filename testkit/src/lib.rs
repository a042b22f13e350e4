//! What the hub's test suites share across crates (`sse-hub`'s
//! `tests/it` and `server/tests`): real Redis servers, replicas and
//! sentinels, started on free loopback ports and stopped on drop.

pub mod redis_server;
