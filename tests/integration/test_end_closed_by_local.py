#!/usr/bin/python3
"""Loopback connection where the client closes first.  The client's
connection must end with end_reason "closed_by_local" and closed_first
"local"; the server's accepted connection with "closed_by_peer" / "peer".
Also: role "active" (client) / "passive" (server), handshake_us > 0 on both
sides, and the server connection's listener_cookie is the listener's
cookie.  The list rows carry the same end_reason / closed_first."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402

HOST = "127.0.0.1"


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon() as d:
        c, a, port, cport, ls = lu.loopback_pair(HOST, keep_listener=True)
        twtest.log("listener %s:%d, client port %d" % (HOST, port, cport))
        c.sendall(b"ping")
        check_eq(a.recv(10), b"ping", "data the server read")
        time.sleep(0.05)
        c.close()                       # the client closes first
        check_eq(a.recv(10), b"", "server read after the client's close (EOF)")
        time.sleep(0.05)
        a.close()

        lst = lu.listener_of(d, port, HOST, host_ns)
        cl, sv = lu.find_sides(d, cport, port, HOST, host_ns)
        cs = lu.wait_ended(d, cl["cookie"], "client connection",
                            expect="closed_by_local")
        ss_ = lu.wait_ended(d, sv["cookie"], "server connection",
                              expect="closed_by_peer")
        ls.close()

        lu.check_end(cs, "closed_by_local", "client connection (closed first)",
                     closed_first="local")
        lu.check_end(ss_, "closed_by_peer", "server connection (peer closed "
                     "first)", closed_first="peer")

        lu.require_fields(cs, ("role", "handshake_us"), "client connection")
        lu.require_fields(ss_, ("role", "handshake_us", "listener_cookie"),
                          "server connection")
        check_eq(cs["role"], "active", "client connection role")
        check_eq(ss_["role"], "passive", "server connection role")
        for conn, what in ((cs, "client"), (ss_, "server")):
            h = conn["handshake_us"]
            check(lu.is_num(h) and h > 0, "%s connection handshake_us: "
                  "expected a number > 0, actual %r\n%s"
                  % (what, h, pretty(conn)[:4000]))
        check_eq(ss_["listener_cookie"], lst["cookie"],
                 "server connection listener_cookie vs the listener's cookie")
        twtest.log("client: end_reason %s closed_first %s handshake %s us; "
                   "server: end_reason %s closed_first %s handshake %s us"
                   % (cs["end_reason"], cs["closed_first"], cs["handshake_us"],
                      ss_["end_reason"], ss_["closed_first"],
                      ss_["handshake_us"]))

        lu.check_list_row_agrees(d, cs, "client connection")
        lu.check_list_row_agrees(d, ss_, "server connection")


if __name__ == "__main__":
    twtest.run(main)
