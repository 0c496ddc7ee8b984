#!/usr/bin/python3
"""Requests that arrive together, in one turn of the daemon's loop.

Requests for /api/v1/stats share one answer: thirty clients send theirs at
once (all written before any is read), the daemon serves them in one turn
and formats the stats once, counted as http_stats_shared. Every answer is
complete and well formed. A request of another kind between two stats
requests makes the second a fresh answer: a refused request's count is in
the very next stats answer.

A turn serves requests for a bounded time and puts the rest off to the
next (http_deferred): forty /metrics requests at once (each formats every
metric) are spread over several turns, and every one is answered in
full."""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402
from twtest.http import parse_http_response  # noqa: E402

CLIENTS = 30
BATCHES = 20
REQ = "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def batch(path, url="/api/v1/stats", clients=CLIENTS):
    """clients connections, each request written before any answer is read;
    returns the responses."""
    socks = []
    for _ in range(clients):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    # Connected first, then every request at once: the daemon has accepted
    # (or will accept in one turn) and finds them all readable together.
    req = (REQ % url).encode()
    for s in socks:
        s.sendall(req)
    raw = {s: b"" for s in socks}
    open_ = set(socks)
    deadline = time.time() + 30
    while open_:
        if time.time() > deadline:
            fail("%d stats answers still missing after 30 s" % len(open_))
        ready, _, _ = select.select(list(open_), [], [], 1.0)
        for s in ready:
            chunk = s.recv(65536)
            if chunk:
                raw[s] += chunk
            else:
                open_.discard(s)
                s.close()
    out = []
    for s in socks:
        resp = parse_http_response(raw[s])
        check_eq(resp.status, 200, "the status of GET %s" % url)
        out.append(resp)
    return out


def metric_names(body):
    """The names of the samples of a Prometheus text answer."""
    out = set()
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            out.add(line.split("{")[0].split(" ")[0])
    return out


def main():
    with twtest.Daemon() as d:
        shared0 = d.stats()["http_stats_shared"]
        shared = shared0
        for i in range(BATCHES):
            answers = [r.json("a stats answer") for r in batch(d.sock)]
            for a in answers:
                check(isinstance(a, dict) and "events_received" in a and "loop_max_ms" in a,
                      "a shared answer is the whole stats object")
            shared = d.stats()["http_stats_shared"]
            if shared > shared0 and i >= 2:
                break
        log("%d batches of %d: %d answers shared" % (i + 1, CLIENTS, shared - shared0))
        check(shared > shared0, "no stats answer was shared by requests of one turn "
              "(%d batches of %d requests written at once)" % (BATCHES, CLIENTS))

        # Another request between two stats requests: the second is fresh.
        for _ in range(5):
            before = d.stats()
            status, _ = d.http_get("/api/v1/no-such-endpoint")
            check_eq(status, 404, "an unknown endpoint")
            after = d.stats()
            check_eq(after["http_errors"], before["http_errors"] + 1,
                     "the refused request counted in the next stats answer")
            check(after["http_requests"] >= before["http_requests"] + 2,
                  "the requests between counted: %d then %d"
                  % (before["http_requests"], after["http_requests"]))

        # Forty /metrics at once: more than one turn's worth.
        resp = d.http_request("/metrics")
        check_eq(resp.status, 200, "GET /metrics")
        # The daemon's own figures: always there, whatever the table holds.
        names = {n for n in metric_names(resp.body) if n.startswith("tcpwatch_daemon_")}
        check("tcpwatch_daemon_events_received_total" in names, "the metrics' names")
        deferred0 = d.stats()["http_deferred"]
        for i in range(10):
            for r in batch(d.sock, "/metrics", 40):
                missing = names - metric_names(r.body)
                check(not missing and r.body.endswith(b"\n"),
                      "an answer served in a later turn is whole: missing %s"
                      % sorted(missing)[:5])
            deferred = d.stats()["http_deferred"]
            if deferred > deferred0:
                break
        log("%d batches of 40 /metrics: requests put off to a later turn %d times"
            % (i + 1, deferred - deferred0))
        check(deferred > deferred0, "no request was put off to a later turn "
              "(10 batches of 40 /metrics requests written at once)")


if __name__ == "__main__":
    twtest.run(main)
