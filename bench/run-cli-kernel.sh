#!/usr/bin/env bash
# The daemon-less list against ss: holds SOCKETS established loopback
# sockets with tw-hold (no tcpwatchd running), then times
#   tcpwatch --socket NONE list --kernel -a   (sock_diag, every state: ss -tan's set)
#   tcpwatch --socket NONE list --kernel      (connected only)
#   ss -tan
# with hyperfine when installed (else a date +%s%N loop), RUNS runs after
# WARMUP_RUNS warm-up runs each, and prints the medians and the ratio of
# each to ss -tan (below 1: faster than ss).
#
# Environment: BUILD (default build), SOCKETS (10000), RUNS (20),
# WARMUP_RUNS (3), KEEP=1 keeps the work directory.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-10000}
RUNS=${RUNS:-20}
WARMUP_RUNS=${WARMUP_RUNS:-3}

bench_init cli-kernel
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
[[ -x $TCPWATCH ]] || bench_die "$TCPWATCH not built (cmake --build $BUILD)"
NOSOCK=$BENCH_WORK/no-daemon.sock # absent: the CLI reads sock_diag itself

bench_machine
bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
grep '^ready ' "$BENCH_WORK/hold.out"

NAMES=("tcpwatch list --kernel -a" "tcpwatch list --kernel" "ss -tan")
COMMANDS=("$TCPWATCH --socket $NOSOCK list --kernel -a" "$TCPWATCH --socket $NOSOCK list --kernel"
	"ss -tan")
for ((i = 0; i < ${#COMMANDS[@]}; i++)); do
	# shellcheck disable=SC2086
	printf 'lines %-28s %s\n' "${NAMES[$i]}:" "$(${COMMANDS[$i]} 2>/dev/null | wc -l)"
done

declare -A MEDIAN_MS
if command -v hyperfine >/dev/null; then
	args=()
	for ((i = 0; i < ${#COMMANDS[@]}; i++)); do
		args+=(-n "${NAMES[$i]}" "${COMMANDS[$i]}")
	done
	hyperfine -N --style basic -w "$WARMUP_RUNS" -r "$RUNS" \
		--export-json "$BENCH_WORK/hyperfine.json" "${args[@]}" >&2
	while IFS=$'\t' read -r name median mean stddev; do
		MEDIAN_MS[$name]=$median
		printf 'time %-28s median=%.2fms mean=%.2fms stddev=%.2fms\n' "$name:" "$median" \
			"$mean" "$stddev"
	done < <(jq -r '.results[] | [.command, .median * 1000, .mean * 1000,
		.stddev * 1000] | @tsv' "$BENCH_WORK/hyperfine.json")
else
	bench_log "hyperfine not installed: timing with date +%s%N"
	for ((i = 0; i < ${#COMMANDS[@]}; i++)); do
		times=()
		for ((r = 0; r < WARMUP_RUNS + RUNS; r++)); do
			t0=$(date +%s%N)
			# shellcheck disable=SC2086
			${COMMANDS[$i]} >/dev/null 2>&1
			t1=$(date +%s%N)
			((r < WARMUP_RUNS)) || times+=("$(bench_calc "($t1 - $t0) / 1e6")")
		done
		MEDIAN_MS[${NAMES[$i]}]=$(bench_median "${times[@]}")
		printf 'time %-28s median=%.2fms\n' "${NAMES[$i]}:" "${MEDIAN_MS[${NAMES[$i]}]}"
	done
fi

echo
base=${MEDIAN_MS[ss -tan]}
for name in "${NAMES[@]}"; do
	printf 'result command="%s" median_ms=%.2f ratio_vs_ss_tan=%s\n' "$name" \
		"${MEDIAN_MS[$name]}" "$(bench_calc "${MEDIAN_MS[$name]} / $base")"
done
