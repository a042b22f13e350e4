#!/usr/bin/env bash
# Installs what the project needs, skipping whatever is already there.
#   scripts/setup.sh run    toolchain for building and running the hub
#   scripts/setup.sh test   the above, plus Chromium, Redis and the Playwright packages
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos 0.3.10" ]; then
  log "installing cargo-leptos 0.3.10"
  cargo install --locked --features no_downloads cargo-leptos --version 0.3.10
fi

# cargo-leptos (no_downloads) runs the wasm-bindgen CLI from PATH; it must be
# the exact version of the wasm-bindgen crate in Cargo.lock.
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  log "installing wasm-bindgen-cli $wb_version"
  cargo install --locked wasm-bindgen-cli --version "$wb_version" \
    || cargo install wasm-bindgen-cli --version "$wb_version"
fi

apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }
if [ "$mode" = test ]; then
  need_pkg chromium
  need_pkg chromium-driver
  need_pkg redis-server
  need_pkg redis-sentinel
  need_pkg openssl
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${apt_missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}"
fi

# wasm-opt for release builds: binaryen from npm (Debian's 108 is too old
# for what wasm-bindgen emits now).
if [ ! -x scripts/wasm-opt/node_modules/.bin/wasm-opt ] || [ scripts/wasm-opt/package-lock.json -nt scripts/wasm-opt/node_modules/.package-lock.json ]; then
  log "installing wasm-opt (binaryen, npm)"
  (cd scripts/wasm-opt && npm ci --no-audit --no-fund)
fi

if [ "$mode" = test ]; then
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    log "installing Playwright (no browser download: Debian's Chromium is used)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
log "ready ($mode)"
