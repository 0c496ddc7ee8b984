#!/usr/bin/env bash
# Daemon memory per tracked connection: starts tcpwatchd, records its RSS
# (VmRSS from /proc/PID/status, and rss_bytes from its stats) at rest, then
# holds SOCKETS established loopback sockets with tw-hold and records it
# again once connections_live has grown by SOCKETS.  Prints
#   bytes per tracked connection = (RSS_with - RSS_baseline) / connections_live delta
#   absolute RSS / connections_live
# and, after tw-hold lets go, the RSS with the closed connections retained.
#
# Environment: BUILD (default build), SOCKETS (100000), SETTLE (5 s of
# quiet before each sample), LIVE_TIMEOUT (180 s), TIMEWAIT_TIMEOUT (70 s),
# KEEP=1 keeps the work directory.
# Exit status 77 when tcpwatchd is not built (nothing to measure).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-100000}
SETTLE=${SETTLE:-5}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-180}

bench_init rss
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
if ! bench_have_daemon; then
	printf 'tcpwatchd/tcpwatch not in %s: RSS benchmark pending\n' "$BIN"
	exit 77
fi
SOCK=$BENCH_WORK/tcpwatchd.sock

# Resident bytes of the BPF maps mapped into the daemon: its ring buffers.
# They are a fixed cost (sized by ringbuf-kb), paged in by the first events,
# which the hold phase happens to bring: left out of the per-connection
# figure, shown apart.
ring_rss() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { in_map = ($0 ~ /bpf-map/) } in_map && /^Rss:/ { s += $2 } END { print s * 1024 }' \
		"/proc/$1/smaps"
}

# sample LABEL: print and remember VmRSS, VmHWM, rss_bytes, live, retained.
sample() {
	local json
	json=$(bench_stats "$SOCK")
	S_VMRSS=$(bench_rss_bytes "$DAEMON_PID")
	S_RING=$(ring_rss "$DAEMON_PID")
	S_HWM=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$DAEMON_PID/status")
	S_RSS_BYTES=$(jq -r '.rss_bytes // 0' <<<"$json")
	S_LIVE=$(jq -r '.connections_live // 0' <<<"$json")
	S_RETAINED=$(jq -r '.connections_retained // 0' <<<"$json")
	printf '%-9s vmrss=%s ring_rss=%s vmhwm=%s rss_bytes=%s connections_live=%s connections_retained=%s\n' \
		"$1:" "$S_VMRSS" "$S_RING" "$S_HWM" "$S_RSS_BYTES" "$S_LIVE" "$S_RETAINED"
}

bench_machine
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"
bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log"
sleep "$SETTLE"
bench_wait_settled "$SOCK" connections_live 30
sample baseline
rss0=$S_VMRSS stat0=$S_RSS_BYTES live0=$S_LIVE ring0=$S_RING

bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
grep '^ready ' "$BENCH_WORK/hold.out"
bench_wait_stat "$SOCK" connections_live $((live0 + SOCKETS)) "$LIVE_TIMEOUT" ||
	bench_die "connections_live did not reach $((live0 + SOCKETS))"
sleep "$SETTLE"
bench_wait_settled "$SOCK" connections_live 30
sample held
rss1=$S_VMRSS stat1=$S_RSS_BYTES live1=$S_LIVE ring1=$S_RING
delta=$((live1 - live0))

bench_stop "$HOLD_PID" TERM 30
bench_wait_settled "$SOCK" connections_live 60
sleep "$SETTLE"
sample released

echo
printf 'result connections_live_delta=%s\n' "$delta"
printf 'result vmrss_per_connection_delta=%s bytes\n' \
	"$(bench_calc "($rss1 - $rss0) / $delta" %.1f)"
printf 'result vmrss_without_rings_per_connection_delta=%s bytes (ring buffers paged in meanwhile: %s bytes)\n' \
	"$(bench_calc "(($rss1 - $ring1) - ($rss0 - $ring0)) / $delta" %.1f)" "$((ring1 - ring0))"
printf 'result rss_bytes_per_connection_delta=%s bytes\n' \
	"$(bench_calc "($stat1 - $stat0) / $delta" %.1f)"
printf 'result vmrss_per_connection_absolute=%s bytes (%s / %s)\n' \
	"$(bench_calc "$rss1 / $live1" %.1f)" "$rss1" "$live1"
printf 'result vmrss_baseline=%s vmrss_held=%s vmrss_released=%s vmhwm=%s\n' \
	"$rss0" "$rss1" "$S_VMRSS" "$S_HWM"
