#!/usr/bin/env bash
# Side by side: this tree against another commit, on this machine, with
# this tree's load generator. Both servers are release builds; runs are
# alternated so drift hits both alike. Everything stays on loopback.
#
#   bash bench/compare.sh BASE [RUNS]     e.g. bash bench/compare.sh HEAD~1 3
#
# Scenarios (one fresh server, or two nodes and a redis-server, per run):
#   fanout   5 000 streams, 2 000 events as fast as answered, 4 publishers
#   publish  10 subscribers, 20 000 events, 32 publishers, one node (memory)
#   redis    the same through two nodes on one Redis (publishers alternate)
# Prints messages/s and publishes/s per run, and each process's CPU time.
# BASE is built in its own target folder (target/compare): cargo keys the
# workspace's own crates by name, not path, so sharing target/ with another
# checkout mixes their builds up.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/compare.sh BASE [RUNS]}
runs=${2:-3}
export PATH="$HOME/.cargo/bin:$PATH" LEPTOS_OUTPUT_NAME=sse-hub
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  git worktree remove --force "$work/base" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -p server -p sse-bench
cp target/release/server "$work/server-this"
BENCH=target/release/sse-bench
git worktree add -q "$work/base" "$base"
CARGO_TARGET_DIR="$(pwd)/target/compare" cargo build --release -p server --manifest-path "$work/base/Cargo.toml"
cp target/compare/release/server "$work/server-base"

SECRET=bench-secret-0123456789abcdef0123
up() { for _ in $(seq 100); do curl -s -o /dev/null "http://$1/api/health" && return; sleep 0.1; done; echo "no server at $1" >&2; exit 1; }
cpu_of() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
# The load generator is one client address: no per-address limit (set in
# the environment, which a base commit without that flag ignores).
export HUB_MAX_CONNECTIONS_PER_IP=0
hub() { "$1" --addr "127.0.0.1:$2" --jwt-secret "$SECRET" --demo false --max-connections 20000 --log warn "${@:3}" >>"$work/log" 2>&1 & pids+=($!); }

one() { # build scenario
  local bin="$work/server-$1" scenario=$2 out cpu=""
  pids=()
  case $scenario in
    fanout|publish)
      hub "$bin" 3970; up 127.0.0.1:3970
      if [ "$scenario" = fanout ]; then
        out=$("$BENCH" --json --addr 127.0.0.1:3970 --jwt-secret "$SECRET" --connections 5000 --events 2000 --rate 0 --publishers 4)
      else
        out=$("$BENCH" --json --addr 127.0.0.1:3970 --jwt-secret "$SECRET" --connections 10 --events 20000 --rate 0 --publishers 32)
      fi ;;
    redis)
      redis-server --port 3979 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null 2>&1 & pids+=($!)
      for _ in $(seq 100); do redis-cli -p 3979 ping >/dev/null 2>&1 && break; sleep 0.1; done
      hub "$bin" 3971 --broker redis://127.0.0.1:3979/0; hub "$bin" 3972 --broker redis://127.0.0.1:3979/0
      up 127.0.0.1:3971; up 127.0.0.1:3972
      out=$("$BENCH" --json --addr 127.0.0.1:3971 --publish-to 127.0.0.1:3971 --publish-to 127.0.0.1:3972 \
        --jwt-secret "$SECRET" --connections 10 --events 20000 --rate 0 --publishers 32) ;;
  esac
  for p in "${pids[@]}"; do cpu="$cpu $(tr -d '\n' <"/proc/$p/comm")=$(cpu_of "$p")s"; done
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print("%-6s %-8s %12.0f msg/s %9.0f publishes/s  loss %d  cpu%s" % (sys.argv[2], sys.argv[3], r["delivered_per_sec"], r["publishes_per_sec"], r["loss"], sys.argv[4]))' \
    "$out" "$1" "$scenario" "$cpu"
}

echo "base = $base ($(git rev-parse --short "$base")), this = working tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'))"
for scenario in fanout publish redis; do
  for _ in $(seq "$runs"); do
    one base "$scenario"
    one this "$scenario"
  done
done
