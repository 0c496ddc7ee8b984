#!/usr/bin/python3
"""With tcp_syncookies=2 in a namespace of the test's, every SYN is answered
with a SYN cookie: the namespace's SyncookiesSent (and Recv) are reported
under the listener's netstat, equal to nstat -az's, and the syn_cookies
finding names the listener and its process."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402
from twtest import listen as tl  # noqa: E402

PORT = 8082
CLIENTS = 5

CONNECT = r'''
import socket, sys
cs = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
print("connected", flush=True)
sys.stdin.read()
'''


def main():
    with twtest.Netns() as ns, twtest.Daemon() as d:
        tl.setup_ns(ns, tcp_syncookies=2)
        # Followed (its counters read once) before anything happens in it.
        check(twtest.wait_for(lambda: d.stats()["netns"] >= 2, timeout=10),
              "the namespace is not followed")
        tl.passes(d)
        srv = tl.Server(ns, PORT, 64)
        cl = ns.spawn_python(CONNECT, PORT, CLIENTS)
        check_eq(twtest.read_line(cl), "connected", "clients")
        tl.passes(d, 2)
        l = tl.listener(d, PORT, ns.inode)
        check(l is not None, "listener not listed")
        kernel = tl.nstat(ns)
        sent = l["netstat"]["TcpExt_SyncookiesSent"]["total"]
        twtest.log("SYN cookies sent %d (nstat %d), received %d; children %d"
                   % (sent, kernel["TcpExtSyncookiesSent"],
                      l["netstat"]["TcpExt_SyncookiesRecv"]["total"], l["children"]))
        check(sent >= CLIENTS, "SyncookiesSent %d for %d connections" % (sent, CLIENTS))
        check_eq(sent, kernel["TcpExtSyncookiesSent"], "SyncookiesSent against nstat -az")
        check_eq(l["netstat"]["TcpExt_SyncookiesRecv"]["total"],
                 kernel["TcpExtSyncookiesRecv"], "SyncookiesRecv against nstat -az")
        check_eq(l["children"], CLIENTS, "connections through the listener")

        def finding():
            status, body = d.http_get("/api/v1/findings")
            return [f for f in body["findings"] if f["kind"] == "syn_cookies"
                    and f.get("listener_cookie") == l["cookie"]]

        f = twtest.wait_for(finding, timeout=5)
        check(f, "no syn_cookies finding for the listener")
        check(f[0]["processes"] and f[0]["processes"][0]["pid"] == srv.pid,
              "the finding does not name the process: %s" % pretty(f))
        check(str(PORT) in f[0]["summary"], "summary: %r" % f[0]["summary"])
        twtest.log("finding: %s" % f[0]["summary"])
        out = d.cli("findings")
        check("syn_cookies" in out, "`tcpwatch findings` does not show it:\n%s" % out)
        twtest.finish_child(cl, what="clients")


if __name__ == "__main__":
    twtest.run(main)
