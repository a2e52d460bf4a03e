#!/usr/bin/env bash
# Runs each fuzz target for N seconds, one after another (libFuzzer via cargo-fuzz, nightly Rust),
# and prints one line per target. New inputs go to target/fuzz/corpus/<target>, so the committed
# seeds in fuzz/corpus/<target> stay small; a crasher lands in fuzz/artifacts/<target>/.
# Usage: fuzz/run.sh [SECONDS]   (FUZZ_TARGETS="a b" to run only some)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
targets="${FUZZ_TARGETS:-token_verify jwks_parse der_keys config_compile request_auth route_metadata verifier_bodies diff_rsa diff_ecdsa feed_view host_crypto_args}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install --quiet --locked cargo-fuzz
fi

mkdir -p target/fuzz
status=0
for t in $targets; do
    log="target/fuzz/$t.log"
    scratch="target/fuzz/corpus/$t"
    mkdir -p "$scratch"
    features=()
    # The verifier's dependencies (tokio, axum, redis) build only for this target, in their own dir.
    if [ "$t" = verifier_bodies ]; then features=(--features verifier --target-dir fuzz/target/verifier); fi
    if nice -n 10 cargo +nightly fuzz run --sanitizer none "${features[@]}" "$t" "$scratch" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result="ok"
    else
        result="FAILED (log: $log; crasher in fuzz/artifacts/$t/)"
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    printf 'fuzz %-16s %s: %s runs in %ss, %s exec/s, cov %s, ft %s, corpus %s\n' \
        "$t" "$result" "${runs:-?}" "$seconds" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    if [ "$result" != ok ]; then
        grep -E 'panicked at|ERROR: libFuzzer|^error' "$log" | head -5 >&2 || tail -20 "$log" >&2
    fi
done
exit "$status"
