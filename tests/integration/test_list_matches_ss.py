#!/usr/bin/python3
"""With 1,000 loopback connections (2,000 sockets) open, in a mix of states,
the live entries of `tcpwatch list -a --json` for the test's port are the
same set of (local_addr, local_port, remote_addr, remote_port, state) as what
`ss -tanH` shows."""

import collections
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, fail  # noqa: E402

NPAIRS = 1000
# Of the pairs, leave the last few in other states than ESTABLISHED:
SERVER_CLOSES = range(850, 900)   # server FIN_WAIT2, client CLOSE_WAIT
CLIENT_CLOSES = range(900, 950)   # client FIN_WAIT2, server CLOSE_WAIT
BOTH_CLOSE = range(950, 1000)     # client TIME_WAIT, server closed (gone)


def fmt(t):
    return "%s:%d -> %s:%d %s" % t


def main():
    twtest.raise_fd_limit(2 * NPAIRS + 200)
    host_ns = twtest.host_netns_inode()
    sockets = []
    with twtest.Daemon() as d:
        try:
            ls = socket.socket()
            sockets.append(ls)
            ls.bind(("127.0.0.1", 0))
            ls.listen(4096)
            port = ls.getsockname()[1]
            ss_args = ["-tanH"] + twtest.ss_port_filter(port)
            twtest.log("opening %d connections to 127.0.0.1:%d" % (NPAIRS, port))
            pairs = []
            for _ in range(NPAIRS):
                c = socket.socket()
                sockets.append(c)
                c.connect(("127.0.0.1", port))
                a, _ = ls.accept()
                sockets.append(a)
                pairs.append((c, a))
            for i in SERVER_CLOSES:
                pairs[i][1].close()
            for i in CLIENT_CLOSES:
                pairs[i][0].close()
            for i in BOTH_CLOSE:
                pairs[i][0].close()
            # Let the FINs be acknowledged before the second close, so the
            # client is the only active closer.
            twtest.wait_for(lambda: not any(
                t[4] == "FIN_WAIT1" and port in (t[1], t[3])
                for t in twtest.ss_sockets(ss_args)), timeout=5)
            for i in BOTH_CLOSE:
                pairs[i][1].close()

            def ss_set():
                return {t for t in twtest.ss_sockets(ss_args)
                        if t[1] == port or t[3] == port}

            def tw_list():
                return [c for c in twtest.list_conns(d, "-a")
                        if not c.get("closed") and c.get("netns") == host_ns
                        and (c.get("local_port") == port
                             or c.get("remote_port") == port)]

            def tw_key(c):
                ra = c.get("remote_addr")
                if c.get("state") == "LISTEN" and ra in (None, "*", ""):
                    # The contract leaves a listener's remote address open;
                    # ss prints the kernel's (zero) address.
                    ra = "0.0.0.0"
                rp = c.get("remote_port")
                if c.get("state") == "LISTEN" and rp is None:
                    rp = 0
                return (c.get("local_addr"), c.get("local_port"),
                        ra, rp, c.get("state"))

            last = {}

            def converged():
                last["tw"] = tw_list()
                last["ss"] = ss_set()
                return {tw_key(c) for c in last["tw"]} == last["ss"]

            twtest.wait_for(converged, timeout=20, interval=0.5)
            tw_entries, ss = last["tw"], last["ss"]
            tw_keys = [tw_key(c) for c in tw_entries]
            tw = set(tw_keys)

            # Sanity of the test itself: ss must see what we built.
            ss_counts = collections.Counter(t[4] for t in ss)
            twtest.log("ss: %d sockets on port %d: %s"
                       % (len(ss), port, dict(sorted(ss_counts.items()))))
            twtest.log("tcpwatch: %d live entries on port %d: %s"
                       % (len(tw_keys), port,
                          dict(sorted(collections.Counter(
                              k[4] for k in tw_keys).items()))))
            check(ss_counts.get("ESTABLISHED", 0) >= 2 * 850,
                  "test setup: ss shows only %d ESTABLISHED sockets"
                  % ss_counts.get("ESTABLISHED", 0))

            if tw != ss:
                missing = sorted(ss - tw)
                extra = sorted(tw - ss)
                by_state = lambda xs: dict(sorted(  # noqa: E731
                    collections.Counter(x[4] for x in xs).items()))
                msg = ["`tcpwatch list -a --json` (live, port %d) differs from "
                       "`ss -tanH`:" % port,
                       "  expected (ss): %d sockets %s" % (len(ss), by_state(ss)),
                       "  actual (tcpwatch): %d sockets %s" % (len(tw), by_state(tw)),
                       "  in ss but not in tcpwatch: %d %s"
                       % (len(missing), by_state(missing)),
                       "  in tcpwatch but not in ss: %d %s"
                       % (len(extra), by_state(extra))]
                for label, xs in (("missing", missing), ("extra", extra)):
                    for t in xs[:25]:
                        msg.append("    %s: %s" % (label, fmt(t)))
                    if len(xs) > 25:
                        msg.append("    ... %d more %s" % (len(xs) - 25, label))
                fail("\n".join(msg))

            dups = [k for k, n in collections.Counter(tw_keys).items() if n > 1]
            check(not dups, "tcpwatch lists the same live socket more than "
                  "once: %s" % [fmt(k) for k in dups[:25]])
            cookies = [c.get("cookie") for c in tw_entries]
            check(len(set(cookies)) == len(cookies),
                  "live entries share cookies")
            for c in tw_entries:
                check(c.get("family") == "inet",
                      "entry with family %r: %s" % (c.get("family"), c))
        finally:
            for s in sockets:
                s.close()


if __name__ == "__main__":
    twtest.run(main)
