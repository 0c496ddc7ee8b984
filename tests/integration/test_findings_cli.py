#!/usr/bin/python3
"""With tcpwatchd started with --connect-failures 3, four connect()s to a
loopback port nobody listens on produce a finding of kind
"connect_failures" for that destination (remote_addr 127.0.0.1, remote_port
the port) with count >= 4, in GET /api/v1/findings and in
`tcpwatch findings --json`; `tcpwatch findings` (table) shows the port."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

HOST = "127.0.0.1"
ATTEMPTS = 4


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon(extra_args=["--connect-failures", "3"]) as d:
        holder, port = lu.reserve_closed_port(HOST)
        try:
            cports = [lu.refused_connect(HOST, port) for _ in range(ATTEMPTS)]
            twtest.log("%d connects to %s:%d refused (from ports %s)"
                       % (ATTEMPTS, HOST, port, cports))

            def ours(f):
                return (f.get("kind") == "connect_failures"
                        and f.get("remote_addr") == HOST
                        and f.get("remote_port") == port
                        and lu.is_num(f.get("count"))
                        and f["count"] >= ATTEMPTS)

            f, allf = lu.wait_finding(lambda: lu.http_findings(d), ours,
                                      timeout=15)
            if f is None:
                fail("GET /api/v1/findings: no connect_failures finding for "
                     "%s:%d with count >= %d; findings:\n%s"
                     % (HOST, port, ATTEMPTS, pretty(allf)[:6000]))
            lu.check_finding_shape(f, "connect_failures finding")
            check_eq(f.get("netns"), host_ns, "connect_failures finding netns")
            twtest.log("finding: count %s, %s" % (f["count"], f.get("summary")))

            cf = [x for x in lu.cli_findings(d) if ours(x)]
            check_eq(len(cf), 1, "`tcpwatch findings --json`: number of "
                     "connect_failures findings for %s:%d" % (HOST, port))

            table = d.cli("findings")
            check(lu.has_pid_token(table, port),
                  "`tcpwatch findings` (table) does not show the port %d:\n%s"
                  % (port, table))
            check("connect" in table.lower(),
                  "`tcpwatch findings` (table) does not name the connect "
                  "failures:\n%s" % table)
            twtest.log("table:\n%s" % table.rstrip())
        finally:
            holder.close()


if __name__ == "__main__":
    twtest.run(main)
