#!/usr/bin/python3
"""The web dashboard is served at / on the Unix socket and on the loopback
TCP port: the page, its script and styles and uPlot from /assets/, each
with its Content-Type, an ETag that revalidates to 304, and a CSP that
allows no inline code; the script uses the API endpoints it needs, and
those answer (the event stream with text/event-stream). What the page does
in a browser is tests/web/."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq  # noqa: E402


def tcp_get(port, path, timeout=5.0, headers=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n"
               % (path, headers)).encode())
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    s.close()
    return twtest.parse_http_response(b"".join(chunks))


def main():
    port = twtest.free_port()
    with twtest.Daemon(extra_args=("--listen", "127.0.0.1:%d" % port)) as d:
        resp = d.http_request("/")
        check_eq(resp.status, 200, "GET / on the Unix socket")
        check(resp.headers.get("content-type", "").startswith("text/html"),
              "GET /: expected text/html, got %r" % resp.headers)
        html = resp.body.decode()
        check("<title>tcpwatch</title>" in html, "GET /: not the dashboard")
        csp = resp.headers.get("content-security-policy", "")
        check("script-src 'self'" in csp and "unsafe-inline" not in csp
              and "unsafe-eval" not in csp, "GET /: CSP %r" % csp)
        check("<script>" not in html and "<style>" not in html
              and "style=" not in html, "the page has inline code or style")

        # Every asset the page names is served, with its type.
        scripts = ["/assets/%s.js" % n for n in
                   ("util", "filter", "ladder", "charts", "table", "app")]
        types = dict.fromkeys(scripts, "text/javascript")
        types.update({"/assets/app.css": "text/css",
                      "/assets/uPlot.iife.min.js": "text/javascript",
                      "/assets/uPlot.min.css": "text/css"})
        for path, ctype in sorted(types.items()):
            check(path in html, "the page does not load %s" % path)
            r = d.http_request(path)
            check_eq(r.status, 200, "GET %s" % path)
            check_eq(r.headers.get("content-type"), ctype + "; charset=utf-8",
                     "Content-Type of %s" % path)
            check(len(r.body) > 500, "%s: %d bytes" % (path, len(r.body)))
            check(r.headers.get("etag", "").startswith('"'), "%s: no ETag" % path)
        js = "".join(d.http_request(path).body.decode() for path in scripts)
        for endpoint in ("/api/v1/connections", "/api/v1/findings", "/api/v1/listeners",
                         "/api/v1/probes", "/api/v1/stats", "/api/v1/events", "/metrics"):
            check(endpoint in js, "the dashboard does not use %s" % endpoint)
        uplot = d.http_request("/assets/uPlot.iife.min.js").body
        check(b"uPlot" in uplot, "uPlot.iife.min.js is not uPlot")

        # Revalidation: the same ETag is a 304 without a body, another a 200.
        etag = resp.headers.get("etag")
        r = tcp_get(port, "/", headers="If-None-Match: %s\r\n" % etag)
        check_eq(r.status, 304, "GET / with If-None-Match of its ETag")
        check_eq(r.body, b"", "the 304's body")
        r = tcp_get(port, "/", headers='If-None-Match: "other"\r\n')
        check_eq(r.status, 200, "GET / with another ETag")
        for path in ("/assets/", "/assets/nope.js", "/assets/../index.html"):
            r = d.http_request(path)
            check_eq(r.status, 404, "GET %s" % path)
        r = d.http_request("/assets/app.js?x=1")
        check_eq(r.status, 400, "GET /assets/app.js with a query string")

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
        s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
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
