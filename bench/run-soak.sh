#!/usr/bin/env bash
# Soak (issue 14): DURATION seconds (default 600) of loopback churn at
# RATIO (default 0.9) of the untraced peak rate, with tcpwatchd tracing.
# First PEAK_S seconds of untraced churn measure the peak (tw-churn, WORKERS
# processes, no pause), then PEAK_S more with a daemon tracing; the soak
# runs at RATIO of the untraced peak (tw-churn -r), or of the traced one
# where the traced host cannot reach that.
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

# The peaks: untraced, then traced (a daemon of its own, stopped after).
peak_line=$("$BIN/tw-churn" -c "$WORKERS" -d "$PEAK_S")
peak=$(bench_field "$peak_line" rate)
printf 'untraced peak: %s\n' "$peak_line"
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"
bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd-peak.log"
tpeak_line=$("$BIN/tw-churn" -c "$WORKERS" -d "$PEAK_S")
tpeak=$(bench_field "$tpeak_line" rate)
bench_stop "$DAEMON_PID" INT
printf 'traced peak:   %s (%s x untraced)\n' "$tpeak_line" "$(bench_calc "$tpeak / $peak" %.3f)"
# The soak's rate: RATIO of the untraced peak, tw-churn -r (each worker on
# a schedule). Where the traced host cannot carry that (its own peak is
# under it), RATIO of the traced peak instead: a load the host carries
# with headroom, which a rate it cannot reach would not be.
target=$(bench_calc "$RATIO * $peak" %.0f)
pace_of=untraced
if (($(bench_calc "($target > $tpeak ? 1 : 0)" %.0f))); then
	target=$(bench_calc "$RATIO * $tpeak" %.0f)
	pace_of=traced
fi
printf 'pacing: %s conn/s (%s x the %s peak)\n' "$target" "$RATIO" "$pace_of"
bench_wait_timewait 5000 "${TIMEWAIT_TIMEOUT:-70}"

bench_daemon_start "$SOCK" "$BENCH_WORK/tcpwatchd.log" --retain-count "$RETAIN"
"$BIN/tw-churn" -c "$WORKERS" -d "$DURATION" -r "$target" >"$BENCH_WORK/churn.out" &
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
printf 'result duration=%ss ratio_target=%s of=%s rate=%s peak=%s traced_peak=%s ratio=%s traced_ratio=%s\n' \
	"$DURATION" "$RATIO" "$pace_of" "$(bench_field "$churn_line" rate)" "$peak" "$tpeak" \
	"$(bench_calc "$(bench_field "$churn_line" rate) / $peak" %.3f)" \
	"$(bench_calc "$(bench_field "$churn_line" rate) / $tpeak" %.3f)"
printf 'result events_received=%s events_lost=%s events_loss="%s"\n' \
	"$(jq -r .events_received <<<"$json")" "$(jq -r .events_lost <<<"$json")" \
	"$(jq -r .events_loss <<<"$json")"
printf 'result rss_second_half_min=%s max=%s growth=%s bytes (retain-count %s, max-connections %s)\n' \
	"$min" "$max" "$((max - min))" "$RETAIN" "$(jq -r '.max_connections // "default"' <<<"$json")"
