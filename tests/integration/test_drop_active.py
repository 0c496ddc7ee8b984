#!/usr/bin/python3
"""A drop with its reason on an active connection: a host behind a TUN
device answers the SYN with a SYN-ACK whose checksum is wrong, so the local
kernel drops it (TCP_CSUM) once it has found the socket. The daemon ties
the drop to the connecting socket (the kernel names it), and with the IP
header's checksum wrong (IP_CSUM, dropped before any socket is looked up) by
the 4-tuple the packet carried (a sock_diag lookup). The connection's history
shows the drop and its reason, in `tcpwatch show` too; the host-wide count by
reason is in the stats. Ordinary closes that free a queue in bulk
(QUEUE_PURGE) are counted host-wide and tied to no connection."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402

CONNECT = r'''
import socket, sys
s = socket.socket(); s.setblocking(False)
s.bind(("198.18.0.1", 0))
try:
    s.connect(("198.18.0.2", 80))
except BlockingIOError:
    pass
print(s.getsockname()[1], flush=True)
sys.stdin.read()
'''


def one(mode, reason):
    with twtest.Netns() as ns, twtest.Daemon() as d:
        lu.start_tunpeer(ns, mode)
        cl = ns.spawn_python(CONNECT)
        port = int(twtest.read_line(cl))

        def dropped():
            for c in twtest.list_conns(d, "-a", "state", "syn-sent"):
                if c["local_port"] == port and c["remote_port"] == 80:
                    v = twtest.show(d, c["cookie"])
                    drops = [h for h in v["history"] if h["kind"] == "drop"]
                    if drops:
                        return v, drops
            return None

        got = twtest.wait_for(dropped, timeout=15)
        check(got, "%s: no drop in the connecting socket's history; stats %s"
              % (mode, pretty({k: v for k, v in d.stats().items() if "drop" in k})))
        v, drops = got
        twtest.log("%s history: %s" % (mode, [(h["kind"], h.get("reason"), h.get("state"))
                                              for h in v["history"]]))
        check_eq(drops[0]["reason"], reason, "the drop's reason")
        check_eq(drops[0]["state"], "SYN_SENT", "the connection's state at the drop")
        check(v["drops"] >= 1 and v["drops_by_reason"].get(reason, 0) >= 1,
              "the connection's drop counts: %s" % pretty(v))
        out = d.cli("show", str(v["cookie"]))
        check("drop: " + reason in out, "`tcpwatch show` does not draw the drop:\n%s" % out)
        st = d.stats()
        drops_st = pretty({k: v for k, v in st.items() if "drop" in k})
        check(st.get("drop_" + reason, 0) >= 1, "stats drop_%s: %s" % (reason, drops_st))
        twtest.finish_child(cl, what="client")
        return st, drops_st


CLOSE_WITH_DATA = r'''
import socket
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
for i in range(20):
    c = socket.create_connection(ls.getsockname()); a, _ = ls.accept()
    c.send(b"tw-churn"); c.close()
    while a.recv(100):
        pass
    a.close()
print(ls.getsockname()[1], flush=True)
'''


def queue_purge():
    """Ordinary closes free a queue in bulk (QUEUE_PURGE, one a
    connection): counted host-wide, never a drop of the connection."""
    with twtest.Netns() as ns, twtest.Daemon() as d:
        before = d.stats()
        p = ns.spawn_python(CLOSE_WITH_DATA)
        port = int(twtest.read_line(p))
        twtest.finish_child(p, what="connections")
        st = d.stats()
        check(st.get("drop_QUEUE_PURGE", 0) - before.get("drop_QUEUE_PURGE", 0) >= 20,
              "drop_QUEUE_PURGE %s: one a connection expected" % st.get("drop_QUEUE_PURGE"))
        check_eq(st["events_drop"], before["events_drop"], "drop events sent")
        conns = [c for c in twtest.list_conns(d, "-a") if c["netns"] == ns.inode
                 and port in (c["local_port"], c["remote_port"])]
        check(len(conns) >= 20, "the connections: %d" % len(conns))
        check(all(c["drops"] == 0 for c in conns),
              "closed connections show drops: %s" % [c["drops"] for c in conns])


def main():
    queue_purge()
    # TCP_CSUM: the kernel finds the socket first and names it (rx_sk).
    st, drops_st = one("bad-csum", "TCP_CSUM")
    check(st["drops_to_connection"] >= 1, "TCP_CSUM not tied by its socket: %s" % drops_st)
    # IP_CSUM: dropped before any socket lookup; the daemon asks sock_diag
    # for the 4-tuple the packet carried.
    st, drops_st = one("bad-ipcsum", "IP_CSUM")
    check(st["drops_looked_up"] >= 1 and st["drop_lookups_found"] >= 1,
          "IP_CSUM not resolved by its 4-tuple: %s" % drops_st)


if __name__ == "__main__":
    twtest.run(main)
