#!/usr/bin/env bash
# Reconnect storms at scale (`bash bench/run.sh --scale` runs this): hub
# nodes on one Redis, streams spread over several `sse-storm` processes
# (each below the 20 000-file limit), a full storm with polite and with
# naive clients, a node SIGKILLed under load, and the memory broker on one
# node for comparison. Writes the block between the storm markers of
# bench/RESULTS.md (and prints it).
#   STREAMS=50000 NODES=3 RATE=1000 SHARDS=4 bash bench/storm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export LEPTOS_OUTPUT_NAME=sse-hub
ulimit -n "$(ulimit -Hn)"

STREAMS=${STREAMS:-50000}
KILL_STREAMS=${KILL_STREAMS:-36000}   # 3 nodes; the 2 left must stay below the file limit
MEMORY_STREAMS=${MEMORY_STREAMS:-19000}
NODES=${NODES:-3}
RATE=${RATE:-15}   # a third are broadcasts: 5/s × 50 000 streams is 250 000 deliveries/s, what 2 cores hold beside the clients
SHARDS=${SHARDS:-4}
LIVE_SECS=${LIVE_SECS:-20}
STORM_SECS=${STORM_SECS:-15}
# The gap a resume must cover: the storm (at most STORM_SECS) at the rate
# of the busiest channel (everyone: a third of the events), twice over.
HISTORY=${HISTORY:-$(( RATE * (LIVE_SECS + STORM_SECS) ))}
# Extra flags for every hub node (e.g. HUB_ARGS="--replay-wait-ms 10000"),
# and which scenarios to run (polite naive kill memory).
HUB_ARGS=${HUB_ARGS:-}
SCENARIOS=${SCENARIOS:-polite naive kill memory}
SECRET=bench-secret-0123456789abcdef0123
REDIS_PORT=3960

cargo build --release -p server -p sse-bench
STORM=target/release/sse-storm
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null 2>&1 &
  redis_pid=$!; pids+=("$redis_pid")
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

# start_nodes N BROKER: N hub nodes on ports 3951.. (their pids in node_pids).
start_nodes() {
  node_pids=(); node_addrs=""; probe_addrs=""
  for k in $(seq 1 "$1"); do
    port=$((3950 + k))
    target/release/server --addr "127.0.0.1:$port" --jwt-secret "$SECRET" --demo false --broker "$2" \
      --max-connections 20000 --max-connections-per-ip 0 --max-connections-per-user 100 \
      --history-len "$HISTORY" --public-topics 'storm.*' --probe-addr "127.0.0.1:$((3970 + k))" \
      --log warn $HUB_ARGS >>"$work/hub.log" 2>&1 &
    node_pids+=($!); pids+=($!)
    node_addrs="${node_addrs:+$node_addrs,}127.0.0.1:$port"
    probe_addrs="${probe_addrs:+$probe_addrs,}127.0.0.1:$((3970 + k))"
  done
  for k in $(seq 1 "$1"); do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$((3950 + k))/api/ready" && break; sleep 0.1; done
  done
}

stop_all() {
  kill "${node_pids[@]}" 2>/dev/null || true
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  redis_pid=""
}

# Probes readiness of every node every 0.5 s while $work/probing exists,
# on its main address and on its --probe-addr (in parallel): each answer's
# status and time.
probe_one() {
  grep -qx "$2" "$work/killed" 2>/dev/null && return
  # curl writes its line (000 for no answer) whether or not it succeeded.
  curl -s -o /dev/null -m 5 -w "$1 $2 %{http_code} %{time_total}\n" "http://$3/api/ready" >> "$work/probe.txt" || true
}
probe() {
  : > "$work/probe.txt"
  local mains=(${node_addrs//,/ }) probes=(${probe_addrs//,/ })
  while [ -f "$work/probing" ]; do
    for k in "${!mains[@]}"; do
      probe_one main "${mains[$k]}" "${mains[$k]}" &
      probe_one probe "${mains[$k]}" "${probes[$k]}" &
    done
    wait
    sleep 0.5
  done
}

# scenario LABEL STREAMS CLIENT DROP [kill]: one run; appends a JSON line.
scenario() {
  local label=$1 streams=$2 client=$3 drop=$4 kill=${5:-}
  local shards=$SHARDS
  [ "$streams" -le 15000 ] && shards=1
  local start_at=$(( $(date +%s%3N) + 15000 + streams ))   # time to open every stream
  echo "  $label: $streams streams, $shards processes, $client clients, drop $drop" >&2
  local base_rss=""
  for p in "${node_pids[@]}"; do base_rss="$base_rss $(rss_kb "$p")"; done
  local shard_pids=()
  for s in $(seq 0 $((shards - 1))); do
    local publish=""; [ "$s" = 0 ] && publish=--publish
    "$STORM" --nodes "$node_addrs" --jwt-secret "$SECRET" --streams "$streams" --shard "$s" --shards "$shards" \
      --rate "$RATE" $publish --start-at-ms "$start_at" --drop-after-secs "$LIVE_SECS" --storm-secs "$STORM_SECS" \
      --drop "$drop" --client "$client" --deadline-secs 60 > "$work/shard-$s.json" 2> "$work/shard-$s.err" &
    shard_pids+=($!)
  done
  # At the start, every stream is open and idle: the nodes' memory now.
  sleep $(( (start_at - $(date +%s%3N)) / 1000 ))
  local idle_rss="" idle_fds=""
  for p in "${node_pids[@]}"; do idle_rss="$idle_rss $(rss_kb "$p")"; idle_fds="$idle_fds $(fds "$p")"; done
  local redis_mem=0
  [ -n "${redis_pid:-}" ] && redis_mem=$(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
  local cpu0="" rcpu0=0
  for p in "${node_pids[@]}"; do cpu0="$cpu0 $(cpu_ticks "$p")"; done
  [ -n "${redis_pid:-}" ] && rcpu0=$(cpu_ticks "$redis_pid")
  touch "$work/probing"; probe & local prober=$!
  if [ -n "$kill" ]; then
    sleep "$LIVE_SECS"
    echo "127.0.0.1:$((3950 + NODES))" > "$work/killed"
    kill -9 "${node_pids[$((NODES - 1))]}"
    echo "    SIGKILLed node $NODES" >&2
  fi
  for p in "${shard_pids[@]}"; do wait "$p" || true; done
  rm -f "$work/probing"; wait "$prober" 2>/dev/null || true
  local cpu1="" rcpu1=0
  for p in "${node_pids[@]}"; do cpu1="$cpu1 $(cpu_ticks "$p")"; done
  [ -n "${redis_pid:-}" ] && rcpu1=$(cpu_ticks "$redis_pid")
  local redis_cmds=0
  [ -n "${redis_pid:-}" ] && redis_cmds=$(redis-cli -p "$REDIS_PORT" info stats | awk -F: '/^total_commands_processed:/ { print $2 }' | tr -d '\r')
  python3 - "$work" "$label" "$streams" "$idle_rss" "$idle_fds" "$redis_mem" "$cpu0" "$cpu1" "$rcpu0" "$rcpu1" "$redis_cmds" "$base_rss" <<'PY' >> "$work/storm.jsonl"
import glob, json, sys
work, label, streams = sys.argv[1], sys.argv[2], int(sys.argv[3])
shards = [json.loads(open(f).read().strip().splitlines()[-1]) for f in sorted(glob.glob(f"{work}/shard-*.json")) if open(f).read().strip()]
ints = lambda s: [int(x) for x in s.split()]
cu = sorted(x for s in shards for x in s["catch_up_ms"])
q = lambda p: cu[min(len(cu) - 1, int(p * len(cu)))] if cu else None
probes = [l.split() for l in open(f"{work}/probe.txt")]
def probed(kind):
    p = [x for x in probes if x[0] == kind]
    slow = sorted(p, key=lambda x: -float(x[3]))
    return {"probes": len(p), "not_200": sum(1 for x in p if x[2] != "200"),
            "slowest_s": max((float(x[3]) for x in p), default=None),
            # which node, status and time, for the answers that were not
            # 200 or took over a second
            "bad": [f"{x[1]} {x[2]} {x[3]}" for x in slow if x[2] != "200" or float(x[3]) > 1][:10]}
pub = next((s["publish"] for s in shards if s.get("publish")), None)
sum_ = lambda k: sum(s[k] for s in shards)
cpu = [max(0, b - a) for a, b in zip(ints(sys.argv[7]), ints(sys.argv[8]))]
print(json.dumps({
    "label": label, "streams": streams, "opened": sum_("opened"),
    "connect_secs": max(s["connect_secs"] for s in shards),
    "base_rss_kb": ints(sys.argv[12]), "idle_rss_kb": ints(sys.argv[4]), "idle_fds": ints(sys.argv[5]), "redis_memory_bytes": int(sys.argv[6] or 0),
    "received": sum_("received"), "lost": sum_("lost"), "duplicated": sum_("duplicated"),
    "out_of_order": sum_("out_of_order"), "stray": sum_("stray"), "resets": sum_("resets"),
    "refused_429": sum_("refused_429"), "refused_503": sum_("refused_503"), "failed_opens": sum_("failed_opens"),
    "reconnects": sum_("reconnects"), "never_caught_up": sum_("never_caught_up"),
    "late_opens": sum(s.get("late_opens", 0) for s in shards),
    "catch_up_ms": {"p50": q(0.5), "p99": q(0.99), "max": cu[-1] if cu else None},
    "publish": pub, "publish_refused": sum_("publish_refused"),
    "node_cpu_secs": [c / 100 for c in cpu], "redis_cpu_secs": (int(sys.argv[10]) - int(sys.argv[9])) / 100,
    "redis_commands": int(sys.argv[11] or 0),
    "ready_main": probed("main"), "ready_probe_addr": probed("probe"),
}))
PY
  tail -1 "$work/storm.jsonl" >&2
  rm -f "$work"/shard-*.json "$work/killed"
}

label_args=${HUB_ARGS:+ ($HUB_ARGS)}
for s in $SCENARIOS; do
  case $s in
    polite|naive)
      start_redis
      start_nodes "$NODES" "redis://127.0.0.1:$REDIS_PORT/0"
      scenario "storm, $([ "$s" = polite ] && echo use_sse-like || echo naive) clients$label_args" "$STREAMS" "$s" all
      stop_all ;;
    kill)
      start_redis
      start_nodes "$NODES" "redis://127.0.0.1:$REDIS_PORT/0"
      scenario "node $NODES of $NODES SIGKILLed$label_args" "$KILL_STREAMS" polite none kill
      stop_all ;;
    memory)
      saved=$NODES; NODES=1
      start_nodes 1 memory
      scenario "memory broker, one node$label_args" "$MEMORY_STREAMS" polite all
      stop_all
      NODES=$saved ;;
  esac
done

python3 - "$work/storm.jsonl" "$RATE" "$LIVE_SECS" "$STORM_SECS" "$HISTORY" "$SHARDS" > "$work/storm.md" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# Rows of earlier runs (other scenarios, other settings) are kept unless
# this run has one of the same label.
try:
    old = re.search(r"<!-- storm -->.*?```\n(.*?)```", open("bench/RESULTS.md").read(), re.S)
    kept = [json.loads(l) for l in (old.group(1).splitlines() if old else []) if l.strip()]
except (OSError, ValueError):
    kept = []
labels = {r["label"] for r in rows}
rows = [r for r in kept if r["label"] not in labels] + rows
rate, live, storm, history, shards = sys.argv[2:7]
print("<!-- storm -->")
print("## Reconnect storms (`bash bench/run.sh --scale`)\n")
print(f"Hub nodes on one Redis (the memory broker for the last row), streams spread over {shards} `sse-storm` processes "
      f"from source addresses 127.0.x.y. Events at {rate}/s for {live} s live, then every stream drops at once (RST) or a node is "
      f"SIGKILLed, and publishing goes on for {storm} s: a third to everyone, a third to 100 topics (each stream on one), a third to users. "
      f"Every client reconnects to the next node with its own `Last-Event-ID` and checks it gets every event meant for it once and in order. "
      f"use_sse-like clients wait the hub's `retry:` with full jitter and spread `Retry-After`; naive ones come back at once. "
      f"`--history-len {history}` (the whole run at the rate: a resume never reaches beyond it). "
      "Catch-up: from the drop until the client receives an event published after its reconnect.\n")
print("| run | streams | catch-up p50 / p99 / max s | lost | dup. | resets | 429 / 503 | publish p99 / max ms | /api/ready not 200, slowest s: main address · --probe-addr | node RSS growth per stream | node CPU s | Redis CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
def ready(r):
    if "ready_main" not in r:  # rows of runs before --probe-addr
        return f"{r['ready_not_200']} of {r['ready_probes']}, {r['ready_slowest_s'] or 0:.2f} · -"
    m, p = r["ready_main"], r["ready_probe_addr"]
    return f"{m['not_200']} of {m['probes']}, {m['slowest_s'] or 0:.2f} · {p['not_200']} of {p['probes']}, {p['slowest_s'] or 0:.2f}"
for r in rows:
    c = r["catch_up_ms"]
    s = lambda v: f"{v/1000:.1f}" if v is not None else "-"
    p = r.get("publish") or {}
    each = max(1, r["opened"] / len(r["idle_rss_kb"]))
    per = " / ".join(f"{(kb - b) / each:.2f}" for kb, b in zip(r["idle_rss_kb"], r["base_rss_kb"]))
    print(f"| {r['label']} | {r['opened']}/{r['streams']} | {s(c['p50'])} / {s(c['p99'])} / {s(c['max'])} | {r['lost']} | {r['duplicated']} | {r['resets']} | "
          f"{r['refused_429']} / {r['refused_503']} | {p.get('p99_ms', 0):.0f} / {p.get('max_ms', 0):.0f} | {ready(r)} | "
          f"{per} KiB | {' + '.join(f'{x:.0f}' for x in r['node_cpu_secs'])} | {r['redis_cpu_secs']:.0f} |")
print("\nRaw rows:\n\n```")
for r in rows:
    print(json.dumps(r))
print("```")
print("<!-- /storm -->")
PY
cat "$work/storm.md"
# Replace the storm block of RESULTS.md (kept below run.sh's notes marker).
python3 - "$work/storm.md" <<'PY'
import re, sys
block = open(sys.argv[1]).read().strip()
text = open("bench/RESULTS.md").read()
if "<!-- storm -->" in text:
    text = re.sub(r"<!-- storm -->.*?<!-- /storm -->", lambda m: block, text, flags=re.S)
else:
    marker = "<!-- notes kept by bench/run.sh -->"
    if marker not in text:
        text = text.rstrip() + "\n\n" + marker + "\n"
    text = text.rstrip() + "\n\n" + block + "\n"
open("bench/RESULTS.md", "w").write(text)
PY
