//! The Lua scripts, each in its own `.lua` file beside this one and sent
//! by hash (`EVALSHA`); Redis is asked to load a script again when it does
//! not know it (a restart or a failover empties its script cache).
//!
//! Each script names the keys it touches in `KEYS` where the caller knows
//! them; `ids.lua` (stream ids, the era record) and `presence_lib.lua` are
//! prepended to the scripts that use them.

use std::sync::LazyLock;

use redis::Script;

/// Every script, built once per process.
pub(super) struct Scripts {
    pub(super) publish: Script,
    pub(super) replay: Script,
    pub(super) sync: Script,
    pub(super) head: Script,
    pub(super) presence_update: Script,
    pub(super) presence_sweep: Script,
    pub(super) presence_query: Script,
}

/// A script: a shared library file, then the script's own file.
macro_rules! script {
    ($lib:literal, $file:literal) => {
        Script::new(concat!(
            include_str!(concat!("scripts/", $lib)),
            include_str!(concat!("scripts/", $file))
        ))
    };
}

pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    publish: script!("ids.lua", "publish.lua"),
    replay: script!("ids.lua", "replay.lua"),
    sync: script!("ids.lua", "sync.lua"),
    head: script!("ids.lua", "head.lua"),
    presence_update: script!("presence_lib.lua", "presence_update.lua"),
    presence_sweep: script!("presence_lib.lua", "presence_sweep.lua"),
    presence_query: script!("presence_lib.lua", "presence_query.lua"),
});

/// Whether `e` says Redis does not know a script (to load it and retry).
pub(super) fn unknown_script(e: &redis::RedisError) -> bool {
    e.code() == Some("NOSCRIPT")
}
