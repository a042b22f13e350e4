#!/usr/bin/env bash
# Builds the hub and its dashboard and runs it with the embedded defaults
# (in-memory broker, demo mode). Extra arguments go to the server
# (see `target/debug/server --help`), e.g. scripts/run.sh --addr 0.0.0.0:3000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set, and leptos bakes it in
# (it picks the WASM file name the page loads). Plain cargo builds of the
# server must see the same value, or they load a file that does not exist.
export LEPTOS_OUTPUT_NAME=sse-hub
cargo leptos build
# Demo mode is off by default (it lets anyone mint tokens); this command is
# the demo, so it turns it on and the server says so when it starts.
exec target/debug/server --site-root target/site --demo true --presence-topics 'news,demo.*' "$@"
