#!/usr/bin/env bash
# Where the daemon's memory goes at SOCKETS held connections: holds them
# with tw-hold, starts tcpwatchd once they are all established, waits for
# connections_live to reach SOCKETS, lets it settle, then prints
#   - VmRSS per live connection (rings included, as bench/run-api.sh);
#   - the resident bytes by kind of mapping (the record slab's 2 MiB
#     chunks, other anonymous memory, the heap, the BPF ring buffers,
#     the binaries), and the anonymous mappings over 4 MiB one by one;
#   - the stats that account for it (table_bytes, procscan_bytes).
# Then the first listing by port (which builds the port index) and a
# second one: their times and the longest loop turn before and after.
#
# Environment: BUILD (default build), SOCKETS (100000), SETTLE (8 s),
# LIVE_TIMEOUT (600 s), TIMEWAIT_TIMEOUT (70 s: earlier runs' TIME_WAIT
# sockets expire first), PORT (the local port asked for: 40001), DAEMON_ARGS (e.g. "--max-connections 1500000" for
# a million), KEEP=1 keeps the work directory.
# Exit status 77 when tcpwatchd is not built.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-100000}
SETTLE=${SETTLE:-8}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-600}

bench_init memmap
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
if ! bench_have_daemon; then
	printf 'tcpwatchd/tcpwatch not in %s: memory map pending\n' "$BIN"
	exit 77
fi
bench_need_cmd jq jq
SOCK=$BENCH_WORK/tcpwatchd.sock

bench_machine
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"
bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
grep '^ready ' "$BENCH_WORK/hold.out"
# shellcheck disable=SC2086 # DAEMON_ARGS: words
bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log" ${DAEMON_ARGS:-}
bench_wait_stat "$SOCK" connections_live "$SOCKETS" "$LIVE_TIMEOUT" ||
	bench_die "tcpwatchd never reported connections_live >= $SOCKETS"
sleep "$SETTLE"

json=$(bench_stats "$SOCK")
live=$(jq -r '.connections_live' <<<"$json")
rss=$(bench_rss_bytes "$DAEMON_PID")
printf 'result memory sockets=%s connections_live=%s vmrss=%s per_connection=%.1f\n' \
	"$SOCKETS" "$live" "$rss" "$(bench_calc "$rss / $live")"
jq -r '"result stats table_bytes=\(.table_bytes) procscan_bytes=\(.procscan_bytes // "na") startup_ms=\(.startup_ms) loop_max_ms=\(.loop_max_ms)"' <<<"$json"

# Resident kB by kind of mapping. A slab chunk is an anonymous mapping of
# exactly 2 MiB (the slab maps twice that and keeps the aligned middle).
awk -v live="$live" '
	/^[0-9a-f]+-[0-9a-f]+ / { name = $6; range = $1; next }
	/^Size:/ {
		if (name == "") kind = $2 == 2048 ? "slab_chunks" : "anon_other"
		else if (name == "[heap]") kind = "heap"
		else if (name ~ /bpf-map/) kind = "bpf_rings"
		else kind = "files"
	}
	/^Rss:/ {
		kb[kind] += $2
		if (kind == "anon_other" && $2 > 4096) big[range] = $2
	}
	END {
		for (k in kb)
			printf "result rss kind=%s kb=%d per_connection=%.1f\n", k, kb[k], kb[k] * 1024 / live
		for (r in big)
			printf "result anon_mapping range=%s rss_kb=%d\n", r, big[r]
	}' "/proc/$DAEMON_PID/smaps" | sort

# The first listing by port builds the port index; the second finds it.
port=${PORT:-40001}
for i in 1 2; do
	t=$(curl -s -o /dev/null -w '%{time_total}' --unix-socket "$SOCK" \
		"http://localhost/api/v1/connections?local_port=$port")
	jq -r --arg i "$i" --arg t "$t" \
		'"result port_query n=\($i) seconds=\($t) loop_max_ms=\(.loop_max_ms) port_index=\(.port_index) port_index_build_steps=\(.port_index_build_steps // "na") http_index_waits=\(.http_index_waits // "na")"' \
		<<<"$(bench_stats "$SOCK")"
done
