#!/usr/bin/env bash
# Runs each argument as a shell command, all at once, and waits for them all:
#   scripts/parallel.sh LOG_DIR 'CMD1' 'CMD2' ...
# Each command's output goes to LOG_DIR/parallel-N.log (N = its position) and is printed only when
# it fails. Exits non-zero when any command failed. `make test` builds its independent chains this
# way: cargo locks a profile's directory, not the whole target dir, so the release, debug and musl
# builds proceed side by side and fill the cores a single chain leaves idle (linking, LTO).
set -uo pipefail

log_dir="${1:?usage: scripts/parallel.sh LOG_DIR CMD...}"
shift
mkdir -p "$log_dir"
pids=()
n=0
for cmd in "$@"; do
    n=$((n + 1))
    bash -c "$cmd" >"$log_dir/parallel-$n.log" 2>&1 &
    pids+=("$!")
done
status=0
n=0
for cmd in "$@"; do
    n=$((n + 1))
    if ! wait "${pids[$((n - 1))]}"; then
        status=1
        echo "failed: $cmd (log: $log_dir/parallel-$n.log)" >&2
        cat "$log_dir/parallel-$n.log" >&2
    fi
done
exit "$status"
