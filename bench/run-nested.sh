#!/usr/bin/env bash
# Events lost to the kernel's recursion guard, counted exactly, under the
# load that nests them: tw-storm (threads on one listener, both sides
# closing at once), untraced and under tcpwatchd, in ROUNDS rounds of
# DURATION seconds, the order alternated each round.
#
# With kernel.bpf_stats_enabled=1 the kernel counts every run of a program
# and every run it skipped (recursion_misses). Every hit of
# inet_sock_set_state is one run or one skipped run of the first copy of
# our program (handle_set_state; bpf/tcpwatch.bpf.c), so per round:
#   hits      = the first copy's runs + skipped runs, during the round
#   received  = the daemon's events_state delta
#   missing   = hits - received (every TCP socket's state change is one
#               event; nothing but the load changes TCP state meanwhile)
#   skipped   = the runs each copy skipped (the other served them)
# The untraced rate runs beside it (bpf_stats on in every run, so the
# ratio includes its cost, which is the same for both); the traced
# daemon runs fresh each round.
#
# Environment: BUILD (default build), ROUNDS (5), DURATION (10),
# THREADS (4), KEEP=1.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
THREADS=${THREADS:-4}
STORM=$BIN/tw-storm

bench_init nested
[[ -x $STORM ]] || bench_die "$STORM not built (cmake --build $BUILD)"
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN"
bench_need_cmd bpftool bpftool
bench_need_cmd jq jq

OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
restore_stats() {
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS" || true
	bench_cleanup
}
trap restore_stats EXIT
sysctl -qw kernel.bpf_stats_enabled=1

RESULTS=$BENCH_WORK/results.tsv
: >"$RESULTS"

# prog NAME PID: "runs skipped" of the daemon PID's program NAME (its
# descriptors' prog_id, then bpftool).
prog() {
	local name=$1 pid=$2 id f
	for f in /proc/"$pid"/fdinfo/*; do
		id=$(awk '$1 == "prog_id:" { print $2 }' "$f" 2>/dev/null) || continue
		[[ -n $id ]] || continue
		bpftool prog show id "$id" --json | jq -r --arg n "$name" \
			'select(.name == $n) | "\(.run_cnt // 0) \(.recursion_misses // 0)"'
	done | head -n 1
}

run_untraced() {
	local line
	line=$("$STORM" -d "$DURATION" -t "$THREADS")
	printf 'U\t%s\n' "$(bench_field "$line" rate)" >>"$RESULTS"
	printf 'round %s untraced: %s\n' "$1" "$line"
}

run_traced() {
	local round=$1 sock=$BENCH_WORK/tcpwatchd.sock line r0 s0 r1 s1 q0 p0 q1 p1 e0 e1
	local hits received
	bench_daemon_start "$sock" "$BENCH_WORK/tcpwatchd.$round.log"
	bench_wait_settled "$sock" events_state 10
	read -r r0 s0 < <(prog handle_set_state "$DAEMON_PID")
	read -r q0 p0 < <(prog nest_set_state "$DAEMON_PID") || q0=0 p0=0
	e0=$(bench_stat "$sock" events_state)
	line=$("$STORM" -d "$DURATION" -t "$THREADS")
	bench_wait_settled "$sock" events_state 15
	read -r r1 s1 < <(prog handle_set_state "$DAEMON_PID")
	read -r q1 p1 < <(prog nest_set_state "$DAEMON_PID") || q1=0 p1=0
	e1=$(bench_stat "$sock" events_state)
	hits=$((r1 - r0 + s1 - s0))
	received=$((e1 - e0))
	printf 'T\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(bench_field "$line" rate)" "$hits" \
		"$received" "$((s1 - s0))" "$((p1 - p0))" "$(bench_stat "$sock" events_lost)" \
		"$((q1 - q0 + p1 - p0))" >>"$RESULTS"
	printf 'round %s tcpwatchd: %s hits=%s received=%s missing=%s skipped_first=%s skipped_second=%s\n' \
		"$round" "$line" "$hits" "$received" "$((hits - received))" "$((s1 - s0))" "$((p1 - p0))"
	bench_stop "$DAEMON_PID" TERM 20
}

bench_machine
printf 'nested: %s rounds x %ss of tw-storm, %s threads\n' "$ROUNDS" "$DURATION" "$THREADS"
for ((round = 1; round <= ROUNDS; round++)); do
	if ((round % 2)); then
		run_untraced "$round"
		run_traced "$round"
	else
		run_traced "$round"
		run_untraced "$round"
	fi
done

mapfile -t urates < <(awk -F'\t' '$1 == "U" { print $2 }' "$RESULTS")
mapfile -t trates < <(awk -F'\t' '$1 == "T" { print $2 }' "$RESULTS")
u=$(bench_median "${urates[@]}")
t=$(bench_median "${trates[@]}")
read -r hits received skipped1 skipped2 lost second < <(awk -F'\t' '$1 == "T" {
	h += $3; r += $4; a += $5; b += $6; l += $7; s += $8 }
	END { print h, r, a, b, l, s }' "$RESULTS")
printf '\nuntraced median rate %s, tcpwatchd %s: ratio %s\n' "$u" "$t" \
	"$(bench_calc "($u > 0 ? $t / $u : 0)")"
printf 'result hits=%s received=%s missing=%s skipped_first=%s skipped_second=%s second_copy_hits=%s events_lost=%s\n' \
	"$hits" "$received" "$((hits - received))" "$skipped1" "$skipped2" "$second" "$lost"
