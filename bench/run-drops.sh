#!/usr/bin/env bash
# What the kfree_skb program costs: a flood of packets the kernel drops
# (tw-drops, loopback), packets/second
#   (a) untraced, (b) with tcpwatchd running,
# for two loads: udp (drops that are not TCP: the program's filter turns
# them away, the cost every other drop of the host pays) and tcp (two TCP
# drops per packet, each recorded, sent through the ring and attributed by
# the daemon). ROUNDS rounds of DURATION seconds, the order rotated each
# round; prints each run, the median rate per condition and its ratio to
# untraced, the paired ratio round by round, the drop events the daemon
# received against the drops the kernel counted, and the events lost.
#
# Then, apart (it slows every program a little), the programs' own cost:
# with kernel.bpf_stats_enabled=1, one more tcpwatchd run per load reads
# the run_time_ns of both copies of the kfree_skb program (handle_kfree_skb
# and nest_kfree_skb) and the first's run_cnt from bpftool: nanoseconds per
# tracepoint hit, filtered (udp) and recorded (tcp).
#
# Environment: BUILD (default build), ROUNDS (3), DURATION (20),
# WORKERS (2), PORT (9: must have no listener), LOADS ("udp tcp"), KEEP=1.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
WORKERS=${WORKERS:-2}
PORT=${PORT:-9}
LOADS=${LOADS:-udp tcp}
DROPS=$BIN/tw-drops

bench_init drops
[[ -x $DROPS ]] || bench_die "$DROPS not built (cmake --build $BUILD)"
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN"
command -v bpftool >/dev/null || bench_die "bpftool is needed"
if ss -tulnH "( sport = :$PORT )" | grep -q .; then
	bench_die "something listens on port $PORT: every packet must be dropped"
fi

RESULTS=$BENCH_WORK/results.tsv
: >"$RESULTS"

# prog_stats NAME: "run_time_ns run_cnt" of the loaded program NAME.
prog_stats() {
	bpftool prog show --json | jq -r --arg n "$1" \
		'[.[] | select(.name == $n)][0] | "\(.run_time_ns // 0) \(.run_cnt // 0)"'
}

run_untraced() {
	local load=$1 round=$2 line
	line=$("$DROPS" -m "$load" -c "$WORKERS" -d "$DURATION" -p "$PORT")
	printf '%s\tuntraced\t%s\t%s\n' "$load" "$round" "$line" >>"$RESULTS"
	printf 'round %s %s untraced:  %s\n' "$round" "$load" "$line"
}

run_tcpwatchd() {
	local load=$1 round=$2 sock=$BENCH_WORK/tcpwatchd.sock line
	local drop0 drop1 lost0 lost1 total0 total1 ticks0 ticks1
	bench_daemon_start "$sock" "$BENCH_WORK/tcpwatchd.$load.$round.log"
	drop0=$(bench_stat "$sock" events_drop)
	total0=$(bench_stat "$sock" drops_total)
	lost0=$(bench_stat "$sock" events_lost)
	ticks0=$(bench_cpu_ticks "$DAEMON_PID")
	line=$("$DROPS" -m "$load" -c "$WORKERS" -d "$DURATION" -p "$PORT")
	ticks1=$(bench_cpu_ticks "$DAEMON_PID")
	bench_wait_settled "$sock" events_drop 15
	drop1=$(bench_stat "$sock" events_drop)
	total1=$(bench_stat "$sock" drops_total)
	lost1=$(bench_stat "$sock" events_lost)
	bench_stop "$DAEMON_PID" TERM 20
	line="$line drop_events=$((drop1 - drop0)) kernel_tcp_drops=$((total1 - total0))"
	line="$line events_lost=$((lost1 - lost0))"
	line="$line daemon_cpu_s=$(bench_calc "($ticks1 - $ticks0) / $(getconf CLK_TCK)" %.2f)"
	printf '%s\ttcpwatchd\t%s\t%s\n' "$load" "$round" "$line" >>"$RESULTS"
	printf 'round %s %s tcpwatchd: %s\n' "$round" "$load" "$line"
}

# cost LOAD: ns per kfree_skb hit under LOAD, bpf_stats on: the run time of
# both copies of the program (handle_kfree_skb, nest_kfree_skb: see
# bpf/tcpwatch.bpf.c) over the first copy's runs.
cost() {
	local load=$1 sock=$BENCH_WORK/tcpwatchd.sock t0 n0 t1 n1 u0 u1 line old
	old=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	bench_daemon_start "$sock" "$BENCH_WORK/tcpwatchd.cost.$load.log"
	read -r t0 n0 < <(prog_stats handle_kfree_skb)
	read -r u0 _ < <(prog_stats nest_kfree_skb)
	line=$("$DROPS" -m "$load" -c "$WORKERS" -d "$DURATION" -p "$PORT")
	read -r t1 n1 < <(prog_stats handle_kfree_skb)
	read -r u1 _ < <(prog_stats nest_kfree_skb)
	bench_stop "$DAEMON_PID" TERM 20
	sysctl -qw kernel.bpf_stats_enabled="$old"
	if ((n1 > n0)); then
		printf 'cost %s: kfree_skb hits=%s ns_per_hit=%s (first copy %s, second %s; %s)\n' \
			"$load" "$((n1 - n0))" \
			"$(bench_calc "($t1 - $t0 + $u1 - $u0) / ($n1 - $n0)" %.1f)" \
			"$(bench_calc "($t1 - $t0) / ($n1 - $n0)" %.1f)" \
			"$(bench_calc "($u1 - $u0) / ($n1 - $n0)" %.1f)" "$line"
	else
		printf 'cost %s: handle_kfree_skb did not run (%s)\n' "$load" "$line"
	fi
}

rates_of() {
	awk -F'\t' -v l="$1" -v c="$2" '$1 == l && $2 == c {
		n = split($4, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], "rate=") == 1) print substr(w[i], 6)
	}' "$RESULTS"
}

sum_field() {
	awk -F'\t' -v l="$1" -v k="$2" '$1 == l && $2 == "tcpwatchd" {
		n = split($4, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], k "=") == 1) s += substr(w[i], length(k) + 2)
	} END { printf "%.0f\n", s }' "$RESULTS"
}

paired() {
	awk -F'\t' -v l="$1" '
	function rate(line,   n, w, i) {
		n = split(line, w, " ")
		for (i = 1; i <= n; i++) if (index(w[i], "rate=") == 1) return substr(w[i], 6)
		return 0
	}
	$1 == l && $2 == "untraced" { base[$3] = rate($4) }
	$1 == l && $2 == "tcpwatchd" { run[$3] = rate($4); if ($3 > last) last = $3 }
	END {
		for (r = 1; r <= last; r++)
			if ((r in run) && base[r] > 0) { x[++n] = run[r] / base[r]; sum += x[n] }
		if (n == 0) exit
		line = ""
		for (i = 1; i <= n; i++) line = line sprintf(" %.3f", x[i])
		printf "%s paired_ratio_mean=%.3f rounds:%s\n", l, sum / n, line
	}' "$RESULTS"
}

bench_machine
printf 'drops: %s rounds x %ss, %s workers, loads: %s, port %s\n' "$ROUNDS" "$DURATION" \
	"$WORKERS" "$LOADS" "$PORT"
CONDITIONS=(untraced tcpwatchd)
for load in $LOADS; do
	for ((round = 1; round <= ROUNDS; round++)); do
		for ((k = 0; k < 2; k++)); do
			cond=${CONDITIONS[$(((k + round - 1) % 2))]}
			bench_wait_quiet ||
				bench_log "round $round $cond: NOT QUIET: CPUs ${QUIET_BUSY}% busy"
			"run_$cond" "$load" "$round"
		done
	done
done

echo
for load in $LOADS; do
	mapfile -t base_rates < <(rates_of "$load" untraced)
	mapfile -t rates < <(rates_of "$load" tcpwatchd)
	base=$(bench_median "${base_rates[@]}")
	median=$(bench_median "${rates[@]}")
	printf 'result load=%s untraced_median=%.0f tcpwatchd_median=%.0f ratio=%s\n' "$load" \
		"$base" "$median" "$(bench_calc "$median / $base")"
	paired "$load"
	printf '%s: drop_events=%s kernel_tcp_drops=%s events_lost=%s (all rounds)\n' "$load" \
		"$(sum_field "$load" drop_events)" "$(sum_field "$load" kernel_tcp_drops)" \
		"$(sum_field "$load" events_lost)"
done
for load in $LOADS; do
	bench_wait_quiet || true
	cost "$load"
done
