#!/usr/bin/env bash
# Instructions and host calls per request of the wasm floor and the cache-hit path (issue 11 §2),
# counted by callgrind on the wasmtime host and on the same core flow compiled natively.
# Not part of `make test` (several minutes: valgrind runs the wasmtime compiler too).
#
#   bench/profile_hit_path.sh [N] [OUT_DIR]
#
# N requests per case (default 200); OUT_DIR (default target/profile-hit-path) gets one
# callgrind.<case>.out per case (read them with callgrind_annotate) and summary.md: the host-call
# table and the instructions per request. WARDEN_WASM=path/to.wasm profiles another build of the
# filter (e.g. an older one, for a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
OUT=${2:-target/profile-hit-path}
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }

if [ -z "${WARDEN_WASM:-}" ]; then
    cargo build --quiet --release --target wasm32-wasip1 -p warden-plugin
fi
# The debug profile keeps symbols; warden-core at opt-level 3 so the native rows are a fair
# comparison (dependencies are already optimised by the workspace's dev profile).
CONFIG=(--config 'profile.dev.package.warden-core.opt-level=3')
cargo build --quiet -p warden-wasm-tests --bench hit_path "${CONFIG[@]}"
BIN=$(cargo build --quiet -p warden-wasm-tests --bench hit_path "${CONFIG[@]}" --message-format=json \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "hit_path" and m.get("executable"):
        print(m["executable"])')

{
    echo "## Host calls per request (wasmtime host)"
    echo
    "$BIN" calls
    echo
    echo "## Instructions per request (callgrind, $N requests per case after a warm-up)"
    echo
    echo "\`in wasm code\`: instructions in the JIT-compiled guest itself (callgrind sees it as"
    echo "functions without symbols); the rest of a wasm row is the wasmtime host and its harness."
    echo
    echo "| case | runtime | instructions/request | in wasm code |"
    echo "| --- | --- | ---: | ---: |"
} >"$OUT/summary.md"

for runtime in wasm native; do
    for case in floor hit stream-hit; do
        file="$OUT/callgrind.$case-$runtime.out"
        valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_*' \
            --callgrind-out-file="$file" "$BIN" "$case-$runtime" "$N" 2>"$OUT/valgrind.$case-$runtime.log"
        total=$(grep -m1 '^summary:' "$file" | awk '{print $2}')
        jit=$(callgrind_annotate --threshold=100 "$file" 2>/dev/null \
            | awk '/\?\?\?:0x[0-9a-f]+ \[\?\?\?\]/ {gsub(",", "", $1); s += $1} END {print s + 0}')
        if [ "$runtime" = wasm ]; then guest=$((jit / N)); else guest="-"; fi
        echo "| $case | $runtime | $((total / N)) | $guest |" >>"$OUT/summary.md"
    done
done
cat "$OUT/summary.md"
echo "callgrind files: $OUT (callgrind_annotate --inclusive=yes $OUT/callgrind.hit-wasm.out)"
