#!/usr/bin/python3
"""Inside a network namespace with a TUN "blackhole" peer (tunpeer.py drops
every SYN) and net.ipv4.tcp_syn_retries=1, a client's connect() to
198.18.0.2:80 fails by itself with ETIMEDOUT after about 3 s.  That
connection must end with end_reason "connect_timeout", have
syn_retransmits >= 1, no resets (counters 0, no reset history entries), and
netns equal to the namespace's inode."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402


def main():
    with twtest.Daemon() as d, twtest.Netns() as ns:
        ns.run(["sysctl", "-q", "-w", "net.ipv4.tcp_syn_retries=1"])
        lu.start_tunpeer(ns, "blackhole")
        cport, _pid, out = lu.run_ns_client(ns, "connect")
        twtest.log("netns %s (inode %d): %s:%d -> %s:80 connect %s"
                   % (ns.name, ns.inode, lu.NS_LOCAL, cport, lu.NS_PEER,
                      out.get("connect")))
        check(out.get("connect", "").startswith("ETIMEDOUT"),
              "test setup: connect() to the blackhole should fail with "
              "ETIMEDOUT, got %r" % out.get("connect"))

        cl = lu.find_one(d, lu.tuple_pred(cport, 80, lu.NS_LOCAL, ns.inode,
                                          lu.NS_PEER),
                         "timed-out connection %d->80 in netns %d"
                         % (cport, ns.inode))
        cs = lu.wait_ended(d, cl["cookie"], "timed-out connection",
                            expect="connect_timeout")

        lu.check_end(cs, "connect_timeout", "timed-out connection")
        check_eq(cs.get("netns"), ns.inode, "timed-out connection netns "
                 "(inode of %s)" % ns.name)
        n = lu.get_field(cs, "syn_retransmits", "timed-out connection")
        check(lu.is_num(n) and n >= 1, "timed-out connection syn_retransmits: "
              "expected >= 1, actual %r\n%s" % (n, pretty(cs)[:4000]))
        for f in ("resets_sent", "resets_received"):
            n = lu.get_field(cs, f, "timed-out connection")
            check_eq(n, 0, "timed-out connection %s" % f)
        kinds = lu.history_kinds(cs)
        check(not [k for k in kinds if k and "reset" in k],
              "timed-out connection history has reset entries: %s\n%s"
              % (kinds, pretty(cs)[:4000]))
        twtest.log("history: %s; kinds %s"
                   % (twtest.path_str(twtest.transitions(
                       twtest.state_history(cs))), kinds))


if __name__ == "__main__":
    twtest.run(main)
