#!/usr/bin/env bash
# A listing's planning at SOCKETS connections in the table alone
# (tw-plan-cost, bench/plan_cost.c): the planner of this build against the
# one before (every cookie gathered and sorted, then filtered), counted in
# instructions by callgrind, one query at a time, so the figures hold
# whatever else the machine runs. Prints per query:
#   result query=Q rows=R planner_instr=P peer_instr=S ratio=P/S
# No root needed. Environment: BUILD (default build), SOCKETS (100000),
# RUNS (3 per query).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
SOCKETS=${SOCKETS:-100000}
RUNS=${RUNS:-3}
BIN=$BUILD/bin/tw-plan-cost
[[ -x $BIN ]] || {
	echo "error: $BIN not built (cmake --build $BUILD --target tw-plan-cost)" >&2
	exit 1
}
command -v valgrind >/dev/null || {
	echo "error: valgrind is needed" >&2
	exit 1
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The inclusive instruction count of function NAME in callgrind's output.
inclusive() {
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		awk -v f=":$2 " '!done && index($0, f) { gsub(",", "", $1); print $1; done = 1 }'
}

printf 'date=%s sockets=%s runs=%s\n' "$(date -u +%FT%TZ)" "$SOCKETS" "$RUNS"
for q in state_syn_sent state_established filter_dport_range all default; do
	out=$(valgrind --tool=callgrind --callgrind-out-file="$WORK/$q.out" \
		"$BIN" -n "$SOCKETS" -r "$RUNS" -q "$q" 2>/dev/null | grep '^result')
	rows=$(sed -n 's/.* rows=\([0-9]*\).*/\1/p' <<<"$out")
	p=$(inclusive "$WORK/$q.out" planner)
	s=$(inclusive "$WORK/$q.out" peer)
	printf 'result query=%s rows=%s planner_instr=%s peer_instr=%s ratio=%.3f\n' \
		"$q" "$rows" "$p" "$s" "$(echo "$p / $s" | bc -l)"
done
