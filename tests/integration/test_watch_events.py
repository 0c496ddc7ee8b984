#!/usr/bin/python3
"""`tcpwatch watch --json` prints one JSON object per line per event: after a
loopback connection opens and closes, its lines (kind "state", from, to,
cookie, local_port) appear within a few seconds and in order:
CLOSE->SYN_SENT, SYN_SENT->ESTABLISHED, ESTABLISHED->FIN_WAIT1,
FIN_WAIT1->FIN_WAIT2.  GET /api/v1/events over the Unix socket answers
Content-Type text/event-stream with "data: {...}" lines."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

HOST = "127.0.0.1"
WANT = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
        ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2")]


def one_connection(ls, port):
    """Open, use and close (client first) a connection; return its client
    port."""
    c = socket.socket()
    c.settimeout(10)
    c.connect((HOST, port))
    a, _ = ls.accept()
    a.settimeout(10)
    cport = c.getsockname()[1]
    c.sendall(b"x")
    a.recv(10)
    time.sleep(0.02)
    c.close()
    a.recv(10)
    a.close()
    return cport


def state_pairs(events, cookie):
    return [(e.get("from"), e.get("to")) for e in events
            if e.get("cookie") == cookie and e.get("kind") == "state"]


def check_watch(d, ls, port):
    watcher = twtest.spawn([d.cli_path, "--socket", d.sock, "watch", "--json"],
                           stdin=subprocess.DEVNULL)
    reader = lu.LineReader(watcher)
    try:
        # Warm up: make throw-away connections until the watcher prints
        # anything, so that we know its subscription is live.
        deadline = time.monotonic() + 10
        while not reader.lines:
            if watcher.poll() is not None:
                fail("`tcpwatch watch --json` exited with %s before printing "
                     "anything" % watcher.returncode)
            if time.monotonic() > deadline:
                fail("`tcpwatch watch --json` printed nothing within 10 s "
                     "while loopback connections opened and closed")
            one_connection(ls, port)
            reader.pump(0.5)
        lu.json_lines(reader.lines, "`tcpwatch watch --json`")
        n_warm = len(reader.lines)

        cport = one_connection(ls, port)
        twtest.log("watched connection: client port %d -> %d" % (cport, port))
        cookie = None
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            reader.pump(0.3)
            events = lu.json_lines(reader.lines[n_warm:],
                                   "`tcpwatch watch --json`")
            if cookie is None:
                for e in events:
                    if (e.get("kind") == "state"
                            and e.get("to") == "ESTABLISHED"
                            and e.get("local_port") == cport
                            and e.get("remote_port") == port):
                        cookie = e.get("cookie")
                        break
            if cookie is not None and \
                    state_pairs(events, cookie)[:len(WANT)] == WANT:
                break
        events = lu.json_lines(reader.lines[n_warm:], "`tcpwatch watch --json`")
        check(watcher.poll() is None, "`tcpwatch watch --json` exited (%s) "
              "while watching" % watcher.returncode)
        if cookie is None:
            fail("`tcpwatch watch --json`: no line with kind \"state\", "
                 "to \"ESTABLISHED\", local_port %d, remote_port %d within 8 s; "
                 "lines after warm-up:\n%s"
                 % (cport, port, "\n".join(reader.lines[n_warm:][:100])))
        pairs = state_pairs(events, cookie)
        if pairs[:len(WANT)] != WANT:
            fail("`tcpwatch watch --json`, state lines of cookie %d in order:\n"
                 "  expected to start with: %s\n  actual: %s\nlines:\n%s"
                 % (cookie, twtest.path_str(WANT), twtest.path_str(pairs),
                    "\n".join(json.dumps(e) for e in events
                              if e.get("cookie") == cookie)))
        for e in events:
            if e.get("cookie") != cookie or e.get("kind") != "state":
                continue
            missing = [k for k in ("kind", "from", "to", "cookie", "local_port")
                       if k not in e]
            check(not missing, "watch line lacks %s: %s" % (missing, e))
            if (e["from"], e["to"]) in WANT[1:]:
                check_eq(e["local_port"], cport, "local_port of the %s->%s "
                         "watch line" % (e["from"], e["to"]))
        twtest.log("watch lines for cookie %d: %s"
                   % (cookie, twtest.path_str(pairs)))

        cl = lu.find_one(d, lu.tuple_pred(cport, port, HOST),
                         "watched client connection")
        check_eq(cl["cookie"], cookie, "cookie in the watch lines vs "
                 "`list -a --json`")
    finally:
        lu.stop_proc(watcher)


def check_sse(d, ls, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(d.sock)
        s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\n"
                  b"Accept: text/event-stream\r\n\r\n")
        resp = twtest.ResponseParser(chunked_what="the event stream")
        body = b""
        data_lines = []
        deadline = time.monotonic() + 10
        next_conn = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_conn:
                one_connection(ls, port)  # something to report
                next_conn = time.monotonic() + 1.0
            try:
                b = s.recv(65536)
            except socket.timeout:
                b = None
            if b == b"":
                break
            if b:
                had_head = resp.headers is not None
                resp.feed(b)
                if resp.headers is None:
                    continue
                if not had_head:
                    check(resp.status == 200,
                          "GET /api/v1/events status line: %r"
                          % resp.status_line)
                    ctype = resp.headers.get("content-type", "")
                    check(ctype.split(";")[0].strip().lower()
                          == "text/event-stream",
                          "GET /api/v1/events Content-Type: expected "
                          "text/event-stream, actual %r" % ctype)
                body = resp.body
            lines = body.decode("utf-8", "replace").split("\n")[:-1]
            data_lines = [ln[len("data:"):].strip() for ln in lines
                          if ln.startswith("data:")]
            if any(x.startswith("{") for x in data_lines):
                break
        if resp.headers is None:
            fail("GET /api/v1/events: no response headers within 10 s; got %r"
                 % resp.head_raw[:500])
        objs = [x for x in data_lines if x.startswith("{")]
        if not objs:
            fail("GET /api/v1/events: no 'data: {...}' line within 10 s while "
                 "connections opened and closed; body so far: %r" % body[:2000])
        v = json.loads(objs[0])
        check(isinstance(v, dict) and "kind" in v,
              "first SSE data object has no kind: %s" % pretty(v))
        twtest.log("SSE: %d data line(s), first: %s" % (len(objs), objs[0][:200]))
    finally:
        s.close()


def main():
    with twtest.Daemon() as d:
        ls = socket.socket()
        ls.bind((HOST, 0))
        ls.listen(16)
        ls.settimeout(10)
        port = ls.getsockname()[1]
        try:
            check_watch(d, ls, port)
            check_sse(d, ls, port)
        finally:
            ls.close()


if __name__ == "__main__":
    twtest.run(main)
