#!/usr/bin/python3
"""Inside a network namespace with a TUN peer in "simultaneous-close" mode
(when our FIN arrives, tunpeer.py first sends its own FIN without
acknowledging ours, and acknowledges ours only later), the local socket goes
FIN_WAIT1 -> CLOSING -> TIME_WAIT.  Its state history must contain
FIN_WAIT1->CLOSING and CLOSING->TIME_WAIT (the TIME_WAIT entry may be
derived), and end_reason must be "simultaneous_close"."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

WANT = [("FIN_WAIT1", "CLOSING"), ("CLOSING", "TIME_WAIT")]


def main():
    with twtest.Daemon() as d, twtest.Netns() as ns:
        lu.start_tunpeer(ns, "simultaneous-close", "--fin-ack-delay", "0.3")
        cport, _pid, out = lu.run_ns_client(ns, "close")
        check(out.get("connect", "").startswith("ok"),
              "test setup: connect() to the TUN peer: %r" % out.get("connect"))
        twtest.log("netns %s (inode %d): %s:%d -> %s:80 closed"
                   % (ns.name, ns.inode, lu.NS_LOCAL, cport, lu.NS_PEER))
        ss_out = ns.run(["ss", "-tanH", "sport", "=", ":%d" % cport]).stdout
        check("TIME-WAIT" in ss_out, "test setup: the local socket should be "
              "in TIME-WAIT after the simultaneous close; ss says: %r" % ss_out)

        cl = lu.find_one(d, lu.tuple_pred(cport, 80, lu.NS_LOCAL, ns.inode,
                                          lu.NS_PEER),
                         "connection %d->80 in netns %d" % (cport, ns.inode))

        def has_all(c):
            pairs = twtest.transitions(twtest.state_history(c))
            return all(p in pairs for p in WANT)

        cs = lu.wait_ended(d, cl["cookie"], "simultaneously closed connection",
                           expect="simultaneous_close", extra=has_all)
        pairs = twtest.transitions(twtest.state_history(cs))
        missing = [p for p in WANT if p not in pairs]
        if missing:
            fail("simultaneously closed connection: state history lacks %s\n"
                 "  actual: %s\n%s" % (["%s->%s" % p for p in missing],
                                       twtest.path_str(pairs),
                                       pretty(cs)[:4000]))
        check(pairs.index(WANT[0]) < pairs.index(WANT[1]),
              "FIN_WAIT1->CLOSING comes after CLOSING->TIME_WAIT: %s"
              % twtest.path_str(pairs))
        lu.check_end(cs, "simultaneous_close",
                     "simultaneously closed connection")
        check_eq(cs.get("netns"), ns.inode, "connection netns")
        twtest.log("history: %s" % twtest.path_str(pairs))


if __name__ == "__main__":
    twtest.run(main)
