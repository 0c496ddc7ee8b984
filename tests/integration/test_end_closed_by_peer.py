#!/usr/bin/python3
"""Loopback connection where the server closes first.  The client's
connection must end with end_reason "closed_by_peer" (closed_first "peer");
the server's accepted connection with "closed_by_local" (closed_first
"local").  The list rows carry the same values."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check_eq  # noqa: E402

HOST = "127.0.0.1"


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon() as d:
        c, a, port, cport, _ = lu.loopback_pair(HOST)
        twtest.log("listener %s:%d, client port %d" % (HOST, port, cport))
        c.sendall(b"request")
        check_eq(a.recv(100), b"request", "data the server read")
        a.sendall(b"response")
        check_eq(c.recv(100), b"response", "data the client read")
        time.sleep(0.05)
        a.close()                       # the server closes first
        check_eq(c.recv(10), b"", "client read after the server's close (EOF)")
        time.sleep(0.05)
        c.close()

        cl, sv = lu.find_sides(d, cport, port, HOST, host_ns)
        cs = lu.wait_ended(d, cl["cookie"], "client connection",
                            expect="closed_by_peer")
        ss_ = lu.wait_ended(d, sv["cookie"], "server connection",
                              expect="closed_by_local")

        lu.check_end(cs, "closed_by_peer", "client connection (server closed "
                     "first)", closed_first="peer")
        lu.check_end(ss_, "closed_by_local", "server connection (closed first)",
                     closed_first="local")
        twtest.log("client: %s/%s, server: %s/%s"
                   % (cs["end_reason"], cs["closed_first"], ss_["end_reason"],
                      ss_["closed_first"]))
        lu.check_list_row_agrees(d, cs, "client connection")
        lu.check_list_row_agrees(d, ss_, "server connection")


if __name__ == "__main__":
    twtest.run(main)
