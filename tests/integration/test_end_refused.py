#!/usr/bin/python3
"""connect() to a loopback port nobody listens on is refused (RST).  That
connection must end with end_reason "refused", its state history must be
exactly CLOSE->SYN_SENT, SYN_SENT->CLOSE, and resets_received >= 1."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, fail, pretty  # noqa: E402

HOST = "127.0.0.1"


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon() as d:
        holder, port = lu.reserve_closed_port(HOST)
        try:
            cport = lu.refused_connect(HOST, port)
            twtest.log("connect %s:%d -> %s:%d refused"
                       % (HOST, cport, HOST, port))
            cl = lu.find_one(d, lu.tuple_pred(cport, port, HOST, host_ns),
                             "refused connection %d->%d" % (cport, port))
            cs = lu.wait_ended(d, cl["cookie"], "refused connection",
                                expect="refused")
        finally:
            holder.close()

        lu.check_end(cs, "refused", "refused connection")
        pairs = twtest.transitions(twtest.state_history(cs))
        if pairs != [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")]:
            fail("refused connection state history:\n  expected: "
                 "CLOSE->SYN_SENT->CLOSE\n  actual:   %s\n%s"
                 % (twtest.path_str(pairs), pretty(cs)[:4000]))
        n = lu.get_field(cs, "resets_received", "refused connection")
        check(lu.is_num(n) and n >= 1, "refused connection resets_received: "
              "expected >= 1, actual %r" % n)
        raw = d.cli("show", cs["cookie"], "--json")
        dups = lu.duplicate_keys(raw)
        check(not dups, "`tcpwatch show %d --json` repeats the keys %s in one "
              "object (the last one wins in most parsers):\n%s"
              % (cs["cookie"], dups, raw[:3000]))
        check(cs.get("closed") is True, "refused connection (show): closed is "
              "%r, expected true" % cs.get("closed"))


if __name__ == "__main__":
    twtest.run(main)
