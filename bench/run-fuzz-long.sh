#!/usr/bin/env bash
# The fuzz targets (tests/fuzz/) for 10 million executions each: what
# BENCHMARKS.md section 8 records. Builds the targets in $BUILD (configuring
# it if needed; the binaries are $BUILD/fuzz/fuzz_NAME, the ones ctest
# runs), then runs them one at a time, each as
#
#   fuzz_NAME -runs=$RUNS -max_total_time=$MAX_TIME -jobs=1 -workers=1
#             -timeout=$TIMEOUT -artifact_prefix=tests/fuzz/crashes/NAME/
#             -print_final_stats=1 WORK/corpus_NAME tests/fuzz/corpus/NAME
#
# starting from the committed seed corpus (read only: new inputs go to the
# work corpus). Prints one line per target:
#
#   result target=NAME runs=N seconds=S exec_per_s=R crashes=C seed=K new=M corpus=F
#
# runs, seconds and exec_per_s from libFuzzer's final statistics (runs <
# RUNS means MAX_TIME stopped it first); crashes: the reproducers
# (crash-, leak-, timeout-, oom-) it wrote to tests/fuzz/crashes/NAME/,
# 0 expected; seed: the seed corpus's inputs; new: the inputs it added;
# corpus: libFuzzer's final corpus size (inputs). A crash's log is kept in
# WORK; minimise a reproducer with
#   $BUILD/fuzz/fuzz_NAME -minimize_crash=1 -runs=100000 tests/fuzz/crashes/NAME/crash-...
# and add the minimised file to tests/fuzz/corpus/NAME so ctest replays it.
#
# No root needed. Environment: BUILD (default build), TARGETS (default all
# of them), RUNS (10000000), MAX_TIME (600 seconds: the cap for a target too
# slow for RUNS), TIMEOUT (25: seconds one input may take), SEED (1),
# WORK (default $BUILD/fuzz/long), MERGE=1 merges the new inputs into
# tests/fuzz/corpus/NAME afterwards (-merge=1: only those that add coverage).
# Exits 1 if any target crashed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
ALL="ssfilter query http config diag events probe cli_json state"
TARGETS=${TARGETS:-$ALL}
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-600}
TIMEOUT=${TIMEOUT:-25}
SEED=${SEED:-1}
WORK=${WORK:-$BUILD/fuzz/long}
MERGE=${MERGE:-0}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# One figure of libFuzzer's -print_final_stats lines: stat NAME LOG.
stat_of() {
	sed -n "s/^stat::$1: *\\([0-9]*\\).*/\\1/p" "$2" | tail -n 1
}

count_files() {
	find "$1" -maxdepth 1 -type f ! -name .gitkeep | wc -l
}

[[ -f $BUILD/CMakeCache.txt ]] || cmake -S "$ROOT" -B "$BUILD"
targets=()
for t in $TARGETS; do
	targets+=("fuzz_$t")
done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}"

failed=0
mkdir -p "$WORK"
for t in $TARGETS; do
	bin=$BUILD/fuzz/fuzz_$t
	seed=$ROOT/tests/fuzz/corpus/$t
	crashes=$ROOT/tests/fuzz/crashes/$t
	corpus=$WORK/corpus_$t
	[[ -x $bin ]] || die "$bin not built"
	[[ -d $seed ]] || die "no seed corpus $seed"
	mkdir -p "$crashes" "$corpus"
	before=$(count_files "$crashes")
	seed_n=$(count_files "$seed")
	corpus_before=$(count_files "$corpus")
	printf '# fuzz_%s: up to %s runs or %s s, seed corpus %s inputs\n' \
		"$t" "$RUNS" "$MAX_TIME" "$seed_n" >&2
	# -jobs=1 runs the fuzzer in a child whose output is fuzz-0.log in
	# the working directory: one directory per target.
	rm -rf "${WORK:?}/$t"
	mkdir -p "$WORK/$t"
	start=$(date +%s)
	rc=0
	(cd "$WORK/$t" && "$bin" -runs="$RUNS" -max_total_time="$MAX_TIME" -jobs=1 -workers=1 \
		-timeout="$TIMEOUT" -seed="$SEED" -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$corpus" "$seed") >"$WORK/$t/parent.log" 2>&1 || rc=$?
	end=$(date +%s)
	log=$WORK/$t/fuzz-0.log
	[[ -f $log ]] || log=$WORK/$t/parent.log
	runs=$(stat_of number_of_executed_units "$log")
	rate=$(stat_of average_exec_per_sec "$log")
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	final=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || true)
	after=$(count_files "$crashes")
	new=$(($(count_files "$corpus") - corpus_before))
	found=$((after - before))
	if ((rc != 0 || found > 0)); then
		failed=1
		printf '# fuzz_%s: exit %s, log kept in %s\n' "$t" "$rc" "$WORK/$t" >&2
		grep -m 3 -E '^==[0-9]+==ERROR|^SUMMARY|runtime error' "$log" >&2 || true
	fi
	printf 'result target=%s runs=%s seconds=%s exec_per_s=%s crashes=%s seed=%s new=%s corpus=%s wall=%s exit=%s\n' \
		"$t" "${runs:-?}" "${secs:-?}" "${rate:-?}" "$found" "$seed_n" "$new" "${final:-?}" \
		"$((end - start))" "$rc"
	if [[ $MERGE == 1 ]]; then
		"$bin" -merge=1 "$seed" "$corpus" >"$WORK/$t/merge.log" 2>&1 ||
			printf '# fuzz_%s: merge failed (%s)\n' "$t" "$WORK/$t/merge.log" >&2
	fi
done
exit "$failed"
