#!/usr/bin/env bash
# Runs every check: formatting, clippy (server and WASM sides), the Rust unit
# and integration tests, and the Playwright tests in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# step NAME: starts a step (and ends the one before); the summary at the end
# lists how long each took, so a newcomer and CI see where the time goes.
steps=() step_name= step_start=$start
end_step() {
  if [ -n "$step_name" ]; then
    steps+=("$(printf '%6ss  %s' "$(( $(date +%s) - step_start ))" "$step_name")")
  fi
}
step() {
  end_step
  step_name="$*" step_start=$(date +%s)
  printf '\n\033[1;34m==> %s\033[0m (%ss)\n' "$*" "$(( step_start - start ))"
}
summary() {
  local rc=$?
  end_step
  step_name=
  printf '\n\033[1;34m==> timing\033[0m\n'
  printf '%s\n' "${steps[@]}"
  printf '%6ss  in all%s\n' "$(( $(date +%s) - start ))" "$([ "$rc" = 0 ] || echo " (FAILED in the last step above)")"
}
trap summary EXIT

step "setup"
bash scripts/setup.sh test
export PATH="$HOME/.cargo/bin:$PATH"
# The release build compiles with LEPTOS_OUTPUT_NAME set, and leptos bakes it in
# (it picks the WASM file name the page loads). Plain cargo builds of the
# server must see the same value, or they load a file that does not exist.
export LEPTOS_OUTPUT_NAME=sse-hub

step "cargo fmt --check"
cargo fmt --all -- --check

step "no import circles (files and top-level modules)"
for crate in src use_sse/src app/src server/src protocol/src; do
  python3 scripts/imports.py "$crate" | tail -n +1 | grep -v -- ' -> ' | sed "s|^|$crate: |"
  python3 scripts/imports.py "$crate" >/dev/null
done

step "release build (server + optimized WASM + CSS, hashed and precompressed), as scripts/run.sh serves it"
bash scripts/build-release.sh

# The server side and the WASM side are checked separately: building them
# together would turn on both the `ssr` and `hydrate` features of `app`.
step "clippy: hub core, app (ssr), server, load generator"
cargo clippy -p sse-protocol -p use-sse -p sse-hub -p app -p server -p sse-bench -p sse-testkit --all-targets -- -D warnings
step "clippy: frontend, app (hydrate) and the use_sse hook for wasm32"
cargo clippy -p frontend -p use-sse --target wasm32-unknown-unknown -- -D warnings

step "cargo test (unit, integration against real servers, Redis, proptests)"
cargo test -p sse-protocol -p use-sse -p sse-hub -p app -p server -p sse-bench

step "rustdoc of the library crates (a broken intra-doc link fails)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p sse-protocol -p use-sse -p sse-hub

step "deploy/: the systemd unit verifies (against the release binary)"
if command -v systemd-analyze >/dev/null; then
  unit_dir=$(mktemp -d)
  sed "s|/usr/local/bin/sse-hub|$PWD/target/release/server|" deploy/sse-hub.service > "$unit_dir/sse-hub.service"
  systemd-analyze verify "$unit_dir/sse-hub.service"
  rm -r "$unit_dir"
else
  echo "systemd-analyze not found: skipped"
fi

step "playwright (Chromium)"
(cd end2end && CI=${CI:-} npx playwright test)

end_step
step_name=
printf '\n\033[1;32m==> all checks passed\033[0m\n'
