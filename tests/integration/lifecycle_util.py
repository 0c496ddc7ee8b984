"""Helpers for the connection-lifecycle integration tests (end reasons,
findings, process owners, live events), on top of twtest.py.

Python stdlib only.  Network rule as in twtest: loopback, or addresses inside
network namespaces the test creates (198.18.0.0/15 there; the TUN peer of
tunpeer.py answers for 198.18.0.2, the namespace side is 198.18.0.1).
"""

import json
import os
import re
import select
import socket
import time

import twtest
from twtest import check, fail, pretty

HERE = os.path.dirname(os.path.abspath(__file__))
TUNPEER = os.path.join(HERE, "tunpeer.py")
NS_LOCAL = "198.18.0.1"   # the namespace's address on the TUN device
NS_PEER = "198.18.0.2"    # the TUN peer (tunpeer.py) answers for this one


# --------------------------------------------------------------------------
# The TUN peer


def start_tunpeer(ns, mode, *extra, timeout=120):
    """Start tunpeer.py in MODE inside the namespace ns (a twtest.Netns);
    return its Popen once it printed "ready".  Registered for cleanup."""
    p = twtest.spawn(ns.prefix() + ["/usr/bin/python3", TUNPEER, "--mode", mode,
                                    "--timeout", str(timeout)]
                     + [str(a) for a in extra])
    line = twtest.read_line(p, timeout=15)
    if line != "ready":
        fail("tunpeer (%s) printed %r instead of 'ready'" % (mode, line))
    twtest.log("tunpeer %s up in %s (pid %d): %s answers for %s"
               % (mode, ns.name, p.pid, NS_LOCAL, NS_PEER))
    return p


def stop_proc(p, timeout=5):
    """SIGTERM a child we started, then SIGKILL if it lingers."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except Exception:  # noqa: B902
            p.kill()
            p.wait(timeout=5)


# A client run inside a namespace: binds 198.18.0.1:0 first so that its port
# is known (and kept) even when connect() fails, prints it, connects to
# argv[1]:argv[2] and then, per argv[3]:
#   "connect"  only connect, print the outcome
#   "data"     connect, send, recv (prints the outcome), close
#   "close"    connect, send, close at once
# Prints one line per step: "port N", "connect ok|ERRNAME", "recv ...", "done".
NS_CLIENT = r'''
import errno, os, socket, sys, time
host, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.bind((sys.argv[4], 0))
print("port", s.getsockname()[1], os.getpid(), flush=True)
t0 = time.monotonic()
try:
    s.connect((host, port))
except OSError as e:
    print("connect", errno.errorcode.get(e.errno, str(e.errno)),
          "%.2f" % (time.monotonic() - t0), flush=True)
    s.close()
    print("done", flush=True)
    sys.exit(0)
print("connect ok %.3f" % (time.monotonic() - t0), flush=True)
if what == "data":
    s.sendall(b"hello tunpeer\n")
    s.settimeout(10)
    try:
        d = s.recv(100)
        print("recv", "eof" if not d else "data", flush=True)
    except OSError as e:
        print("recv", errno.errorcode.get(e.errno, str(e.errno)), flush=True)
elif what == "close":
    s.sendall(b"hello tunpeer\n")
    time.sleep(0.2)
    print("recv skipped", flush=True)
s.close()
time.sleep(0.5)
print("done", flush=True)
'''


def run_ns_client(ns, what, host=NS_PEER, port=80, timeout=30):
    """Run NS_CLIENT in ns; return (local_port, pid, {"connect": ...,
    "recv": ...}) after it printed "done"."""
    p = ns.spawn_python(NS_CLIENT, host, port, what, NS_LOCAL)
    first = twtest.read_line(p, timeout=10).split()
    check(len(first) == 3 and first[0] == "port",
          "namespace client's first line: %r" % first)
    cport, pid = int(first[1]), int(first[2])
    out = {}
    deadline = time.monotonic() + timeout
    while True:
        line = twtest.read_line(p, timeout=max(1.0, deadline - time.monotonic()))
        k, _, v = line.partition(" ")
        if k == "done":
            break
        out[k] = v
    twtest.finish_child(p, what="namespace client")
    return cport, pid, out


# --------------------------------------------------------------------------
# Connections



def loopback_pair(host="127.0.0.1", keep_listener=False):
    """A connected TCP pair on host.  Returns (client, accepted, port,
    client_port, listener); the listener is closed (None) unless
    keep_listener."""
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    ls.bind((host, 0))
    ls.listen(8)
    ls.settimeout(10)
    port = ls.getsockname()[1]
    c = socket.socket(ls.family)
    c.settimeout(10)
    c.connect((host, port))
    a, _ = ls.accept()
    a.settimeout(10)
    if not keep_listener:
        ls.close()
        ls = None
    return c, a, port, c.getsockname()[1], ls


def get_field(conn, name, what="connection"):
    """A field of a connection object: top level, else inside "counters"."""
    if name in conn:
        return conn[name]
    counters = conn.get("counters")
    if isinstance(counters, dict) and name in counters:
        return counters[name]
    fail("%s has no field %r (neither top level nor in \"counters\"):\n%s"
         % (what, name, pretty(conn)[:4000]))


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def require_fields(conn, names, what):
    missing = [n for n in names if n not in conn]
    if missing:
        fail("%s lacks %s (does this tcpwatchd implement end reasons?):\n%s"
             % (what, missing, pretty(conn)[:4000]))


def ports_expr(local_port=None, remote_port=None, either=None):
    """An ss-style filter expression (CLI words) narrowing a listing, so
    that a busy host's full table need not be fetched and parsed."""
    if either is not None:
        return ["(", "sport", "=", ":%d" % either, "or", "dport", "=",
                ":%d" % either, ")"]
    words = []
    if local_port is not None:
        words += ["sport", "=", ":%d" % local_port]
    if remote_port is not None:
        words += ["dport", "=", ":%d" % remote_port]
    return words


def matching(d, pred, flags=("-a",), expr=None):
    """Listed connections satisfying pred.  expr: filter words passed to
    `tcpwatch list` (default: pred.expr if the predicate carries one); pred
    is applied to the result in any case."""
    if expr is None:
        expr = getattr(pred, "expr", ())
    return [c for c in twtest.list_conns(d, *flags, *expr) if pred(c)]


def find_one(d, pred, what, timeout=10.0, flags=("-a",)):
    """Wait until exactly one listed connection satisfies pred; return it."""
    last = {}

    def probe():
        last["m"] = matching(d, pred, flags)
        return len(last["m"]) == 1

    twtest.wait_for(probe, timeout=timeout)
    if len(last["m"]) != 1:
        fail("%s: expected exactly 1 entry in `tcpwatch list %s --json`, "
             "found %d:\n%s" % (what, " ".join(flags), len(last["m"]),
                                pretty(last["m"])[:4000]))
    return last["m"][0]


def tuple_pred(local_port, remote_port, local_addr=None, netns=None,
               remote_addr=None, states=None):
    def pred(c):
        return (c.get("local_port") == local_port
                and c.get("remote_port") == remote_port
                and (local_addr is None or c.get("local_addr") == local_addr)
                and (remote_addr is None or c.get("remote_addr") == remote_addr)
                and (netns is None or c.get("netns") == netns)
                and (states is None or c.get("state") in states)
                and c.get("state") != "LISTEN")
    pred.expr = ports_expr(local_port, remote_port)
    return pred


def find_sides(d, cport, port, host, netns):
    """Both ends of a loopback connection from client port cport to the
    listener's port: (client side, server side)."""
    return (find_one(d, tuple_pred(cport, port, host, netns),
                     "client side %d->%d" % (cport, port)),
            find_one(d, tuple_pred(port, cport, host, netns),
                     "server side %d->%d" % (port, cport)))


def wait_show(d, cookie, pred, what, timeout=15.0):
    """Poll `show COOKIE --json` until pred(conn) is true; return the last
    answer either way (the caller asserts and prints it)."""
    last = {}

    def probe():
        last["c"] = twtest.show(d, cookie)
        return pred(last["c"])

    twtest.wait_for(probe, timeout=timeout, interval=0.3)
    return last["c"]


def wait_ended(d, cookie, what, expect=None, timeout=15.0, extra=None):
    """Wait until the connection's end_reason is expect (any non-null value
    if expect is None) and extra(conn) holds, if given; return its
    `show --json` (the last one on timeout: the caller asserts).  Waiting
    for the expected value, not the first one, matters: the daemon may
    refine an end reason (e.g. "aborted" becomes "reset_sent" when the
    RST event follows the CLOSE transition)."""
    def done(c):
        r = c.get("end_reason")
        ok = r is not None if expect is None else r == expect
        return ok and (extra is None or extra(c))

    c = wait_show(d, cookie, done, what, timeout)
    if not done(c):
        # Diagnostics for the failure the caller is about to report:
        # lost events or reconcile corrections explain most of them.
        r = d.cli_run("stats", "--json")
        twtest.log("%s: not ended as expected after %.0f s; `tcpwatch stats "
                   "--json`: %s" % (what, timeout, r.stdout.strip()[:3000]))
    require_fields(c, ("end_reason", "closed_first"), what)
    return c


def check_end(conn, reason, what, closed_first=None):
    if conn.get("end_reason") != reason:
        fail("%s end_reason:\n  expected: %r\n  actual:   %r\n"
             "state history: %s\nshow --json:\n%s"
             % (what, reason, conn.get("end_reason"),
                twtest.path_str(twtest.transitions(twtest.state_history(conn))),
                pretty(conn)[:6000]))
    if closed_first is not None and conn.get("closed_first") != closed_first:
        fail("%s closed_first:\n  expected: %r\n  actual:   %r\nshow --json:\n%s"
             % (what, closed_first, conn.get("closed_first"),
                pretty(conn)[:6000]))


def check_list_row_agrees(d, conn, what, fields=("end_reason", "closed_first")):
    """The `list -a --json` row of conn carries the same values."""
    rows = [c for c in twtest.list_conns(
        d, "-a", *ports_expr(conn["local_port"], conn["remote_port"]))
        if c.get("cookie") == conn["cookie"]]
    check(len(rows) == 1, "%s: cookie %d appears %d times in `list -a --json`"
          % (what, conn["cookie"], len(rows)))
    for f in fields:
        check(f in rows[0], "%s: the `list -a --json` row lacks %r:\n%s"
              % (what, f, pretty(rows[0])))
        if rows[0][f] != conn[f]:
            fail("%s: %s in the list row (%r) differs from show (%r)"
                 % (what, f, rows[0][f], conn[f]))


def duplicate_keys(text):
    """Keys that occur more than once in one JSON object of text."""
    dups = []

    def hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                dups.append(k)
            seen.add(k)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return dups


def history_kinds(conn):
    return [h.get("kind") for h in conn.get("history", [])]


def listener_of(d, port, addr="127.0.0.1", netns=None, timeout=10.0):
    def pred(c):
        return (c.get("state") == "LISTEN" and c.get("local_port") == port
                and c.get("local_addr") == addr
                and (netns is None or c.get("netns") == netns))
    pred.expr = ports_expr(local_port=port)
    return find_one(d, pred, "listener %s:%d" % (addr, port),
                    timeout=timeout, flags=("-l",))


def reserve_closed_port(addr="127.0.0.1"):
    """A socket bound (not listening) to a free loopback port: connects to
    it are refused, and nothing else can take the port meanwhile."""
    s = socket.socket()
    s.bind((addr, 0))
    return s, s.getsockname()[1]


def refused_connect(addr, port):
    """connect() from an explicitly bound port (so the port is known after
    the failure); return that local port.  Asserts ECONNREFUSED."""
    s = socket.socket()
    try:
        s.bind((addr, 0))
        cport = s.getsockname()[1]
        s.settimeout(5)
        try:
            s.connect((addr, port))
        except ConnectionRefusedError:
            return cport
        fail("connect to %s:%d (nothing listening) did not fail with "
             "ECONNREFUSED" % (addr, port))
    finally:
        s.close()


# --------------------------------------------------------------------------
# Findings


def findings_list(v, what):
    if isinstance(v, dict):
        f = v.get("findings")
    else:
        f = v
    check(isinstance(f, list), "%s: no findings array:\n%s"
          % (what, pretty(v)[:3000]))
    for x in f:
        check(isinstance(x, dict), "%s: a finding is not an object: %r"
              % (what, x))
    return f


def http_findings(d):
    status, body = d.http_get("/api/v1/findings")
    if status != 200:
        fail("GET /api/v1/findings: status %d, body %s"
             % (status, pretty(body)[:2000]))
    return findings_list(body, "GET /api/v1/findings")


def cli_findings(d):
    return findings_list(d.cli_json("findings", "--json"),
                         "`tcpwatch findings --json`")


FINDING_FIELDS = ("kind", "severity", "summary", "explanation", "netns",
                  "count", "connections", "processes")


def check_finding_shape(f, what):
    missing = [k for k in FINDING_FIELDS if k not in f]
    check(not missing, "%s lacks fields %s:\n%s" % (what, missing, pretty(f)))
    check(isinstance(f["connections"], list),
          "%s: connections is not an array: %r" % (what, f["connections"]))
    check(isinstance(f["processes"], list),
          "%s: processes is not an array: %r" % (what, f["processes"]))
    for k in ("summary", "explanation"):
        check(isinstance(f[k], str) and f[k].strip(),
              "%s: %s is not a non-empty string: %r" % (what, k, f[k]))


def wait_finding(getter, pred, timeout=15.0):
    """Poll getter() (a list of findings) until one satisfies pred; return
    (finding or None, last list)."""
    last = {"all": []}

    def probe():
        last["all"] = getter()
        for f in last["all"]:
            if pred(f):
                return f
        return None

    f = twtest.wait_for(probe, timeout=timeout, interval=0.5)
    return f, last["all"]


def has_pid_token(text, pid):
    return re.search(r"(?<![0-9])%d(?![0-9])" % pid, text) is not None


# --------------------------------------------------------------------------
# Reading a child's output line by line without blocking


class LineReader:
    """Collects complete lines from a child's binary stdout pipe."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.lines = []
        self.eof = False

    def pump(self, duration):
        """Read for up to duration seconds; return the new lines."""
        new = []
        deadline = time.monotonic() + duration
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            b = os.read(self.fd, 65536)
            if not b:
                self.eof = True
                break
            self.buf += b
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.decode("utf-8", "replace").strip()
                if line:
                    self.lines.append(line)
                    new.append(line)
        return new


class Dechunker:
    """Incremental HTTP/1.1 chunked-body decoder."""

    def __init__(self):
        self.raw = b""
        self.out = b""
        self.done = False

    def feed(self, data):
        self.raw += data
        while not self.done:
            eol = self.raw.find(b"\r\n")
            if eol < 0:
                return
            size_txt = self.raw[:eol].split(b";", 1)[0].strip()
            try:
                size = int(size_txt, 16)
            except ValueError:
                fail("bad chunk size line %r in the event stream"
                     % self.raw[:eol][:100])
            if size == 0:
                self.done = True
                return
            if len(self.raw) < eol + 2 + size + 2:
                return
            self.out += self.raw[eol + 2:eol + 2 + size]
            self.raw = self.raw[eol + 2 + size + 2:]


def json_lines(lines, what):
    out = []
    for line in lines:
        try:
            v = json.loads(line)
        except ValueError as e:
            fail("%s printed a line that is not JSON (%s): %r" % (what, e, line))
        check(isinstance(v, dict), "%s printed a JSON value that is not an "
              "object: %r" % (what, line))
        out.append(v)
    return out
