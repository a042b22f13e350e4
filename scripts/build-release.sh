#!/usr/bin/env bash
# Builds the server and the dashboard for release into target/release/server
# and target/site-release: the WASM optimized (wasm-opt, binaryen 132 from
# npm), every /pkg file named by a hash of its content (so browsers may cache
# it for good, `hash.txt` beside the binary says which), with a .br and a .gz
# beside every file (sent as they are). A site of its own, so a debug
# build's target/site stays usable.
#
# Why not `cargo leptos build --release`: compiling cargo-leptos itself took
# 21 of the 25 minutes a fresh machine spent setting up. For a release build
# it runs these steps, which need only wasm-bindgen and wasm-opt; the names
# and hash.txt are the ones leptos's HydrationScripts and HashedStylesheet
# read (`<output-name>.<hash>.{js,wasm,css}`). `cargo leptos watch` still
# works for a live-reload loop (Cargo.toml's [[workspace.metadata.leptos]]),
# for whoever installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/scripts/wasm-opt/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# leptos bakes the output name in at compile time (it picks the file names
# the page loads); every build of the server must see the same value.
export LEPTOS_OUTPUT_NAME=sse-hub
name=$LEPTOS_OUTPUT_NAME
site=target/site-release
pkg=$site/pkg
t0=$SECONDS
log() { printf '\033[1;34m[build]\033[0m %s (%s s)\n' "$*" "$((SECONDS - t0))"; }

# 1. The WASM, with the profile and features Cargo.toml's leptos metadata
#    names (lib-profile-release = wasm-release, no default features).
log "frontend (wasm32, wasm-release profile)"
cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release --no-default-features
rm -rf "$site"
mkdir -p "$pkg"
log "wasm-bindgen"
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name "$name" \
  target/wasm32-unknown-unknown/wasm-release/frontend.wasm
# leptos loads `<name>.wasm`, without wasm-bindgen's `_bg`.
log "wasm-opt"
# The flags are Cargo.toml's wasm-opt-features (one list for both builds).
mapfile -t opt_flags < <(python3 - <<'EOF'
import tomllib
meta = tomllib.load(open("Cargo.toml", "rb"))["workspace"]["metadata"]["leptos"][0]
print("\n".join(meta["wasm-opt-features"]))
EOF
)
wasm-opt "${opt_flags[@]}" "$pkg/${name}_bg.wasm" -o "$pkg/$name.wasm"
rm "$pkg/${name}_bg.wasm"
cp style/main.css "$pkg/$name.css"
cp -r public/. "$site/"

# 2. Content hashes in the names: `<name>.<hash>.<ext>`, listed in hash.txt.
log "hashing"
hashes=$(mktemp)
for ext in js wasm css; do
  hash=$(python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.md5(open(sys.argv[1], "rb").read()).digest()).decode().rstrip("="))' "$pkg/$name.$ext")
  mv "$pkg/$name.$ext" "$pkg/$name.$hash.$ext"
  echo "$ext: $hash" >> "$hashes"
done

# 3. Precompressed copies of every file of the site.
log "precompressing"
find "$site" -type f ! -name '*.br' ! -name '*.gz' -print0 | while IFS= read -r -d '' f; do
  gzip -9 -n -k -f "$f"
  brotli -q 11 -k -f "$f"
done

# 4. The server, as cargo-leptos builds it (no default features).
log "server (release)"
cargo build -p server --bin server --release --no-default-features
mv "$hashes" target/release/hash.txt
log "done: target/release/server, $site"
