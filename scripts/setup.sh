#!/usr/bin/env bash
# Installs what the project needs, skipping whatever is already there.
#   scripts/setup.sh run    toolchain for building and running the hub
#   scripts/setup.sh test   the above, plus Chromium, Redis and the Playwright packages
#
# Why it is shaped like this: on a fresh 2-core machine the set-up used to
# take half an hour, nearly all of it compiling two tools, cargo-leptos (21
# minutes alone) and wasm-bindgen-cli. The release build no longer needs
# cargo-leptos (scripts/build-release.sh runs its steps itself), so only
# wasm-bindgen-cli is compiled, with a lean profile: tools we build for
# ourselves need no fat LTO or single codegen unit (cargo reads
# CARGO_PROFILE_* from the environment for `cargo install` too). The
# downloads (apt, npm) are waits, not CPU: they run in the background while
# the tool compiles, and each step prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# timed NAME CMD...: runs CMD and prints how long it took.
timed() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  log "$name: $((SECONDS - t0)) s"
}

export PATH="$HOME/.cargo/bin:$PATH"
setup_start=$SECONDS
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# --- Waits first, in the background: Debian packages and npm packages. ---
apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }
# The release build precompresses the site (.br beside .gz).
need_pkg brotli
if [ "$mode" = test ]; then
  need_pkg chromium
  need_pkg chromium-driver
  need_pkg redis-server
  need_pkg redis-sentinel
  need_pkg openssl
fi
apt_pid=
if [ "${#apt_missing[@]}" -gt 0 ]; then
  log "installing Debian packages in the background: ${apt_missing[*]}"
  (
    t0=$SECONDS
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}"
    log "Debian packages: $((SECONDS - t0)) s"
  ) >"$logs/apt" 2>&1 &
  apt_pid=$!
fi

npm_pids=()
# wasm-opt for release builds: binaryen from npm (Debian's 108 is too old
# for what wasm-bindgen emits now).
if [ ! -x scripts/wasm-opt/node_modules/.bin/wasm-opt ] || [ scripts/wasm-opt/package-lock.json -nt scripts/wasm-opt/node_modules/.package-lock.json ]; then
  log "installing wasm-opt (binaryen, npm) in the background"
  (cd scripts/wasm-opt && t0=$SECONDS && npm ci --no-audit --no-fund && log "wasm-opt (npm): $((SECONDS - t0)) s") >"$logs/npm-wasm-opt" 2>&1 &
  npm_pids+=("$!:npm-wasm-opt")
fi
if [ "$mode" = test ]; then
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    log "installing Playwright in the background (no browser download: Debian's Chromium is used)"
    (cd end2end && t0=$SECONDS && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && log "Playwright (npm): $((SECONDS - t0)) s") >"$logs/npm-playwright" 2>&1 &
    npm_pids+=("$!:npm-playwright")
  fi
fi

# --- CPU next, in the foreground: the Rust target and the two tools. ---
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  timed "wasm32-unknown-unknown target" rustup target add wasm32-unknown-unknown
fi

# A lean release profile for the tools (not for our own release build).
tool_profile=(env CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_INCREMENTAL=false)

# The release build runs the wasm-bindgen CLI; it must be the exact version
# of the wasm-bindgen crate in Cargo.lock.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  log "installing wasm-bindgen-cli $wb_version"
  # `--locked` fails today on a yanked dependency of its lock file; the
  # fallback resolves afresh. `--force`: another version's binaries
  # (wasm2es6js, the test runner) would otherwise stop the install.
  timed "wasm-bindgen-cli" bash -c '"$@" --locked || "$@"' _ "${tool_profile[@]}" \
    cargo install --force wasm-bindgen-cli --version "$wb_version"
fi

# --- Then wait for the downloads, and say what failed. ---
failed=0
for entry in "${npm_pids[@]}"; do
  pid=${entry%%:*} name=${entry#*:}
  if wait "$pid"; then tail -n 1 "$logs/$name"; else cat "$logs/$name" >&2; failed=1; fi
done
if [ -n "$apt_pid" ]; then
  if wait "$apt_pid"; then tail -n 1 "$logs/apt"; else cat "$logs/apt" >&2; failed=1; fi
fi
[ "$failed" = 0 ] || { log "an install failed (above)"; exit 1; }
log "ready ($mode) in $((SECONDS - setup_start)) s"
