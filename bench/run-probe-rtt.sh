#!/usr/bin/env bash
# Probe RTT error against an emulated link's true delay: tcpwatchd's prober
# beside nping, hping3 and tw-probe-ref (bench/probe_ref.c, the practical
# limit: a raw socket and the kernel's own software TX/RX stamps, nothing
# else), in one run.
#
# The link: a network namespace of our own (tw-bench-rtt-PID, deleted on
# exit however the script exits) with a TUN device at 198.18.0.1/24, served
# by tw-tun-responder emulating 198.18.0.2: every SYN to PORT is answered
# with a SYN-ACK DELAY_US after the responder read it, and the responder
# prints, per SYN, its source port, sequence number and the true hold
# (ns=: from the read that returned the SYN to the start of the write of
# its answer, CLOCK_MONOTONIC, the device busy-polled). For every probe,
#
#   error = measured RTT - the responder's true hold for that SYN
#
# which is what a prober adds to the link: the kernel's transmit to the
# device, the responder's read, and the answer's way back to the stamp,
# plus whatever the prober's own timing adds.
#
# Rounds. Each tool sends BATCH probes per round (INTERVAL apart), the
# tools one after another (never two at once: the responder and the two
# CPUs are shared), their order rotated every round, until each has sent N:
# drift of the machine hits all four alike. The responder's lines of a
# tool's batch are the ones it printed between the batch's start and end,
# and a probe is matched to its SYN within them:
#
#   tcpwatch      `tcpwatch probe --netns /run/netns/NS --json` (the daemon,
#                 in the root namespace, probes from the namespace): by
#                 source port (the daemon's ports 61000-61511 go round, so
#                 a batch of at most 500 has each once)
#   tw-probe-ref  by source port and sequence number (its own output)
#   hping3        `hping3 -S -p PORT -s BASE -i uINTERVAL` inside the
#                 namespace: probe k leaves from BASE + k and its reply
#                 line says seq=k rtt=X ms, so by source port
#   nping         `nping --tcp -p PORT --flags syn -g SPORT --delay` inside
#                 the namespace: every SYN of a run has the same port and
#                 sequence number, so by order: the k-th SENT line is the
#                 k-th SYN the responder saw, and the k-th RCVD line its
#                 answer (the responder answers in arrival order, the
#                 delay being constant); a batch whose SENT, RCVD and SYN
#                 counts are not all equal is left out (unmatched)
#
# nping prints times in 0.1 ms steps (SENT/RCVD "(12.3456s)") and hping3
# its rtt with one decimal of a millisecond: their errors carry ±50 µs of
# rounding, which is theirs to carry.
#
# Arrival uncertainty. The responder also prints seen_ns: how long before
# it read the SYN its last empty read began. Large means it was scheduled
# out and the SYN waited an unknown part of that in the device, so the hold
# understates the link and the error is inflated by up to seen_ns for
# reasons no prober controls. Probes with seen_ns over SEEN_MAX_US are not
# counted in the error figures (all tools alike) and are reported as
# "uncertain"; with SEEN_MAX_US=0 every probe counts.
#
# Figures per tool: probes sent, matched, lost, uncertain, counted; the
# error's min, median, p99 (nearest rank) and max in µs, and outliers
# (|error| > 1 ms). Then each tool against tw-probe-ref, side by side:
# median error difference and max error difference (µs), and the ratio of
# the medians. The target: tcpwatch median within 5 µs of the reference's,
# max within 50 µs of the reference's, no outlier, nothing lost.
#
# Usage: sudo bench/run-probe-rtt.sh [-n N] [-b BATCH]
# Environment: BUILD (default build), N (1000 probes per tool), BATCH (50),
# INTERVAL (0.05 s: more than twice DELAY_US), DELAY_US (20000), PORT (80),
# SEEN_MAX_US (50), WARMUP (3 uncounted probes per tool first),
# RESPONDER_CPU (pin the busy-polling responder to a CPU; unset: not
# pinned), RESPONDER_RT (a SCHED_FIFO priority for the responder, so the
# machine's other work cannot schedule it out: fewer uncertain arrivals;
# unset: the normal scheduler), QUIET_TIMEOUT / BUSY_LIMIT (lib.sh: the
# run first waits for a quiet machine), TOOLS ("tcpwatch ref nping
# hping3"), KEEP=1 keeps the work directory (every tool's output, the
# responder's lines, matched.tsv, counts.tsv).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-1000}
BATCH=${BATCH:-50}
INTERVAL=${INTERVAL:-0.05}
DELAY_US=${DELAY_US:-20000}
PORT=${PORT:-80}
SEEN_MAX_US=${SEEN_MAX_US:-50}
WARMUP=${WARMUP:-3}
TOOLS=${TOOLS:-tcpwatch ref nping hping3}

while getopts 'n:b:h' opt; do
	case $opt in
	n) N=$OPTARG ;;
	b) BATCH=$OPTARG ;;
	h)
		sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) exit 2 ;;
	esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || bench_die "-n takes a count of probes"
[[ $BATCH =~ ^[0-9]+$ && $BATCH -ge 1 && $BATCH -le 500 ]] ||
	bench_die "-b takes 1 to 500 (the daemon's 512 ports must not repeat in a batch)"
awk -v i="$INTERVAL" -v d="$DELAY_US" 'BEGIN { exit !(i * 1e6 > 2 * d) }' ||
	bench_die "INTERVAL ($INTERVAL s) must be more than twice DELAY_US ($DELAY_US us)"

REF=$BIN/tw-probe-ref
RESPONDER=$BIN/tw-tun-responder
PEER=198.18.0.2
LOCAL=198.18.0.1
DEV=twbrtt0
NS=tw-bench-rtt-$$

bench_init probe-rtt
bench_have_daemon || bench_die "tcpwatchd/tcpwatch not in $BIN (cmake --build $BUILD)"
[[ -x $REF ]] || bench_die "$REF not built (cmake --build $BUILD --target tw-probe-ref)"
[[ -x $RESPONDER ]] ||
	bench_die "$RESPONDER not built (cmake --build $BUILD --target tw-tun-responder)"

read -ra WANT <<<"$TOOLS"
ACTIVE=()
for tool in "${WANT[@]}"; do
	case $tool in
	tcpwatch | ref) ACTIVE+=("$tool") ;;
	nping)
		if bench_need_cmd nping nmap; then ACTIVE+=(nping); else
			bench_log "nping missing (package nmap): left out"
		fi
		;;
	hping3)
		if bench_need_cmd hping3 hping3; then ACTIVE+=(hping3); else
			bench_log "hping3 missing: left out"
		fi
		;;
	*) bench_die "unknown tool $tool (tcpwatch ref nping hping3)" ;;
	esac
done
[[ " ${ACTIVE[*]} " == *" ref "* ]] || bench_die "the reference (ref) must run"

W=$BENCH_WORK
RESP_OUT=$W/responder.out
MATCHED=$W/matched.tsv # tool round seq sport state rtt_ns hold_ns seen_ns
COUNTS=$W/counts.tsv   # tool round sent replied matched unmatched
: >"$MATCHED"
: >"$COUNTS"
ROUNDS=$(((N + BATCH - 1) / BATCH))

# --- the link ---

# Before the busy-polling responder takes a CPU of its own.
bench_machine
bench_wait_quiet ||
	bench_log "NOT QUIET: CPUs ${QUIET_BUSY}% busy, $QUIET_FOREIGN foreign tracers running"
QUIET="cpu_busy_before=$QUIET_BUSY foreign_tracers=$QUIET_FOREIGN"

bench_netns_add "$NS"
resp_args=(--dev "$DEV" --v4 "$PEER" --mode open --delay-us "$DELAY_US"
	--timeout "$(bench_calc "600 + $ROUNDS * 4 * ($BATCH * $INTERVAL + 5)" %.0f)")
[[ -n ${RESPONDER_CPU:-} ]] && resp_args+=(--cpu "$RESPONDER_CPU")
if [[ -n ${RESPONDER_RT:-} && ${RESPONDER_RT:-0} != 0 ]]; then
	"$RESPONDER" --help 2>&1 | grep -q -- '--rt' ||
		bench_die "this tw-tun-responder has no --rt (RESPONDER_RT)"
	resp_args+=(--rt "$RESPONDER_RT")
fi
# ip netns exec execs the command: $! is the responder itself.
ip netns exec "$NS" "$RESPONDER" "${resp_args[@]}" >"$RESP_OUT" 2>"$W/responder.err" &
RESP_PID=$!
bench_track "$RESP_PID"
for ((i = 0; i < 100; i++)); do
	grep -q '^ready ' "$RESP_OUT" 2>/dev/null && break
	bench_alive "$RESP_PID" || {
		cat "$W/responder.err" >&2
		bench_die "tw-tun-responder exited during start-up"
	}
	sleep 0.1
done
grep -q '^ready ' "$RESP_OUT" || bench_die "tw-tun-responder not ready within 10 s"
ip -n "$NS" addr add "$LOCAL/24" dev "$DEV"
ip -n "$NS" link set "$DEV" up
ip -n "$NS" route get "$PEER" | grep -q "dev $DEV" ||
	bench_die "no route to $PEER through $DEV in $NS"

# held_count: SYN lines the responder printed so far.
held_count() {
	grep -cE '^(held|dropped) ' "$RESP_OUT" || true
}

# held_wait FROM WANT: wait (3 s at most) until FROM + WANT lines are
# there; prints the count reached.
held_wait() {
	local from=$1 want=$2 i n
	for ((i = 0; i < 30; i++)); do
		n=$(held_count)
		((n >= from + want)) && break
		sleep 0.1
	done
	printf '%s\n' "$n"
}

# held_segment FROM TO OUT: the responder's SYN lines FROM+1 .. TO.
held_segment() {
	grep -E '^(held|dropped) ' "$RESP_OUT" | sed -n "$(($1 + 1)),$2p" >"$3"
}

# --- the daemon ---

SOCK=$W/tcpwatchd.sock
bench_daemon_start "$SOCK" "$W/tcpwatchd.log" --reconcile-interval 1 \
	--probe-allow 198.18.0.0/15
# It follows /run/netns names at each reconcile: probe once until it does.
for ((i = 0; i < 150; i++)); do
	if out=$(timeout 30 "$TCPWATCH" -S "$SOCK" probe "$PEER:$PORT" -c 1 -w 1 \
		--netns "/run/netns/$NS" --json 2>&1); then
		break
	fi
	[[ $out == *"not a namespace tcpwatchd follows"* ]] ||
		bench_die "tcpwatch probe failed: $out"
	sleep 0.1
done
((i < 150)) || bench_die "tcpwatchd did not follow $NS within 15 s"

# --- the tools: run_TOOL ROUND COUNT OUT runs one batch ---

batch_timeout() {
	bench_calc "$1 * $INTERVAL + 15" %.0f
}

run_tcpwatch() {
	timeout "$(batch_timeout "$2")" "$TCPWATCH" -S "$SOCK" probe "$PEER:$PORT" -c "$2" \
		-i "$INTERVAL" -w 1 --netns "/run/netns/$NS" --json >"$3.json" 2>"$3.err" || true
	jq -r '.probes[] | [.seq, .sport, .state, (.rtt_us // -1)] | @tsv' "$3.json" \
		>"$3" 2>>"$3.err" || true
}

ref_base() {
	printf '%s\n' $((20000 + ($1 * BATCH) % 10000))
}

run_ref() {
	timeout "$(batch_timeout "$2")" ip netns exec "$NS" "$REF" -d "$PEER" -p "$PORT" \
		-c "$2" -i "$INTERVAL" -w 1 -s "$(ref_base "$1")" >"$3" 2>"$3.err" || true
}

hping_base() {
	printf '%s\n' $((40000 + ($1 * BATCH) % 10000))
}

run_hping3() {
	timeout "$(batch_timeout "$2")" ip netns exec "$NS" hping3 -S -p "$PORT" \
		-s "$(hping_base "$1")" -c "$2" -i "u$(bench_calc "$INTERVAL * 1000000" %.0f)" \
		"$PEER" >"$3" 2>"$3.err" || true
}

nping_port() {
	printf '%s\n' $((33000 + $1 % 1000))
}

run_nping() {
	timeout "$(batch_timeout "$2")" ip netns exec "$NS" nping --tcp -p "$PORT" --flags syn \
		-g "$(nping_port "$1")" -c "$2" --delay "$(bench_calc "$INTERVAL * 1000" %.0f)ms" \
		"$PEER" >"$3" 2>"$3.err" || true
}

# match TOOL ROUND COUNT SEGMENT OUT: matched records on stdout (appended
# to MATCHED by the caller), and one counts line.
match() {
	local tool=$1 round=$2 count=$3 seg=$4 out=$5
	awk -v tool="$tool" -v round="$round" -v count="$count" \
		-v hbase="$(hping_base "$round")" -v counts="$COUNTS" '
	function kv(s, k,   i, w, n) {
		n = split(s, w, " ")
		for (i = 1; i <= n; i++)
			if (index(w[i], k "=") == 1) return substr(w[i], length(k) + 2)
		return ""
	}
	FNR == NR {
		nh++
		hs[nh] = kv($0, "sport"); hq[nh] = kv($0, "seq")
		hn[nh] = kv($0, "ns"); hseen[nh] = kv($0, "seen_ns")
		next
	}
	# find(sport[, seq]): the first unused SYN line from sport (and seq).
	function find(sp, sq,   i) {
		for (i = 1; i <= nh; i++)
			if (!used[i] && hs[i] == sp && (sq == "" || hq[i] == sq)) {
				used[i] = 1
				return i
			}
		return 0
	}
	# a reply without an RTT (a kernel stamp missing) counts as lost
	function emit(seq, sp, state, rtt, i) {
		if (rtt < 0) {
			lost++
		} else if (i) {
			matched++
			printf "%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\n", tool, round, seq, sp, state, rtt,
				hn[i], hseen[i]
		} else {
			unmatched++
		}
	}
	tool == "tcpwatch" {
		sent++
		if ($3 != "open") { lost++; next }
		replied++
		emit($1, $2, $3, $4 * 1000, find($2, ""))
	}
	tool == "ref" && $1 == "probe" {
		sent++
		st = kv($0, "state")
		if (st != "open") { lost++; next }
		replied++
		emit(kv($0, "seq"), kv($0, "sport"), st, kv($0, "rtt_ns"),
			find(kv($0, "sport"), kv($0, "isn")))
	}
	tool == "hping3" && /flags=/ && /rtt=/ {
		k = kv($0, "seq")
		if (k in hseq) next # DUP!
		hseq[k] = 1
		replied++
		sp = (hbase + k) % 65536
		emit(k, sp, kv($0, "flags") == "SA" ? "open" : kv($0, "flags"),
			kv($0, "rtt") * 1e6, find(sp, ""))
	}
	tool == "nping" && ($1 == "SENT" || $1 == "RCVD") {
		t = $2; gsub(/[()s]/, "", t)
		if ($1 == "SENT") { ns_++; st_[ns_] = t; next }
		# the earliest SENT not answered yet: the responder answers in
		# the order the SYNs came (a constant delay)
		nr_++
		if (nr_ <= ns_) rc_[nr_] = t
		next
	}
	END {
		if (tool == "hping3") { sent = count; lost += count - replied }
		if (tool == "nping") {
			sent = ns_
			for (k = 1; k <= ns_; k++) replied += (k in rc_)
			lost += sent - replied
			if (nh != ns_ || nr_ != ns_) {
				unmatched = replied # by order only when all the counts agree
			} else {
				for (k = 1; k <= ns_; k++)
					if (k in rc_) {
						used[k] = 1
						emit(k - 1, hs[k], "open", (rc_[k] - st_[k]) * 1e9, k)
					}
			}
		}
		if (sent < count) { lost += count - sent; sent = count } # a run that failed
		printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", tool, round, sent, replied, matched,
			unmatched, lost, nh >> counts
	}' "$seg" "$out"
}

# batch TOOL ROUND COUNT: one batch, matched. ROUND 0 is the warm-up
# (not counted).
batch() {
	local tool=$1 round=$2 count=$3 out=$W/$1.$2 n0 n1
	n0=$(held_count)
	"run_$tool" "$round" "$count" "$out"
	n1=$(held_wait "$n0" "$count")
	held_segment "$n0" "$n1" "$out.held"
	if ((round > 0)); then
		match "$tool" "$round" "$count" "$out.held" "$out" >>"$MATCHED"
	else
		match "$tool" "$round" "$count" "$out.held" "$out" >/dev/null
	fi
}

printf 'probe-rtt: %s probes per tool in %s rounds of %s, %s s apart; link %s us (tw-tun-responder in %s); tools: %s; seen_max=%s us; %s\n' \
	"$N" "$ROUNDS" "$BATCH" "$INTERVAL" "$DELAY_US" "$NS" "${ACTIVE[*]}" "$SEEN_MAX_US" "$QUIET"

if ((WARMUP > 0)); then
	for tool in "${ACTIVE[@]}"; do
		batch "$tool" 0 "$WARMUP"
	done
	awk -F'\t' '$2 == 0 && ($4 < $3 || $5 < $4) {
		printf "# warm-up: %s sent %d, %d answered, %d matched\n", $1, $3, $4, $5 > "/dev/stderr"
	}' "$COUNTS"
fi

left=$N
for ((round = 1; round <= ROUNDS; round++)); do
	count=$((left < BATCH ? left : BATCH))
	for ((k = 0; k < ${#ACTIVE[@]}; k++)); do
		tool=${ACTIVE[$(((k + round - 1) % ${#ACTIVE[@]}))]}
		batch "$tool" "$round" "$count"
	done
	left=$((left - count))
	printf 'round %s/%s done (%s probes per tool)\n' "$round" "$ROUNDS" "$count"
done

# --- figures ---

# stats TOOL [SEEN_MAX_US]: "sent matched lost unmatched uncertain counted
# min median p99 max outliers" (errors in us).
stats() {
	local tool=$1 seen=${2:-$SEEN_MAX_US} sent lost unmatched
	read -r sent lost unmatched < <(awk -F'\t' -v t="$tool" '$1 == t && $2 > 0 {
			s += $3; l += $7; u += $6 } END { print s + 0, l + 0, u + 0 }' "$COUNTS")
	awk -F'\t' -v t="$tool" -v seen_max="$seen" '$1 == t && $6 >= 0 {
			matched++
			if (seen_max > 0 && $8 > seen_max * 1000) { uncertain++; next }
			print ($6 - $7) / 1000
		} END { printf "%d %d\n", matched, uncertain > "/dev/stderr" }' "$MATCHED" \
		2>"$W/stats.$tool.head" | sort -g >"$W/errors.$tool"
	read -r matched uncertain <"$W/stats.$tool.head"
	awk -v sent="$sent" -v lost="$lost" -v unm="$unmatched" -v matched="$matched" \
		-v unc="$uncertain" '{ v[NR] = $1; if ($1 > 1000 || $1 < -1000) out++ }
		END {
			n = NR
			if (n == 0) { print sent, matched, lost, unm, unc, 0, "nan nan nan nan", 0; exit }
			p = int(0.99 * n); if (p < 0.99 * n) p++
			med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%d %d %d %d %d %d %.3f %.3f %.3f %.3f %d\n", sent, matched, lost, unm,
				unc, n, v[1], med, v[p], v[n], out
		}' "$W/errors.$tool"
}

echo
printf '%-9s %6s %7s %5s %9s %9s %7s %10s %10s %10s %10s %8s\n' tool sent matched lost \
	unmatched uncertain counted min_us median_us p99_us max_us outliers
declare -A MED MAX OUT LOST CNT
for tool in "${ACTIVE[@]}"; do
	read -r sent matched lost unm unc n mn med p99 mx out < <(stats "$tool")
	printf '%-9s %6s %7s %5s %9s %9s %7s %10s %10s %10s %10s %8s\n' "$tool" "$sent" \
		"$matched" "$lost" "$unm" "$unc" "$n" "$mn" "$med" "$p99" "$mx" "$out"
	printf 'result tool=%s sent=%s matched=%s lost=%s unmatched=%s uncertain=%s counted=%s min_us=%s median_us=%s p99_us=%s max_us=%s outliers=%s\n' \
		"$tool" "$sent" "$matched" "$lost" "$unm" "$unc" "$n" "$mn" "$med" "$p99" "$mx" \
		"$out" >>"$W/summary"
	MED[$tool]=$med MAX[$tool]=$mx OUT[$tool]=$out LOST[$tool]=$((lost + unm)) CNT[$tool]=$n
done

if [[ $SEEN_MAX_US != 0 ]]; then
	echo
	echo "the same, every matched probe counted (uncertain arrivals too):"
	for tool in "${ACTIVE[@]}"; do
		read -r sent matched lost unm unc n mn med p99 mx out < <(stats "$tool" 0)
		printf '%-9s %6s %7s %5s %9s %9s %7s %10s %10s %10s %10s %8s\n' "$tool" "$sent" \
			"$matched" "$lost" "$unm" - "$n" "$mn" "$med" "$p99" "$mx" "$out"
		printf 'result all_probes tool=%s counted=%s median_us=%s p99_us=%s max_us=%s outliers=%s\n' \
			"$tool" "$n" "$med" "$p99" "$mx" "$out" >>"$W/summary"
	done
fi

echo
printf 'against tw-probe-ref (median %s us, max %s us):\n' "${MED[ref]}" "${MAX[ref]}"
printf '%-9s %16s %13s %14s\n' tool median_diff_us max_diff_us median_ratio
for tool in "${ACTIVE[@]}"; do
	[[ $tool == ref ]] && continue
	if [[ ${MED[$tool]} == nan || ${MED[ref]} == nan ]]; then
		printf '%-9s %16s %13s %14s\n' "$tool" nan nan nan
		continue
	fi
	md=$(bench_calc "${MED[$tool]} - ${MED[ref]}" %+.3f)
	xd=$(bench_calc "${MAX[$tool]} - ${MAX[ref]}" %+.3f)
	mr=$(bench_calc "(${MED[ref]} != 0 ? ${MED[$tool]} / ${MED[ref]} : 0)" %.3f)
	printf '%-9s %16s %13s %14s\n' "$tool" "$md" "$xd" "$mr"
	printf 'result peer=%s vs=ref median_diff_us=%s max_diff_us=%s median_ratio=%s\n' \
		"$tool" "$md" "$xd" "$mr" >>"$W/summary"
done

if [[ " ${ACTIVE[*]} " == *" tcpwatch "* ]]; then
	echo
	if [[ ${MED[tcpwatch]} == nan || ${MED[ref]} == nan ]]; then
		verdict="NOT MET (no tcpwatch or reference probe counted)"
	else
		ok_med=$(awk -v a="${MED[tcpwatch]}" -v b="${MED[ref]}" \
			'BEGIN { d = a - b; print (d <= 5 && d >= -5 ? "met" : "NOT met") }')
		ok_max=$(awk -v a="${MAX[tcpwatch]}" -v b="${MAX[ref]}" \
			'BEGIN { print (a - b <= 50 ? "met" : "NOT met") }')
		ok_out=$([[ ${OUT[tcpwatch]} == 0 ]] && echo met || echo "NOT met")
		ok_lost=$([[ ${LOST[tcpwatch]} == 0 ]] && echo met || echo "NOT met")
		printf 'target: median within 5 us of the reference: %s (%s vs %s)\n' "$ok_med" \
			"${MED[tcpwatch]}" "${MED[ref]}"
		printf 'target: max within 50 us of the reference:   %s (%s vs %s)\n' "$ok_max" \
			"${MAX[tcpwatch]}" "${MAX[ref]}"
		printf 'target: no outlier (|error| > 1 ms):         %s (%s)\n' "$ok_out" \
			"${OUT[tcpwatch]}"
		printf 'target: none lost or unmatched:               %s (%s)\n' "$ok_lost" \
			"${LOST[tcpwatch]}"
		verdict=met
		for v in "$ok_med" "$ok_max" "$ok_out" "$ok_lost"; do
			[[ $v == met ]] || verdict="NOT met"
		done
	fi
	printf 'result target=%s tcpwatch_median_us=%s ref_median_us=%s tcpwatch_max_us=%s ref_max_us=%s outliers=%s counted=%s\n' \
		"${verdict// /_}" "${MED[tcpwatch]}" "${MED[ref]}" "${MAX[tcpwatch]}" "${MAX[ref]}" \
		"${OUT[tcpwatch]}" "${CNT[tcpwatch]}" >>"$W/summary"
fi
printf 'probe stats: %s\n' "$(bench_stats "$SOCK" | jq -c '{probe_sent, probe_received,
	probe_lost, probe_no_tx_stamp, probe_no_rx_stamp, probe_bad_clock, probe_duplicates,
	probe_send_errors, events_lost}')"
echo
cat "$W/summary"
