#!/usr/bin/python3
"""A server process (a separate child with a known pid) accepts a connection
and never closes it; the client closes.  With tcpwatchd started with
--close-wait-threshold 1, after more than 1 s GET /api/v1/findings and
`tcpwatch findings --json` report a finding of kind "close_wait_stuck" whose
"connections" include the server connection's cookie and whose "processes"
include the server's pid; `tcpwatch findings` (table) prints that pid."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

HOST = "127.0.0.1"

# Accepts one connection, reports the peer's port, reads until EOF and then
# keeps the socket open (never close()s it) until its stdin closes.
SERVER = r'''
import os, socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4)
print(os.getpid(), ls.getsockname()[1], flush=True)
a, peer = ls.accept()
while a.recv(4096):
    pass
print(peer[1], flush=True)
sys.stdin.read()
'''


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon(extra_args=["--close-wait-threshold", "1"]) as d:
        server = twtest.spawn_python(SERVER)
        pid_txt, port_txt = twtest.read_line(server).split()
        server_pid, port = int(pid_txt), int(port_txt)
        check_eq(server_pid, server.pid, "pid the server printed vs Popen pid")

        c = socket.socket()
        c.settimeout(10)
        c.connect((HOST, port))
        cport = c.getsockname()[1]
        c.sendall(b"hello")
        time.sleep(0.05)
        c.close()
        check_eq(int(twtest.read_line(server)), cport,
                 "peer port the server saw at EOF")
        t_close = time.monotonic()
        twtest.log("server pid %d on %s:%d holds the connection from port %d "
                   "in CLOSE_WAIT" % (server_pid, HOST, port, cport))

        sv = lu.find_one(d, lu.tuple_pred(port, cport, HOST, host_ns,
                                          states=("CLOSE_WAIT",)),
                         "server connection %d->%d in CLOSE_WAIT"
                         % (port, cport))
        cookie = sv["cookie"]

        def ours(f):
            return (f.get("kind") == "close_wait_stuck"
                    and cookie in (f.get("connections") or []))

        f, allf = lu.wait_finding(lambda: lu.http_findings(d), ours, timeout=15)
        if f is None:
            fail("GET /api/v1/findings: no close_wait_stuck finding with "
                 "connection %d (server pid %d) %.1f s after the client "
                 "closed; findings:\n%s"
                 % (cookie, server_pid, time.monotonic() - t_close,
                    pretty(allf)[:6000]))
        elapsed = time.monotonic() - t_close
        twtest.log("finding after %.1f s: %s" % (elapsed, f.get("summary")))
        lu.check_finding_shape(f, "close_wait_stuck finding")
        pids = [p.get("pid") for p in f["processes"] if isinstance(p, dict)]
        check(server_pid in pids, "close_wait_stuck finding: processes %s do "
              "not include the server pid %d\n%s"
              % (f["processes"], server_pid, pretty(f)))
        check_eq(f.get("netns"), host_ns, "close_wait_stuck finding netns")
        check(lu.is_num(f.get("count")) and f["count"] >= 1,
              "close_wait_stuck finding count: %r" % f.get("count"))

        cf = [x for x in lu.cli_findings(d) if ours(x)]
        if len(cf) != 1:
            fail("`tcpwatch findings --json`: expected 1 close_wait_stuck "
                 "finding with connection %d, found %d" % (cookie, len(cf)))
        check(server_pid in [p.get("pid") for p in cf[0].get("processes", [])],
              "`tcpwatch findings --json`: processes %s lack pid %d"
              % (cf[0].get("processes"), server_pid))

        table = d.cli("findings")
        check(lu.has_pid_token(table, server_pid),
              "`tcpwatch findings` (table) does not print the server pid %d:\n%s"
              % (server_pid, table))
        check("close_wait" in table.lower().replace("-", "_").replace(" ", "_"),
              "`tcpwatch findings` (table) does not name the close-wait "
              "finding:\n%s" % table)
        twtest.log("table:\n%s" % table.rstrip())

        twtest.finish_child(server, what="server")


if __name__ == "__main__":
    twtest.run(main)
