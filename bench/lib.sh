# shellcheck shell=bash
# Shared helpers for bench/run-*.sh; sourced, not run.
#
# Every process a script starts is registered with bench_track and is
# stopped by the EXIT trap (TERM, then KILL after a bounded wait), the work
# directory is removed (unless KEEP=1), and tracefs is unmounted again if
# bench_need_tracefs mounted it.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$BENCH_ROOT/$BUILD ;;
esac
BIN=$BUILD/bin
TCPWATCHD=$BIN/tcpwatchd
TCPWATCH=$BIN/tcpwatch

BENCH_PIDS=()
BENCH_WORK=
BENCH_TRACEFS_MOUNTED=
BENCH_NETNS=()
BENCH_APT_UPDATED=

bench_log() {
	printf '# %s\n' "$*" >&2
}

bench_die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Seconds since the epoch with nanoseconds, as a decimal string.
bench_now() {
	local ns
	ns=$(date +%s%N)
	printf '%s.%s\n' "${ns:0:-9}" "${ns: -9}"
}

bench_track() {
	BENCH_PIDS+=("$1")
}

bench_alive() {
	kill -0 "$1" 2>/dev/null
}

# bench_stop PID [SIGNAL] [TIMEOUT_S]: signal PID, wait for it up to
# TIMEOUT_S (default 20), then SIGKILL.  Returns 0 whatever the exit status.
bench_stop() {
	local pid=$1 sig=${2:-TERM} timeout=${3:-20} i
	bench_alive "$pid" || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	kill -s "$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		bench_alive "$pid" || break
		sleep 0.1
	done
	if bench_alive "$pid"; then
		bench_log "pid $pid ignored SIG$sig for ${timeout}s, killing"
		kill -s KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local pid ns
	trap - EXIT INT TERM
	for pid in "${BENCH_PIDS[@]}"; do
		bench_stop "$pid" TERM 20
	done
	for ns in "${BENCH_NETNS[@]}"; do
		bench_netns_del "$ns"
	done
	if [[ -n $BENCH_TRACEFS_MOUNTED ]]; then
		umount /sys/kernel/tracing 2>/dev/null || true
	fi
	if [[ -n $BENCH_WORK && -d $BENCH_WORK ]]; then
		if [[ ${KEEP:-0} == 1 ]]; then
			bench_log "kept work directory $BENCH_WORK"
		else
			rm -rf -- "$BENCH_WORK"
		fi
	fi
}

# bench_init NAME: root check, work directory, traps.
bench_init() {
	[[ $(id -u) == 0 ]] || bench_die "run as root (BPF and sock_diag need it)"
	command -v jq >/dev/null || bench_die "jq is needed (apt-get install -y jq)"
	BENCH_WORK=$(mktemp -d "/tmp/tw-bench-$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_have_daemon() {
	[[ -x $TCPWATCHD && -x $TCPWATCH ]]
}

# Classic tracepoints (tcpstates) need tracefs; mount it for this run only.
bench_need_tracefs() {
	[[ -d /sys/kernel/tracing/events ]] && return 0
	mount -t tracefs nodev /sys/kernel/tracing ||
		bench_die "cannot mount tracefs on /sys/kernel/tracing"
	BENCH_TRACEFS_MOUNTED=1
}

# bench_netns_add NAME: a network namespace of our own (lo up), deleted by
# the EXIT trap. NAME must not exist yet.
bench_netns_add() {
	ip netns add "$1" || bench_die "cannot create network namespace $1"
	BENCH_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# bench_netns_del NAME: stop what still runs inside our namespace NAME
# (only this script's children can be there), then delete it.
bench_netns_del() {
	local pids i sig=TERM
	[[ -e /run/netns/$1 ]] || return 0
	for ((i = 0; i < 50; i++)); do
		mapfile -t pids < <(ip netns pids "$1" 2>/dev/null || true)
		((${#pids[@]} == 0)) && break
		((i >= 20)) && sig=KILL
		kill -s "$sig" "${pids[@]}" 2>/dev/null || true
		sleep 0.1
	done
	ip netns del "$1" 2>/dev/null || bench_log "could not delete network namespace $1"
}

# bench_need_cmd COMMAND PACKAGE: install the Debian PACKAGE (apt-get
# update once per run first) if COMMAND is not there; 1 if it still is not.
bench_need_cmd() {
	command -v "$1" >/dev/null && return 0
	bench_log "$1 not found: apt-get install $2"
	export DEBIAN_FRONTEND=noninteractive
	if [[ -z $BENCH_APT_UPDATED ]]; then
		apt-get update -q >&2 || true
		BENCH_APT_UPDATED=1
	fi
	apt-get install -y -q --no-install-recommends "$2" >&2 || true
	command -v "$1" >/dev/null
}

# bench_stats SOCK: the daemon's stats JSON on stdout (bounded in time:
# a daemon that stops answering must not hang the benchmark).
bench_stats() {
	timeout "${CLI_TIMEOUT:-30}" "$TCPWATCH" --socket "$1" stats --json
}

# bench_stat SOCK FIELD: one numeric field of the stats (0 if absent).
bench_stat() {
	bench_stats "$1" | jq -r --arg f "$2" '.[$f] // 0'
}

# bench_daemon_start SOCK LOG [ARG...]: start tcpwatchd (with the extra
# ARGs, if any), wait until it answers (at most DAEMON_START_TIMEOUT s);
# sets DAEMON_PID.
bench_daemon_start() {
	local sock=$1 log=$2 i
	shift 2
	rm -f -- "$sock"
	# --state-dir none: no run restores the last one's table.
	"$TCPWATCHD" --socket "$sock" --listen none --foreground --state-dir none "$@" >"$log" 2>&1 &
	DAEMON_PID=$!
	bench_track "$DAEMON_PID"
	for ((i = 0; i < ${DAEMON_START_TIMEOUT:-30} * 10; i++)); do
		if ! bench_alive "$DAEMON_PID"; then
			tail -n 20 "$log" >&2 || true
			bench_die "tcpwatchd exited during start-up (log above)"
		fi
		if bench_stats "$sock" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$log" >&2 || true
	bench_die "tcpwatchd did not answer stats within ${DAEMON_START_TIMEOUT:-30}s"
}

# bench_wait_stat SOCK FIELD MIN TIMEOUT_S: wait until FIELD >= MIN.
bench_wait_stat() {
	local sock=$1 field=$2 min=$3 timeout=$4 i value=0
	for ((i = 0; i < timeout * 2; i++)); do
		value=$(bench_stat "$sock" "$field" 2>/dev/null || echo 0)
		if [[ $value =~ ^[0-9]+$ ]] && ((value >= min)); then
			return 0
		fi
		sleep 0.5
	done
	bench_log "$field=$value after ${timeout}s, wanted >= $min"
	return 1
}

# bench_wait_settled SOCK FIELD TIMEOUT_S: wait until FIELD stops moving
# (same value on two reads 0.5 s apart), at most TIMEOUT_S.
bench_wait_settled() {
	local sock=$1 field=$2 timeout=$3 i last=-1 value
	for ((i = 0; i < timeout * 2; i++)); do
		value=$(bench_stat "$sock" "$field")
		[[ $value == "$last" ]] && return 0
		last=$value
		sleep 0.5
	done
	return 0
}

# bench_hold_start SOCKETS OUT: start tw-hold, wait for its ready line (at
# most HOLD_START_TIMEOUT s); sets HOLD_PID.
bench_hold_start() {
	local sockets=$1 out=$2 i
	"$BIN/tw-hold" -n "$sockets" -t "${HOLD_TIMEOUT:-1800}" >"$out" 2>&1 &
	HOLD_PID=$!
	bench_track "$HOLD_PID"
	for ((i = 0; i < ${HOLD_START_TIMEOUT:-300} * 10; i++)); do
		grep -q '^ready ' "$out" && return 0
		bench_alive "$HOLD_PID" || {
			cat "$out" >&2
			bench_die "tw-hold exited before it was ready"
		}
		sleep 0.1
	done
	bench_die "tw-hold not ready within ${HOLD_START_TIMEOUT:-300}s"
}

# bench_field LINE KEY: value of KEY=VALUE in a line of such pairs.
bench_field() {
	local word
	for word in $1; do
		if [[ $word == "$2="* ]]; then
			printf '%s\n' "${word#*=}"
			return 0
		fi
	done
	return 1
}

# bench_median NUMBER...: the median (mean of the middle two if even).
bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "nan"; exit }
			if (NR % 2) print v[(NR + 1) / 2]
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# bench_calc EXPRESSION [FORMAT]: floating-point arithmetic through awk,
# printed with FORMAT (default %.3f). Parenthesize a comparison
# ("($a > 0 ? $b / $a : 0)"): a bare > would be printf's redirection to a
# file.
bench_calc() {
	awk -v fmt="${2:-%.3f}" "BEGIN { printf fmt \"\\n\", $1 }"
}

# bench_sleep SECONDS: sleep, but let a signal's trap run at once (bash
# runs traps only once a foreground command has ended; wait returns early).
bench_sleep() {
	sleep "$1" &
	wait $! || true
}

# bench_cpu_ticks PID: user + system clock ticks used so far.
bench_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# bench_rss_bytes PID: VmRSS in bytes.
bench_rss_bytes() {
	awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# bench_cpu_busy: percent of all CPUs busy over the next second.
bench_cpu_busy() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		busy = y[1] - x[1]; idle = y[2] - x[2]
		printf "%.0f\n", (busy + idle) ? 100 * busy / (busy + idle) : 0
	}'
}

# bench_foreign_tracers: how many tcpwatchd or tcpstates processes run
# that this script did not start.  Their BPF programs fire on our churn too,
# so with one running "untraced" is not untraced.
bench_foreign_tracers() {
	local pid mine n=0
	# (procps warns about -x patterns longer than 15 characters, so one
	# pgrep per name.)
	for pid in $(pgrep -x tcpwatchd || true) $(pgrep -x tcpstates || true); do
		for mine in "${BENCH_PIDS[@]}"; do
			[[ $pid == "$mine" ]] && continue 2
		done
		n=$((n + 1))
	done
	printf '%s\n' "$n"
}

# bench_wait_quiet: wait (at most QUIET_TIMEOUT s, default 120) until the
# CPUs are less than BUSY_LIMIT percent (default 10) busy and no foreign
# tracer runs; sets QUIET_BUSY and QUIET_FOREIGN from the last reading and
# returns 1 if the machine never became quiet.  (It runs in this shell, not
# a subshell, so that the EXIT trap never leaves it behind.)  Other work on
# a 2-core machine otherwise decides the figures.
bench_wait_quiet() {
	local i
	for ((i = 0; i < ${QUIET_TIMEOUT:-120}; i++)); do
		QUIET_BUSY=$(bench_cpu_busy)
		QUIET_FOREIGN=$(bench_foreign_tracers)
		((QUIET_BUSY <= ${BUSY_LIMIT:-10} && QUIET_FOREIGN == 0)) && return 0
		((i == 0)) && bench_log "waiting for a quiet machine" \
			"(${QUIET_BUSY}% busy, $QUIET_FOREIGN foreign tracer processes)"
	done
	return 1
}

# The machine, and whether something else is using it: a benchmark on a
# busy 2-core machine measures the other load.
bench_machine() {
	local busy
	busy=$(bench_cpu_busy)
	printf 'date=%s host=%s kernel=%s cpus=%s loadavg=%s cpu_busy_before=%s%%\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(hostname)" "$(uname -r)" \
		"$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" "$busy"
	if ((busy > ${BUSY_LIMIT:-10})); then
		bench_log "warning: CPUs were ${busy}% busy before the benchmark;" \
			"figures will be low and noisy"
		ps -eo pid,pcpu,comm --sort=-pcpu | sed -n '2,6p' | sed 's/^/#   /' >&2
	fi
}

# bench_wait_timewait BELOW TIMEOUT_S: wait until fewer than BELOW
# TIME_WAIT sockets remain (they last 60 s; earlier churn leaves up to
# net.ipv4.tcp_max_tw_buckets of them, which would pad every listing).
bench_wait_timewait() {
	local below=$1 timeout=$2 i count
	for ((i = 0; i < timeout; i++)); do
		count=$(ss -tanH state time-wait | wc -l)
		((count < below)) && return 0
		((i == 0)) && bench_log "waiting for $count TIME_WAIT sockets to expire"
		sleep 1
	done
	bench_log "still $count TIME_WAIT sockets after ${timeout}s; going on"
}

# bench_rounds ROUNDS COND...: ROUNDS rounds of the conditions, their order
# rotated every round, each run after the machine is quiet (or logged as
# not): calls run_COND ROUND with QUIET set, and after_round ROUND if the
# script defines it.
bench_rounds() {
	local rounds=$1 round k cond
	shift
	local conds=("$@")
	for ((round = 1; round <= rounds; round++)); do
		for ((k = 0; k < ${#conds[@]}; k++)); do
			cond=${conds[$(((k + round - 1) % ${#conds[@]}))]}
			bench_wait_quiet ||
				bench_log "round $round $cond: NOT QUIET: CPUs ${QUIET_BUSY}% busy," \
					"$QUIET_FOREIGN foreign tracers running"
			# shellcheck disable=SC2034 # read by the scripts' run_ functions
			QUIET="cpu_busy_before=$QUIET_BUSY foreign_tracers=$QUIET_FOREIGN"
			"run_$cond" "$round"
		done
		if declare -F after_round >/dev/null; then
			after_round "$round"
		fi
	done
}
