#!/usr/bin/env bash
# Builds the hub and its dashboard for release and runs it with the
# embedded defaults (in-memory broker, demo mode). Extra arguments go to the
# server (see `target/release/server --help`), e.g.
# scripts/run.sh --addr 0.0.0.0:3000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
bash scripts/build-release.sh
# Demo mode is off by default (it lets anyone mint tokens); this command is
# the demo, so it turns it on and the server says so when it starts.
exec target/release/server --site-root target/site-release --demo true --presence-topics 'news,demo.*' "$@"
