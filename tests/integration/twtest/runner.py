"""The test runner: run(), skips, the hard timeout, assertions and output,
and the cleanup registry.

``run(main)`` skips with exit status 77 when not root, arms a hard timeout,
turns assertion failures into a clear message and exit status 1, and cleans
up everything registered here (child processes, then whatever other modules
registered with ``at_cleanup``, e.g. network namespaces), whatever happens.
"""

import json
import os
import signal
import subprocess
import sys
import time
import traceback

SKIP_RC = 77
HARD_TIMEOUT_S = 120

# Every child process started through twtest (see procs.spawn), and the
# cleanup functions other modules registered, so that run() can clean up
# even when a test fails half-way.
_children = []
_cleanups = []


class Skip(Exception):
    """Raise to skip the test (exit status 77)."""


class TestTimeout(Exception):
    """The hard timeout fired, or the test was terminated."""


# --------------------------------------------------------------------------
# Output and assertions


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(
            "%s:\n  expected: %r\n  actual:   %r" % (what, expected, actual))


def pretty(obj):
    return json.dumps(obj, indent=2, sort_keys=True, default=str)


# --------------------------------------------------------------------------
# Running a test


_timeout_s = HARD_TIMEOUT_S


def _raise_timeout(signum, _frame):
    if signum == signal.SIGALRM:
        raise TestTimeout("hard timeout of %d s exceeded" % _timeout_s)
    raise TestTimeout("terminated by signal %d" % signum)


def run(test_fn, timeout=HARD_TIMEOUT_S):
    """Run test_fn() as the whole test and exit with 0 / 1 / 77."""
    name = os.path.basename(sys.argv[0])
    if os.geteuid() != 0:
        print("SKIP %s: needs root: loads BPF" % name, flush=True)
        sys.exit(SKIP_RC)
    global _timeout_s
    _timeout_s = timeout
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.signal(signal.SIGTERM, _raise_timeout)
    signal.signal(signal.SIGINT, _raise_timeout)
    signal.alarm(timeout)
    rc = 0
    try:
        test_fn()
    except Skip as e:
        print("SKIP %s: %s" % (name, e), flush=True)
        rc = SKIP_RC
    except AssertionError as e:
        traceback.print_exc()
        print("\nFAIL %s: %s" % (name, e), flush=True)
        rc = 1
    except BaseException as e:  # noqa: B902 - report anything, then clean up
        traceback.print_exc()
        print("\nFAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
        rc = 1
    finally:
        signal.alarm(0)
        # Cleanup must not be interrupted by a second timeout; bound it with
        # its own alarm and ignore further termination requests meanwhile.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cleanup_all()
        except BaseException:  # noqa: B902
            traceback.print_exc()
            rc = rc or 1
    if rc == 0:
        print("PASS %s" % name, flush=True)
    sys.exit(rc)


# --------------------------------------------------------------------------
# Cleanup registry


def register_child(p):
    """Have cleanup_all() kill the Popen p (if still running)."""
    _children.append(p)
    return p


def at_cleanup(fn):
    """Have cleanup_all() call fn(), after the children are killed; the
    functions run in reverse order of registration."""
    _cleanups.append(fn)
    return fn


def cleanup_all():
    for p in reversed(_children):
        _kill_proc(p)
    del _children[:]
    for fn in reversed(_cleanups):
        fn()


def _kill_proc(p):
    if p.poll() is None:
        try:
            p.kill()
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log("warning: pid %d did not die after SIGKILL" % p.pid)
    for f in (p.stdin, p.stdout, p.stderr):
        if f is not None:
            try:
                f.close()
            except OSError:
                pass
