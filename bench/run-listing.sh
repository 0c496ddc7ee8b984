#!/usr/bin/env bash
# Listing speed with many connections: holds SOCKETS established loopback
# sockets with tw-hold, starts tcpwatchd, waits until its stats report
# connections_live >= SOCKETS, then times
#   tcpwatch --socket SOCK list -a   (like ss -tan; output discarded)
#   ss -tan
#   ss -tanp
#   tcpwatch --json list -a   (diagnosis: where the time goes)
# with hyperfine when installed (else a date +%s%N loop), RUNS runs after
# WARMUP_RUNS warm-up runs each, and prints the medians and the ratio
# tcpwatch / ss -tan.
#
# Environment: BUILD (default build), SOCKETS (100000), RUNS (10),
# WARMUP_RUNS (2), LIVE_TIMEOUT (180 s), LIST_TIMEOUT (60 s per listing), TIMEWAIT_TIMEOUT (70 s: how long
# to wait first for TIME_WAIT sockets left by earlier churn to expire),
# KEEP=1 keeps the work directory.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-100000}
RUNS=${RUNS:-10}
WARMUP_RUNS=${WARMUP_RUNS:-2}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-180}

bench_init listing
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
SOCK=$BENCH_WORK/tcpwatchd.sock

bench_machine
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"
start=$(bench_now)
bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
printf '%s (%.1f s)\n' "$(grep '^ready ' "$BENCH_WORK/hold.out")" \
	"$(bench_calc "$(bench_now) - $start")"

NAMES=()
COMMANDS=()
if bench_have_daemon; then
	start=$(bench_now)
	bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log"
	printf 'tcpwatchd answered after %.1f s\n' "$(bench_calc "$(bench_now) - $start")"
	bench_wait_stat "$SOCK" connections_live "$SOCKETS" "$LIVE_TIMEOUT" ||
		bench_die "tcpwatchd never reported connections_live >= $SOCKETS"
	printf 'connections_live=%s after %.1f s\n' \
		"$(bench_stat "$SOCK" connections_live)" \
		"$(bench_calc "$(bench_now) - $start")"
	NAMES+=("tcpwatch list -a")
	COMMANDS+=("$TCPWATCH --socket $SOCK list -a")
	# For diagnosis only: the same listing as the daemon's JSON, without
	# the CLI's table formatting.
	NAMES+=("tcpwatch --json list -a")
	COMMANDS+=("$TCPWATCH --socket $SOCK --json list -a")
else
	bench_log "tcpwatchd/tcpwatch not in $BIN: timing ss only (tcpwatch pending)"
fi
NAMES+=("ss -tan" "ss -tanp")
COMMANDS+=("ss -tan" "ss -tanp")

# What each lists, to see that like is compared with like; also a first,
# bounded run of each: a command that fails or takes longer than
# LIST_TIMEOUT s is reported and left out of the timing.
TIMED_NAMES=()
TIMED_COMMANDS=()
for ((i = 0; i < ${#COMMANDS[@]}; i++)); do
	t0=$(date +%s%N)
	# Word splitting of the command line is intended (no quoting in paths).
	# shellcheck disable=SC2086
	# With pipefail, a failed or timed-out listing fails the assignment.
	if lines=$(timeout "${LIST_TIMEOUT:-60}" ${COMMANDS[$i]} | wc -l); then
		t1=$(date +%s%N)
		printf 'lines %-18s %s (first run %.1f ms)\n' "${NAMES[$i]}:" "$lines" \
			"$(bench_calc "($t1 - $t0) / 1e6")"
		TIMED_NAMES+=("${NAMES[$i]}")
		TIMED_COMMANDS+=("${COMMANDS[$i]}")
	else
		printf 'result command="%s" failed (exit status or more than %ss; left out)\n' \
			"${NAMES[$i]}" "${LIST_TIMEOUT:-60}"
	fi
done
NAMES=("${TIMED_NAMES[@]}")
COMMANDS=("${TIMED_COMMANDS[@]}")
printf 'ss -tan by state:'
ss -tan | awk 'NR > 1 { n[$1]++ } END { for (s in n) printf " %s=%d", s, n[s]; print "" }'

declare -A MEDIAN_MS
if command -v hyperfine >/dev/null; then
	args=()
	for ((i = 0; i < ${#COMMANDS[@]}; i++)); do
		# Every timed command runs under timeout(1), so that the
		# measurements stay comparable and none can hang the run.
		args+=(-n "${NAMES[$i]}" "timeout ${LIST_TIMEOUT:-60} ${COMMANDS[$i]}")
	done
	hyperfine -N --style basic -w "$WARMUP_RUNS" -r "$RUNS" \
		--export-json "$BENCH_WORK/hyperfine.json" "${args[@]}" >&2
	while IFS=$'\t' read -r name median mean stddev min max; do
		MEDIAN_MS[$name]=$median
		printf 'time %-18s median=%.1fms mean=%.1fms stddev=%.1fms min=%.1fms max=%.1fms\n' \
			"$name:" "$median" "$mean" "$stddev" "$min" "$max"
	done < <(jq -r '.results[] | [.command, .median * 1000, .mean * 1000,
		.stddev * 1000, .min * 1000, .max * 1000] | @tsv' "$BENCH_WORK/hyperfine.json")
else
	bench_log "hyperfine not installed: timing with date +%s%N"
	for ((i = 0; i < ${#COMMANDS[@]}; i++)); do
		times=()
		for ((r = 0; r < WARMUP_RUNS + RUNS; r++)); do
			t0=$(date +%s%N)
			# shellcheck disable=SC2086
			timeout "${LIST_TIMEOUT:-60}" ${COMMANDS[$i]} >/dev/null
			t1=$(date +%s%N)
			((r < WARMUP_RUNS)) || times+=("$(bench_calc "($t1 - $t0) / 1e6")")
		done
		median=$(bench_median "${times[@]}")
		MEDIAN_MS[${NAMES[$i]}]=$median
		printf 'time %-18s median=%.1fms runs=%s\n' "${NAMES[$i]}:" "$median" \
			"${times[*]}"
	done
fi

echo
base=${MEDIAN_MS[ss -tan]}
for name in "${NAMES[@]}"; do
	printf 'result command="%s" median_ms=%.1f ratio_vs_ss_tan=%s\n' "$name" \
		"${MEDIAN_MS[$name]}" "$(bench_calc "${MEDIAN_MS[$name]} / $base")"
done
if bench_have_daemon; then
	bench_stats "$SOCK" | jq -c '{connections_live, connections_retained, rss_bytes,
		events_received, events_lost, reconcile_corrections}' |
		sed 's/^/tcpwatchd stats: /'
fi
