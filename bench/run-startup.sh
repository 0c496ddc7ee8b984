#!/usr/bin/env bash
# Start-up with many connections: holds SOCKETS established loopback
# sockets with tw-hold, then starts tcpwatchd RUNS times and reports, per
# run, its own startup_ms (main's entry to READY=1: tracing attached and
# the table complete) and the time from exec to the first stats answer
# with connections_live >= SOCKETS. Beside it, the peer: `ss -tanH` over
# the same sockets (its run time, median of RUNS), and the ratio.
#
# BASE=/path/to/an/older/tcpwatchd runs that binary alternately with this
# build's, in the same run over the same sockets, and prints both and
# their ratio (this build / BASE).
#
# Environment: BUILD (default build), SOCKETS (100000), RUNS (5), BASE,
# HOLD_START_TIMEOUT (300 s), LIVE_TIMEOUT (120 s), DAEMON_ARGS.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-100000}
RUNS=${RUNS:-5}
BASE=${BASE:-}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-120}

bench_init startup
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN"
[[ -z $BASE || -x $BASE ]] || bench_die "BASE=$BASE is not an executable"
SOCK=$BENCH_WORK/tcpwatchd.sock

bench_machine
bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
grep '^ready ' "$BENCH_WORK/hold.out"

# one_start BINARY: prints "startup_ms complete_s" of one start.
one_start() {
	local start live
	TCPWATCHD=$1
	start=$(bench_now)
	# shellcheck disable=SC2086 # DAEMON_ARGS: words
	bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log" --max-connections 1500000 \
		${DAEMON_ARGS:-}
	bench_wait_stat "$SOCK" connections_live "$SOCKETS" "$LIVE_TIMEOUT" ||
		bench_die "tcpwatchd never reported connections_live >= $SOCKETS"
	live=$(bench_calc "$(bench_now) - $start")
	printf '%s %s\n' "$(bench_stat "$SOCK" startup_ms)" "$live"
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
}

this=$TCPWATCHD
ours_ms=() ours_s=() base_ms=() base_s=() ss_s=()
for ((r = 1; r <= RUNS; r++)); do
	read -r ms s < <(one_start "$this")
	ours_ms+=("$ms") ours_s+=("$s")
	printf 'run %d this build: startup_ms=%s complete_after_s=%s\n' "$r" "$ms" "$s"
	if [[ -n $BASE ]]; then
		read -r ms s < <(one_start "$BASE")
		base_ms+=("$ms") base_s+=("$s")
		printf 'run %d base:       startup_ms=%s complete_after_s=%s\n' "$r" "$ms" "$s"
	fi
	t0=$(bench_now)
	n=$(ss -tanH | wc -l)
	ss_s+=("$(bench_calc "$(bench_now) - $t0")")
	printf 'run %d ss -tanH: %s lines in %s s\n' "$r" "$n" "${ss_s[-1]}"
done
TCPWATCHD=$this
m_ms=$(bench_median "${ours_ms[@]}")
m_s=$(bench_median "${ours_s[@]}")
m_ss=$(bench_median "${ss_s[@]}")
printf 'result startup sockets=%s startup_ms_median=%s complete_after_s_median=%s ss_s_median=%s startup_over_ss=%.2f\n' \
	"$SOCKETS" "$m_ms" "$m_s" "$m_ss" "$(bench_calc "$m_ms / 1000 / $m_ss")"
if [[ -n $BASE ]]; then
	b_ms=$(bench_median "${base_ms[@]}")
	b_s=$(bench_median "${base_s[@]}")
	printf 'result base startup_ms_median=%s complete_after_s_median=%s this_over_base=%.3f\n' \
		"$b_ms" "$b_s" "$(bench_calc "$m_ms / $b_ms")"
fi
