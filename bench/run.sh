#!/usr/bin/env bash
# Runs the benchmark matrix against this hub and, side by side, nginx+nchan,
# and writes bench/RESULTS.md. Everything stays on loopback.
#   bash bench/run.sh            full matrix (100 / 1 000 / 10 000 connections
#                                × 1 000 events at 1 000/s, 256-byte payload;
#                                idle 15 000-connection hold; criterion)
#   HUB_URL=127.0.0.1:4000 bash bench/run.sh   point at another running hub
#                                              (skips starting ours)
#   bash bench/run.sh --scale    the reconnect storms instead (bench/storm.sh:
#                                50 000 streams over 3 nodes, minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --scale ]; then exec bash bench/storm.sh; fi
export PATH="$HOME/.cargo/bin:$PATH"
export LEPTOS_OUTPUT_NAME=sse-hub

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light libnginx-mod-nchan
  as_root service nginx stop >/dev/null 2>&1 || true
fi
ulimit -n "$(ulimit -Hn)"

cargo build --release -p server -p sse-bench
BENCH=target/release/sse-bench
SECRET=bench-secret-0123456789abcdef0123
HUB_ADDR=${HUB_URL:-127.0.0.1:3900}
NCHAN_ADDR=127.0.0.1:3901
work=$(mktemp -d)
cleanup() { [ -n "${hub_pid:-}" ] && kill "$hub_pid" 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat >"$work/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $work/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp;
  server {
    listen $NCHAN_ADDR;
    location = /health { return 200 "ok"; }
    location = /pub { nchan_publisher; nchan_channel_id \$arg_ch; nchan_message_buffer_length 2000; }
    location = /sub { nchan_subscriber eventsource; nchan_channel_id \$arg_ch; }
  }
}
CONF
# (Re)starts both servers, so a run can start from fresh processes.
start_servers() {
  if [ -n "${hub_pid:-}" ]; then kill "$hub_pid"; wait "$hub_pid" 2>/dev/null || true; fi
  if [ -f "$work/nginx.pid" ]; then
    kill -QUIT "$(cat "$work/nginx.pid")"
    for _ in $(seq 100); do [ -f "$work/nginx.pid" ] || break; sleep 0.1; done
  fi
  if [ -z "${HUB_URL:-}" ]; then
    target/release/server --addr "$HUB_ADDR" --jwt-secret "$SECRET" --demo false \
      --max-connections 20000 --max-connections-per-ip 0 --log warn >>"$work/hub.log" 2>&1 &
    hub_pid=$!
  fi
  nginx -c "$work/nginx.conf" -p "$work/nginx" -g 'daemon on;'
  for addr in "$HUB_ADDR" "$NCHAN_ADDR"; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://$addr/" && break; sleep 0.1; done
  done
  # nginx's RSS is its master's plus its workers'.
  nchan_master=$(cat "$work/nginx.pid")
  nchan_pids="--server-pid $nchan_master"
  for p in $(pgrep -P "$nchan_master"); do nchan_pids="$nchan_pids --server-pid $p"; done
}
start_servers

results="$work/results.jsonl"
run() { echo "  sse-bench $*" >&2; "$BENCH" --json "$@" | tee -a "$results"; }
# The idle hold goes first, while both servers are fresh: after a loaded
# run, freed memory is reused and the growth per connection reads too low.
run --kind hub --addr "$HUB_ADDR" --jwt-secret "$SECRET" --connections 15000 --events 0 --hold-secs 5 ${hub_pid:+--server-pid "$hub_pid"}
run --kind nchan --addr "$NCHAN_ADDR" --connections 15000 --events 0 --hold-secs 5 $nchan_pids
# The same on used connections, as browsers open their EventSource (after
# the page and a token request on the same pooled socket), again on fresh
# servers.
start_servers
run --kind hub --addr "$HUB_ADDR" --jwt-secret "$SECRET" --connections 15000 --events 0 --hold-secs 5 --reuse ${hub_pid:+--server-pid "$hub_pid"}
run --kind nchan --addr "$NCHAN_ADDR" --connections 15000 --events 0 --hold-secs 5 --reuse $nchan_pids
for n in 100 1000 10000; do
  run --kind hub --addr "$HUB_ADDR" --jwt-secret "$SECRET" --connections "$n" --events 1000 --rate 1000 --payload 256 ${hub_pid:+--server-pid "$hub_pid"}
  run --kind nchan --addr "$NCHAN_ADDR" --connections "$n" --events 1000 --rate 1000 --payload 256 $nchan_pids
done

# Saturated fan-out: 5 000 streams, events published as fast as the hub
# answers (4 publishers).
run --kind hub --addr "$HUB_ADDR" --jwt-secret "$SECRET" --connections 5000 --events 2000 --rate 0 --publishers 4 --label "hub fan-out"
run --kind nchan --addr "$NCHAN_ADDR" --connections 5000 --events 2000 --rate 0 --publishers 4 --label "nchan fan-out"
# Publishing: 32 publishers as fast as they are answered, 10 subscribers;
# the memory broker, nchan, and two hub nodes on one Redis (publishers
# alternate between the nodes, subscribers on the first).
run --kind hub --addr "$HUB_ADDR" --jwt-secret "$SECRET" --connections 10 --events 20000 --rate 0 --publishers 32 --label "publish: hub (memory)"
run --kind nchan --addr "$NCHAN_ADDR" --connections 10 --events 20000 --rate 0 --publishers 32 --label "publish: nchan"
if [ -z "${HUB_URL:-}" ] && command -v redis-server >/dev/null; then
  REDIS_PORT=3910
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  node_pids=()
  for port in 3902 3903; do
    target/release/server --addr "127.0.0.1:$port" --jwt-secret "$SECRET" --demo false \
      --broker "redis://127.0.0.1:$REDIS_PORT/0" --max-connections 20000 --max-connections-per-ip 0 --log warn >>"$work/hub.log" 2>&1 &
    node_pids+=($!)
  done
  for port in 3902 3903; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/api/ready" && break; sleep 0.1; done
  done
  run --kind hub --addr 127.0.0.1:3902 --publish-to 127.0.0.1:3902 --publish-to 127.0.0.1:3903 --jwt-secret "$SECRET" \
    --connections 10 --events 20000 --rate 0 --publishers 32 --label "publish: 2 hub nodes on Redis"
  # Cross-node delivery at 1 000 streams: published on one node, read on the other.
  run --kind hub --addr 127.0.0.1:3902 --publish-to 127.0.0.1:3903 --jwt-secret "$SECRET" \
    --connections 1000 --events 1000 --rate 1000 --label "hub+redis, cross-node"
  kill "${node_pids[@]}" "$redis_pid" 2>/dev/null || true
fi

# TLS: idle connections on a hub and an nginx+nchan that terminate TLS
# themselves (one self-signed P-256 certificate), 3 000 each: after the
# handshake alone, and with one stream over HTTP/1.1 or HTTP/2 each. Fresh
# servers for every row.
if [ -z "${HUB_URL:-}" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
    -keyout "$work/tls-key.pem" -out "$work/tls-cert.pem" -addext "subjectAltName=IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" 2>/dev/null
  mkdir -p "$work/nginx-tls/logs" "$work/nginx-tls/tmp"
  cat >"$work/nginx-tls.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $work/nginx-tls.pid;
error_log $work/nginx-tls/logs/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tls/tmp;
  server {
    listen 127.0.0.1:3905 ssl http2;
    ssl_certificate $work/tls-cert.pem;
    ssl_certificate_key $work/tls-key.pem;
    location = /pub { nchan_publisher; nchan_channel_id \$arg_ch; nchan_message_buffer_length 2000; }
    location = /sub { nchan_subscriber eventsource; nchan_channel_id \$arg_ch; }
  }
}
CONF
  for mode in handshake h1 h2; do
    target/release/server --addr 127.0.0.1:3904 --jwt-secret "$SECRET" --demo false --max-connections 20000 \
      --max-connections-per-ip 0 --tls-cert "$work/tls-cert.pem" --tls-key "$work/tls-key.pem" --log warn >>"$work/hub.log" 2>&1 &
    tls_hub=$!
    nginx -c "$work/nginx-tls.conf" -p "$work/nginx-tls" -g 'daemon on;'
    for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:3904/api/health" && break; sleep 0.1; done
    for _ in $(seq 100); do [ -f "$work/nginx-tls.pid" ] && break; sleep 0.1; done
    sleep 0.5
    tls_master=$(cat "$work/nginx-tls.pid")
    tls_nginx="--server-pid $tls_master"
    for p in $(pgrep -P "$tls_master"); do tls_nginx="$tls_nginx --server-pid $p"; done
    run --kind hub --addr 127.0.0.1:3904 --jwt-secret "$SECRET" --tls "$mode" --tls-ca "$work/tls-cert.pem" \
      --connections 3000 --events 0 --hold-secs 2 --server-pid "$tls_hub" --label "tls $mode: hub"
    run --kind nchan --addr 127.0.0.1:3905 --tls "$mode" --tls-ca "$work/tls-cert.pem" \
      --connections 3000 --events 0 --hold-secs 2 $tls_nginx --label "tls $mode: nginx+nchan"
    # Delivery over TLS: 1 000 streams, 1 000 events at 1 000/s, published
    # over TLS too; the servers' CPU per delivered message.
    if [ "$mode" != handshake ]; then
      run --kind hub --addr 127.0.0.1:3904 --jwt-secret "$SECRET" --tls "$mode" --tls-ca "$work/tls-cert.pem" \
        --connections 1000 --events 1000 --rate 1000 --server-pid "$tls_hub" --label "tls $mode fan-out: hub"
      run --kind nchan --addr 127.0.0.1:3905 --tls "$mode" --tls-ca "$work/tls-cert.pem" \
        --connections 1000 --events 1000 --rate 1000 $tls_nginx --label "tls $mode fan-out: nginx+nchan"
    fi
    kill "$tls_hub"; wait "$tls_hub" 2>/dev/null || true
    kill -QUIT "$tls_master"
    for _ in $(seq 100); do [ -f "$work/nginx-tls.pid" ] || break; sleep 0.1; done
  done
fi

criterion=$(cargo bench -p sse-hub --bench hot_paths -- --noplot 2>/dev/null | grep -E "^(encode|fan_out)|time:|thrpt:" || true)

histmem=$(cargo bench -p sse-hub --bench history_memory 2>/dev/null | grep -E "^history/" || true)

# Hand-written notes (before/after comparisons) below this marker are kept.
marker='<!-- notes kept by bench/run.sh -->'
kept=$(awk -v m="$marker" 'index($0, m) == 1 { k = 1 } k' bench/RESULTS.md 2>/dev/null || true)
python3 - "$results" "$criterion" "$histmem" > bench/RESULTS.md <<'PY'
import json, platform, re, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# Keep each criterion benchmark's own numbers, not the comparison with
# whatever ran on this machine before.
criterion, seen = [], 0
for line in sys.argv[2].splitlines():
    if line and not line[0].isspace():
        seen = 1 if "time:" in line else 0
        criterion.append(line)
    elif seen < 2:
        seen += 1
        criterion.append(line)
criterion = "\n".join(criterion)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print("# Benchmark results\n")
print(f"Machine: {cores} cores ({cpu}), {int(mem)//1024} MiB RAM, Linux {platform.release()}. "
      "Hub (release build) and nginx+nchan (2 workers) share the machine with the load generator; all traffic on loopback.\n")
print("Command: `bash bench/run.sh` (writes this file). Each row is one `sse-bench --json` run; "
      "events are published through each hub's HTTP API at the given rate, 256-byte payload, target: every connection. "
      "Memory is the growth of the server's PSS (nginx: master and workers summed) over the run, divided by the connections; "
      "the idle hold runs first, on fresh servers (later rows reuse memory earlier runs freed, so they show only growth beyond it).\n")
plain = [r for r in rows if r.get("publishers", 1) == 1 and r.get("label", r["kind"]) in ("hub", "nchan")]
print("| hub | connections held | reused conn. | events | expected | delivered | loss | delivered msg/s | p50 ms | p90 ms | p99 ms | max ms | connect s | memory/conn |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in plain:
    l = r["latency_ms"]
    mem = r.get("memory_per_connection_bytes")
    mem = f"{mem/1024:.1f} KiB" if mem is not None else "-"
    print(f"| {r['kind']} | {r['connections_held']}/{r['connections_requested']} | {'yes' if r.get('reused_connections') else 'no'} | {r['events']} | {r['expected']} | {r['delivered']} | {r['loss']} | "
          f"{r['delivered_per_sec']:.0f} | {l['p50']:.2f} | {l['p90']:.2f} | {l['p99']:.2f} | {l['max']:.2f} | {r['connect_secs']:.2f} | {mem} |")

def row(kind, n, events, reused=False):
    return next((r for r in plain if r["kind"] == kind and r["connections_requested"] == n and r["events"] == events
                 and bool(r.get("reused_connections")) == reused), None)
idle, idle_nchan = row("hub", 15000, 0), row("nchan", 15000, 0)
idle_reused, idle_reused_nchan = row("hub", 15000, 0, True), row("nchan", 15000, 0, True)
k1, k10, n10 = row("hub", 1000, 1000), row("hub", 10000, 1000), row("nchan", 10000, 1000)
fan, lines = None, criterion.splitlines()
for i, line in enumerate(lines):
    if line.startswith("fan_out/10k_connections"):
        thrpt = next((l for l in lines[i:i + 3] if "thrpt:" in l), "")
        values = re.findall(r"([\d.]+) Melem/s", thrpt)
        fan = float(values[1]) * 1e6 if len(values) == 3 else None
def verdict(ok):
    return "met" if ok else "**missed**"
print("\n## Targets\n")
print("| target | result | |")
print("|---|---|---|")
if idle:
    print(f"| ≥ 15 000 connections held | {idle['connections_held']} held | {verdict(idle['connections_held'] >= 15000)} |")
    m = idle.get("memory_per_connection_bytes") or 0
    other = f" (nchan: {idle_nchan['memory_per_connection_bytes']/1024:.1f} KiB)" if idle_nchan and idle_nchan.get("memory_per_connection_bytes") else ""
    print(f"| ≤ 8 KiB server memory per idle connection | {m/1024:.1f} KiB{other} | {verdict(0 < m <= 8192)} |")
if idle_reused:
    m = idle_reused.get("memory_per_connection_bytes") or 0
    other = f" (nchan: {idle_reused_nchan['memory_per_connection_bytes']/1024:.1f} KiB)" if idle_reused_nchan and idle_reused_nchan.get("memory_per_connection_bytes") else ""
    print(f"| the same on used connections (how browsers open streams) | {m/1024:.1f} KiB{other} | {verdict(0 < m <= 8192)} |")
if fan:
    print(f"| fan-out ≥ 1 000 000 deliveries/s in-process | {fan/1e6:.1f} M/s (criterion, 10k connections) | {verdict(fan >= 1e6)} |")
if k10 and n10:
    print(f"| ahead of nchan at 10 000 connections | {k10['delivered_per_sec']:.0f} vs {n10['delivered_per_sec']:.0f} msg/s; p99 {k10['latency_ms']['p99']:.0f} vs {n10['latency_ms']['p99']:.0f} ms | {verdict(k10['delivered_per_sec'] > n10['delivered_per_sec'])} |")
if k1:
    print(f"| p99 publish→receive < 50 ms at 1 000 events/s × 1 000 connections | {k1['latency_ms']['p99']:.1f} ms | {verdict(k1['latency_ms']['p99'] < 50)} |")
lost = sum(r["loss"] for r in rows)
print(f"| zero loss in every run | {lost} lost over {len(rows)} runs | {verdict(lost == 0)} |")
saturated = [r for r in rows if not r.get("tls") and (r.get("publishers", 1) > 1 or r.get("label", r["kind"]) not in ("hub", "nchan"))]
if saturated:
    print("\n## Publishing, saturated fan-out and cross-node delivery\n")
    print("Events published as fast as the servers answer (`--rate 0`) by several publishers; 256-byte payloads, target: every connection.\n")
    print("| run | connections | publishers | events | publishes/s | delivered msg/s | p99 ms | loss |")
    print("|---|---|---|---|---|---|---|---|")
    for r in saturated:
        print(f"| {r.get('label', r['kind'])} | {r['connections_held']} | {r.get('publishers', 1)} | {r['events']} | {r.get('publishes_per_sec', 0):.0f} | "
              f"{r['delivered_per_sec']:.0f} | {r['latency_ms']['p99']:.1f} | {r['loss']} |")
tls = [r for r in rows if r.get("tls") and r["events"] == 0]
tls_fan = [r for r in rows if r.get("tls") and r["events"] > 0]
if tls:
    print("\n## Idle connections over TLS\n")
    print("3 000 connections each, on fresh servers terminating TLS themselves (self-signed P-256 certificate, TLS 1.3): "
          "after the handshake alone, and holding one SSE stream each over HTTP/1.1 or HTTP/2. Server PSS growth per connection.\n")
    print("| connection | hub | nginx+nchan | hub / nginx |")
    print("|---|---|---|---|")
    for mode in ("handshake", "h1", "h2"):
        h = next((r for r in tls if r["tls"] == mode and r["kind"] == "hub"), None)
        n = next((r for r in tls if r["tls"] == mode and r["kind"] == "nchan"), None)
        if not h or not n:
            continue
        hm, nm = h.get("memory_per_connection_bytes") or 0, n.get("memory_per_connection_bytes") or 0
        ratio = f"{hm / nm:.0%}" if nm else "-"
        print(f"| {mode} ({h['connections_held']} / {n['connections_held']} held) | {hm/1024:.1f} KiB | {nm/1024:.1f} KiB | {ratio} |")
if tls_fan:
    print("\n## Delivery over TLS\n")
    print("1 000 streams over TLS, 1 000 events at 1 000/s (published over TLS too), 256-byte payloads; "
          "server CPU is user + system time of the server's processes over the run, per delivered message.\n")
    print("| run | delivered | loss | delivered msg/s | p50 ms | p99 ms | server CPU | CPU µs / message |")
    print("|---|---|---|---|---|---|---|---|")
    for r in tls_fan:
        c = r.get("server_cpu_secs")
        per = f"{c * 1e6 / r['delivered']:.2f}" if c is not None and r["delivered"] else "-"
        cs = f"{c:.2f} s" if c is not None else "-"
        print(f"| {r.get('label', r['kind'])} | {r['delivered']} | {r['loss']} | {r['delivered_per_sec']:.0f} | "
              f"{r['latency_ms']['p50']:.2f} | {r['latency_ms']['p99']:.2f} | {cs} | {per} |")
print("\n## Criterion micro-benchmarks (`cargo bench -p sse-hub --bench hot_paths`)\n")
print("```\n" + criterion.strip() + "\n```")
print("\n## History memory (`cargo bench -p sse-hub --bench history_memory`)\n")
print("Heap bytes the memory broker's per-channel history holds, counted by allocator: per retained event "
      "(256-byte payload, one channel) and per channel (a user channel holding one event, minus that event).\n")
print("```\n" + sys.argv[3].strip() + "\n```")
PY
if [ -n "$kept" ]; then printf '\n%s\n' "$kept" >> bench/RESULTS.md; fi
cat bench/RESULTS.md
