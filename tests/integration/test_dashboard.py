#!/usr/bin/python3
"""The web dashboard is served at / on the Unix socket and on the loopback
TCP port, as HTML that uses the API endpoints it needs, and those answer
(the event stream with text/event-stream)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_get(port, path, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
               % path).encode())
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    s.close()
    return twtest.parse_http_response(b"".join(chunks))


def main():
    port = free_port()
    with twtest.Daemon(extra_args=("--listen", "127.0.0.1:%d" % port)) as d:
        resp = d.http_request("/")
        check_eq(resp.status, 200, "GET / on the Unix socket")
        check(resp.headers.get("content-type", "").startswith("text/html"),
              "GET /: expected text/html, got %r" % resp.headers)
        html = resp.body.decode()
        check("<title>tcpwatch</title>" in html, "GET /: not the dashboard")
        for endpoint in ("/api/v1/connections", "/api/v1/findings",
                         "/api/v1/stats", "/api/v1/events"):
            check(endpoint in html, "the dashboard does not use %s" % endpoint)

        resp = tcp_get(port, "/index.html")
        check_eq(resp.status, 200, "GET /index.html on 127.0.0.1:%d" % port)
        check_eq(resp.body.decode(), html, "the same page on both listeners")

        # The endpoints the page calls answer as it expects.
        for path in ("/api/v1/connections?state=all&limit=500", "/api/v1/stats",
                     "/api/v1/findings"):
            resp = tcp_get(port, path)
            check_eq(resp.status, 200, "GET %s" % path)
            resp.json("GET %s" % path)

        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in head and time.monotonic() < deadline:
            head += s.recv(4096)
        s.close()
        check(b"200" in head.split(b"\r\n")[0], "events: %r" % head[:200])
        check(b"text/event-stream" in head.lower(), "events content type: %r" % head[:300])
        d.assert_alive("after the dashboard's requests")


if __name__ == "__main__":
    twtest.run(main)
