#!/usr/bin/python3
"""A process with CAP_NET_ADMIN in a namespace the daemon follows (as a
user who ran `unshare -Urn` could) sends forged sock_diag dump replies to
the daemon's netlink sockets in that namespace, with every plausible
sequence number, during reconciles. Nothing it sends reaches the table:
the daemon's diag sockets are connected to the kernel, so the kernel
refuses the forger's datagrams (ECONNREFUSED), and replies are checked
for their sender and sequence. The forged connection never appears."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402

FORGED_PORT = 4747

# Inside the namespace: find the NETLINK_SOCK_DIAG sockets (protocol 4) of
# others in /proc/net/netlink and send each, for SECONDS, forged
# SOCK_DIAG_BY_FAMILY messages for an ESTABLISHED socket 198.18.9.9:4747 ->
# 198.18.9.10:5678 with sequence numbers 1..400. Prints how many sends were
# refused and how many went through.
FORGER = r'''
import os, socket, struct, sys, time
seconds = float(sys.argv[1])
me = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
me.bind((0, 0))
mine = me.getsockname()[0]
def targets():
    out = []
    with open("/proc/net/netlink") as f:
        next(f)
        for line in f:
            fl = line.split()
            if int(fl[1]) == 4 and int(fl[2]) not in (0, mine):
                out.append(int(fl[2]))
    return out
def forged(seq, pid):
    # struct inet_diag_msg: family, state, timer, retrans, then the id
    # (sport, dport, src[16], dst[16], if, cookie[2]), expires, rqueue,
    # wqueue, uid, inode.
    msg = struct.pack("=BBBB", socket.AF_INET, 1, 0, 0)
    msg += struct.pack(">HH", 4747, 5678)
    msg += socket.inet_aton("198.18.9.9") + bytes(12)
    msg += socket.inet_aton("198.18.9.10") + bytes(12)
    msg += struct.pack("=III", 0, 0x4747, 0x4747)
    msg += struct.pack("=IIIII", 0, 0, 0, 0, 0)
    hdr = struct.pack("=IHHII", 16 + len(msg), 20, 2, seq, pid)  # SOCK_DIAG_BY_FAMILY, NLM_F_MULTI
    return hdr + msg
refused = sent = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for pid in targets():
        for seq in range(1, 400):
            try:
                me.sendto(forged(seq, pid), (pid, 0))
                sent += 1
            except ConnectionRefusedError:
                refused += 1
            except OSError:
                pass
    time.sleep(0.01)
print(refused, sent, len(targets()), flush=True)
'''


def main():
    with twtest.Netns() as ns, twtest.Daemon() as d:
        # The daemon follows the namespace (/run/netns) from its next pass.
        check(twtest.wait_for(lambda: d.stats()["netns"] >= 2, timeout=10),
              "the daemon does not follow the test's namespace")
        runs0 = d.stats()["reconcile_runs"]
        forger = ns.spawn_python(FORGER, 4)
        refused, sent, targets = (int(x) for x in twtest.read_line(forger, timeout=30).split())
        twtest.log("forger: %d sends refused, %d went through, %d target sockets"
                   % (refused, sent, targets))
        st = d.stats()
        check(st["reconcile_runs"] >= runs0 + 2, "no reconcile ran while the forger did")
        check(targets >= 1, "the forger found none of the daemon's diag sockets")
        check(refused > 0, "no forged datagram was refused")
        check_eq(sent, 0, "forged datagrams the kernel accepted for the daemon's sockets")
        forged = [c for c in twtest.list_conns(d, "-a")
                  if c.get("local_port") == FORGED_PORT or c.get("cookie") == 0x474700004747]
        check(not forged, "forged connections in the table:\n%s" % pretty(forged))
        twtest.log("diag_foreign %d, diag_stale %d, reconcile_errors %d"
                   % (st["diag_foreign"], st["diag_stale"], st["reconcile_errors"]))
        twtest.finish_child(forger, what="forger")


if __name__ == "__main__":
    twtest.run(main)
