#!/usr/bin/python3
"""Connections and a listener that exist BEFORE tcpwatchd starts are found by
its initial sock_diag snapshot: listed with the right state, addresses and
ports, and attributed to the process holding them (found via /proc/*/fd)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

NPAIRS = 3

# A separate process holds the listener and every socket of the pairs, so
# that attribution has a pid distinct from the test's own.
HOLDER = r'''
import os, socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
port = ls.getsockname()[1]
pairs = []
for i in range(int(sys.argv[1])):
    c = socket.socket(); c.connect(("127.0.0.1", port))
    a, _ = ls.accept()
    c.sendall(b"x"); a.recv(1)
    pairs.append((c, a))
print(os.getpid(), port, *[c.getsockname()[1] for c, a in pairs], flush=True)
sys.stdin.read()
'''


def main():
    host_ns = twtest.host_netns_inode()
    holder = twtest.spawn_python(HOLDER, NPAIRS)
    fields = [int(x) for x in twtest.read_line(holder).split()]
    holder_pid, port, cports = fields[0], fields[1], fields[2:]
    check_eq(holder_pid, holder.pid, "pid the holder printed vs Popen pid")
    check_eq(len(cports), NPAIRS, "number of client ports the holder printed")
    twtest.log("holder pid %d: listener 127.0.0.1:%d, client ports %s"
               % (holder_pid, port, cports))

    # Expected (local_port, remote_port, state) of the holder's sockets.
    exp_conn = set()
    for cp in cports:
        exp_conn.add((cp, port, "ESTABLISHED"))   # client side
        exp_conn.add((port, cp, "ESTABLISHED"))   # accepted side
    exp_listen = {(port, 0, "LISTEN")}
    ours = lambda c: (c.get("netns") == host_ns  # noqa: E731
                      and c.get("local_addr") == "127.0.0.1"
                      and (c.get("local_port") == port
                           or c.get("remote_port") == port))
    key = lambda c: (c.get("local_port"),  # noqa: E731
                     c.get("remote_port") if c.get("state") != "LISTEN" else 0,
                     c.get("state"))

    with twtest.Daemon() as d:
        last = {}

        def snapshot():
            last["default"] = [c for c in twtest.list_conns(d) if ours(c)]
            last["listen"] = [c for c in twtest.list_conns(d, "-l") if ours(c)]
            last["all"] = [c for c in twtest.list_conns(d, "-a") if ours(c)]
            return ({key(c) for c in last["default"]} == exp_conn
                    and {key(c) for c in last["listen"]} == exp_listen
                    and {key(c) for c in last["all"]} == exp_conn | exp_listen)

        twtest.wait_for(snapshot, timeout=10)

        for flag, expected in (("(default)", exp_conn), ("-l", exp_listen),
                               ("-a", exp_conn | exp_listen)):
            got = last["default" if flag == "(default)" else
                       "listen" if flag == "-l" else "all"]
            keys = sorted(key(c) for c in got)
            if sorted(expected) != keys:
                fail("`tcpwatch list %s --json`, sockets on port %d, as "
                     "(local_port, remote_port, state):\n  expected: %s\n"
                     "  actual:   %s\n  missing: %s\n  unexpected: %s\n"
                     "entries:\n%s"
                     % (flag, port, sorted(expected), keys,
                        sorted(expected - set(keys)),
                        sorted(set(keys) - expected), pretty(got)))

        for c in last["all"]:
            what = "%s 127.0.0.1:%s -> %s:%s" % (c["state"], c["local_port"],
                                                 c.get("remote_addr"),
                                                 c.get("remote_port"))
            twtest.check_conn_fields(c, what)
            check_eq(c["family"], "inet", "%s family" % what)
            check_eq(c["closed"], False, "%s closed" % what)
            if c["state"] != "LISTEN":
                check_eq(c["remote_addr"], "127.0.0.1", "%s remote_addr" % what)
            check_eq(c["pid"], holder_pid,
                     "%s pid (the holder process owns the socket)" % what)
            check_eq(c["comm"], "python3", "%s comm" % what)

        cookies = [c["cookie"] for c in last["all"]]
        check(len(set(cookies)) == len(cookies),
              "cookies are not unique: %s" % cookies)

        twtest.finish_child(holder, what="holder")


if __name__ == "__main__":
    twtest.run(main)
