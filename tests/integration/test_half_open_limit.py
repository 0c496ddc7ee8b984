#!/usr/bin/python3
"""A bound on half-opens: with --max-half-opens 16, 24 clients that never
answer the SYN-ACK (behind a TUN device) leave 24 requests in the
listener's SYN queue. The listener's syn_queue still counts all 24 (from
the dumps), the daemon keeps 16 records (half_opens) and counts the others
refused (half_opens_refused); when they expire it has room again."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402
from twtest import listen as tl  # noqa: E402

PORT = 8084
CLIENTS = 24
LIMIT = 16


def main():
    with twtest.Netns() as ns, twtest.Daemon(["--max-half-opens", str(LIMIT)]) as d:
        tl.setup_ns(ns, tcp_synack_retries=1)
        srv = tl.Server(ns, PORT, 64)
        clients = tl.TunClients(ns, PORT, CLIENTS, "never")

        def queued():
            l = tl.listener(d, PORT, ns.inode)
            return l if l and l["syn_queue"] == CLIENTS else None

        l = twtest.wait_for(queued, timeout=10)
        check(l, "the SYN queue never showed the %d half-opens: %s"
              % (CLIENTS, pretty(tl.listener(d, PORT, ns.inode))))
        st = d.stats()
        twtest.log("syn_queue %d, half_opens %d, half_opens_refused %d"
                   % (l["syn_queue"], st["half_opens"], st["half_opens_refused"]))
        check_eq(st["half_opens"], LIMIT, "half-opens tracked")
        check(st["half_opens_refused"] >= CLIENTS - LIMIT,
              "half_opens_refused %d" % st["half_opens_refused"])
        d.assert_alive("over the bound")

        # Expired (1 + 2 s with tcp_synack_retries 1): room again.
        check(twtest.wait_for(lambda: d.stats()["half_opens"] == 0, timeout=15),
              "the tracked half-opens did not end: %s" % d.stats()["half_opens"])
        l = tl.listener(d, PORT, ns.inode)
        check_eq(l["syn_queue"], 0, "SYN queue after the expiry")
        check(l["half_open_expired"] >= 1, "no half-open counted as expired: %s" % pretty(l))
        del srv, clients


if __name__ == "__main__":
    twtest.run(main)
