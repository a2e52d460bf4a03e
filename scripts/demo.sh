#!/usr/bin/env bash
# Warden demo: Redis, the verifier, an echo upstream and Envoy with the Warden filter on
# 127.0.0.1:10000. Prints ready-to-paste curls: a valid token (200), the admin call that revokes
# it, the same curl again (401); then a session's life cycle (create, use, refresh, replay of the
# old refresh token, both access tokens refused). Ctrl-C stops everything it started.
#
#   scripts/demo.sh          start (stops a leftover demo first; run `make build` before)
#   scripts/demo.sh --stop   stop a demo left running (e.g. after a kill -9 of this script)
#
# State lives in .run/ (admin token, demo keys, rendered Envoy config, logs, pids); the fixed ports
# are those of envoy/envoy.yaml.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

mkdir -p "${WARDEN_DEMO_RUN_DIR:-.run}"
run_dir="$(cd "${WARDEN_DEMO_RUN_DIR:-.run}" && pwd)"  # WARDEN_DEMO_RUN_DIR: for the tests
pids_file="$run_dir/demo.pids"
envoy_port=10000 envoy_admin_port=9901 upstream_port=8080
check_port=8081 admin_port=8082 redis_port=6380
wasm="target/wasm32-wasip1/release/warden_plugin.wasm"
# `make demo` builds the optimised verifier; the debug one serves when only it exists (the e2e suite).
verifier="${WARDEN_VERIFIER_BIN:-target/release/warden-verifier}"
[ -x "$verifier" ] || verifier="target/debug/warden-verifier"
envoy_bin=".venv/bin/envoy"
python=".venv/bin/python"

die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# is_ours PID MATCH: the process is alive and still the program we started (guards against pid reuse).
is_ours() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

# terminate LINES: stops the processes given as "PID MATCH" lines: TERM, up to 5 s, then KILL.
terminate() {
    local list="$1" pid name alive
    while read -r pid name; do
        if [ -n "$pid" ] && is_ours "$pid" "$name"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done <<<"$list"
    for _ in $(seq 50); do
        alive=0
        while read -r pid name; do
            if [ -n "$pid" ] && is_ours "$pid" "$name"; then alive=1; fi
        done <<<"$list"
        [ "$alive" -eq 0 ] && return 0
        sleep 0.1
    done
    while read -r pid name; do
        if [ -n "$pid" ] && is_ours "$pid" "$name"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done <<<"$list"
}

# Stops a demo recorded in the pid file (its script first, then what it started).
stop_recorded() {
    [ -f "$pids_file" ] || return 0
    local list
    list="$(cat "$pids_file")"
    rm -f "$pids_file"
    terminate "$list"
}

if [ "${1:-}" = "--stop" ]; then
    stop_recorded
    exit 0
fi

for file in "$wasm" "$verifier" "$envoy_bin" "$python"; do
    [ -e "$file" ] || die "$file is missing: run \`make demo\` (or \`make setup build\`) first"
done
command -v redis-server >/dev/null 2>&1 || die "redis-server is missing: run \`make setup\`"
command -v curl >/dev/null 2>&1 || die "curl is missing: install it to follow the demo"

stop_recorded  # idempotent: a leftover demo from an earlier run is stopped first

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in $envoy_port $envoy_admin_port $upstream_port $check_port $admin_port $redis_port; do
    port_busy "$port" && die "port 127.0.0.1:$port is in use by another program; stop it and retry"
done

# This run's processes, "PID MATCH" per line; the pid file also lists them, after this script.
own=""
echo "$$ demo.sh" >"$pids_file"

cleanup() {
    trap - INT TERM EXIT
    trap '' PIPE INT  # finish stopping even if the terminal or a pipe reading our output is gone
    terminate "$own"
    # Remove the pid file only if it is still ours (a newer demo may have replaced it).
    if [ "$(head -n1 "$pids_file" 2>/dev/null)" = "$$ demo.sh" ]; then rm -f "$pids_file"; fi
    printf '\ndemo: stopped\n' 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME MATCH COMMAND...: runs COMMAND in the background, logging to .run/NAME.log, and records
# its pid with MATCH (a word of its command line used to recognise it when stopping).
start() {
    local name="$1" match="$2"
    shift 2
    "$@" >"$run_dir/$name.log" 2>&1 </dev/null &
    own+="$! $match"$'\n'
    echo "$! $match" >>"$pids_file"
}

wait_http() {
    local what="$1" url="$2"
    for _ in $(seq 300); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$what did not become ready ($url); see $run_dir/*.log"
}

# --- secrets and keys --------------------------------------------------------------------------
umask 077
head -c 32 /dev/urandom | base64 | tr -d '=+/\n' >"$run_dir/admin-token"
rm -f "$run_dir/demo-key.jwk" "$run_dir/demo-jwks.json"  # a fresh key per run
"$verifier" keygen --alg ES256 --kid demo-1 \
    --private-out "$run_dir/demo-key.jwk" --jwks-out "$run_dir/demo-jwks.json" >/dev/null
umask 022
"$python" scripts/render_config.py envoy/envoy.yaml "$run_dir/envoy.yaml" \
    --set-json-string DEMO_JWKS="$run_dir/demo-jwks.json"

# --- processes ---------------------------------------------------------------------------------
start redis "redis-server" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no
start verifier "warden-verifier" "$verifier" serve \
    --listen "127.0.0.1:$check_port" --admin-listen "127.0.0.1:$admin_port" \
    --redis-url "redis://127.0.0.1:$redis_port" --admin-token-file "$run_dir/admin-token" \
    --signing-key-file "$run_dir/demo-key.jwk" --issuer warden-demo --audience demo-api \
    --trusted-proxy 127.0.0.1/32  # Envoy's address: the pair of use_remote_address in envoy/envoy.yaml
start upstream "echo_upstream.py" "$python" scripts/echo_upstream.py --port "$upstream_port"
wait_http "verifier" "http://127.0.0.1:$check_port/readyz"
wait_http "echo upstream" "http://127.0.0.1:$upstream_port/"
start envoy "envoy" "$envoy_bin" -c "$run_dir/envoy.yaml" --concurrency 1 --disable-hot-restart
wait_http "envoy" "http://127.0.0.1:$envoy_admin_port/ready"

# --- the demo token ----------------------------------------------------------------------------
token="$("$verifier" mint --key "$run_dir/demo-key.jwk" --iss warden-demo --aud demo-api \
    --sub alice --ttl 3600)"
read -r jti exp < <("$python" - "$token" <<'PY'
import base64, json, sys
payload = sys.argv[1].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(claims["jti"], claims["exp"])
PY
)

status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$envoy_port/hello")"
[ "$status" = "200" ] || die "the demo token got HTTP $status instead of 200; see $run_dir/envoy.log"

cat <<EOF
Warden demo is running: Envoy on http://127.0.0.1:$envoy_port (admin :$envoy_admin_port), verifier :$check_port
(admin :$admin_port), Redis :$redis_port, echo upstream :$upstream_port. Logs in $run_dir/. Ctrl-C stops everything.

1. A valid token (ES256, sub=alice) reaches the upstream -> 200, with x-jwt-sub: alice added by Warden:

curl -i -H 'Authorization: Bearer $token' http://127.0.0.1:$envoy_port/hello

2. Revoke this token (by its jti) through the verifier's admin API:

curl -i -X POST -H "Authorization: Bearer \$(cat $run_dir/admin-token)" -H 'content-type: application/json' -d '{"sub":"alice","jti":"$jti","exp":$exp}' http://127.0.0.1:$admin_port/v1/admin/revoke/token

3. The same curl as in 1 now gets 401 with error_description="revoked":

curl -i -H 'Authorization: Bearer $token' http://127.0.0.1:$envoy_port/hello

Sessions: the verifier issues the tokens (signed with the same key, published at
http://127.0.0.1:$check_port/.well-known/jwks.json, which Envoy fetches). Paste these lines into bash in order:

# 4. Open a session for bob (your backend does this after checking the password):
s1=\$(curl -s -X POST -H "Authorization: Bearer \$(cat $run_dir/admin-token)" -H 'content-type: application/json' -d '{"sub":"bob","device":"laptop"}' http://127.0.0.1:$admin_port/v1/admin/sessions); echo "\$s1"
at1=\$(echo "\$s1" | $root/$python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'); rt1=\$(echo "\$s1" | $root/$python -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
# 5. Its access token passes the edge -> 200:
curl -i -H "Authorization: Bearer \$at1" http://127.0.0.1:$envoy_port/hello
# 6. Refresh through Envoy (public route, RFC 6749 form): a new access token and the next refresh token:
s2=\$(curl -s -d "grant_type=refresh_token&refresh_token=\$rt1" http://127.0.0.1:$envoy_port/v1/token); echo "\$s2"
at2=\$(echo "\$s2" | $root/$python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'); rt2=\$(echo "\$s2" | $root/$python -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
# 7. The new access token -> 200:
curl -i -H "Authorization: Bearer \$at2" http://127.0.0.1:$envoy_port/hello
# 8. The app refreshes once more (rt2 -> rt3); then a thief replays the first refresh token, now two
#    rotations old (only the immediate predecessor gets a retry grace) -> 400 invalid_grant, session ended:
curl -s -o /dev/null -d "grant_type=refresh_token&refresh_token=\$rt2" http://127.0.0.1:$envoy_port/v1/token
curl -i -d "grant_type=refresh_token&refresh_token=\$rt1" http://127.0.0.1:$envoy_port/v1/token
# 9. Both access tokens of the session -> 401 error_description="session_missing":
curl -i -H "Authorization: Bearer \$at1" http://127.0.0.1:$envoy_port/hello
curl -i -H "Authorization: Bearer \$at2" http://127.0.0.1:$envoy_port/hello
# Log out one device (RFC 7009): curl -i -d "token=<refresh token>" http://127.0.0.1:$envoy_port/v1/token/revoke

Also: no token -> 401 (curl -i http://127.0.0.1:$envoy_port/hello); /healthz needs none;
filter metrics: curl -s http://127.0.0.1:$envoy_admin_port/stats | grep wasmcustom
EOF

# Wait until Ctrl-C (or until a process dies, which ends the demo with its log named). The sleep runs
# in the background so that `wait` returns at once when a signal arrives and the trap runs.
while true; do
    sleep 1 &
    wait $! || true
    while read -r pid name; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            die "$name (pid $pid) stopped unexpectedly; see the logs in $run_dir/"
        fi
    done <<<"$own"
done
