#!/usr/bin/python3
"""Out of memory in the unit suites is survived: each unit test binary runs
with libtw-failmalloc.so failing its Nth allocation (and, in a sparser
sweep, every allocation from the Nth on), N swept over the allocations of a
normal run. A cmocka assertion may fail (a test may need the memory it was
refused) but the process must never die by a signal, hang, or report a
signal caught by cmocka ("Test failed with exception"). cmocka's own
allocations are not counted (TW_FAIL_IGNORE=libcmocka).

Leaks: the shim counts live allocations at exit. A run in which every test
still passed despite the refused allocation must not end with more live
allocations than the normal run; those that do are run again under
valgrind (when installed) to confirm.

usage: sweep_unit.py --lib LIB [--budget-s S] [--jobs J] BINARY...
exit 0 all survived, 1 a crash, hang or leak, 77 no shim (sanitized build)."""

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time

FIRST_ALL = 200       # every N up to this, once mode
STRIDED = 150         # beyond it, this many evenly spread
ALWAYS_POINTS = 40    # always mode: this many evenly spread over 1..count
RUN_TIMEOUT_S = 30
BINARY_BUDGET_S = 10  # a slow binary's sweep is thinned to about this
VALGRIND_MAX = 6      # leak suspects confirmed under valgrind, at most

_tmp = tempfile.mkdtemp(prefix="tw-failmalloc-")


def run_one(lib, binary, n, mode, extra_env=None, wrapper=()):
    """Run binary failing allocation n (0: none) in mode; return a dict:
    rc, out, calls, failures, live, secs."""
    report = os.path.join(_tmp, "%s.%d.%s.%d" % (os.path.basename(binary), n,
                                                 mode, os.getpid()))
    report += ".%d" % time.monotonic_ns()
    env = dict(os.environ)
    env.update({"LD_PRELOAD": lib, "TW_FAIL_AFTER": str(n),
                "TW_FAIL_MODE": mode, "TW_FAIL_IGNORE": "libcmocka",
                "TW_FAIL_REPORT": report, "CMOCKA_MESSAGE_OUTPUT": "STDOUT"})
    env.pop("TW_FAIL_CTL", None)
    env.pop("TW_FAIL_PROC", None)
    if extra_env:
        env.update(extra_env)
    t0 = time.monotonic()
    try:
        p = subprocess.run(list(wrapper) + [binary], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S,
                           cwd=_tmp)
        rc, out = p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        out = (e.stdout or b"").decode("utf-8", "replace")
    res = {"rc": rc, "out": out, "secs": time.monotonic() - t0,
           "calls": None, "failures": None, "live": None}
    try:
        with open(report) as f:
            for kv in f.read().split():
                k, v = kv.split("=")
                res[k] = int(v)
        os.unlink(report)
    except OSError:
        pass
    return res


def crashed(res):
    """A reason the run counts as a crash, or None."""
    rc = res["rc"]
    if rc == "timeout":
        return "hung (no exit within %d s)" % RUN_TIMEOUT_S
    if rc < 0:
        return "killed by signal %d" % -rc
    for marker in ("with exception", "Segmentation fault", "core dumped",
                   "double free", "free(): ", "malloc(): ", "corrupted"):
        if marker in res["out"]:
            return "output reports %r" % marker
    return None


def spread(lo, hi, k):
    """About k values evenly spread over lo..hi."""
    if hi < lo or k <= 0:
        return []
    step = max(1, (hi - lo + 1) // k)
    return list(range(lo, hi + 1, step))


def plan(count, secs, jobs):
    """(n, mode) pairs for a binary whose normal run makes count calls in
    secs: every N up to FIRST_ALL and STRIDED more, thinned for a slow
    binary to about BINARY_BUDGET_S (runs that fail early are quicker)."""
    first, strided, always = FIRST_ALL, STRIDED, ALWAYS_POINTS
    most = int(BINARY_BUDGET_S * jobs / max(secs, 0.001))
    if first + strided + always > most:
        scale = max(most, 40) / float(first + strided + always)
        first, strided, always = (max(10, int(first * scale)),
                                  max(10, int(strided * scale)),
                                  max(10, int(always * scale)))
    once = spread(1, min(count, first), first)
    once += spread(first + 1, count, strided)
    return ([(n, "once") for n in once]
            + [(n, "always") for n in spread(1, count, always)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("binaries", nargs="+")
    a = ap.parse_args()
    if not os.path.exists(a.lib):
        print("SKIP: %s not built (the sanitized build has none: ASan has "
              "its own allocator)" % a.lib, flush=True)
        return 77

    t_start = time.monotonic()
    problems = []
    suspects = []
    total_runs = 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for binary in a.binaries:
            name = os.path.basename(binary)
            base = run_one(a.lib, binary, 0, "once")
            if base["rc"] != 0 and subprocess.run(
                    [binary], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S).returncode != 0:
                print("%-28s SKIPPED: fails without the shim too (its own "
                      "unit test reports it)" % name, flush=True)
                continue
            if base["rc"] != 0 or base["calls"] is None:
                problems.append("%s: the normal run under the shim failed "
                                "(rc %s)\n%s" % (name, base["rc"],
                                                 base["out"][-2000:]))
                continue
            count = base["calls"]
            if count == 0:
                print("%-28s no allocations" % name, flush=True)
                continue
            pairs = plan(count, base["secs"], a.jobs)
            t0 = time.monotonic()
            futs = {pool.submit(run_one, a.lib, binary, n, mode): (n, mode)
                    for n, mode in pairs}
            outcomes = {"pass": 0, "assert": 0, "crash": 0}
            for fut in concurrent.futures.as_completed(futs):
                n, mode = futs[fut]
                res = fut.result()
                total_runs += 1
                why = crashed(res)
                if why:
                    outcomes["crash"] += 1
                    problems.append("%s: TW_FAIL_AFTER=%d TW_FAIL_MODE=%s: %s"
                                    "\n%s" % (name, n, mode, why,
                                              res["out"][-1500:]))
                    continue
                if res["rc"] == 0:
                    outcomes["pass"] += 1
                    if (res["live"] is not None and base["live"] is not None
                            and res["live"] > base["live"]):
                        suspects.append((binary, n, mode,
                                         res["live"] - base["live"]))
                else:
                    outcomes["assert"] += 1
            print("%-28s %6d allocations, %4d runs in %5.1f s: %d passed, "
                  "%d failed an assertion, %d crashed"
                  % (name, count, len(pairs), time.monotonic() - t0,
                     outcomes["pass"], outcomes["assert"], outcomes["crash"]),
                  flush=True)

    leaks = []
    if suspects:
        print("leak suspects (live allocations above the normal run, all "
              "tests passed): %d" % len(suspects), flush=True)
        valgrind = shutil.which("valgrind")
        for binary, n, mode, extra in suspects[:VALGRIND_MAX]:
            name = os.path.basename(binary)
            if not valgrind:
                leaks.append("%s N=%d %s: %d more live allocations (no "
                             "valgrind to confirm)" % (name, n, mode, extra))
                continue
            res = run_one(a.lib, binary, n, mode, wrapper=(
                valgrind, "-q", "--leak-check=full",
                "--errors-for-leak-kinds=definite", "--error-exitcode=99"))
            if res["rc"] == 99:
                leaks.append("%s N=%d %s: definitely lost\n%s"
                             % (name, n, mode, res["out"][-3000:]))
            else:
                print("  %s N=%d %s: +%d live, valgrind finds nothing "
                      "definitely lost (still reachable)" % (name, n, mode,
                                                             extra),
                      flush=True)

    shutil.rmtree(_tmp, ignore_errors=True)
    print("%d runs of %d binaries in %.1f s" % (total_runs, len(a.binaries),
                                               time.monotonic() - t_start))
    for p in problems:
        print("\nCRASH " + p)
    for p in leaks:
        print("\nLEAK " + p)
    if problems or leaks:
        print("\nFAIL: %d crash(es), %d leak(s)" % (len(problems), len(leaks)))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
