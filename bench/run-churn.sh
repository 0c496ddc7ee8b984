#!/usr/bin/env bash
# Connection churn under tracing: connections/second of tw-churn
#   (a) untraced, (b) with tcpwatchd running, (c) with tcpstates writing to
#   a file,
# in ROUNDS rounds of DURATION seconds each, the order of the three rotated
# every round.  Prints each run, the median rate per condition, the ratio to
# untraced, the ratio paired round by round (each traced run against the
# same round's untraced run: the machine's rate drifts by several percent
# between rounds) with its mean and 95% confidence interval, and the events
# each tracer lost.
#
# Environment: BUILD (default build), ROUNDS (3), DURATION (30),
# WARMUP (3: an uncounted untraced run first), SETTLE (3, see below),
# WORKERS (2), ADDR (127.0.0.1), TCPSTATES (/usr/sbin/tcpstates), KEEP=1
# keeps the work directory (tracer logs and outputs).
#
# Steady state.  Each measured run follows SETTLE seconds of churn under
# the same condition (the tracer already running), which the rate does not
# count: tcpwatchd is started fresh for every run, and in its first seconds
# it takes its start-up snapshot (the 131k TIME_WAIT sockets earlier runs
# left) and grows its table from nothing (tens of MB of fresh pages), costs
# a long-running daemon paid once. Events are counted over the settling and
# the run together, so every event from the tracer's start must arrive.
# SETTLE=0 measures from a cold start. A run lasts 30 s by default because
# the daemon's reconcile dumps the TIME_WAIT sockets one pass in six (every
# 30 s): each run then holds one such pass, as an hour of churn would.
#
# Event accounting.  One tw-churn connection is two sockets with five
# inet_sock_set_state transitions each (client CLOSE>SYN_SENT>ESTABLISHED>
# FIN_WAIT1>FIN_WAIT2>CLOSE, server LISTEN>SYN_RECV>ESTABLISHED>CLOSE_WAIT>
# LAST_ACK>CLOSE), and each worker's listener adds CLOSE>LISTEN and
# LISTEN>CLOSE.  The per-connection figure is measured, not assumed: a
# paced calibration run of CALIBRATION connections under tcpstates gives
# (lines - 2) / CALIBRATION.  Expected events for a run are then
# per_connection * connections + 2 * workers.  For tcpstates, "missing" is
# expected minus the lines it wrote, and "reported" is the sum of its own
# "lost N events on CPU #C" messages (perf buffer lost-sample callbacks) on
# stderr.  For tcpwatchd, lost is the events_lost delta from its stats, and
# its state events (events_state, printed as events_received) next to the
# expected count; accept_events (one per connection: the server's accept())
# and all_events (every record, accepts and drops included) follow.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-3}
SETTLE=${SETTLE:-3}
WORKERS=${WORKERS:-2}
ADDR=${ADDR:-127.0.0.1}
TCPSTATES=${TCPSTATES:-/usr/sbin/tcpstates}
CALIBRATION=${CALIBRATION:-1000}
CHURN=$BIN/tw-churn

bench_init churn
[[ -x $CHURN ]] || bench_die "$CHURN not built (cmake --build $BUILD)"

CONDITIONS=(untraced)
if bench_have_daemon; then
	CONDITIONS+=(tcpwatchd)
else
	bench_log "tcpwatchd/tcpwatch not in $BIN: the tcpwatchd condition is skipped"
fi
if [[ -x $TCPSTATES ]]; then
	CONDITIONS+=(tcpstates)
	bench_need_tracefs
else
	bench_log "$TCPSTATES not found: the tcpstates condition is skipped"
fi

RESULTS=$BENCH_WORK/results.tsv
: >"$RESULTS"
PER_CONNECTION=10
QUIET=

# churn: run tw-churn with ARGS, print its result line.
churn() {
	"$CHURN" -a "$ADDR" "$@"
}

# tcpstates_start OUT ERR: start tcpstates, wait until its program is
# attached (a bpf_link fd appears); sets TRACER_PID.
tcpstates_start() {
	local i
	"$TCPSTATES" >"$1" 2>"$2" &
	TRACER_PID=$!
	bench_track "$TRACER_PID"
	for ((i = 0; i < 100; i++)); do
		bench_alive "$TRACER_PID" || {
			cat "$2" >&2
			bench_die "tcpstates exited during start-up"
		}
		if find "/proc/$TRACER_PID/fd" -lname 'anon_inode:bpf_link' 2>/dev/null |
			grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	bench_die "tcpstates did not attach within 10s"
}

# tcpstates_stop: SIGINT makes tcpstates leave its poll loop and flush.
tcpstates_stop() {
	bench_stop "$TRACER_PID" INT 20
}

# Lines tcpstates wrote (without its header) and the events it reported
# lost, as "LINES LOST".
tcpstates_count() {
	local lines lost
	lines=$(($(wc -l <"$1") - 1))
	((lines < 0)) && lines=0
	lost=$(awk '/lost [0-9]+ events/ {
			for (i = 1; i < NF; i++) if ($i == "lost") n += $(i + 1)
		} END { print n + 0 }' "$2")
	printf '%s %s\n' "$lines" "$lost"
}

calibrate() {
	local out=$BENCH_WORK/calibrate.out err=$BENCH_WORK/calibrate.err line n lines lost
	tcpstates_start "$out" "$err"
	line=$(churn -c 1 -n "$CALIBRATION" -i 500 -d 60)
	sleep 0.5
	tcpstates_stop
	n=$(bench_field "$line" connections)
	read -r lines lost < <(tcpstates_count "$out" "$err")
	PER_CONNECTION=$(bench_calc "($lines - 2) / $n" %.2f)
	bench_log "calibration: $n paced connections, tcpstates wrote $lines lines" \
		"(lost reported: $lost): $PER_CONNECTION transitions per connection"
	awk 'NR > 1 { print $(NF - 3) ">" $(NF - 1) }' "$out" | sort | uniq -c |
		sed 's/^/#   /' >&2
	case $PER_CONNECTION in
	10.00) ;;
	*) bench_log "warning: expected 10.00 transitions per connection" ;;
	esac
}

# settle: SETTLE seconds of churn under the current condition; prints how
# many connections it made (0 without settling).
settle() {
	if ((SETTLE > 0)); then
		bench_field "$(churn -c "$WORKERS" -d "$SETTLE")" connections
	else
		echo 0
	fi
}

# expected_events CONNECTIONS SETTLE_CONNECTIONS: transitions the run and
# its settling make (each tw-churn invocation opens and closes a listener
# per worker).
expected_events() {
	local runs=1
	((SETTLE > 0)) && runs=2
	bench_calc "$PER_CONNECTION * ($1 + $2) + 2 * $WORKERS * $runs" %.0f
}

run_untraced() {
	local round=$1 line
	settle >/dev/null
	line=$(churn -c "$WORKERS" -d "$DURATION")
	line="$line $QUIET"
	printf 'untraced\t%s\t%s\n' "$round" "$line" >>"$RESULTS"
	printf 'round %s untraced:  %s\n' "$round" "$line"
}

run_tcpwatchd() {
	local round=$1 sock=$BENCH_WORK/tcpwatchd.sock line
	local received0 lost0 received1 lost1 ticks0 ticks1 conns expected settled
	local state0 state1 accept0 accept1
	bench_daemon_start "$sock" "$BENCH_WORK/tcpwatchd.$round.log"
	received0=$(bench_stat "$sock" events_received)
	state0=$(bench_stat "$sock" events_state)
	accept0=$(bench_stat "$sock" events_accept)
	lost0=$(bench_stat "$sock" events_lost)
	settled=$(settle)
	ticks0=$(bench_cpu_ticks "$DAEMON_PID")
	line=$(churn -c "$WORKERS" -d "$DURATION")
	ticks1=$(bench_cpu_ticks "$DAEMON_PID")
	bench_wait_settled "$sock" events_received 15
	received1=$(bench_stat "$sock" events_received)
	state1=$(bench_stat "$sock" events_state)
	accept1=$(bench_stat "$sock" events_accept)
	lost1=$(bench_stat "$sock" events_lost)
	bench_stats "$sock" >"$BENCH_WORK/tcpwatchd.$round.stats.json" || true
	bench_stop "$DAEMON_PID" TERM 20
	conns=$(bench_field "$line" connections)
	expected=$(expected_events "$conns" "$settled")
	line="$line settle_connections=$settled"
	# The expected figure counts state transitions; the accept() of each
	# connection is an event more, reported apart.
	line="$line events_received=$((state1 - state0)) expected_events=$expected"
	line="$line accept_events=$((accept1 - accept0)) all_events=$((received1 - received0))"
	line="$line events_lost=$((lost1 - lost0))"
	line="$line tracer_cpu_s=$(bench_calc "($ticks1 - $ticks0) / $(getconf CLK_TCK)" %.2f)"
	line="$line $QUIET"
	printf 'tcpwatchd\t%s\t%s\n' "$round" "$line" >>"$RESULTS"
	printf 'round %s tcpwatchd: %s\n' "$round" "$line"
}

run_tcpstates() {
	local round=$1
	local out=$BENCH_WORK/tcpstates.$round.out err=$BENCH_WORK/tcpstates.$round.err
	local line conns expected ticks0 ticks1 settled
	local lines lost missing
	tcpstates_start "$out" "$err"
	settled=$(settle)
	ticks0=$(bench_cpu_ticks "$TRACER_PID")
	line=$(churn -c "$WORKERS" -d "$DURATION")
	ticks1=$(bench_cpu_ticks "$TRACER_PID")
	sleep 1
	tcpstates_stop
	read -r lines lost < <(tcpstates_count "$out" "$err")
	conns=$(bench_field "$line" connections)
	expected=$(expected_events "$conns" "$settled")
	missing=$((expected - lines))
	line="$line settle_connections=$settled"
	line="$line lines=$lines expected_events=$expected missing=$missing"
	line="$line reported_lost=$lost"
	line="$line tracer_cpu_s=$(bench_calc "($ticks1 - $ticks0) / $(getconf CLK_TCK)" %.2f)"
	line="$line $QUIET"
	printf 'tcpstates\t%s\t%s\n' "$round" "$line" >>"$RESULTS"
	printf 'round %s tcpstates: %s\n' "$round" "$line"
	# The output is large (about 100 bytes per event); keep only with KEEP=1.
	[[ ${KEEP:-0} == 1 ]] || rm -f -- "$out"
}

# sum_field CONDITION KEY: sum of KEY over the runs of CONDITION.
sum_field() {
	awk -F'\t' -v c="$1" -v k="$2" '$1 == c {
		n = split($3, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], k "=") == 1) s += substr(w[i], length(k) + 2)
	} END { printf "%.0f\n", s }' "$RESULTS"
}

# paired CONDITION: the ratio of each round's CONDITION run to the same
# round's untraced run, then their mean and a 95% confidence interval
# (Student's t, rounds - 1 degrees of freedom).
paired() {
	awk -F'\t' -v c="$1" '
	function rate(line,   n, w, i) {
		n = split(line, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], "rate=") == 1) return substr(w[i], 6)
		return 0
	}
	$1 == "untraced" { base[$2] = rate($3) }
	$1 == c { run[$2] = rate($3); if ($2 > last) last = $2 }
	END {
		split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 " \
		      "2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086", t, " ")
		for (r = 1; r <= last; r++)
			if ((r in run) && base[r] > 0) { x[++n] = run[r] / base[r]; sum += x[n] }
		if (n == 0) exit
		mean = sum / n
		for (i = 1; i <= n; i++) ss += (x[i] - mean) ^ 2
		half = n > 1 ? (n - 1 <= 20 ? t[n - 1] : 2.0) * sqrt(ss / (n - 1)) / sqrt(n) : 0
		line = ""
		for (i = 1; i <= n; i++) line = line sprintf(" %.3f", x[i])
		printf "%s paired_ratio_mean=%.3f ci95=%.3f..%.3f rounds:%s\n", c, mean,
			mean - half, mean + half, line
	}' "$RESULTS"
}

rates_of() {
	awk -F'\t' -v c="$1" '$1 == c {
		n = split($3, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], "rate=") == 1) print substr(w[i], 6)
	}' "$RESULTS"
}

bench_machine
printf 'churn: %s rounds x %ss (each after %ss settling), %s workers, %s, conditions: %s\n' \
	"$ROUNDS" "$DURATION" "$SETTLE" "$WORKERS" "$ADDR" "${CONDITIONS[*]}"
if [[ -x $TCPSTATES ]]; then
	calibrate
fi
printf 'transitions_per_connection=%s\n' "$PER_CONNECTION"

# The first run after an idle spell fills the TIME_WAIT table (131072
# buckets here) and is slower than the rest; do not count it.
if ((WARMUP > 0)); then
	printf 'warmup:            %s\n' "$(churn -c "$WORKERS" -d "$WARMUP")"
fi

bench_rounds "$ROUNDS" "${CONDITIONS[@]}"

echo
mapfile -t base_rates < <(rates_of untraced)
base=$(bench_median "${base_rates[@]}")
printf '%-10s %12s %7s  %s\n' condition median_rate ratio "rates (conn/s)"
for cond in "${CONDITIONS[@]}"; do
	mapfile -t rates < <(rates_of "$cond")
	median=$(bench_median "${rates[@]}")
	printf '%-10s %12.1f %7.3f  %s\n' "$cond" "$median" \
		"$(bench_calc "$median / $base")" "${rates[*]}"
	printf 'result condition=%s median_rate=%.1f ratio=%s\n' "$cond" "$median" \
		"$(bench_calc "$median / $base")" >>"$BENCH_WORK/summary"
done
for cond in "${CONDITIONS[@]}"; do
	[[ $cond == untraced ]] || paired "$cond" | tee -a "$BENCH_WORK/summary"
done
for cond in "${CONDITIONS[@]}"; do
	case $cond in
	tcpwatchd)
		printf 'tcpwatchd: events_received=%s expected_events=%s events_lost=%s (all rounds)\n' \
			"$(sum_field tcpwatchd events_received)" \
			"$(sum_field tcpwatchd expected_events)" \
			"$(sum_field tcpwatchd events_lost)"
		;;
	tcpstates)
		printf 'tcpstates: lines=%s expected_events=%s missing=%s reported_lost=%s (all rounds)\n' \
			"$(sum_field tcpstates lines)" "$(sum_field tcpstates expected_events)" \
			"$(sum_field tcpstates missing)" "$(sum_field tcpstates reported_lost)"
		;;
	esac
done
cat "$BENCH_WORK/summary"
