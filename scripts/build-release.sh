#!/usr/bin/env bash
# Builds the server and the dashboard for release into target/release/server
# and target/site-release: the WASM optimized (wasm-opt from Debian's
# binaryen), every file named by a hash of its content (so browsers may
# cache it for good) with a .br and a .gz beside it (sent as they are).
# A site of its own, so a debug build's target/site stays usable.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/scripts/wasm-opt/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set, and leptos bakes it in.
export LEPTOS_OUTPUT_NAME=sse-hub
LEPTOS_HASH_FILES=true LEPTOS_SITE_ROOT=target/site-release \
  cargo leptos build --release --precompress
