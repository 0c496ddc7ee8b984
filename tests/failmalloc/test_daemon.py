#!/usr/bin/python3
"""Out of memory on the daemon's request path is survived (issue 14).

tcpwatchd runs with libtw-failmalloc.so preloaded (TW_FAIL_PROC=tcpwatchd:
the CLI and this script pass through) and a shared control page
(TW_FAIL_CTL): it starts normally, unarmed. For each N of a sweep the test
arms the shim to fail the Nth allocation counted from then (once, and in a
sparser sweep every allocation from the Nth on), sends every endpoint a
request (the listing with filters and as text, one connection, the
listeners and one, the probes, a POST probe, findings, summary, stats,
/metrics, /healthz, a moment of /api/v1/events), disarms, and asserts:

  - the daemon is alive after every round;
  - every answer is a proper one (the status the endpoint gives unarmed,
    with a body that parses), a 500/503 with a JSON error, or a closed
    connection; anything else (a truncated 200, a 4xx for want of memory)
    is listed, and fails the test;
  - unarmed again, /healthz answers 200 and the listing still holds the
    test's own connection;
  - the live allocations (the shim's count) after the sweep are compared
    with before it; a growth beyond the rounds' own is logged as a leak
    suspect (report-only: background work moves the count too);
  - at the end SIGTERM stops it with status 0 (twtest.Daemon).

The allocation failure counters of /api/v1/stats are printed beside the
number of refusals, to show where failures are counted."""

import json
import mmap
import os
import socket
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import twtest  # noqa: E402
from twtest import check, fail  # noqa: E402

MAGIC = 0x314c494146777475
# struct failmalloc_ctl (tests/tools/failmalloc.c): 64-bit words.
W_MAGIC, W_ARMED, W_AFTER, W_ALWAYS, W_CALLS, W_FAILURES, W_LIVE, W_PID = range(8)

ONCE_ROUNDS = 1000      # at most, spread over the allocations of a round
ALWAYS_ROUNDS = 200
SWEEP_BUDGET_S = 90     # the sweep stops here (it says how far it got)
REQ_TIMEOUT_S = 6.0
SLOW_S = 5.0            # an answer later than this is a hang
EVENTS_READ_S = 0.15


class Ctl:
    def __init__(self, path):
        with open(path, "wb") as f:
            f.write(b"\0" * 4096)
        self.f = open(path, "r+b")
        self.m = mmap.mmap(self.f.fileno(), 4096)

    def get(self, w):
        return struct.unpack_from("<q" if w == W_LIVE else "<Q", self.m, 8 * w)[0]

    def set(self, w, v):
        struct.pack_into("<Q", self.m, 8 * w, v)

    def arm(self, after, always=False):
        self.set(W_ARMED, 0)
        self.set(W_CALLS, 0)
        self.set(W_FAILURES, 0)
        self.set(W_AFTER, after)
        self.set(W_ALWAYS, 1 if always else 0)
        self.set(W_ARMED, 1)

    def disarm(self):
        self.set(W_ARMED, 0)


def exchange(sock, method, path, body=None, read_s=None):
    """(status or None, headers, body bytes, complete): None status when
    the connection closed before a status line."""
    data = b"" if body is None else json.dumps(body).encode()
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (method, path)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    # read_s (at most REQ_TIMEOUT_S): an event stream is read this long.
    raw = twtest.unix_exchange(sock, head.encode() + b"\r\n" + data,
                               timeout=min(REQ_TIMEOUT_S, read_s or REQ_TIMEOUT_S))
    p = twtest.ResponseParser()
    try:
        p.feed(raw)
    except AssertionError:
        return p.status, p.headers or {}, p.body, False
    if p.status is None:
        return None, {}, b"", False
    try:
        p.finish()
        complete = True
    except AssertionError:
        complete = False
    return p.status, p.headers or {}, p.body, complete


def json_ok(body):
    try:
        json.loads(body.decode("utf-8"))
        return True
    except (UnicodeDecodeError, ValueError):
        return False


class Request:
    def __init__(self, name, method, path, body=None, kind="json", read_s=None):
        self.name, self.method, self.path, self.body = name, method, path, body
        self.kind, self.read_s = kind, read_s
        self.status = None  # unarmed

    def send(self, sock):
        return exchange(sock, self.method, self.path, self.body, self.read_s)

    def judge(self, res):
        """None for an acceptable answer, else what is wrong."""
        status, headers, body, complete = res
        if status is None:
            return None  # closed before answering
        if self.kind == "stream":
            return None if status in (self.status, 500, 503) else "status %d" % status
        if status in (500, 503):
            if not complete:
                return None  # cut short: a closed connection
            if json_ok(body) and "error" in json.loads(body.decode()):
                return None
            return "%d without a JSON error body: %r" % (status, body[:200])
        if status != self.status:
            return "status %d (unarmed: %d): %r" % (status, self.status, body[:200])
        if not complete:
            return None  # the stream stopped: the client sees a cut response
        if self.kind == "json" and not json_ok(body):
            return "status %d with a body that is not JSON: ...%r" % (status, body[-200:])
        if self.kind == "text" and not body:
            return "status %d with an empty body" % status
        return None


def requests(port, cookie, lcookie):
    R = [
        Request("list", "GET", "/api/v1/connections"),
        Request("list-state", "GET", "/api/v1/connections?state=ESTABLISHED&sort=rtt"),
        Request("list-filter", "GET", "/api/v1/connections?filter=sport%%20%%3D%%20%%3A%d" % port),
        Request("list-port", "GET", "/api/v1/connections?local_port=%d&family=inet" % port),
        Request("list-text", "GET", "/api/v1/connections?format=text", kind="text"),
        Request("one", "GET", "/api/v1/connections/%d" % cookie),
        Request("listeners", "GET", "/api/v1/listeners"),
        Request("listener", "GET", "/api/v1/listeners/%d" % lcookie),
        Request("probes", "GET", "/api/v1/probes"),
        Request("probe-post", "POST", "/api/v1/probes",
                body={"target": "127.0.0.1:%d" % port, "count": 1, "timeout": 0.2}),
        Request("findings", "GET", "/api/v1/findings"),
        Request("summary", "GET", "/api/v1/summary"),
        Request("stats", "GET", "/api/v1/stats"),
        Request("metrics", "GET", "/metrics", kind="text"),
        Request("healthz", "GET", "/healthz", kind="any"),
        Request("events", "GET", "/api/v1/events", kind="stream", read_s=EVENTS_READ_S),
    ]
    return R


def round_(d, R, extra=()):
    bad = []
    for r in list(R) + list(extra):
        t0 = time.monotonic()
        res = r.send(d.sock)
        why = r.judge(res)
        if not why and r.kind != "stream" and time.monotonic() - t0 > SLOW_S:
            why = "no answer nor close within %.1f s (status %s)" % (SLOW_S, res[0])
        if why:
            bad.append("%s %s: %s" % (r.method, r.path, why))
    return bad


def spread(count, n):
    step = max(1, count // n)
    return list(range(1, count + 1, step))


def main():
    lib = os.environ.get("TW_FAILMALLOC_LIB") or os.path.join(
        twtest.bin_dir(), "libtw-failmalloc.so")
    if not os.path.exists(lib):
        raise twtest.Skip("%s not built (not in the sanitized build: ASan has "
                          "its own allocator)" % lib)
    if os.environ.get("TCPWATCH_SANITIZED") == "1":
        raise twtest.Skip("a sanitized daemon: ASan's allocator")

    tmp = tempfile.mkdtemp(prefix="tw-failmalloc-")
    twtest.at_cleanup(lambda: __import__("shutil").rmtree(tmp, ignore_errors=True))
    ctl = Ctl(os.path.join(tmp, "ctl"))

    # The test's own connection and listener, for the one-object endpoints.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = lsock.accept()
    twtest.at_cleanup(lambda: [s.close() for s in (client, server, lsock)])

    os.environ.update({"LD_PRELOAD": lib, "TW_FAIL_CTL": ctl.f.name,
                       "TW_FAIL_PROC": "tcpwatchd"})
    with twtest.Daemon() as d:
        for k in ("LD_PRELOAD", "TW_FAIL_CTL", "TW_FAIL_PROC"):
            os.environ.pop(k, None)
        check(ctl.get(W_MAGIC) == MAGIC and ctl.get(W_PID) == d.proc.pid,
              "the shim did not map the control page in tcpwatchd "
              "(magic %#x, pid %d)" % (ctl.get(W_MAGIC), ctl.get(W_PID)))

        def find_ours():
            st, _, body, ok = exchange(d.sock, "GET", "/api/v1/connections?local_port=%d" % port)
            if st != 200 or not ok:
                return None
            conns = [c for c in json.loads(body) if c.get("state") == "ESTABLISHED"]
            return conns[0] if conns else None

        ours = twtest.wait_for(find_ours, timeout=10)
        check(ours, "the test's connection on port %d is not listed" % port)
        st, _, body, _ = exchange(d.sock, "GET", "/api/v1/listeners")
        mine = [x for x in json.loads(body) if x.get("local_port") == port]
        check(mine, "the test's listener on port %d is not listed" % port)

        R = requests(port, ours["cookie"], mine[0]["cookie"])
        for r in R:
            st, _, body, ok = r.send(d.sock)
            check(st is not None and (ok or r.kind == "stream"),
                  "unarmed %s %s: no complete answer" % (r.method, r.path))
            r.status = st
        # POST answers 201 (a job) or a refusal, the same each time.
        twtest.log("unarmed statuses: %s" % ", ".join("%s %s" % (r.name, r.status) for r in R))

        # Allocations of one round, and the live count's growth per round.
        ctl.arm(0)
        bad = round_(d, R)
        count = ctl.get(W_CALLS)
        ctl.disarm()
        check(not bad, "unarmed round: %s" % bad)
        check(count > 0, "no allocations counted in a round: the shim is not working")
        live0 = ctl.get(W_LIVE)
        round_(d, R)
        round_(d, R)
        time.sleep(0.3)
        live1 = ctl.get(W_LIVE)
        per_round = max(0, (live1 - live0) / 2.0)
        twtest.log("one round: %d allocations; live %d -> %d over 2 rounds"
                   % (count, live0, live1))

        plan = ([(n, False) for n in spread(count, ONCE_ROUNDS)]
                + [(n, True) for n in spread(count, ALWAYS_ROUNDS)])
        plan = plan[0::2] + plan[1::2]  # cut short, it still spans the range
        t0 = time.monotonic()
        problems, refused, rounds = [], 0, 0
        for n, always in plan:
            if time.monotonic() - t0 > SWEEP_BUDGET_S:
                twtest.log("time budget spent: %d of %d rounds run" % (rounds, len(plan)))
                break
            ctl.arm(n, always)
            bad = round_(d, R)
            ctl.disarm()
            rounds += 1
            refused += ctl.get(W_FAILURES)
            if not d.alive():
                d.assert_alive("after failing allocation %d (%s) of a round"
                               % (n, "always" if always else "once"))
            if bad:
                twtest.log("N=%d %s: %s" % (n, "always" if always else "once", bad))
            for b in bad:
                problems.append("N=%d %s: %s" % (n, "always" if always else "once", b))
            st, _, _, ok = exchange(d.sock, "GET", "/healthz")
            if st != 200:
                fail("unarmed after N=%d: GET /healthz %s" % (n, st))
        twtest.log("%d rounds (%d requests) in %.1f s, %d allocations refused"
                   % (rounds, rounds * len(R), time.monotonic() - t0, refused))

        time.sleep(0.3)
        live2 = ctl.get(W_LIVE)
        allowed = per_round * rounds + 200
        twtest.log("live allocations: %d before the sweep, %d after (rounds "
                   "add %.1f each unarmed)" % (live1, live2, per_round))
        check(ours == find_ours() or find_ours(),
              "after the sweep the test's connection is no longer listed")
        bad = round_(d, R)
        check(not bad, "unarmed after the sweep: %s" % bad)
        stats = d.stats()
        counted = {k: v for k, v in sorted(stats.items())
                   if "alloc_fail" in k or "oom" in k}
        twtest.log("allocation failure counters in /api/v1/stats: %s" % counted)
        if problems:
            fail("%d improper answers under failing allocations:\n  %s"
                 % (len(problems), "\n  ".join(problems[:60])))
        # Report-only for now: background work (reconcile, events, probe
        # jobs) moves the live count too; a growth here is a lead to chase
        # with valgrind, not yet a verdict.
        if live2 - live1 > allowed:
            twtest.log("LEAK SUSPECT: live allocations grew by %d over the "
                       "sweep (%d rounds, %.1f per unarmed round)"
                       % (live2 - live1, rounds, per_round))


if __name__ == "__main__":
    twtest.run(main, timeout=220)
