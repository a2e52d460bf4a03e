#!/usr/bin/env bash
# Builds the playground: warden-playground for wasm32-unknown-unknown, then wasm-bindgen's
# `--target web` output plus the static page into target/playground/web, and `--target nodejs`
# into target/playground/node (for scripts/warden-explain). Quiet unless something fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo="${CARGO:-cargo}"
out="target/playground"
wasm="target/wasm32-unknown-unknown/release/warden_playground.wasm"

# Unstripped: wasm-bindgen reads the target_features section that `strip` would remove.
CARGO_PROFILE_RELEASE_STRIP=false "$cargo" build --quiet --release --target wasm32-unknown-unknown -p warden-playground
command -v wasm-bindgen >/dev/null 2>&1 || { echo "build-playground: wasm-bindgen not found: run scripts/setup.sh" >&2; exit 1; }

rm -rf "$out/web" "$out/node"
mkdir -p "$out/web" "$out/node"
wasm-bindgen --target web --no-typescript --out-dir "$out/web" "$wasm"
wasm-bindgen --target nodejs --no-typescript --out-dir "$out/node" "$wasm"
cp playground/www/* "$out/web/"
# The page loads the module from this script instead of fetching the .wasm, so its CSP can say
# connect-src 'none': the page makes no request once loaded.
python3 - "$out/web/warden_playground_bg.wasm" "$out/web/warden_wasm.js" <<'PY'
import base64, sys
data = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
open(sys.argv[2], "w").write(f'export const WASM_BASE64 = "{data}";\n')
PY
rm "$out/web/warden_playground_bg.wasm"
