"""Shared helpers for the tcpwatch integration tests (Python stdlib only).

Each test is a script that calls ``twtest.run(main)``.  ``run`` skips with
exit status 77 when not root, arms a hard timeout, turns assertion failures
into a clear message and exit status 1, and cleans up every child process and
network namespace the test created, whatever happens.

Network rule: tests talk only to loopback (127.0.0.0/8, ::1) or to addresses
inside network namespaces they create themselves (198.18.0.0/15 there).
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SKIP_RC = 77
HARD_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 20
STOP_TIMEOUT_S = 5

# Every child process and namespace created through this module, so that
# run() can clean them up even when a test fails half-way.
_children = []
_namespaces = []


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
# Test runner


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


def cleanup_all():
    for p in reversed(_children):
        _kill_proc(p)
    del _children[:]
    for ns in reversed(list(_namespaces)):
        _delete_netns(ns)


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


# --------------------------------------------------------------------------
# Generic helpers


def wait_for(pred, timeout=15.0, interval=0.25):
    """Poll pred() until it returns a truthy value or timeout seconds pass.

    Returns the last value of pred() (falsy on timeout); the caller asserts,
    so that the failure message can show what was last observed.
    """
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def sh(args, check_rc=True, timeout=30, input_text=None):
    """Run a command, return CompletedProcess (text).  Fails on non-zero exit."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       input=input_text, stdin=None if input_text is not None
                       else subprocess.DEVNULL)
    if check_rc and r.returncode != 0:
        fail("command %r exited %d\n  stdout: %s\n  stderr: %s"
             % (args, r.returncode, r.stdout.strip(), r.stderr.strip()))
    return r


def spawn(args, **kw):
    """Popen registered for cleanup.  stdin/stdout are binary pipes."""
    kw.setdefault("stdin", subprocess.PIPE)
    kw.setdefault("stdout", subprocess.PIPE)
    p = subprocess.Popen(args, bufsize=0, **kw)
    _children.append(p)
    return p


def spawn_python(code, *args, prefix=()):
    """Run ``/usr/bin/python3 -c code args...`` (optionally behind prefix,
    e.g. ``ip netns exec NAME``) as a separate process."""
    return spawn(list(prefix) + ["/usr/bin/python3", "-c", code]
                 + [str(a) for a in args])


def read_line(proc, timeout=10.0):
    """Read one line from proc.stdout (a binary pipe), bounded in time."""
    buf = b""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            fail("timed out after %.0f s waiting for a line from child pid %d "
                 "(got so far: %r; exit status %r)"
                 % (timeout, proc.pid, buf, proc.poll()))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        b = os.read(fd, 1)
        if not b:
            fail("child pid %d closed stdout before a full line (got %r); "
                 "exit status %r" % (proc.pid, buf, proc.wait(timeout=5)))
        buf += b
    return buf.decode().strip()


def finish_child(proc, timeout=10.0, what="child"):
    """Close the child's stdin (its cue to exit) and assert it exits 0."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("%s (pid %d) did not exit within %.0f s" % (what, proc.pid, timeout))
    check_eq(rc, 0, "%s (pid %d) exit status" % (what, proc.pid))


def raise_fd_limit(need):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        fail("RLIMIT_NOFILE hard limit %d is below the %d file descriptors "
             "this test needs" % (hard, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def host_netns_inode():
    return os.stat("/proc/self/ns/net").st_ino


def ipv6_loopback_available():
    try:
        with open("/proc/sys/net/ipv6/conf/lo/disable_ipv6") as f:
            if f.read().strip() != "0":
                return False
    except OSError:
        return False
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


# --------------------------------------------------------------------------
# Network namespaces


class Netns:
    """``with Netns() as ns:`` creates tw-test-<pid>-N with lo up, and
    deletes it (killing what still runs inside it) at exit."""

    _counter = 0

    def __init__(self):
        Netns._counter += 1
        self.name = "tw-test-%d-%d" % (os.getpid(), Netns._counter)
        self.inode = None

    def __enter__(self):
        sh(["ip", "netns", "add", self.name])
        _namespaces.append(self.name)
        sh(["ip", "-n", self.name, "link", "set", "lo", "up"])
        r = self.run(["stat", "-L", "-c", "%i", "/proc/self/ns/net"])
        self.inode = int(r.stdout.strip())
        return self

    def __exit__(self, *exc):
        _delete_netns(self.name)
        return False

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def run(self, args, **kw):
        return sh(self.prefix() + list(args), **kw)

    def spawn_python(self, code, *args):
        return spawn_python(code, *args, prefix=self.prefix())


def _delete_netns(name):
    if name not in _namespaces:
        return
    # Kill what the test left running inside the namespace (our own
    # children, started with ip netns exec), by pid.
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                       text=True, timeout=10)
    for tok in r.stdout.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass
    r = subprocess.run(["ip", "netns", "del", name], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        log("warning: ip netns del %s failed: %s" % (name, r.stderr.strip()))
    _namespaces.remove(name)


# --------------------------------------------------------------------------
# HTTP over the Unix socket


class HttpResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def json(self, what="response body"):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            fail("%s is not JSON (%s); status %d, body: %r"
                 % (what, e, self.status, self.body[:2000]))

    def __repr__(self):
        return "HTTP %d %s %r" % (self.status, self.reason, self.body[:500])


def _dechunk(data):
    out = b""
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            fail("truncated chunked body: %r" % data[pos:pos + 200])
        size_txt = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_txt, 16)
        except ValueError:
            fail("bad chunk size line %r in chunked body" % data[pos:eol])
        pos = eol + 2
        if size == 0:
            return out  # trailers, if any, ignored
        if pos + size > len(data):
            fail("truncated chunk: wanted %d bytes, have %d"
                 % (size, len(data) - pos))
        out += data[pos:pos + size]
        pos += size
        if data[pos:pos + 2] != b"\r\n":
            fail("chunk not followed by CRLF at offset %d" % pos)
        pos += 2


def parse_http_response(raw):
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        fail("incomplete HTTP response (no end of headers): %r" % raw[:500])
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        fail("bad HTTP status line %r" % lines[0])
    try:
        status = int(parts[1])
    except ValueError:
        fail("bad HTTP status line %r" % lines[0])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(rest)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if len(rest) < n:
            fail("body shorter than Content-Length %d: got %d bytes"
                 % (n, len(rest)))
        body = rest[:n]
    else:
        body = rest
    return HttpResponse(status, reason, headers, body)


def unix_exchange(sock_path, data, timeout=10.0, shut_wr=False):
    """Send raw bytes on a fresh connection to the Unix socket and return
    everything received until the peer closes (or timeout).  Send errors
    (the server may hang up early) are ignored."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


# --------------------------------------------------------------------------
# The daemon


def bin_dir():
    d = os.environ.get("TCPWATCH_BIN")
    if not d:
        here = os.path.dirname(os.path.abspath(__file__))
        d = os.path.normpath(os.path.join(here, "..", "..", "build", "bin"))
    return d


class Daemon:
    """Runs tcpwatchd for the duration of a ``with`` block."""

    def __init__(self, extra_args=()):
        self.bin = bin_dir()
        self.daemon_path = os.path.join(self.bin, "tcpwatchd")
        self.cli_path = os.path.join(self.bin, "tcpwatch")
        self.extra_args = list(extra_args)
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
        args = [self.daemon_path, "--socket", self.sock, "--listen", "none",
                "--foreground", "--reconcile-interval", "1"] + self.extra_args
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
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
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
                     % (STARTUP_TIMEOUT_S, detail))
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
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._hard_stop()
            fail("tcpwatchd did not exit within %d s of SIGTERM (killed)"
                 % STOP_TIMEOUT_S)
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


# --------------------------------------------------------------------------
# tcpwatch data helpers

SS_STATE_NAMES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2",
    "TIME-WAIT": "TIME_WAIT",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
    "UNCONN": "CLOSE",
    "CLOSE": "CLOSE",
}

REQUIRED_FIELDS = ("cookie", "netns", "family", "state", "local_addr",
                   "local_port", "remote_addr", "remote_port", "pid", "comm",
                   "closed")


def check_conn_fields(c, what="connection"):
    missing = [k for k in REQUIRED_FIELDS if k not in c]
    check(not missing, "%s lacks fields %s: %s" % (what, missing, pretty(c)))
    check(isinstance(c["cookie"], int) and not isinstance(c["cookie"], bool),
          "%s: cookie is not a number: %r" % (what, c["cookie"]))
    check(isinstance(c["netns"], int) and not isinstance(c["netns"], bool),
          "%s: netns is not a number: %r" % (what, c["netns"]))
    check(c["pid"] is None or (isinstance(c["pid"], int)
                               and not isinstance(c["pid"], bool)),
          "%s: pid is neither a number nor null: %r" % (what, c["pid"]))
    check(c["comm"] is None or isinstance(c["comm"], str),
          "%s: comm is neither a string nor null: %r" % (what, c["comm"]))
    check(isinstance(c["closed"], bool),
          "%s: closed is not a bool: %r" % (what, c["closed"]))


def list_conns(d, *flags):
    v = d.cli_json("list", *flags, "--json")
    check(isinstance(v, list),
          "`tcpwatch list %s --json` did not print a JSON array: %s"
          % (" ".join(flags), pretty(v)[:2000]))
    return v


def show(d, cookie):
    v = d.cli_json("show", str(cookie), "--json")
    check(isinstance(v, dict),
          "`tcpwatch show %s --json` did not print a JSON object" % cookie)
    check(isinstance(v.get("history"), list),
          "`tcpwatch show %s --json` has no history array: %s"
          % (cookie, pretty(v)[:2000]))
    return v


def state_history(conn):
    return [h for h in conn.get("history", []) if h.get("kind") == "state"]


def transitions(hist):
    """[(from, to), ...] of a filtered state history."""
    return [(h.get("from"), h.get("to")) for h in hist]


def path_str(pairs):
    """Readable form of a transition list, marking discontinuities."""
    if not pairs:
        return "(empty)"
    out = str(pairs[0][0])
    prev_to = pairs[0][0]
    for frm, to in pairs:
        if frm != prev_to:
            out += " | %s" % frm
        out += "->%s" % to
        prev_to = to
    return out


def expected_pairs(states):
    return [(states[i], states[i + 1]) for i in range(len(states) - 1)]


def parse_ss_addr(text):
    """'127.0.0.1:80' / '[::1]:80' / '*:80' / '1.2.3.4%lo:80' -> (addr, port)."""
    addr, _, port = text.rpartition(":")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if "%" in addr:
        addr = addr.split("%", 1)[0]
    if addr == "*":
        addr = "::"  # ss prints a dual-stack wildcard as '*'
    return addr, (0 if port == "*" else int(port))


def ss_port_filter(port):
    """ss filter arguments selecting sockets with port on either side."""
    return ["(", "sport", "=", ":%d" % port, "or", "dport", "=", ":%d" % port,
            ")"]


def ss_sockets(args=("-tanH",), netns=None):
    """Parse `ss -tanH` into a list of (local_addr, local_port, remote_addr,
    remote_port, STATE) with kernel state names."""
    argv = (["ip", "netns", "exec", netns] if netns else []) + ["ss"] + list(args)
    out = sh(argv).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        st = SS_STATE_NAMES.get(f[0])
        if st is None:
            fail("unknown ss state %r in line %r" % (f[0], line))
        la, lp = parse_ss_addr(f[3])
        ra, rp = parse_ss_addr(f[4])
        res.append((la, lp, ra, rp, st))
    return res


# --------------------------------------------------------------------------
# Shared scenario: the client closes first (used for IPv4 and IPv6)

CLIENT_CLOSES_FIRST = r'''
import os, socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host, port = sys.argv[2], int(sys.argv[3])
s = socket.socket(fam, socket.SOCK_STREAM)
s.connect((host, port))
print(os.getpid(), s.getsockname()[1], flush=True)
time.sleep(0.05)
s.sendall(b"hello from the client\n")
time.sleep(0.05)
s.close()
'''

CLIENT_STATES = ["CLOSE", "SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
                 "TIME_WAIT"]
SERVER_STATES = ["LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK",
                 "CLOSE"]


def check_history_times(conn, hist, t_lo, t_hi, what):
    times = [h.get("time_ns") for h in hist]
    for t in times:
        check(isinstance(t, int) and not isinstance(t, bool),
              "%s: time_ns is not an integer: %r (history %s)"
              % (what, t, pretty(hist)))
    for i in range(1, len(times)):
        check(times[i] >= times[i - 1],
              "%s: history times decrease at entry %d: %d then %d\n%s"
              % (what, i, times[i - 1], times[i], pretty(hist)))
    check(times[-1] - times[0] > 0,
          "%s: whole history span is not > 0 ns (first %d, last %d)"
          % (what, times[0], times[-1]))
    for t in times:
        check(t_lo <= t <= t_hi,
              "%s: time_ns %d is not wall-clock time within the test "
              "(expected between %d and %d)\n%s"
              % (what, t, t_lo, t_hi, pretty(hist)))


def check_derived(hist, may_be_derived, what):
    for h in hist:
        check(isinstance(h.get("derived"), bool),
              "%s: history entry without a bool 'derived': %s" % (what, h))
        if h.get("to") not in may_be_derived:
            check(h["derived"] is False,
                  "%s: transition %s->%s is marked derived although the kernel "
                  "reports it as an event\n%s"
                  % (what, h.get("from"), h.get("to"), pretty(hist)))


def client_closes_first(family):
    """Run the close-by-client scenario on 127.0.0.1 (family 4) or ::1 (6)
    and check both sides' histories."""
    host = "::1" if family == 6 else "127.0.0.1"
    fam_name = "inet6" if family == 6 else "inet"
    af = socket.AF_INET6 if family == 6 else socket.AF_INET
    host_ns = host_netns_inode()

    with Daemon() as d:
        t_lo = time.time_ns() - 1_000_000_000
        ls = socket.socket(af, socket.SOCK_STREAM)
        try:
            ls.bind((host, 0))
            ls.listen(16)
            port = ls.getsockname()[1]
            log("server listening on %s port %d" % (host, port))

            client = spawn_python(CLIENT_CLOSES_FIRST, family, host, port)
            ls.settimeout(10)
            conn, _peer = ls.accept()
            pid_txt, cport_txt = read_line(client).split()
            client_pid, cport = int(pid_txt), int(cport_txt)
            check_eq(client_pid, client.pid, "pid the client printed vs Popen pid")
            log("client pid %d connected from port %d" % (client_pid, cport))

            conn.settimeout(10)
            data = b""
            while True:
                b = conn.recv(4096)
                if not b:
                    break
                data += b
            check_eq(data, b"hello from the client\n", "data the server read")
            time.sleep(0.05)
            conn.close()  # after EOF: server is the passive closer
            finish_child(client, what="client")

            last = {}

            def snapshot():
                conns = list_conns(d, "-a")
                cl = [c for c in conns if c.get("local_port") == cport
                      and c.get("remote_port") == port
                      and c.get("local_addr") == host
                      and c.get("netns") == host_ns]
                sv = [c for c in conns if c.get("local_port") == port
                      and c.get("remote_port") == cport
                      and c.get("local_addr") == host
                      and c.get("netns") == host_ns]
                related = [c for c in conns
                           if {c.get("local_port"), c.get("remote_port")}
                           & {port, cport}]
                last.update(client_list=cl, server_list=sv, cshow=None,
                            sshow=None, related=related)
                if len(cl) != 1 or len(sv) != 1:
                    return None
                cs, ss_ = show(d, cl[0]["cookie"]), show(d, sv[0]["cookie"])
                last.update(cshow=cs, sshow=ss_)
                # The listing and the two shows are separate requests:
                # accept only a snapshot in which they agree.
                ok = (transitions(state_history(cs)) == expected_pairs(CLIENT_STATES)
                      and transitions(state_history(ss_)) == expected_pairs(SERVER_STATES)
                      and cl[0].get("state") == cs.get("state")
                      and sv[0].get("state") == ss_.get("state"))
                return (cl[0], sv[0], cs, ss_) if ok else None

            got = wait_for(snapshot, timeout=15)
            t_hi = time.time_ns() + 1_000_000_000
        finally:
            ls.close()

        if not got:
            print("last stats: %s" % d.cli("stats", "--json").strip())
        check(len(last["client_list"]) == 1,
              "client side (%s:%d -> %s:%d) in `list -a --json`: expected exactly 1 "
              "entry, actual %d; all entries with port %d or %d:\n%s"
              % (host, cport, host, port, len(last["client_list"]), port, cport,
                 pretty(last["related"])))
        check(len(last["server_list"]) == 1,
              "server side (%s:%d -> %s:%d) in `list -a --json`: expected exactly 1 "
              "entry, actual %d; all entries with port %d or %d:\n%s"
              % (host, port, host, cport, len(last["server_list"]), port, cport,
                 pretty(last["related"])))
        cl, sv, cs, ss_ = (last["client_list"][0], last["server_list"][0],
                           last["cshow"], last["sshow"])
        ch, sh_ = state_history(cs), state_history(ss_)
        if transitions(ch) != expected_pairs(CLIENT_STATES):
            fail("client connection state history:\n  expected: %s\n  actual:   %s\n"
                 "full show --json:\n%s" % ("->".join(CLIENT_STATES),
                                            path_str(transitions(ch)), pretty(cs)))
        if transitions(sh_) != expected_pairs(SERVER_STATES):
            fail("server connection state history:\n  expected: %s\n  actual:   %s\n"
                 "full show --json:\n%s" % ("->".join(SERVER_STATES),
                                            path_str(transitions(sh_)), pretty(ss_)))

        # The listing entries.
        for c, what in ((cl, "client side (list)"), (sv, "server side (list)"),
                        (cs, "client side (show)"), (ss_, "server side (show)")):
            check_conn_fields(c, what)
            check_eq(c["family"], fam_name, "%s family" % what)
            check_eq(c["local_addr"], host, "%s local_addr" % what)
            check_eq(c["remote_addr"], host, "%s remote_addr" % what)
            check_eq(c["netns"], host_ns, "%s netns" % what)
        check_eq(cs["cookie"], cl["cookie"], "client: show cookie vs list cookie")
        check_eq(ss_["cookie"], sv["cookie"], "server: show cookie vs list cookie")
        check_eq((cl["local_port"], cl["remote_port"]), (cport, port),
                 "client side (local_port, remote_port)")
        check_eq((sv["local_port"], sv["remote_port"]), (port, cport),
                 "server side (local_port, remote_port)")
        check_eq(cl["state"], "TIME_WAIT", "client side current state")
        check_eq(cl["closed"], False, "client side closed (in TIME_WAIT)")
        check_eq(sv["state"], "CLOSE", "server side current state")
        check_eq(sv["closed"], True, "server side closed")
        check_eq(cl["pid"], client_pid, "client side pid")
        check_eq(cs["pid"], client_pid, "client side pid (show)")

        # Times: wall clock ns, non-decreasing, whole span > 0.
        check_history_times(cs, ch, t_lo, t_hi, "client history")
        check_history_times(ss_, sh_, t_lo, t_hi, "server history")
        # Only the active closer's TIME_WAIT entry may be derived; all
        # other transitions here are reported by the tracepoint.
        check_derived(ch, {"TIME_WAIT"}, "client history")
        check_derived(sh_, set(), "server history")
        log("client history: %s" % path_str(transitions(ch)))
        log("server history: %s" % path_str(transitions(sh_)))
