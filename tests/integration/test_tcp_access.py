#!/usr/bin/python3
"""Who may read the TCP API. A request whose Host does not name this daemon
(a web page's own name, as DNS rebinding sends it) is refused with 421, on
loopback too; names in allowed-hosts are answered. With a token, every TCP
request but /healthz and /metrics needs it (401 and WWW-Authenticate
otherwise), and it allows POST; the Unix socket needs neither. Listening
beyond loopback without a token is refused at start-up. Every refusal is
counted."""

import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402
from twtest.http import parse_http_response  # noqa: E402

TOKEN = "tw-test-token-0123456789"


def tcp(port, path, host="localhost", method="GET", headers=(), body=None,
        version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    lines += list(headers) + ["Connection: close"]
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines += ["Content-Type: application/json",
                  "Content-Length: %d" % len(data)]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return parse_http_response(out)


def status_of(resp):
    return resp.status


def host_checks(d, port):
    for host in ("localhost", "localhost:%d" % port, "127.0.0.1:%d" % port,
                 "127.0.0.2", "mon.example:%d" % port):
        check_eq(tcp(port, "/api/v1/stats", host).status, 200, "Host: %s" % host)
    refused = 0
    for host in ("evil.example", "evil.example:%d" % port,
                 "localhost.evil.example", "128.0.0.1:%d" % port, "::1"):
        r = tcp(port, "/api/v1/stats", host)
        check_eq(r.status, 421, "Host: %s refused" % host)
        check("allowed-hosts" in r.json("421 body")["error"], "the refusal says why")
        refused += 1
    r = tcp(port, "/", "evil.example")
    check_eq(r.status, 421, "the dashboard for a foreign Host")
    refused += 1
    r = tcp(port, "/api/v1/stats", None, version="HTTP/1.0")
    check_eq(r.status, 421, "no Host at all")
    refused += 1
    # The Unix socket has no Host to check.
    raw = twtest.unix_exchange(
        d.sock, b"GET /api/v1/stats HTTP/1.1\r\nHost: evil.example\r\n"
        b"Connection: close\r\n\r\n")
    check_eq(parse_http_response(raw).status, 200, "the Unix socket, any Host")
    check_eq(d.stats()["http_host_refused"], refused, "refusals counted")


def token_checks(d, port):
    auth = "Authorization: Bearer " + TOKEN
    r = tcp(port, "/api/v1/stats")
    check_eq(r.status, 401, "no token")
    check("Bearer" in r.headers.get("www-authenticate", ""),
          "WWW-Authenticate: %r" % r.headers)
    check_eq(tcp(port, "/api/v1/stats", headers=["Authorization: Bearer nope"]).status,
             401, "a wrong token")
    check_eq(tcp(port, "/api/v1/connections",
                 headers=["Authorization: Basic " + TOKEN]).status,
             401, "not a bearer token")
    check_eq(tcp(port, "/api/v1/stats", headers=[auth]).status, 200, "the token")
    check_eq(tcp(port, "/", headers=[auth]).status, 200, "the page, with the token")
    for path in ("/healthz", "/metrics"):
        check_eq(tcp(port, path).status, 200, "%s without the token" % path)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    twtest.at_cleanup(lsock.close)
    r = tcp(port, "/api/v1/probes", method="POST", headers=[auth],
            body={"target": "127.0.0.1:%d" % lsock.getsockname()[1], "count": 1})
    check(r.status in (200, 201, 202), "POST with the token: %d %r"
          % (r.status, r.body[:300]))
    r = tcp(port, "/api/v1/probes", method="POST",
            body={"target": "127.0.0.1:9", "count": 1})
    check_eq(r.status, 401, "POST without the token")
    # Host is checked first: a right token does not make a foreign Host ok.
    check_eq(tcp(port, "/api/v1/stats", "evil.example", headers=[auth]).status,
             421, "a foreign Host with the token")
    st = d.stats()
    check_eq(st["http_token_refused"], 4, "token refusals counted")
    check_eq(st["http_host_refused"], 1, "host refusals counted")


def main():
    port = twtest.free_port()
    with twtest.Daemon(["--listen", "127.0.0.1:%d" % port,
                        "--allowed-hosts", "mon.example, other.example"]) as d:
        host_checks(d, port)
    port = twtest.free_port()
    conf = os.path.join("/tmp", "tw-access-%d.conf" % os.getpid())
    with open(conf, "w") as f:
        f.write("token = %s\n" % TOKEN)
    os.chmod(conf, 0o600)
    twtest.at_cleanup(lambda: os.unlink(conf))
    with twtest.Daemon(["--config", conf, "--listen", "127.0.0.1:%d" % port]) as d:
        token_checks(d, port)
    for listen in ("198.18.0.1:9466", "0.0.0.0:9466", "[::]:9466"):
        r = subprocess.run([os.path.join(twtest.bin_dir(), "tcpwatchd"), "--foreground",
                            "--socket", "/tmp/tw-access-bad.sock", "--listen", listen],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode != 0, "--listen %s without a token refused (exit %d)"
              % (listen, r.returncode))
        check("set a token" in r.stderr, "says why: %r" % r.stderr.strip()[-300:])
    log("foreign Hosts refused with 421, the token enforced, wide listening refused")


if __name__ == "__main__":
    twtest.run(main)
