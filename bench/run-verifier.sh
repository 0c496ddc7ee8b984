#!/usr/bin/env bash
# The verifier's time for the tracing programs (bpf/tcpwatch.bpf.c), this
# build's object against the object of an older revision compiled the same
# way (BASE_REV, default HEAD~1), loaded alternately RUNS times each with
# the kernel's log level 4 (tw-verifier-time, bench/verifier_time.c). The
# verifier is most of the daemon's start-up. Prints:
#   result this_ms=M base_ms=B ratio=M/B
# Environment: BUILD (default build), BASE_REV (HEAD~1), RUNS (5). Root.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_REV=${BASE_REV:-HEAD~1}
RUNS=${RUNS:-5}
bench_init verifier
TOOL=$BIN/tw-verifier-time
OBJ=$BUILD/bpf/tcpwatch.bpf.o
[[ -x $TOOL ]] || bench_die "$TOOL not built (cmake --build $BUILD)"
[[ -f $OBJ ]] || bench_die "$OBJ not built"

# The older object: its source at BASE_REV, this build's vmlinux.h.
mkdir -p "$BENCH_WORK/base"
git -C "$BENCH_ROOT" show "$BASE_REV:bpf/tcpwatch.bpf.c" >"$BENCH_WORK/base/tcpwatch.bpf.c"
git -C "$BENCH_ROOT" show "$BASE_REV:bpf/tcpwatch.h" >"$BENCH_WORK/base/tcpwatch.h"
arch=$(uname -m)
case $arch in
x86_64) arch=x86 ;;
aarch64) arch=arm64 ;;
esac
clang -g -O2 -target bpf "-D__TARGET_ARCH_$arch" -I"$BUILD/bpf" -I"$BENCH_WORK/base" \
	-c "$BENCH_WORK/base/tcpwatch.bpf.c" -o "$BENCH_WORK/base/tcpwatch.bpf.o"

bench_machine
this=() base=()
for ((i = 1; i <= RUNS; i++)); do
	t=$("$TOOL" "$OBJ" 1 | sed -n 's/.*verification_ms_median=//p')
	b=$("$TOOL" "$BENCH_WORK/base/tcpwatch.bpf.o" 1 | sed -n 's/.*verification_ms_median=//p')
	printf 'run %d this build: %s ms  base (%s): %s ms\n' "$i" "$t" "$BASE_REV" "$b"
	this+=("$t")
	base+=("$b")
done
tm=$(bench_median "${this[@]}")
bm=$(bench_median "${base[@]}")
printf 'result this_ms=%s base_ms=%s ratio=%s\n' "$tm" "$bm" "$(bench_calc "$tm / $bm")"
