#!/usr/bin/python3
"""`tcpwatch list --sort KEY` orders the daemon's rows: by local or
remote endpoint, by bytes (tcp_info's acked + received, after the test's
clients sent different amounts), descending with -KEY or --reverse; the
default order (by cookie) is unchanged; an unknown key is refused, by the
CLI and by the API (400 with the accepted keys); the daemon-less list
sorts the same way."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402


def rows(out):
    return [x.split() for x in out.splitlines()[1:] if x and not x.startswith("\t")]


def main():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    twtest.at_cleanup(lst.close)
    port = lst.getsockname()[1]
    with twtest.Daemon() as d:
        clients = []
        amounts = [3000, 100, 7000, 500]
        for n in amounts:
            c = socket.create_connection(("127.0.0.1", port))
            a, _ = lst.accept()
            twtest.at_cleanup(c.close)
            twtest.at_cleanup(a.close)
            c.sendall(b"s" * n)
            a.recv(n, socket.MSG_WAITALL)
            clients.append(c)
        cports = [c.getsockname()[1] for c in clients]
        expr = "dport = :%d" % port  # the clients' side only

        # Default order: by cookie, as before.
        base = rows(d.cli("list", "-e", expr))
        cookies = [int(re.search(r"sk:([0-9a-f]+)", " ".join(r)).group(1), 16) for r in base]
        check_eq(len(cookies), 4, "the four clients")
        check_eq(cookies, sorted(cookies), "default order: by cookie")

        def local_ports(out):
            return [int(r[1].rsplit(":", 1)[1]) for r in rows(out)]
        check_eq(local_ports(d.cli("list", "--sort", "local", expr)), sorted(cports),
                 "--sort local: ascending local port")
        check_eq(local_ports(d.cli("list", "--sort=-local", expr)), sorted(cports, reverse=True),
                 "--sort=-local: descending")
        check_eq(local_ports(d.cli("list", "--sort", "local", "--reverse", expr)),
                 sorted(cports, reverse=True), "--reverse")

        # bytes: the reconcile samples tcp_info every second.
        want = [p for _, p in sorted(zip(amounts, cports), reverse=True)]

        def by_bytes():
            got = local_ports(d.cli("list", "--sort=-bytes", expr))
            return got if got == want else log("not yet: %r (want %r)" % (got, want))
        check(twtest.wait_for(by_bytes, timeout=8, interval=0.5),
              "--sort=-bytes puts the client that sent most first: %r" % want)
        info = d.cli("list", "--sort=bytes", "-i", expr)
        acked = [int(x) for x in re.findall(r"bytes_acked:(\d+)", info)]
        check_eq(acked, sorted(acked), "ascending bytes_acked in -i: %r" % acked)

        # state, age, rtt, cookie, remote are accepted.
        for key in ("state", "age", "rtt", "cookie", "remote", "-age"):
            check_eq(len(rows(d.cli("list", "--sort", key, expr))), 4, "--sort %s" % key)
        t0 = time.monotonic()
        r = d.cli_run("list", "--sort", "nonsense")
        check(r.returncode == 2 and "unknown key 'nonsense'" in r.stderr and "rtt" in r.stderr,
              "an unknown key is refused: %d %r" % (r.returncode, r.stderr))
        resp = d.http_request("/api/v1/connections?sort=nonsense")
        body = resp.json("sort=nonsense")
        check(resp.status == 400 and "unknown key" in body["error"] and "bytes" in body["error"],
              "the API refuses it too: %d %r" % (resp.status, body))
        resp = d.http_request("/api/v1/connections?sort=rtt&after=5")
        check_eq(resp.status, 400, "sort= with after= (cookie-order paging)")
        log("refusals in %.2f s" % (time.monotonic() - t0))

        # The daemon-less list sorts the same way.
        r = d.cli_run("--socket", "/nonexistent/tw.sock", "list", "--sort=-local", expr)
        check_eq(r.returncode, 0, "daemon-less --sort: %r" % r.stderr)
        check_eq([int(x[3].rsplit(":", 1)[1]) for x in rows(r.stdout)],
                 sorted(cports, reverse=True), "daemon-less --sort=-local")


if __name__ == "__main__":
    twtest.run(main)
