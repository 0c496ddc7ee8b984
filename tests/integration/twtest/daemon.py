"""The daemon under test: Daemon runs tcpwatchd for the duration of a
``with`` block (own socket in a temporary directory, readiness wait, clean
SIGTERM exit and no sanitizer report asserted at the end, logs dumped on
failure) and talks to it through the CLI and over HTTP."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from .http import parse_http_response, unix_exchange
from .procs import spawn
from .runner import Skip, fail, log

STARTUP_TIMEOUT_S = 20
STOP_TIMEOUT_S = 5


def bin_dir():
    """Where tcpwatchd and tcpwatch are: $TCPWATCH_BIN, else build/bin at
    the top of the source tree."""
    d = os.environ.get("TCPWATCH_BIN")
    if not d:
        here = os.path.dirname(os.path.abspath(__file__))  # tests/integration/twtest
        d = os.path.normpath(os.path.join(here, "..", "..", "..", "build",
                                          "bin"))
    return d


class Daemon:
    """Runs tcpwatchd for the duration of a ``with`` block."""

    def __init__(self, extra_args=(), sandbox=None, state_dir=None, wrapper=(),
                 startup_timeout=None, stop_timeout=None):
        self.bin = bin_dir()
        # A command the daemon runs under (valgrind ...), and the time it
        # is given to start and to stop.
        self.wrapper = list(wrapper)
        self.startup_timeout = startup_timeout or STARTUP_TIMEOUT_S
        self.stop_timeout = stop_timeout or STOP_TIMEOUT_S
        # As the systemd unit runs it (twtest/unit.py): its user,
        # capabilities, system calls and /proc. TCPWATCH_SANDBOX=1 turns
        # it on for every test.
        self.sandbox = (os.environ.get("TCPWATCH_SANDBOX") == "1"
                        if sandbox is None else sandbox)
        self.daemon_path = os.path.join(self.bin, "tcpwatchd")
        self.cli_path = os.path.join(self.bin, "tcpwatch")
        self.extra_args = list(extra_args)
        # The state file (--state-dir): a fresh one in the temporary
        # directory unless a test keeps one across runs.
        self.state_dir = state_dir
        self.tmpdir = None
        self.sock = None
        self.proc = None
        self.stderr_path = None
        self.stdout_path = None

    # -- lifecycle --

    def __enter__(self):
        for p in (self.daemon_path, self.cli_path):
            if not os.access(p, os.X_OK):
                fail("binary not found or not executable: %s "
                     "(build first, or set TCPWATCH_BIN)" % p)
        self.tmpdir = tempfile.mkdtemp(prefix="tw-test-")
        self.sock = os.path.join(self.tmpdir, "tw.sock")
        self.stderr_path = os.path.join(self.tmpdir, "tcpwatchd.stderr")
        self.stdout_path = os.path.join(self.tmpdir, "tcpwatchd.stdout")
        state_dir = self.state_dir or os.path.join(self.tmpdir, "state")
        args = [self.daemon_path, "--socket", self.sock, "--listen", "none",
                "--foreground", "--reconcile-interval", "1",
                "--state-dir", state_dir] + self.extra_args
        if self.sandbox:
            from .unit import sandbox_prefix
            args = sandbox_prefix(self.bin, self.tmpdir) + args
        args = self.wrapper + args
        log("starting %s" % " ".join(args))
        with open(self.stderr_path, "wb") as err, \
                open(self.stdout_path, "wb") as out:
            self.proc = spawn(args, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=err, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self._dump_logs()
            self._hard_stop()
            self._rm_tmpdir()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        last = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                fail("tcpwatchd exited during startup with status %s"
                     % _describe_rc(rc))
            try:
                last = subprocess.run(
                    [self.cli_path, "--socket", self.sock, "stats", "--json"],
                    capture_output=True, text=True, timeout=10,
                    stdin=subprocess.DEVNULL)
                if last.returncode == 0:
                    log("tcpwatchd ready (pid %d)" % self.proc.pid)
                    return
            except subprocess.TimeoutExpired:
                last = None
            if time.monotonic() >= deadline:
                detail = ("no answer (CLI timed out)" if last is None else
                          "last `tcpwatch stats --json` exited %d, stderr: %s"
                          % (last.returncode, last.stderr.strip()))
                fail("tcpwatchd not ready within %d s: %s"
                     % (self.startup_timeout, detail))
            time.sleep(0.2)

    def __exit__(self, exc_type, exc, tb):
        failing = exc_type is not None and not issubclass(exc_type, Skip)
        try:
            self.stop()
        except AssertionError as e:
            self._dump_logs()
            self._rm_tmpdir()
            if exc_type is None:
                raise
            print("ALSO: %s" % e, flush=True)
            return False
        if failing:
            self._dump_logs()
        self._rm_tmpdir()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, context=""):
        rc = self.proc.poll()
        if rc is not None:
            fail("tcpwatchd is no longer running%s: exited with %s"
                 % (" (" + context + ")" if context else "", _describe_rc(rc)))

    def stop(self):
        """SIGTERM; assert a clean exit (status 0) within 5 s, no crash."""
        if self.proc is None:
            return
        rc = self.proc.poll()
        if rc is not None:
            fail("tcpwatchd exited before the test stopped it, with %s"
                 % _describe_rc(rc))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._hard_stop()
            fail("tcpwatchd did not exit within %d s of SIGTERM (killed)"
                 % self.stop_timeout)
        if rc != 0:
            fail("tcpwatchd exit status after SIGTERM: expected 0, actual %s"
                 % _describe_rc(rc))
        err = self.stderr_text()
        for marker in ("AddressSanitizer", "LeakSanitizer",
                       "UndefinedBehaviorSanitizer", "runtime error:",
                       "Segmentation fault", "core dumped"):
            if marker in err:
                fail("tcpwatchd stderr reports a crash/sanitizer error "
                     "(%r)" % marker)
        log("tcpwatchd stopped cleanly")

    def kill(self):
        """SIGKILL, as a crash would end it: no state saved at exit. The
        ``with`` block then ends without the clean-stop checks."""
        self.assert_alive("before SIGKILL")
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None

    def _hard_stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _dump_logs(self, max_lines=300):
        for label, path in (("stderr", self.stderr_path),
                            ("stdout", self.stdout_path)):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except (OSError, TypeError):
                continue
            lines = text.splitlines()
            print("----- tcpwatchd %s (%d lines%s) -----"
                  % (label, len(lines),
                     ", last %d shown" % max_lines if len(lines) > max_lines
                     else ""), flush=True)
            for line in lines[-max_lines:]:
                print("  " + line)
            print("----- end of tcpwatchd %s -----" % label, flush=True)

    def _rm_tmpdir(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    # -- CLI --

    def cli_run(self, *args, timeout=30):
        argv = [self.cli_path, "--socket", self.sock] + [str(a) for a in args]
        t0 = time.monotonic()
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            fail("`tcpwatch %s` did not finish within %.0f s (daemon %s)"
                 % (" ".join(str(a) for a in args), time.monotonic() - t0,
                    "alive" if self.alive() else "NOT running"))

    def cli(self, *args, timeout=30):
        """Run ``tcpwatch --socket SOCK args...``; return stdout; fail on
        non-zero exit."""
        r = self.cli_run(*args, timeout=timeout)
        if r.returncode != 0:
            fail("`tcpwatch %s` exited %d\n  stdout: %s\n  stderr: %s"
                 % (" ".join(str(a) for a in args), r.returncode,
                    r.stdout.strip()[:2000], r.stderr.strip()[:2000]))
        return r.stdout

    def cli_json(self, *args, timeout=30):
        out = self.cli(*args, timeout=timeout)
        try:
            return json.loads(out)
        except ValueError as e:
            fail("`tcpwatch %s` did not print JSON (%s): %r"
                 % (" ".join(str(a) for a in args), e, out[:2000]))

    # -- HTTP --

    def http_request(self, path, method="GET", timeout=10.0):
        req = ("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
               % (method, path)).encode("latin-1")
        raw = unix_exchange(self.sock, req, timeout=timeout)
        if not raw:
            fail("no HTTP response to %s %s" % (method, path[:200]))
        return parse_http_response(raw)

    def http_get(self, path, timeout=10.0):
        """GET path; return (status, parsed JSON body)."""
        resp = self.http_request(path, timeout=timeout)
        return resp.status, resp.json("body of GET %s (status %d)"
                                      % (path[:200], resp.status))

    def stats(self):
        """GET /api/v1/stats, asserting success."""
        status, body = self.http_get("/api/v1/stats")
        if status != 200 or not isinstance(body, dict):
            fail("GET /api/v1/stats: status %d, body %r" % (status, body))
        return body

    def rss_bytes(self):
        """The daemon's resident set size now (VmRSS)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        fail("no VmRSS in /proc/%d/status" % self.proc.pid)

    def http_raw(self, data, timeout=5.0, shut_wr=False):
        return unix_exchange(self.sock, data, timeout=timeout, shut_wr=shut_wr)


def _describe_rc(rc):
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal %d" % -rc
        return "%d (killed by %s: crash)" % (rc, name)
    return str(rc)
