#!/usr/bin/env bash
# Per-stage times of `make test` (setup, each build, unit tests, playground, e2e):
#   scripts/stage.sh run NAME CMD...   runs CMD; when WARDEN_STAGE_LOG names a file, appends NAME, its
#                                      wall and CPU seconds (CMD and its children), the 1-minute load
#                                      average at its start and its exit status to that file
#   scripts/stage.sh report FILE [SECONDS]
#                                      prints the table of FILE, and SECONDS as the elapsed time
#                                      (stages may overlap, so it can be less than their sum)
# The load average says how busy the machine was: on 2 cores, above 2 means the stages waited for
# CPU, so wall times are longer than on a quiet machine; CPU seconds compare better across runs.
set -uo pipefail

now() { date +%s.%N; }

case "${1:-}" in
    run)
        shift
        name="${1:?stage name}"
        shift
        if [ -z "${WARDEN_STAGE_LOG:-}" ]; then
            exec "$@"
        fi
        load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
        start="$(now)"
        "$@"
        status=$?
        end="$(now)"
        # `times` prints the shell's own and then its children's user and system time (e.g. 1m2.5s).
        # Run in this shell (a pipe or $(...) would run it in a fresh subshell, with no children).
        times_file="$(mktemp)"
        times >"$times_file"
        cpu="$(tail -n 1 "$times_file" | awk '{
            t = 0
            for (i = 1; i <= NF; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
            printf "%.0f", t }')"
        rm -f "$times_file"
        awk -v n="$name" -v s="$start" -v e="$end" -v c="$cpu" -v l="$load" -v r="$status" \
            'BEGIN { printf "%s\t%.0f\t%s\t%s\t%s\n", n, e - s, c, l, r }' >>"$WARDEN_STAGE_LOG"
        exit "$status"
        ;;
    report)
        file="${2:?stage log file}"
        [ -s "$file" ] || exit 0
        awk -F'\t' -v elapsed="${3:-}" '
            BEGIN { printf "%-12s %7s %7s %6s  %s\n", "stage", "wall s", "cpu s", "load", "status" }
            { printf "%-12s %7d %7d %6s  %s\n", $1, $2, $3, $4, ($5 == 0 ? "ok" : "FAILED (" $5 ")")
              cpu += $3 }
            END { if (elapsed != "")
                      printf "%-12s %7d %7d         (%dm%02ds)\n", "elapsed", elapsed, cpu, elapsed / 60, elapsed % 60 }' "$file"
        ;;
    *)
        sed -n '2,10p' "$0" >&2
        exit 2
        ;;
esac
