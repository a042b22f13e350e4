#!/usr/bin/env bash
# Builds the hub and its dashboard and runs it with the embedded defaults
# (in-memory broker, demo mode). Extra arguments go to the server
# (see `target/debug/server --help`), e.g. scripts/run.sh --addr 0.0.0.0:3000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
export PATH="$HOME/.cargo/bin:$PATH"
cargo leptos build
exec target/debug/server --site-root target/site "$@"
