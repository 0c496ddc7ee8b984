#!/usr/bin/env bash
# The HTTP API under load with many connections: holds SOCKETS established
# loopback sockets with tw-hold, starts tcpwatchd listening on loopback,
# optionally runs tw-churn beside (CHURN_WORKERS, 0 = none), and runs wrk
# (CONNS connections, THREADS threads, DURATION s) against
#   /api/v1/connections?local_port=P        (the port index: one port's list)
#   /api/v1/connections?filter=sport = :P   (the same, from an ss expression)
#   /api/v1/connections?remote_port=P       (the other side's list: the peer)
#   /api/v1/connections/COOKIE              (one connection: a hash lookup)
#   /api/v1/stats
#   /api/v1/connections?state=syn-sent      (no index: every cookie sorted)
#   /api/v1/summary                         (a pass over the table, sliced)
# P and COOKIE are one held connection's, so each filtered query has a few
# matches (tw-hold's sockets share ports across 127.0.0.x addresses).
# Beside each, the peer: `ss -tanH` with the same filter, run RUNS times
# (median), and the ratio of wrk's median latency to ss's run time. Prints
# the event loop's turns during each query and how many of them were busy
# 5 ms and 50 ms or more (loop_over_5ms, loop_over_50ms deltas) and took
# 5 ms of the loop thread's CPU or more (loop_cpu_over_5ms), and
# events_lost over all the queries.
#
# Before the queries it prints the start-up (exec to a complete table:
# connections_live >= SOCKETS, and the daemon's own startup_ms, exec to
# READY=1), the daemon's VmRSS per tracked connection, and after them the
# loop's longest turn and p99 over the whole run (start-up, reconcile
# passes and queries), the handler that took most of that turn, and each
# handler's longest call, and the loop thread's CPU time: that turn's, the
# most any turn took, and the turns of 5 ms of CPU or more.
#
# Environment: BUILD (default build), SOCKETS (100000), DURATION (10),
# CONNS (50), THREADS (2), CHURN_WORKERS (0), CHURN_RATE (connections/s of
# the churn beside, or "half": half the untraced peak, measured first for
# PEAK_S (5) seconds; default no bound), RUNS (10), PORT (18080),
# LIVE_TIMEOUT (300 s), DAEMON_ARGS (more tcpwatchd flags), KEEP=1,
# PERF_QUERY (a query's name: perf records the daemon while it runs, into
# perf-NAME.data in the work directory; with KEEP=1 to read it).
# make bench-scale runs it at 1,000,000.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKETS=${SOCKETS:-100000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
CHURN_WORKERS=${CHURN_WORKERS:-0}
RUNS=${RUNS:-10}
CHURN_RATE=${CHURN_RATE:-}
PEAK_S=${PEAK_S:-5}
PORT=${PORT:-18080}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-300}

bench_init api
[[ -x $BIN/tw-hold ]] || bench_die "$BIN/tw-hold not built (cmake --build $BUILD)"
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN"
bench_need_cmd wrk wrk || bench_die "wrk is needed"
bench_need_cmd jq jq || bench_die "jq is needed"
SOCK=$BENCH_WORK/tcpwatchd.sock

bench_machine
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"
churn_args=()
if [[ $CHURN_RATE == half && $CHURN_WORKERS -gt 0 ]]; then
	peak_line=$("$BIN/tw-churn" -c "$CHURN_WORKERS" -d "$PEAK_S")
	CHURN_RATE=$(bench_calc "$(bench_field "$peak_line" rate) / 2" %.0f)
	printf 'untraced peak: %s; the churn beside runs at half: %s conn/s\n' "$peak_line" \
		"$CHURN_RATE"
	bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"
fi
if [[ -n $CHURN_RATE ]]; then
	churn_args=(-r "$CHURN_RATE")
fi
bench_hold_start "$SOCKETS" "$BENCH_WORK/hold.out"
grep '^ready ' "$BENCH_WORK/hold.out"
start=$(bench_now)
# shellcheck disable=SC2086 # DAEMON_ARGS: words
bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log" --listen "127.0.0.1:$PORT" ${DAEMON_ARGS:-}
bench_wait_stat "$SOCK" connections_live "$SOCKETS" "$LIVE_TIMEOUT" ||
	bench_die "tcpwatchd never reported connections_live >= $SOCKETS"
live=$(bench_stat "$SOCK" connections_live)
printf 'result startup connections_live=%s complete_after_s=%.2f startup_ms=%s\n' "$live" \
	"$(bench_calc "$(bench_now) - $start")" "$(bench_stat "$SOCK" startup_ms)"
rss=$(bench_rss_bytes "$DAEMON_PID")
printf 'result memory vmrss=%s per_connection=%.1f (VmRSS / connections_live, rings included)\n' \
	"$rss" "$(bench_calc "$rss / $live")"

# One held connection: its ports and cookie. A client's side, whose local
# port (kernel-chosen) a few sockets share, not a server's, whose local
# port is its listener's (thousands share each of tw-hold's 4 per worker).
# At a million sockets every client port is shared by a dozen or more:
# the least shared one then.
read -r lport rport < <(ss -tanH state established | awk '{
	n = split($3, l, ":"); m = split($4, r, ":"); lp[NR] = l[n]; rp[NR] = r[m]; c[l[n]]++ }
	END { best = 0
	      for (i = 100; i <= NR; i++) if (!best || c[lp[i]] < c[lp[best]]) { best = i; if (c[lp[i]] <= 8) break }
	      if (best) print lp[best], rp[best] }') || true
[[ -n ${lport:-} && -n ${rport:-} ]] || bench_die "no established socket found in ss"
cookie=$(curl -s --unix-socket "$SOCK" "http://localhost/api/v1/connections?local_port=$lport" |
	jq -r --argjson r "$rport" '[.[] | select(.remote_port == $r)][0].cookie')
[[ $cookie =~ ^[0-9]+$ ]] || bench_die "no cookie for local port $lport"
printf 'target: local_port=%s remote_port=%s cookie=%s\n' "$lport" "$rport" "$cookie"

CHURN_PID=
if ((CHURN_WORKERS > 0)); then
	"$BIN/tw-churn" -c "$CHURN_WORKERS" -d 3600 "${churn_args[@]}" >"$BENCH_WORK/churn.out" 2>&1 &
	CHURN_PID=$!
	bench_track "$CHURN_PID"
	sleep 2
	printf 'churn: %s tw-churn workers beside, %s\n' "$CHURN_WORKERS" \
		"${CHURN_RATE:+at $CHURN_RATE conn/s}"
fi
lost0=$(bench_stat "$SOCK" events_lost)

# ss_ms FILTER...: the median run time of ss -tanH with FILTER, in ms.
ss_ms() {
	local times=() r t0 t1
	for ((r = 0; r < RUNS; r++)); do
		t0=$(date +%s%N)
		ss -tanH "$@" >/dev/null
		t1=$(date +%s%N)
		times+=("$(bench_calc "($t1 - $t0) / 1e6")")
	done
	bench_median "${times[@]}"
}

# wrk_ms PATH: "p50 p99 requests_per_s timeouts" of wrk on PATH, in ms.
wrk_ms() {
	local out
	out=$(wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --latency --timeout 10s \
		"http://127.0.0.1:$PORT$1" 2>&1)
	printf '%s\n' "$out" >>"$BENCH_WORK/wrk.log"
	awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	$1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
	$1 == "Requests/sec:" { rps = $2 }
	/Socket errors/ { for (i = 1; i <= NF; i++) if ($i == "timeout") to = $(i + 1) }
	END { printf "%.3f %.3f %s %d\n", p50, p99, rps, to }' <<<"$out"
}

query() {
	local name=$1 path=$2 p50 p99 rps timeouts ss i0 o0 f0 c0 i1 o1 f1 c1
	shift 2
	i0=$(bench_stat "$SOCK" loop_iterations)
	o0=$(bench_stat "$SOCK" loop_over_5ms)
	f0=$(bench_stat "$SOCK" loop_over_50ms)
	c0=$(bench_stat "$SOCK" loop_cpu_over_5ms)
	local perf_pid=
	if [[ $name == "${PERF_QUERY:-}" ]]; then
		# The daemon's profile while this query runs (perf report -i it).
		perf record -q -F 999 -g -p "$DAEMON_PID" -o "$BENCH_WORK/perf-$name.data" \
			-- sleep "$DURATION" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	read -r p50 p99 rps timeouts < <(wrk_ms "$path")
	[[ -z $perf_pid ]] || wait "$perf_pid" || true
	i1=$(bench_stat "$SOCK" loop_iterations)
	o1=$(bench_stat "$SOCK" loop_over_5ms)
	f1=$(bench_stat "$SOCK" loop_over_50ms)
	c1=$(bench_stat "$SOCK" loop_cpu_over_5ms)
	if (($#)); then
		ss=$(ss_ms "$@")
	else
		ss=
	fi
	printf 'result query=%s p50_ms=%s p99_ms=%s requests_per_s=%s timeouts=%s ss_ms=%s ratio_p50_to_ss=%s loop_turns=%s loop_over_5ms=%s loop_over_50ms=%s loop_cpu_over_5ms=%s\n' \
		"$name" "$p50" "$p99" "$rps" "$timeouts" "${ss:--}" \
		"$([[ -n $ss ]] && bench_calc "($ss > 0 ? $p50 / $ss : 0)" || echo -)" \
		"$((i1 - i0))" "$((o1 - o0))" "$((f1 - f0))" "$((c1 - c0))"
}

printf 'wrk: %s threads, %s connections, %s s per query; ss: median of %s runs\n' \
	"$THREADS" "$CONNS" "$DURATION" "$RUNS"
query local_port "/api/v1/connections?local_port=$lport" sport = ":$lport"
query filter_sport "/api/v1/connections?filter=sport%20%3D%20%3A$lport" sport = ":$lport"
query remote_port "/api/v1/connections?remote_port=$lport" dport = ":$lport"
query cookie "/api/v1/connections/$cookie"
query stats "/api/v1/stats"
query state_syn_sent "/api/v1/connections?state=syn-sent" state syn-sent
query summary "/api/v1/summary"
printf 'result events_lost=%s (during the queries)\n' \
	"$(($(bench_stat "$SOCK" events_lost) - lost0))"
json=$(bench_stats "$SOCK")
printf 'result loop whole_run_max_ms=%s p99_ms=%s p999_ms=%s over_5ms=%s of %s turns; reconcile_last_ms=%s\n' \
	"$(jq -r .loop_max_ms <<<"$json")" "$(jq -r .loop_p99_ms <<<"$json")" \
	"$(jq -r .loop_p999_ms <<<"$json")" "$(jq -r .loop_over_5ms <<<"$json")" \
	"$(jq -r .loop_iterations <<<"$json")" "$(jq -r .reconcile_last_ms <<<"$json")"
printf 'result loop longest_turn_handler=%s handler_ms=%s; each handler longest (ms): %s\n' \
	"$(jq -r .loop_max_handler <<<"$json")" "$(jq -r .loop_max_handler_ms <<<"$json")" \
	"$(jq -r .loop_handlers_max_ms <<<"$json")"
printf 'result loop each handler calls over 5 ms: %s\n' "$(jq -r .loop_handlers_over_5ms <<<"$json")"
# The loop thread's CPU time: a turn long on the clock and short in CPU
# waited for one of the two CPUs (the churn, wrk and ss run beside).
printf 'result loop cpu: longest_turn_cpu_ms=%s max_cpu_ms=%s (%s, %s ms) turns_over_5ms_of_cpu=%s (%s)\n' \
	"$(jq -r .loop_max_turn_cpu_ms <<<"$json")" "$(jq -r .loop_max_cpu_ms <<<"$json")" \
	"$(jq -r .loop_max_cpu_handler <<<"$json")" "$(jq -r .loop_max_cpu_handler_ms <<<"$json")" \
	"$(jq -r .loop_cpu_over_5ms <<<"$json")" "$(jq -r .loop_handlers_cpu_over_5ms <<<"$json")"
if [[ -n $CHURN_PID ]]; then
	bench_stop "$CHURN_PID" TERM 10
fi
