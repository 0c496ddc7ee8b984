#!/usr/bin/python3
"""An established loopback connection closed with SO_LINGER {1, 0} (the
kernel sends a RST instead of a FIN).  The closer's connection must end with
end_reason "reset_sent", have a history entry of kind "reset_sent" and
resets_sent >= 1; the peer's connection must end with "reset_received"
(resets_received >= 1)."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

HOST = "127.0.0.1"


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon() as d:
        c, a, port, cport, _ = lu.loopback_pair(HOST)
        twtest.log("listener %s:%d, client port %d; the client aborts"
                   % (HOST, port, cport))
        c.sendall(b"x")
        check_eq(a.recv(10), b"x", "data the server read")
        time.sleep(0.05)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        c.close()                       # RST
        try:
            got = a.recv(10)
            fail("server recv after the client's abortive close returned %r "
                 "instead of failing with ECONNRESET" % got)
        except ConnectionResetError:
            pass
        a.close()

        cl, sv = lu.find_sides(d, cport, port, HOST, host_ns)
        cs = lu.wait_ended(d, cl["cookie"], "client connection (sent RST)",
                            expect="reset_sent")
        ss_ = lu.wait_ended(d, sv["cookie"], "server connection (got RST)",
                              expect="reset_received")

        lu.check_end(cs, "reset_sent", "client connection (closed with "
                     "SO_LINGER 0)")
        lu.check_end(ss_, "reset_received", "server connection (peer sent RST)")
        kinds = lu.history_kinds(cs)
        check("reset_sent" in kinds, "client connection history has no entry "
              "of kind \"reset_sent\"; kinds: %s\n%s"
              % (kinds, pretty(cs)[:4000]))
        n = lu.get_field(cs, "resets_sent", "client connection")
        check(lu.is_num(n) and n >= 1, "client connection resets_sent: "
              "expected >= 1, actual %r" % n)
        n = lu.get_field(ss_, "resets_received", "server connection")
        check(lu.is_num(n) and n >= 1, "server connection resets_received: "
              "expected >= 1, actual %r" % n)
        twtest.log("client history: %s; server history: %s"
                   % (twtest.path_str(twtest.transitions(
                       twtest.state_history(cs))),
                      twtest.path_str(twtest.transitions(
                          twtest.state_history(ss_)))))


if __name__ == "__main__":
    twtest.run(main)
