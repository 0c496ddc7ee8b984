#!/usr/bin/env bash
# Interleaved A/B of two tcpwatchd builds under connection churn:
#   bench/run-ab.sh BUILD_A BUILD_B
# Each round runs tw-churn untraced, with BUILD_A's tcpwatchd and with
# BUILD_B's, the order rotated every round, and prints each run; then the
# median rate of each, its ratio to untraced, and the median CPU the daemon
# used per run (clock ticks). Adjacent short runs follow the machine's
# drift better than run-churn.sh's longer ones, so a change of a percent or
# two shows here first; run-churn.sh (with tcpstates beside) stays the
# figure of record.
#
# Environment: ROUNDS (8), DURATION (6), SETTLE (3: seconds of uncounted
# churn under the same condition before each run, as in run-churn.sh),
# WORKERS (2), ADDR (127.0.0.1).
# tw-churn comes from $BUILD (default build). BUILD_A and BUILD_B are build
# directories holding bin/tcpwatchd and bin/tcpwatch.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# == 2)) || bench_die "usage: $0 BUILD_A BUILD_B"
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-6}
SETTLE=${SETTLE:-3}
WORKERS=${WORKERS:-2}
ADDR=${ADDR:-127.0.0.1}
CHURN=$BIN/tw-churn
declare -A DIRS=([A]="$1" [B]="$2")

bench_init ab
[[ -x $CHURN ]] || bench_die "$CHURN not built (cmake --build $BUILD)"
for k in A B; do
	[[ -x ${DIRS[$k]}/bin/tcpwatchd && -x ${DIRS[$k]}/bin/tcpwatch ]] ||
		bench_die "${DIRS[$k]}/bin has no tcpwatchd and tcpwatch"
done
RESULTS=$BENCH_WORK/results.tsv
: >"$RESULTS"

rate_of() {
	bench_field "$1" rate
}

settle() {
	((SETTLE > 0)) || return 0
	"$CHURN" -a "$ADDR" -c "$WORKERS" -d "$SETTLE" >/dev/null
}

run_untraced() {
	local line
	settle
	line=$("$CHURN" -a "$ADDR" -c "$WORKERS" -d "$DURATION")
	printf 'U\t%s\t0\t0\n' "$(rate_of "$line")" >>"$RESULTS"
	printf 'round %s untraced: %s\n' "$1" "$line"
}

run_build() {
	local round=$1 k=$2 sock=$BENCH_WORK/tcpwatchd.sock line t0 t1 lost
	# lib.sh's bench_daemon_start and bench_stat use these.
	# shellcheck disable=SC2034
	TCPWATCHD=${DIRS[$k]}/bin/tcpwatchd
	# shellcheck disable=SC2034
	TCPWATCH=${DIRS[$k]}/bin/tcpwatch
	bench_daemon_start "$sock" "$BENCH_WORK/tcpwatchd.$k.$round.log"
	settle
	t0=$(bench_cpu_ticks "$DAEMON_PID")
	line=$("$CHURN" -a "$ADDR" -c "$WORKERS" -d "$DURATION")
	t1=$(bench_cpu_ticks "$DAEMON_PID")
	bench_wait_settled "$sock" events_received 15
	lost=$(bench_stat "$sock" events_lost)
	bench_stop "$DAEMON_PID" TERM 20
	printf '%s\t%s\t%s\t%s\n' "$k" "$(rate_of "$line")" "$((t1 - t0))" "$lost" >>"$RESULTS"
	printf 'round %s %s: %s daemon_ticks=%s events_lost=%s\n' "$round" "$k" "$line" \
		"$((t1 - t0))" "$lost"
}

bench_machine
printf 'ab: %s rounds x %ss, %s workers; A=%s B=%s\n' "$ROUNDS" "$DURATION" "$WORKERS" \
	"${DIRS[A]}" "${DIRS[B]}"
ORDER=(U A B)
for ((round = 1; round <= ROUNDS; round++)); do
	for ((i = 0; i < 3; i++)); do
		c=${ORDER[$(((i + round - 1) % 3))]}
		bench_wait_quiet || bench_log "round $round $c: NOT QUIET (${QUIET_BUSY}% busy)"
		if [[ $c == U ]]; then
			run_untraced "$round"
		else
			run_build "$round" "$c"
		fi
	done
done

echo
# shellcheck disable=SC2046
base=$(bench_median $(awk -F'\t' '$1 == "U" { print $2 }' "$RESULTS"))
printf '%-9s %12s %7s %13s %7s\n' condition median_rate ratio daemon_ticks lost
for c in U A B; do
	# shellcheck disable=SC2046
	median=$(bench_median $(awk -F'\t' -v c="$c" '$1 == c { print $2 }' "$RESULTS"))
	# shellcheck disable=SC2046
	ticks=$(bench_median $(awk -F'\t' -v c="$c" '$1 == c { print $3 }' "$RESULTS"))
	lost=$(awk -F'\t' -v c="$c" '$1 == c { s += $4 } END { print s + 0 }' "$RESULTS")
	printf '%-9s %12.1f %7.3f %13s %7s\n' "$c" "$median" "$(bench_calc "$median / $base")" \
		"$ticks" "$lost"
	printf 'result condition=%s median_rate=%.1f ratio=%s daemon_ticks=%s events_lost=%s\n' \
		"$c" "$median" "$(bench_calc "$median / $base")" "$ticks" "$lost"
done
