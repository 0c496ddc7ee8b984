#!/usr/bin/env bash
# Prober throughput under connection churn: tcpwatchd probing TARGETS
# loopback listeners for ever (--probe lines, each INTERVAL apart: by
# default 200 targets every 16 ms, 12,500 probes/s asked for, under
# --probe-rate 20000) while tw-churn makes loopback connections as fast as
# it can, so the daemon traces some 500,000 state changes a second beside
# its probing. Side by side with a peer: nping sending SYNs at the same
# rate to one of the targets, under the same churn, with a daemon that does
# not probe (the tracing alone: its CPU is the baseline subtracted below).
#
# Per round, two phases of SETTLE + DURATION seconds (the order rotated
# every round), each with a tcpwatchd started fresh and tw-churn running
# from the phase's start; the figures count DURATION seconds after SETTLE:
#
#   tcpwatchd   probes/s (the probe_sent delta: probes finished, answered
#               or not, over the measured seconds) against the rate asked
#               for; the results lost (probe_lost: no answer within the
#               timeout), probe_no_tx_stamp, probe_no_rx_stamp,
#               probe_ports_busy, probe_rate_delayed and probe_send_errors
#               deltas; the daemon's CPU (utime + stime of /proc/PID/stat,
#               every thread) per probe, gross, and net of the tracing's
#               share (the no-probe daemon's CPU per churned connection in
#               the nping phase, times this phase's connections); and
#               events_lost, which must stay 0.
#   nping       `nping --tcp -p PORT --flags syn --rate R -c R*DURATION -H -q`
#               to the first target: probes sent and answered (its own
#               summary), the probes/s it achieved (nping paces sub-millisecond
#               delays loosely: it may run faster or slower than asked; the
#               figure says which), and its CPU (user + sys, from the
#               subshell's `times`) per probe.
#
# Then the ratio of tcpwatchd's CPU per probe to nping's (gross and net),
# and the target: at least MIN_RATE probes/s, events_lost 0, no result
# lost.
#
# Environment: BUILD (default build), TARGETS (200), INTERVAL (0.016 s per
# target), RATE (20000: --probe-rate), TIMEOUT (1 s per probe), DURATION
# (30), SETTLE (3), ROUNDS (1), CHURN_WORKERS (1: one CPU of churn, the
# other left to the daemon and the peer; 2 saturates both), WARMUP (3 s of
# churn first, uncounted), PORT (20000: targets 127.0.0.2-9 on ports
# PORT .. PORT+TARGETS-1), NPING_RATE (the rate asked of tcpwatchd),
# MIN_RATE (10000), DAEMON_ARGS (more tcpwatchd options for both daemons,
# e.g. "--reconcile-interval 60" to see what the reconcile costs the
# prober), QUIET_TIMEOUT / BUSY_LIMIT (lib.sh: each phase first waits for a
# quiet machine), KEEP=1 keeps the work directory.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGETS=${TARGETS:-200}
INTERVAL=${INTERVAL:-0.016}
RATE=${RATE:-20000}
TIMEOUT=${TIMEOUT:-1}
DURATION=${DURATION:-30}
SETTLE=${SETTLE:-3}
ROUNDS=${ROUNDS:-1}
CHURN_WORKERS=${CHURN_WORKERS:-1}
WARMUP=${WARMUP:-3}
PORT=${PORT:-20000}
MIN_RATE=${MIN_RATE:-10000}
ASKED=$(bench_calc "$TARGETS / $INTERVAL" %.0f)
NPING_RATE=${NPING_RATE:-$ASKED}
CHURN=$BIN/tw-churn
LISTEN=$BIN/tw-listen
HZ=$(getconf CLK_TCK)

bench_init probe-rate
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN (cmake --build $BUILD)"
[[ -x $CHURN ]] || bench_die "$CHURN not built (cmake --build $BUILD --target tw-churn)"
[[ -x $LISTEN ]] || bench_die "$LISTEN not built (cmake --build $BUILD --target tw-listen)"
bench_need_cmd nping nmap || bench_die "nping (package nmap) is needed"
((ASKED <= RATE)) || bench_die "$TARGETS targets every $INTERVAL s ask $ASKED/s, over RATE=$RATE"
W=$BENCH_WORK
QUIET=

# --- the targets ---

"$LISTEN" -n "$TARGETS" -p "$PORT" -t "$((ROUNDS * 2 * (SETTLE + DURATION + 120) + 600))" \
	>"$W/listen.out" 2>"$W/listen.err" &
LISTEN_PID=$!
bench_track "$LISTEN_PID"
for ((i = 0; i < 100; i++)); do
	grep -q '^ready ' "$W/listen.out" && break
	bench_alive "$LISTEN_PID" || {
		cat "$W/listen.err" >&2
		bench_die "tw-listen exited during start-up"
	}
	sleep 0.1
done
grep -q '^ready ' "$W/listen.out" || bench_die "tw-listen not ready within 10 s"
mapfile -t TARGET_LIST < <(awk '$1 == "listen" { print $2 }' "$W/listen.out")
read -ra EXTRA <<<"${DAEMON_ARGS:-}"
PROBE_ARGS=("${EXTRA[@]}" --probe-rate "$RATE"
	--probe-max-targets "$((TARGETS > 256 ? TARGETS : 256))")
for t in "${TARGET_LIST[@]}"; do
	PROBE_ARGS+=(--probe "$t interval=$INTERVAL timeout=$TIMEOUT")
done
FIRST=${TARGET_LIST[0]}

# --- helpers ---

# field JSON KEY: a number from a stats JSON file (0 if absent).
field() {
	jq -r --arg f "$2" '.[$f] // 0' "$1"
}

# delta A B KEY: B's KEY less A's.
delta() {
	echo $(($(field "$2" "$3") - $(field "$1" "$3")))
}

churn_start() {
	"$CHURN" -c "$CHURN_WORKERS" -d "$((SETTLE + DURATION + 1))" -a 127.0.0.1 >"$1" 2>&1 &
	CHURN_PID=$!
	bench_track "$CHURN_PID"
}

# churn_wait OUT: wait for tw-churn (in this shell: a subshell cannot),
# then sets CHURN_RATE from its line.
churn_wait() {
	wait "$CHURN_PID" || true
	CHURN_RATE=$(bench_field "$(tail -n 1 "$1")" rate || echo 0)
}

# --- the phases: each appends one line to RESULTS ---

RESULTS=$W/results
: >"$RESULTS"

phase_tcpwatchd() {
	local round=$1 sock=$W/tcpwatchd.$1.sock s0=$W/stats.tcpwatchd.$1.0 s1=$W/stats.tcpwatchd.$1.1
	local ticks0 ticks1 t0 t1 probes secs rate cpu churn k line
	bench_daemon_start "$sock" "$W/tcpwatchd.$round.log" "${PROBE_ARGS[@]}"
	bench_wait_stat "$sock" probe_sent 1 10 || bench_die "tcpwatchd does not probe (log: $W)"
	churn_start "$W/churn.tcpwatchd.$round"
	bench_sleep "$SETTLE"
	t0=$(bench_now)
	ticks0=$(bench_cpu_ticks "$DAEMON_PID")
	bench_stats "$sock" >"$s0"
	bench_sleep "$DURATION"
	t1=$(bench_now)
	ticks1=$(bench_cpu_ticks "$DAEMON_PID")
	bench_stats "$sock" >"$s1"
	churn_wait "$W/churn.tcpwatchd.$round"
	churn=$CHURN_RATE
	# every event of the churn read (or counted lost) before the verdict
	bench_wait_settled "$sock" events_received 10
	bench_stats "$sock" >"$W/stats.tcpwatchd.$round.end"
	bench_stop "$DAEMON_PID"
	probes=$(delta "$s0" "$s1" probe_sent)
	secs=$(bench_calc "$t1 - $t0" %.3f)
	rate=$(bench_calc "$probes / $secs" %.1f)
	cpu=$(bench_calc "($ticks1 - $ticks0) / $HZ" %.2f)
	line="phase=tcpwatchd round=$round probes=$probes seconds=$secs rate=$rate asked=$ASKED"
	for k in probe_received probe_lost probe_no_tx_stamp probe_no_rx_stamp probe_ports_busy \
		probe_rate_delayed probe_send_errors probe_bad_clock; do
		line+=" ${k#probe_}=$(delta "$s0" "$s1" "$k")"
	done
	line+=" events_lost=$(field "$W/stats.tcpwatchd.$round.end" events_lost)"
	# how long the event loop (prober, ring drain, reconcile) was held up
	line+=" loop_max_ms=$(field "$s1" loop_max_ms) reconcile_last_ms=$(field "$s1" reconcile_last_ms)"
	line+=" cpu_s=$cpu cpu_us_per_probe=$(bench_calc "($probes > 0 ? $cpu * 1e6 / $probes : 0)" %.2f)"
	line+=" churn_rate=$churn $QUIET"
	printf '%s\n' "$line" | tee -a "$RESULTS"
}

phase_nping() {
	local round=$1 sock=$W/nping-daemon.$1.sock out=$W/nping.$1 ticks0 ticks1 t0 t1 secs
	local sent rcvd cpu cpu_d churn count=$((NPING_RATE * DURATION)) line sub
	bench_daemon_start "$sock" "$W/nping-daemon.$round.log" "${EXTRA[@]}"
	churn_start "$W/churn.nping.$round"
	bench_sleep "$SETTLE"
	t0=$(bench_now)
	ticks0=$(bench_cpu_ticks "$DAEMON_PID")
	# The subshell's only child is timeout, and timeout's nping: `times`
	# after the wait gives their CPU. Both pids are tracked, so that an
	# interrupted run stops nping too (timeout passes the TERM on).
	rm -f -- "$out.pid"
	(
		timeout "$((DURATION * 4 + 30))" nping --tcp -p "${FIRST##*:}" --flags syn \
			--rate "$NPING_RATE" -c "$count" -H -q "${FIRST%:*}" >"$out" 2>"$out.err" &
		echo $! >"$out.pid"
		wait $! || true
		times >"$out.times"
	) &
	sub=$!
	bench_track "$sub"
	while [[ ! -s $out.pid ]] && bench_alive "$sub"; do
		sleep 0.01
	done
	[[ -s $out.pid ]] && bench_track "$(cat "$out.pid")"
	wait "$sub" || true
	t1=$(bench_now)
	ticks1=$(bench_cpu_ticks "$DAEMON_PID")
	churn_wait "$W/churn.nping.$round"
	churn=$CHURN_RATE
	bench_wait_settled "$sock" events_received 10
	bench_stats "$sock" >"$W/stats.nping-daemon.$round.end"
	bench_stop "$DAEMON_PID"
	secs=$(bench_calc "$t1 - $t0" %.3f)
	sent=$(awk '/^Raw packets sent:/ { print $4 }' "$out")
	rcvd=$(awk '/^Raw packets sent:/ { for (i = 1; i < NF; i++) if ($i == "Rcvd:") print $(i + 1) }' "$out")
	# times: the shell's line, then the children's "XmY.YYYs XmY.YYYs"
	cpu=$(awk 'NR == 2 {
		s = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
		printf "%.3f\n", s }' "$out.times")
	cpu_d=$(bench_calc "($ticks1 - $ticks0) / $HZ" %.2f)
	line="phase=nping round=$round probes=${sent:-0} received=${rcvd:-0} seconds=$secs"
	line+=" rate=$(bench_calc "${sent:-0} / $secs" %.1f) asked=$NPING_RATE cpu_s=$cpu"
	line+=" cpu_us_per_probe=$(bench_calc "(${sent:-0} > 0 ? $cpu * 1e6 / ${sent:-0} : 0)" %.2f)"
	line+=" daemon_cpu_s=$cpu_d events_lost=$(field "$W/stats.nping-daemon.$round.end" events_lost)"
	line+=" churn_rate=$churn $QUIET"
	printf '%s\n' "$line" | tee -a "$RESULTS"
}

bench_machine
printf 'probe-rate: %s targets (%s ..) every %s s = %s probes/s asked (--probe-rate %s), timeout %s s; %s rounds x (%s s settle + %s s); churn %s workers; nping %s/s\n' \
	"$TARGETS" "$FIRST" "$INTERVAL" "$ASKED" "$RATE" "$TIMEOUT" "$ROUNDS" "$SETTLE" \
	"$DURATION" "$CHURN_WORKERS" "$NPING_RATE"
if ((WARMUP > 0)); then
	printf 'warmup: %s\n' "$("$CHURN" -c "$CHURN_WORKERS" -d "$WARMUP" -a 127.0.0.1)"
fi
PHASES=(tcpwatchd nping)
for ((round = 1; round <= ROUNDS; round++)); do
	for ((k = 0; k < 2; k++)); do
		phase=${PHASES[$(((k + round - 1) % 2))]}
		bench_wait_quiet ||
			bench_log "round $round $phase: NOT QUIET: CPUs ${QUIET_BUSY}% busy," \
				"$QUIET_FOREIGN foreign tracers running"
		QUIET="cpu_busy_before=$QUIET_BUSY foreign_tracers=$QUIET_FOREIGN"
		"phase_$phase" "$round"
	done
done

# --- figures ---

# med PHASE KEY: the median of KEY over the rounds.
med() {
	local v
	mapfile -t v < <(awk -v p="phase=$1" -v k="$2" '$1 == p {
		for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2)
	}' "$RESULTS")
	bench_median "${v[@]}"
}

# sum PHASE KEY: KEY added up over the rounds.
sum() {
	awk -v p="phase=$1" -v k="$2" '$1 == p {
		for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) s += substr($i, length(k) + 2)
	} END { printf "%.0f\n", s }' "$RESULTS"
}

echo
rate=$(med tcpwatchd rate)
gross=$(med tcpwatchd cpu_us_per_probe)
np=$(med nping cpu_us_per_probe)
# The tracing's share of a probing phase: the no-probe daemon's CPU per
# churned connection (nping phase) times the probing phase's connections.
mapfile -t nets < <(awk '{
		delete f
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["phase"] == "nping" && f["churn_rate"] > 0)
			base[f["round"]] = f["daemon_cpu_s"] / (f["churn_rate"] * f["seconds"])
		if (f["phase"] == "tcpwatchd") {
			cpu[f["round"]] = f["cpu_s"]; conns[f["round"]] = f["churn_rate"] * f["seconds"]
			probes[f["round"]] = f["probes"]
		}
	} END {
		for (k in cpu)
			if ((k in base) && probes[k] > 0)
				printf "%.2f\n", (cpu[k] - base[k] * conns[k]) * 1e6 / probes[k]
	}' "$RESULTS")
net=$(bench_median "${nets[@]}")
gross_ratio=$(bench_calc "($np > 0 ? $gross / $np : 0)")
net_ratio=nan
if [[ $net != nan ]]; then
	net_ratio=$(bench_calc "($np > 0 ? $net / $np : 0)")
fi
printf 'tcpwatchd: %s probes/s (asked %s), CPU %s us per probe gross, %s us net of tracing; over %s rounds: lost=%s no_tx_stamp=%s no_rx_stamp=%s ports_busy=%s rate_delayed=%s send_errors=%s events_lost=%s\n' \
	"$rate" "$ASKED" "$gross" "$net" "$ROUNDS" "$(sum tcpwatchd lost)" \
	"$(sum tcpwatchd no_tx_stamp)" "$(sum tcpwatchd no_rx_stamp)" \
	"$(sum tcpwatchd ports_busy)" "$(sum tcpwatchd rate_delayed)" \
	"$(sum tcpwatchd send_errors)" "$(sum tcpwatchd events_lost)"
printf 'nping:     %s probes/s (asked %s), CPU %s us per probe; received %s of %s\n' \
	"$(med nping rate)" "$NPING_RATE" "$np" "$(sum nping received)" "$(sum nping probes)"
printf 'ratio tcpwatchd/nping CPU per probe: gross %s, net %s\n' "$gross_ratio" "$net_ratio"
{
	printf 'result tool=tcpwatchd rate=%s asked=%s cpu_us_per_probe=%s net_cpu_us_per_probe=%s lost=%s no_tx_stamp=%s no_rx_stamp=%s ports_busy=%s rate_delayed=%s send_errors=%s events_lost=%s\n' \
		"$rate" "$ASKED" "$gross" "$net" "$(sum tcpwatchd lost)" \
		"$(sum tcpwatchd no_tx_stamp)" "$(sum tcpwatchd no_rx_stamp)" \
		"$(sum tcpwatchd ports_busy)" "$(sum tcpwatchd rate_delayed)" \
		"$(sum tcpwatchd send_errors)" "$(sum tcpwatchd events_lost)"
	printf 'result tool=nping rate=%s asked=%s cpu_us_per_probe=%s\n' "$(med nping rate)" \
		"$NPING_RATE" "$np"
	printf 'result ratio=tcpwatchd/nping cpu_per_probe_gross=%s cpu_per_probe_net=%s\n' \
		"$gross_ratio" "$net_ratio"
} >"$W/summary"
ok_rate=$(awk -v r="$rate" -v m="$MIN_RATE" 'BEGIN { print (r + 0 >= m + 0 ? "met" : "NOT met") }')
lost_all=$(($(sum tcpwatchd lost) + $(sum tcpwatchd no_tx_stamp) + $(sum tcpwatchd no_rx_stamp)))
ev=$(($(sum tcpwatchd events_lost) + $(sum nping events_lost)))
printf 'target: >= %s probes/s: %s (%s); events_lost 0: %s (%s); no result lost: %s (%s)\n' \
	"$MIN_RATE" "$ok_rate" "$rate" "$([[ $ev == 0 ]] && echo met || echo "NOT met")" "$ev" \
	"$([[ $lost_all == 0 ]] && echo met || echo "NOT met")" "$lost_all"
printf 'result target_rate=%s events_lost=%s results_lost=%s\n' "${ok_rate// /_}" "$ev" \
	"$lost_all" >>"$W/summary"
echo
cat "$RESULTS" "$W/summary"
