#!/usr/bin/env bash
# Soak (issue 14): DURATION seconds (default 600) of loopback churn at
# RATIO (default 0.9) of the untraced peak rate, with tcpwatchd tracing.
# First PEAK_S seconds of untraced churn measure the peak (tw-churn, WORKERS
# processes, no pause); the soak then paces each worker (-i) to RATIO of it.
# Every SAMPLE_S seconds it prints the daemon's VmRSS, its table's
# connections (live, retained), events received and lost; at the end:
#   result rss_min/max over the second half, its growth there (flat once
#   the retention is full), the configured bounds, events lost, the rates.
# Environment: BUILD, DURATION, RATIO, PEAK_S (10), WORKERS (2),
# SAMPLE_S (30), RETAIN (the retain-count, default 10000), KEEP=1.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-600}
RATIO=${RATIO:-0.9}
PEAK_S=${PEAK_S:-10}
WORKERS=${WORKERS:-2}
SAMPLE_S=${SAMPLE_S:-30}
RETAIN=${RETAIN:-10000}

bench_init soak
bench_have_daemon || bench_die "tcpwatchd not built in $BIN"
[[ -x $BIN/tw-churn ]] || bench_die "$BIN/tw-churn not built"
SOCK=$BENCH_WORK/tcpwatchd.sock

bench_machine
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"

# The peak, untraced.
peak_line=$("$BIN/tw-churn" -c "$WORKERS" -d "$PEAK_S")
peak=$(bench_field "$peak_line" rate)
printf 'untraced peak: %s\n' "$peak_line"
# Each worker's connection takes WORKERS/peak s; paced to RATIO of the peak
# it waits that times (1/RATIO - 1) between connections.
pause_us=$(bench_calc "$WORKERS * 1000000 / $peak * (1 / $RATIO - 1)" %.0f)
# A sleep that short lasts the timer slack (about 55 us here), far longer
# than asked: below 100 us the churn runs flat out instead, which traced is
# about 0.9x the peak already (BENCHMARKS.md section 1).
if ((pause_us < 100)); then
	pause_us=0
fi
printf 'pacing: %s us between connections per worker (target %s x %s conn/s)\n' \
	"$pause_us" "$RATIO" "$peak"
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"

bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log" --retain-count "$RETAIN"
"$BIN/tw-churn" -c "$WORKERS" -d "$DURATION" -i "$pause_us" >"$BENCH_WORK/churn.out" &
CHURN_PID=$!
bench_track "$CHURN_PID"

start=$(bench_now)
declare -a rss_half=()
while bench_alive "$CHURN_PID"; do
	bench_sleep "$SAMPLE_S"
	json=$(bench_stats "$SOCK")
	rss=$(bench_rss_bytes "$DAEMON_PID")
	t=$(bench_calc "$(bench_now) - $start" %.0f)
	printf 't=%4ss vmrss=%s live=%s retained=%s received=%s lost=%s\n' "$t" "$rss" \
		"$(jq -r .connections_live <<<"$json")" "$(jq -r .connections_retained <<<"$json")" \
		"$(jq -r .events_received <<<"$json")" "$(jq -r .events_lost <<<"$json")"
	if (($(bench_calc "($t > $DURATION / 2 ? 1 : 0)" %.0f))); then
		rss_half+=("$rss")
	fi
done
wait "$CHURN_PID" || true
churn_line=$(cat "$BENCH_WORK/churn.out")
json=$(bench_stats "$SOCK")
printf 'traced churn: %s\n' "$churn_line"
min=$(printf '%s\n' "${rss_half[@]}" | sort -n | head -1)
max=$(printf '%s\n' "${rss_half[@]}" | sort -n | tail -1)
echo
printf 'result duration=%ss ratio_target=%s rate=%s peak=%s ratio=%s\n' "$DURATION" "$RATIO" \
	"$(bench_field "$churn_line" rate)" "$peak" \
	"$(bench_calc "$(bench_field "$churn_line" rate) / $peak" %.3f)"
printf 'result events_received=%s events_lost=%s events_loss="%s"\n' \
	"$(jq -r .events_received <<<"$json")" "$(jq -r .events_lost <<<"$json")" \
	"$(jq -r .events_loss <<<"$json")"
printf 'result rss_second_half_min=%s max=%s growth=%s bytes (retain-count %s, max-connections %s)\n' \
	"$min" "$max" "$((max - min))" "$RETAIN" "$(jq -r '.max_connections // "default"' <<<"$json")"
