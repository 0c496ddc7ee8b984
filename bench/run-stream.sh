#!/usr/bin/env bash
# The live stream keeps up (issue 13): connection churn with tcpwatchd's
# event stream read,
#   (a) untraced tw-churn,
#   (b) tcpwatchd running, no reader,
#   (c) tcpwatchd and one unfiltered `tcpwatch --json watch` writing to a
#       file,
#   (d) tcpwatchd and one `tcpwatch --json watch dport = :443` (a filter
#       that matches nothing the churn makes),
# in ROUNDS rounds of DURATION seconds each, the order of the four rotated
# every round. Prints each run; then the median rate per condition, its
# ratio to untraced, the ratios c/a, d/a and d/b of the medians, and each
# ratio paired round by round (the traced run against the same round's
# untraced or daemon-only run) with its mean and 95% confidence interval.
#
# Targets: (c) >= 0.85x untraced, and the reader gets every event or is
# told exactly how many it missed; (d) costs nothing measurable against (b)
# and its reader receives nothing.
#
# Environment: BUILD (default build), ROUNDS (5), DURATION (10), WARMUP (3:
# an uncounted untraced run first), SETTLE (3: seconds of uncounted churn
# under the same condition, the reader already reading, before each run; as
# in run-churn.sh), WORKERS (2), ADDR (127.0.0.1), FILTER ("dport = :443",
# the filtered reader's expression), DRAIN_TIMEOUT (60: seconds the reader
# may take to catch up after the churn), RATE (unset: peak churn; a number
# paces tw-churn to that many connections/s in all), KEEP=1 keeps the work directory
# (daemon logs, stats, the readers' output).
#
# Stream accounting. The daemon publishes to the event streams
# (daemon/main.c on_record -> http_publish -> sse_publish) every ring-buffer
# record that added a history entry: each state event the table took
# (events_state - events_refused), each accept() of a connection it knows
# whose ESTABLISHED it saw (events_accept - accepts_unmatched), and each
# retransmit or reset of a known socket (events_retransmit +
# events_reset_sent + events_reset_received - resets_sent_no_socket -
# events_unmatched). The sum of those deltas in /api/v1/stats, from the
# moment the reader's stream was open (watch_opened) to the end, is
# expected_stream. A reader whose 1 MiB queue (SSE_QUEUE_MAX) is full loses
# events; the daemon counts them (watch_dropped, every stream together) and
# tells that reader, in the stream, before the next event it gets (an
# "event: lost" record, data {"dropped":N}, which `tcpwatch --json watch`
# prints as that one line). So missed is the sum of the reader's
# {"dropped":N} lines, received the number of its other lines, and the
# check is received + missed == expected_stream. Because the count is told
# only ahead of a later event (or the 15 s ping), the script ends each (c)
# run with one marker connection (to 127.0.0.1:1, refused) once the reader
# has drained its queue: its events carry the last lost record out. What
# the daemon counted dropped but had not told the reader by the end is
# printed as unsaid (watch_dropped delta - missed). expected_stream is
# exact while the daemon keeps up with the kernel (events_lost 0); with
# ring-buffer losses it overcounts a little: an accept() of a connection
# whose ESTABLISHED record was lost adds no history entry
# (passive_on_accept), so it is not streamed, and no counter says how many
# did that. The line prints events_lost beside the difference, and
# loop_turns and loop_max_ms: a loop turn that drains a long backlog keeps
# the stream from being written until it ends. other_events (drops,
# SYN-ACK retransmits) are records the stream may or may not carry;
# loopback churn makes none.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
SETTLE=${SETTLE:-3}
WORKERS=${WORKERS:-2}
ADDR=${ADDR:-127.0.0.1}
FILTER=${FILTER:-dport = :443}
RATE=${RATE:-}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-60}
CHURN=$BIN/tw-churn

if [[ ! -x $CHURN ]] || ! bench_have_daemon; then
	printf 'skipped: %s, %s or %s not built (cmake --build %s)\n' \
		"$CHURN" "$TCPWATCHD" "$TCPWATCH" "$BUILD" >&2
	exit 77
fi
bench_init stream

CONDITIONS=(untraced daemon watch filtered)
RESULTS=$BENCH_WORK/results.tsv
: >"$RESULTS"
SOCK=$BENCH_WORK/tcpwatchd.sock
QUIET=
READER_PID=

churn() {
	"$CHURN" -a "$ADDR" ${RATE:+-r "$RATE"} "$@"
}

# settle: SETTLE seconds of churn under the current condition.
settle() {
	((SETTLE > 0)) || return 0
	churn -c "$WORKERS" -d "$SETTLE" >/dev/null
}

# snap FILE: the daemon's stats into FILE.
snap() {
	bench_stats "$SOCK" >"$1"
}

# delta A B EXPR: a jq expression over d("field") = B.field - A.field.
delta() {
	jq -n --slurpfile a "$1" --slurpfile b "$2" \
		"def d(\$k): ((\$b[0][\$k] // 0) - (\$a[0][\$k] // 0)); $3"
}

# field FILE NAME: one field of a stats snapshot (0 if absent).
field() {
	jq -r --arg f "$2" '.[$f] // 0' "$1"
}

# reader_start OUT ERR [EXPR...]: `tcpwatch --json watch [EXPR]` into OUT,
# waiting until the daemon has its stream open; sets READER_PID.
reader_start() {
	local out=$1 err=$2 opened0
	shift 2
	opened0=$(bench_stat "$SOCK" watch_opened)
	"$TCPWATCH" --socket "$SOCK" --json watch "$@" >"$out" 2>"$err" &
	READER_PID=$!
	bench_track "$READER_PID"
	if ! bench_wait_stat "$SOCK" watch_opened $((opened0 + 1)) 10; then
		cat "$err" >&2
		bench_die "tcpwatch watch did not open its stream"
	fi
	bench_alive "$READER_PID" || {
		cat "$err" >&2
		bench_die "tcpwatch watch exited at once"
	}
}

reader_stop() {
	bench_stop "$READER_PID" TERM 20
	READER_PID=
}

# reader_drain OUT: wait (at most DRAIN_TIMEOUT s) until the daemon holds
# nothing for the stream (watch_queued_bytes 0) and OUT stopped growing;
# prints the seconds it took.
reader_drain() {
	local out=$1 t0 i size last=-1 queued
	t0=$(bench_now)
	for ((i = 0; i < DRAIN_TIMEOUT * 4; i++)); do
		queued=$(bench_stat "$SOCK" watch_queued_bytes)
		size=$(stat -c %s "$out")
		[[ $queued == 0 && $size == "$last" ]] && break
		last=$size
		sleep 0.25
	done
	((i < DRAIN_TIMEOUT * 4)) ||
		bench_log "reader not drained after ${DRAIN_TIMEOUT}s (queued $queued bytes)"
	bench_calc "$(bench_now) - $t0" %.2f
}

# reader_count OUT: "EVENTS STATE ACCEPT OTHER MISSED LOST_RECORDS" of a
# `tcpwatch --json watch` output.
reader_count() {
	awk '
	/^\{"dropped":/ {
		v = $0; sub(/^\{"dropped":/, "", v); sub(/[^0-9].*$/, "", v)
		missed += v; records++; next
	}
	/^\{"kind":"state"/ { state++; n++; next }
	/^\{"kind":"accept"/ { accept++; n++; next }
	/^\{/ { other++; n++ }
	END { printf "%d %d %d %d %d %d\n", n, state, accept, other, missed, records }
	' "$1"
}

# The events the stream should have carried between two snapshots.
EXPECTED_STREAM='d("events_state") - d("events_refused")
	+ d("events_accept") - d("accepts_unmatched")
	+ d("events_retransmit") + d("events_reset_sent") + d("events_reset_received")
	- d("resets_sent_no_socket") - d("events_unmatched")'
EXPECTED_STATE='d("events_state") - d("events_refused")'
EXPECTED_ACCEPT='d("events_accept") - d("accepts_unmatched")'
OTHER_EVENTS='d("events_drop") + d("events_synack_retransmit")'

record() {
	local cond=$1 round=$2 line=$3
	printf '%s\t%s\t%s\n' "$cond" "$round" "$line" >>"$RESULTS"
	printf 'round %s %-9s %s\n' "$round" "$cond:" "$line"
}

run_untraced() {
	local line
	settle
	line=$(churn -c "$WORKERS" -d "$DURATION")
	record untraced "$1" "$line $QUIET"
}

# run_traced ROUND COND: (b), (c) or (d).
run_traced() {
	local round=$1 cond=$2 w=$BENCH_WORK/$2.$1
	local line ticks0 ticks1 rticks0=0 rticks1=0 hz
	local events state accept other missed records drain=0 expected est eacc
	local dropped unsaid balance exact
	hz=$(getconf CLK_TCK)
	bench_daemon_start "$SOCK" "$w.log"
	case $cond in
	watch) reader_start "$w.out" "$w.err" ;;
	filtered)
		# FILTER is one expression of several words, split as typed.
		# shellcheck disable=SC2086
		reader_start "$w.out" "$w.err" $FILTER
		;;
	esac
	snap "$w.stats0.json"
	settle
	ticks0=$(bench_cpu_ticks "$DAEMON_PID")
	[[ -n $READER_PID ]] && rticks0=$(bench_cpu_ticks "$READER_PID")
	line=$(churn -c "$WORKERS" -d "$DURATION")
	ticks1=$(bench_cpu_ticks "$DAEMON_PID")
	[[ -n $READER_PID ]] && rticks1=$(bench_cpu_ticks "$READER_PID")
	snap "$w.stats_end.json"
	bench_wait_settled "$SOCK" events_received 15
	if [[ -n $READER_PID ]]; then
		drain=$(reader_drain "$w.out")
		if [[ $cond == watch ]]; then
			# The marker: refused at once, its events carry out the
			# last "lost" record (told only ahead of an event).
			timeout 2 bash -c ": </dev/tcp/127.0.0.1/1" 2>/dev/null || true
			bench_wait_settled "$SOCK" events_received 5
			reader_drain "$w.out" >/dev/null
		fi
	fi
	snap "$w.stats1.json"
	bench_alive "$DAEMON_PID" || bench_die "tcpwatchd died during the run (log: $w.log)"
	if [[ -n $READER_PID ]]; then
		bench_alive "$READER_PID" || bench_log "round $round $cond: the reader exited early"
		reader_stop
	fi
	bench_stop "$DAEMON_PID" TERM 20
	line="$line events_lost=$(delta "$w.stats0.json" "$w.stats1.json" 'd("events_lost")')"
	line="$line events_received=$(delta "$w.stats0.json" "$w.stats1.json" 'd("events_received")')"
	line="$line watchers=$(field "$w.stats_end.json" watchers)"
	line="$line watch_opened=$(field "$w.stats1.json" watch_opened)"
	line="$line watch_refused=$(field "$w.stats1.json" watch_refused)"
	dropped=$(delta "$w.stats0.json" "$w.stats1.json" 'd("watch_dropped")')
	line="$line watch_dropped=$dropped"
	line="$line watch_queued_bytes_at_end=$(field "$w.stats_end.json" watch_queued_bytes)"
	line="$line watch_buffer_bytes_at_end=$(field "$w.stats_end.json" watch_buffer_bytes)"
	line="$line daemon_cpu_s=$(bench_calc "($ticks1 - $ticks0) / $hz" %.2f)"
	line="$line loop_turns=$(delta "$w.stats0.json" "$w.stats_end.json" 'd("loop_iterations")')"
	line="$line loop_max_ms=$(field "$w.stats_end.json" loop_max_ms)"
	case $cond in
	watch)
		read -r events state accept other missed records < <(reader_count "$w.out")
		expected=$(delta "$w.stats0.json" "$w.stats1.json" "$EXPECTED_STREAM")
		est=$(delta "$w.stats0.json" "$w.stats1.json" "$EXPECTED_STATE")
		eacc=$(delta "$w.stats0.json" "$w.stats1.json" "$EXPECTED_ACCEPT")
		balance=$((events + missed - expected))
		unsaid=$((dropped - missed))
		exact=no
		((balance == 0)) && exact=yes
		line="$line reader_cpu_s=$(bench_calc "($rticks1 - $rticks0) / $hz" %.2f)"
		line="$line drain_s=$drain"
		line="$line stream_received=$events stream_missed=$missed lost_records=$records"
		line="$line expected_stream=$expected exact=$exact difference=$balance"
		line="$line unsaid=$unsaid"
		line="$line stream_state=$state expected_state=$est"
		line="$line stream_accept=$accept expected_accept=$eacc stream_other=$other"
		line="$line other_events=$(delta "$w.stats0.json" "$w.stats1.json" "$OTHER_EVENTS")"
		line="$line received_fraction=$(bench_calc "($expected > 0 ? $events / $expected : 1)" %.4f)"
		;;
	filtered)
		read -r events state accept other missed records < <(reader_count "$w.out")
		line="$line reader_cpu_s=$(bench_calc "($rticks1 - $rticks0) / $hz" %.2f)"
		line="$line filtered_received=$events filtered_missed=$missed"
		;;
	esac
	record "$cond" "$round" "$line $QUIET"
	# The unfiltered output is large (about 400 bytes an event).
	[[ ${KEEP:-0} == 1 ]] || rm -f -- "$w.out"
}

run_daemon() { run_traced "$1" daemon; }
run_watch() { run_traced "$1" watch; }
run_filtered() { run_traced "$1" filtered; }

# values COND KEY: KEY's value in each run of COND.
values() {
	awk -F'\t' -v c="$1" -v k="$2" '$1 == c {
		n = split($3, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], k "=") == 1) print substr(w[i], length(k) + 2)
	}' "$RESULTS"
}

# sum_field COND KEY: the sum of KEY over the runs of COND.
sum_field() {
	values "$1" "$2" | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# paired COND BASE: the ratio of each round's COND rate to the same round's
# BASE rate, their mean and a 95% confidence interval (Student's t).
paired() {
	awk -F'\t' -v c="$1" -v b="$2" '
	function rate(line,   n, w, i) {
		n = split(line, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], "rate=") == 1) return substr(w[i], 6)
		return 0
	}
	$1 == b { base[$2] = rate($3) }
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
		printf "%s/%s paired_ratio_mean=%.3f ci95=%.3f..%.3f rounds:%s\n", c, b, mean,
			mean - half, mean + half, line
	}' "$RESULTS"
}

# round_ratios ROUND: each traced run of ROUND against the same round's
# untraced run, and the filtered one against the daemon-only one.
round_ratios() {
	awk -F'\t' -v r="$1" '
	$2 == r {
		n = split($3, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], "rate=") == 1) rate[$1] = substr(w[i], 6)
	}
	END {
		if (rate["untraced"] <= 0 || rate["daemon"] <= 0) exit
		printf "round %s ratios:  b/a=%.3f c/a=%.3f d/a=%.3f d/b=%.3f\n", r,
			rate["daemon"] / rate["untraced"], rate["watch"] / rate["untraced"],
			rate["filtered"] / rate["untraced"], rate["filtered"] / rate["daemon"]
	}' "$RESULTS"
}

bench_machine
printf 'stream: %s rounds x %ss (each after %ss settling), %s workers, %s, filter "%s", conditions: %s\n' \
	"$ROUNDS" "$DURATION" "$SETTLE" "$WORKERS" "$ADDR" "$FILTER" "${CONDITIONS[*]}"
bench_wait_timewait 1000 70
if ((WARMUP > 0)); then
	printf 'warmup:            %s\n' "$(churn -c "$WORKERS" -d "$WARMUP")"
fi

after_round() { round_ratios "$1"; }
bench_rounds "$ROUNDS" "${CONDITIONS[@]}"

echo
declare -A MEDIAN
printf '%-9s %12s %7s  %s\n' condition median_rate ratio "rates (conn/s)"
for cond in "${CONDITIONS[@]}"; do
	mapfile -t rates < <(values "$cond" rate)
	MEDIAN[$cond]=$(bench_median "${rates[@]}")
done
for cond in "${CONDITIONS[@]}"; do
	mapfile -t rates < <(values "$cond" rate)
	printf '%-9s %12.1f %7.3f  %s\n' "$cond" "${MEDIAN[$cond]}" \
		"$(bench_calc "${MEDIAN[$cond]} / ${MEDIAN[untraced]}")" "${rates[*]}"
done
{
	for cond in "${CONDITIONS[@]}"; do
		printf 'result condition=%s median_rate=%.1f ratio=%s\n' "$cond" "${MEDIAN[$cond]}" \
			"$(bench_calc "${MEDIAN[$cond]} / ${MEDIAN[untraced]}")"
	done
	printf 'result medians c/a=%s d/a=%s d/b=%s b/a=%s\n' \
		"$(bench_calc "${MEDIAN[watch]} / ${MEDIAN[untraced]}")" \
		"$(bench_calc "${MEDIAN[filtered]} / ${MEDIAN[untraced]}")" \
		"$(bench_calc "${MEDIAN[filtered]} / ${MEDIAN[daemon]}")" \
		"$(bench_calc "${MEDIAN[daemon]} / ${MEDIAN[untraced]}")"
	paired daemon untraced
	paired watch untraced
	paired filtered untraced
	paired filtered daemon
	paired watch daemon
	received=$(sum_field watch stream_received)
	missed=$(sum_field watch stream_missed)
	expected=$(sum_field watch expected_stream)
	inexact=$(values watch exact | grep -c -v '^yes$' || true)
	printf 'result stream received=%s missed=%s expected=%s difference=%s unsaid=%s watch_dropped=%s runs_inexact=%s events_lost=%s (all rounds)\n' \
		"$received" "$missed" "$expected" "$((received + missed - expected))" \
		"$(sum_field watch unsaid)" "$(sum_field watch watch_dropped)" "$inexact" \
		"$(sum_field watch events_lost)"
	printf 'result filtered received=%s missed=%s watch_dropped=%s events_lost=%s (all rounds)\n' \
		"$(sum_field filtered filtered_received)" "$(sum_field filtered filtered_missed)" \
		"$(sum_field filtered watch_dropped)" "$(sum_field filtered events_lost)"
	printf 'result daemon events_lost=%s (all rounds)\n' "$(sum_field daemon events_lost)"
} | tee "$BENCH_WORK/summary"
