#!/usr/bin/python3
"""A loopback pair whose two ends belong to two different processes (client
pid A, server pid B, both children of the test): the client-side connection
is attributed to pid A and the server-side accepted connection to pid B.
Checked for a pair created BEFORE tcpwatchd started (found by the snapshot)
and for a pair created while it runs (events + reconcile)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check_eq, fail, pretty  # noqa: E402

HOST = "127.0.0.1"

SERVER = r'''
import os, socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4)
print(os.getpid(), ls.getsockname()[1], flush=True)
a, peer = ls.accept()
a.recv(1)
print(peer[1], flush=True)
sys.stdin.read()
'''

CLIENT = r'''
import os, socket, sys
s = socket.socket(); s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x")
print(os.getpid(), s.getsockname()[1], flush=True)
sys.stdin.read()
'''


def make_pair(label):
    server = twtest.spawn_python(SERVER)
    spid, port = (int(x) for x in twtest.read_line(server).split())
    check_eq(spid, server.pid, "%s: server pid printed vs Popen pid" % label)
    client = twtest.spawn_python(CLIENT, port)
    cpid, cport = (int(x) for x in twtest.read_line(client).split())
    check_eq(cpid, client.pid, "%s: client pid printed vs Popen pid" % label)
    check_eq(int(twtest.read_line(server)), cport,
             "%s: peer port the server accepted" % label)
    twtest.log("%s: client pid %d port %d -> server pid %d port %d"
               % (label, cpid, cport, spid, port))
    return dict(label=label, server=server, client=client, spid=spid,
                cpid=cpid, port=port, cport=cport)


def check_owners(d, pair, host_ns):
    label = pair["label"]
    want = {(pair["cport"], pair["port"]): pair["cpid"],
            (pair["port"], pair["cport"]): pair["spid"]}
    last = {}

    def probe():
        rows = lu.matching(d, lambda c: c.get("netns") == host_ns
                           and c.get("local_addr") == HOST
                           and c.get("state") == "ESTABLISHED"
                           and (c.get("local_port"), c.get("remote_port"))
                           in want, flags=(),
                           expr=lu.ports_expr(either=pair["port"]))
        last["rows"] = rows
        got = {(c["local_port"], c["remote_port"]): c.get("pid") for c in rows}
        return len(rows) == 2 and got == want

    twtest.wait_for(probe, timeout=10, interval=0.5)
    rows = last["rows"]
    got = {(c.get("local_port"), c.get("remote_port")): c.get("pid")
           for c in rows}
    if len(rows) != 2 or got != want:
        fail("%s: owners as {(local_port, remote_port): pid}:\n"
             "  expected: %s  (client side pid %d, server side pid %d)\n"
             "  actual:   %s\nentries:\n%s"
             % (label, want, pair["cpid"], pair["spid"], got,
                pretty(rows)[:4000]))
    for c in rows:
        twtest.check_conn_fields(c, "%s %d->%d" % (label, c["local_port"],
                                                   c["remote_port"]))
        check_eq(c["comm"], "python3", "%s %d->%d comm"
                 % (label, c["local_port"], c["remote_port"]))
    twtest.log("%s: client side pid %d, server side pid %d: ok"
               % (label, pair["cpid"], pair["spid"]))


def main():
    host_ns = twtest.host_netns_inode()
    before = make_pair("pair made before the daemon")
    with twtest.Daemon() as d:
        check_owners(d, before, host_ns)
        live = make_pair("pair made while the daemon runs")
        check_owners(d, live, host_ns)
        for p in (before, live):
            twtest.finish_child(p["client"], what="%s client" % p["label"])
            twtest.finish_child(p["server"], what="%s server" % p["label"])


if __name__ == "__main__":
    twtest.run(main)
