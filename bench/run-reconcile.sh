#!/usr/bin/env bash
# The reconcile's cost on the event loop with many connections: holds
# SOCKETS established loopback sockets with tw-hold, starts tcpwatchd with
# a reconcile every second (--reconcile-interval 1), and over SECONDS_EACH
# seconds counts the loop's turns that were busy 1 ms and 5 ms or more
# (deltas of loop_over_1ms, loop_over_5ms, loop_iterations) and samples
# reconcile_last_ms (one pass's wall time) every second. Beside it, the
# peer: `ss -tanH` over the same sockets (its run time), and the ratio of
# a pass's median to it.
#
# BASE=/path/to/an/older/tcpwatchd runs that binary alternately with this
# build's, ROUNDS times each, over the same sockets.
#
# Environment: BUILD (default build), SOCKETS (100000), SECONDS_EACH (15),
# ROUNDS (3), BASE, HOLD_START_TIMEOUT (300 s), LIVE_TIMEOUT (120 s).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-100000}
SECONDS_EACH=${SECONDS_EACH:-15}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-120}

bench_init reconcile
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN"
[[ -z $BASE || -x $BASE ]] || bench_die "BASE=$BASE is not an executable"
SOCK=$BENCH_WORK/tcpwatchd.sock

bench_machine
bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
grep '^ready ' "$BENCH_WORK/hold.out"

# counters SOCK: "iterations over_1ms over_5ms runs" now.
counters() {
	bench_stats "$1" | jq -r '"\(.loop_iterations // 0) \(.loop_over_1ms // 0) \(.loop_over_5ms // 0) \(.reconcile_runs // 0)"'
}

# one_run BINARY LABEL: one daemon, SECONDS_EACH seconds of reconciles;
# prints "pass_median_ms over_1ms over_5ms turns passes" and a line for
# the log on stderr.
one_run() {
	local i0 a0 b0 r0 i1 a1 b1 r1 s passes=()
	TCPWATCHD=$1
	bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log" --max-connections 1500000 \
		--reconcile-interval 1
	bench_wait_stat "$SOCK" connections_live "$SOCKETS" "$LIVE_TIMEOUT" ||
		bench_die "tcpwatchd never reported connections_live >= $SOCKETS"
	# the start-up's own turns are not the reconcile's: begin after two passes
	bench_wait_stat "$SOCK" reconcile_runs 3 30 || bench_die "no reconcile pass in 30 s"
	read -r i0 a0 b0 r0 < <(counters "$SOCK")
	for ((s = 0; s < SECONDS_EACH; s++)); do
		bench_sleep 1
		passes+=("$(bench_stat "$SOCK" reconcile_last_ms)")
	done
	read -r i1 a1 b1 r1 < <(counters "$SOCK")
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	printf '%s %s %s %s %s\n' "$(bench_median "${passes[@]}")" "$((a1 - a0))" "$((b1 - b0))" \
		"$((i1 - i0))" "$((r1 - r0))"
}

this=$TCPWATCHD
ours_p=() ours_1=() ours_5=() base_p=() base_1=() base_5=() ss_s=()
for ((r = 1; r <= ROUNDS; r++)); do
	read -r p o1 o5 turns runs < <(one_run "$this")
	ours_p+=("$p") ours_1+=("$o1") ours_5+=("$o5")
	printf 'run %d this build: pass_median_ms=%s over_1ms=%s over_5ms=%s turns=%s passes=%s\n' \
		"$r" "$p" "$o1" "$o5" "$turns" "$runs"
	if [[ -n $BASE ]]; then
		read -r p o1 o5 turns runs < <(one_run "$BASE")
		base_p+=("$p") base_1+=("$o1") base_5+=("$o5")
		printf 'run %d base:       pass_median_ms=%s over_1ms=%s over_5ms=%s turns=%s passes=%s\n' \
			"$r" "$p" "$o1" "$o5" "$turns" "$runs"
	fi
	t0=$(bench_now)
	n=$(ss -tanH | wc -l)
	ss_s+=("$(bench_calc "$(bench_now) - $t0")")
	printf 'run %d ss -tanH: %s lines in %s s\n' "$r" "$n" "${ss_s[-1]}"
done
TCPWATCHD=$this
m_p=$(bench_median "${ours_p[@]}")
m_ss=$(bench_median "${ss_s[@]}")
printf 'result reconcile sockets=%s seconds=%s pass_ms_median=%s over_1ms_median=%s over_5ms_median=%s ss_s_median=%s pass_over_ss=%.2f\n' \
	"$SOCKETS" "$SECONDS_EACH" "$m_p" "$(bench_median "${ours_1[@]}")" \
	"$(bench_median "${ours_5[@]}")" "$m_ss" "$(bench_calc "$m_p / 1000 / $m_ss")"
if [[ -n $BASE ]]; then
	b_p=$(bench_median "${base_p[@]}")
	printf 'result base pass_ms_median=%s over_1ms_median=%s over_5ms_median=%s this_over_base=%.3f\n' \
		"$b_p" "$(bench_median "${base_1[@]}")" "$(bench_median "${base_5[@]}")" \
		"$(bench_calc "$m_p / $b_p")"
fi
