#!/usr/bin/python3
"""Bad HTTP requests on the API socket get 4xx answers with a JSON error
body, and malformed or stalled requests do not crash or block the daemon:
afterwards GET /healthz still answers 200 and the process is alive."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402


def expect_error(d, path, statuses):
    status, body = d.http_get(path)
    if status not in statuses:
        fail("GET %s: expected status %s, actual %d, body %s"
             % (path[:120], " or ".join(map(str, statuses)), status,
                pretty(body)[:500]))
    check(isinstance(body, dict) and isinstance(body.get("error"), str)
          and body["error"],
          "GET %s (status %d): expected a JSON body {\"error\": \"...\"}, "
          "actual %s" % (path[:120], status, pretty(body)[:500]))
    twtest.log("GET %s -> %d %s" % (path[:80], status, body["error"]))
    d.assert_alive("after GET %s" % path[:80])


def healthz(d, timeout=5.0):
    resp = d.http_request("/healthz", timeout=timeout)
    check_eq(resp.status, 200, "GET /healthz status")


def main():
    with twtest.Daemon() as d:
        # Baseline: the good requests work, so the 4xx below mean something.
        status, body = d.http_get("/api/v1/connections")
        check_eq(status, 200, "GET /api/v1/connections status")
        check(isinstance(body, list), "GET /api/v1/connections: expected a "
              "JSON array, actual %s" % pretty(body)[:500])
        status, body = d.http_get("/api/v1/stats")
        check_eq(status, 200, "GET /api/v1/stats status")
        for k in ("events_received", "events_lost", "reconcile_runs",
                  "reconcile_corrections", "connections_live",
                  "connections_retained"):
            check(k in body, "GET /api/v1/stats lacks %r: %s" % (k, pretty(body)))
        healthz(d)

        expect_error(d, "/api/v1/no-such-endpoint", {404})
        expect_error(d, "/api/v1/connections/notanumber", {400})
        expect_error(d, "/api/v1/connections/999999999999", {404})
        for q in ("state=BOGUS", "local_port=99999", "limit=-1",
                  "local_addr=1.2.3.999"):
            expect_error(d, "/api/v1/connections?" + q, {400})
        # The listeners: the same parameters, the same errors.
        status, body = d.http_get("/api/v1/listeners")
        check(status == 200 and isinstance(body, list), "GET /api/v1/listeners: %d" % status)
        expect_error(d, "/api/v1/listeners/notanumber", {400})
        expect_error(d, "/api/v1/listeners/18446744073709551616", {400})
        expect_error(d, "/api/v1/listeners/999999999999", {404})
        for q in ("state=BOGUS", "local_port=99999", "bogus=1", "filter=sport%20%3D"):
            expect_error(d, "/api/v1/listeners?" + q, {400})
        expect_error(d, "/api/v1/listeners/1?bogus=1", {400})

        # A 16 KiB query string.
        long_path = "/api/v1/connections?local_addr=" + "a" * 16384
        resp = d.http_request(long_path)
        check(resp.status in (400, 414, 431),
              "GET with a 16 KiB query string: expected 400, 414 or 431, "
              "actual %d (%r)" % (resp.status, resp.body[:200]))
        twtest.log("16 KiB query string -> %d" % resp.status)
        d.assert_alive("after the 16 KiB query string")

        # Raw malformed requests: any answer (or none) is fine as long as it
        # is not a success and the daemon survives.
        # Raw malformed requests.  Nothing may crash the daemon.  Those marked
        # strict are invalid HTTP beyond doubt (RFC 9112), so if they are
        # answered at all the answer must not be a success; the others
        # (HTTP/0.9 form, bare LF, unknown version, a large header) may be
        # served leniently.
        raw_requests = [
            ("garbage request line", True, b"GARBAGE\r\n\r\n"),
            ("method only", True, b"GET\r\n\r\n"),
            ("no version", False, b"GET /api/v1/stats\r\n\r\n"),
            ("bad version", False,
             b"GET /api/v1/stats HTTP/9.9\r\nHost: x\r\n\r\n"),
            ("binary junk", True, bytes(range(256)) * 8 + b"\r\n\r\n"),
            ("NUL in path", True,
             b"GET /api/v1/conn\x00ections HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("percent-NUL cookie", True,
             b"GET /api/v1/connections/%00 HTTP/1.1\r\nHost: x\r\n"
             b"Connection: close\r\n\r\n"),
            ("negative content-length", True,
             b"GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: -5\r\n\r\n"),
            ("bad chunked body", False,
             b"POST /api/v1/stats HTTP/1.1\r\nHost: x\r\n"
             b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n\r\n"),
            ("header without colon", True,
             b"GET /api/v1/stats HTTP/1.1\r\nHost x\r\nno colon here\r\n\r\n"),
            ("64 KiB header", False,
             b"GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nX-Big: "
             + b"a" * 65536 + b"\r\n\r\n"),
            ("bare LF", False, b"GET /api/v1/stats HTTP/1.1\nHost: x\n\n"),
            ("half a request line", True, b"GET /api/v1/conn"),
        ]
        for label, strict, data in raw_requests:
            raw = d.http_raw(data, timeout=5.0, shut_wr=True)
            first = raw.split(b"\r\n", 1)[0][:100]
            twtest.log("raw %s -> %r" % (label, first if raw else "(no answer)"))
            if strict and first.startswith(b"HTTP/"):
                parts = first.split(b" ")
                check(len(parts) >= 2 and not parts[1].startswith(b"2"),
                      "malformed request (%s): expected no answer or an error "
                      "status, actual %r" % (label, first))
            d.assert_alive("after a raw %s" % label)

        # A client that sends half a request and stalls must not block the
        # (single-threaded) daemon from serving others.
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            stalled.connect(d.sock)
            stalled.sendall(b"GET /api/v1/st")
            t0 = time.monotonic()
            healthz(d, timeout=5.0)
            twtest.log("healthz answered in %.3f s while a request is stalled"
                       % (time.monotonic() - t0))
        finally:
            stalled.close()

        # Many connections opened and dropped without a byte.
        for _ in range(50):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.sock)
            s.close()

        time.sleep(0.5)
        d.assert_alive("after the malformed requests")
        healthz(d)
        status, _ = d.http_get("/api/v1/stats")
        check_eq(status, 200, "GET /api/v1/stats status at the end")
        d.cli_json("stats", "--json")


if __name__ == "__main__":
    twtest.run(main)
