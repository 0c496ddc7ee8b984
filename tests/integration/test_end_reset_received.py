#!/usr/bin/python3
"""Inside a network namespace with a TUN peer in "rst-after-data" mode
(tunpeer.py completes the handshake and answers the first data segment with
a RST), a client's recv() fails with ECONNRESET.  That connection must end
with end_reason "reset_received" and resets_received >= 1."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402


def main():
    with twtest.Daemon() as d, twtest.Netns() as ns:
        lu.start_tunpeer(ns, "rst-after-data")
        cport, _pid, out = lu.run_ns_client(ns, "data")
        twtest.log("netns %s (inode %d): %s:%d -> %s:80 connect %s, recv %s"
                   % (ns.name, ns.inode, lu.NS_LOCAL, cport, lu.NS_PEER,
                      out.get("connect"), out.get("recv")))
        check(out.get("connect", "").startswith("ok"),
              "test setup: connect() to the TUN peer: %r" % out.get("connect"))
        check_eq(out.get("recv"), "ECONNRESET", "test setup: the client's "
                 "recv() after the peer's RST")

        cl = lu.find_one(d, lu.tuple_pred(cport, 80, lu.NS_LOCAL, ns.inode,
                                          lu.NS_PEER),
                         "reset connection %d->80 in netns %d"
                         % (cport, ns.inode))
        cs = lu.wait_ended(d, cl["cookie"], "reset connection",
                            expect="reset_received")
        lu.check_end(cs, "reset_received", "reset connection")
        n = lu.get_field(cs, "resets_received", "reset connection")
        check(lu.is_num(n) and n >= 1, "reset connection resets_received: "
              "expected >= 1, actual %r\n%s" % (n, pretty(cs)[:4000]))
        check_eq(cs.get("netns"), ns.inode, "reset connection netns")
        twtest.log("history: %s; kinds %s"
                   % (twtest.path_str(twtest.transitions(
                       twtest.state_history(cs))), lu.history_kinds(cs)))


if __name__ == "__main__":
    twtest.run(main)
