#!/usr/bin/python3
"""A connection made inside a network namespace the test creates is listed
with `netns` equal to that namespace's inode (not the host's), and the HTTP
API's ?netns= filter selects it."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, pretty  # noqa: E402

ADDR = "198.18.0.1"

# Runs inside the namespace: a listener and a client in one process; the
# connection stays open until stdin closes.
NS_CODE = r'''
import os, socket, sys
addr = sys.argv[1]
ls = socket.socket(); ls.bind((addr, 0)); ls.listen(4)
port = ls.getsockname()[1]
c = socket.socket(); c.connect((addr, port))
a, _ = ls.accept()
c.sendall(b"x"); a.recv(1)
print(os.getpid(), port, c.getsockname()[1], flush=True)
sys.stdin.read()
'''


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon() as d, twtest.Netns() as ns:
        check(ns.inode != host_ns, "test setup: namespace inode %d equals the "
              "host's" % ns.inode)
        ns.run(["ip", "addr", "add", ADDR + "/32", "dev", "lo"])
        twtest.log("netns %s inode %d (host %d)" % (ns.name, ns.inode, host_ns))

        proc = ns.spawn_python(NS_CODE, ADDR)
        pid, port, cport = (int(x) for x in twtest.read_line(proc).split())
        check_eq(pid, proc.pid, "pid printed inside the netns vs Popen pid")
        twtest.log("in netns: listener %s:%d, client port %d, pid %d"
                   % (ADDR, port, cport, pid))

        def ours(conns):
            return [c for c in conns if c.get("local_addr") == ADDR
                    and (c.get("local_port") == port
                         or c.get("remote_port") == port)]

        exp = {(cport, port, "ESTABLISHED"), (port, cport, "ESTABLISHED")}
        key = lambda c: (c.get("local_port"), c.get("remote_port"),  # noqa: E731
                         c.get("state"))
        last = {}

        def listed():
            last["list"] = ours(twtest.list_conns(d))
            return {key(c) for c in last["list"]} == exp

        twtest.wait_for(listed, timeout=10)
        got = last["list"]
        if {key(c) for c in got} != exp or len(got) != 2:
            fail("`tcpwatch list --json`, entries for %s port %d as "
                 "(local_port, remote_port, state):\n  expected: %s\n"
                 "  actual:   %s\nentries:\n%s"
                 % (ADDR, port, sorted(exp), sorted(key(c) for c in got),
                    pretty(got)))
        for c in got:
            what = "%s:%d -> %s:%d" % (ADDR, c["local_port"],
                                       c.get("remote_addr"), c["remote_port"])
            twtest.check_conn_fields(c, what)
            check_eq(c["netns"], ns.inode, "%s netns (inode of %s)"
                     % (what, ns.name))
            check(c["netns"] != host_ns, "%s netns equals the host's "
                  "namespace inode %d" % (what, host_ns))
            check_eq(c["family"], "inet", "%s family" % what)
            check_eq(c["remote_addr"], ADDR, "%s remote_addr" % what)
            check_eq(c["closed"], False, "%s closed" % what)
        client_side = [c for c in got if c["local_port"] == cport][0]
        check_eq(client_side["pid"], pid,
                 "client side pid (connect() ran in pid %d)" % pid)

        listeners = ours(twtest.list_conns(d, "-l"))
        check_eq(sorted((c.get("local_port"), c.get("state"), c.get("netns"))
                        for c in listeners), [(port, "LISTEN", ns.inode)],
                 "`list -l` entries for %s:%d as (port, state, netns)"
                 % (ADDR, port))

        # The HTTP API's netns filter.
        status, body = d.http_get("/api/v1/connections?netns=%d" % ns.inode)
        check_eq(status, 200, "status of GET /api/v1/connections?netns=%d"
                 % ns.inode)
        check(isinstance(body, list), "GET /api/v1/connections?netns= did not "
              "return an array: %s" % pretty(body)[:2000])
        wrong = [c for c in body if c.get("netns") != ns.inode]
        check(not wrong, "?netns=%d returned entries of other namespaces:\n%s"
              % (ns.inode, pretty(wrong)[:3000]))
        check({c["cookie"] for c in got} <= {c.get("cookie") for c in body},
              "?netns=%d: expected the cookies %s among the results, got %s"
              % (ns.inode, sorted(c["cookie"] for c in got),
                 sorted(c.get("cookie") for c in body)))
        status, body = d.http_get("/api/v1/connections?netns=%d" % host_ns)
        check_eq(status, 200, "status of GET /api/v1/connections?netns=<host>")
        leaked = [c for c in body if c.get("cookie") in
                  {x["cookie"] for x in got}]
        check(not leaked, "?netns=<host inode %d> returned the namespace's "
              "connections:\n%s" % (host_ns, pretty(leaked)))

        twtest.finish_child(proc, what="netns process")


if __name__ == "__main__":
    twtest.run(main)
