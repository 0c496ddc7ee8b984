#!/usr/bin/python3
"""The owner map cannot be flooded. 56,000 Unix sockets (socketpairs in
four processes started first, so /proc lists them first) against an owner
map of 40,000 entries (4 x max-connections): a TCP pair made after them, by
another process, still gets its owners, and the map holds only the sockets
the daemon asked for. A TCP socket whose only descriptor is in flight
(SCM_RIGHTS, never received) has no owner, and does not make every
reconcile pass scan /proc again."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402

FLOOD_PROCS = 4
PAIRS_PER_PROC = 7000  # 14,000 descriptors each (the limit is 20,000)

FLOOD = r'''
import resource, socket, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * n + 100), hard))
held = [socket.socketpair() for _ in range(n)]
print(len(held), flush=True)
sys.stdin.read()
'''

PAIR = r'''
import os, socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
c = socket.create_connection(ls.getsockname()); a, _ = ls.accept()
print(os.getpid(), ls.getsockname()[1], c.getsockname()[1], flush=True)
sys.stdin.read()
'''

IN_FLIGHT = r'''
import array, os, socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
c = socket.create_connection(ls.getsockname()); a, _ = ls.accept()
# c's only descriptor goes into a socketpair's queue and is never received.
u1, u2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
u1.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [c.fileno()]))])
port = c.getsockname()[1]
c.close()
print(ls.getsockname()[1], port, flush=True)
sys.stdin.read()
'''


def main():
    twtest.raise_fd_limit(1000)
    floods = []
    for _ in range(FLOOD_PROCS):
        p = twtest.spawn_python(FLOOD, PAIRS_PER_PROC)
        check_eq(int(twtest.read_line(p, timeout=60)), PAIRS_PER_PROC, "socketpairs held")
        floods.append(p)
    pair = twtest.spawn_python(PAIR)
    pid, lport, cport = (int(x) for x in twtest.read_line(pair).split())
    flight = twtest.spawn_python(IN_FLIGHT)
    fl_lport, fl_cport = (int(x) for x in twtest.read_line(flight).split())
    log("%d Unix sockets in %d processes; a TCP pair in pid %d (port %d)"
        % (2 * FLOOD_PROCS * PAIRS_PER_PROC, FLOOD_PROCS, pid, lport))
    with twtest.Daemon(["--max-connections", "10000"]) as d:
        for local, remote in ((cport, lport), (lport, cport)):
            c = lu.find_one(d, lu.tuple_pred(local, remote), "the pair's end %d" % local)

            def owned(c=c):
                return twtest.show(d, c["cookie"]).get("pid") == pid
            twtest.wait_for(owned, timeout=15)
        st = d.stats()
        log("procscan_sockets %d, procscan_refused %d, procscans %d" % (
            st["procscan_sockets"], st["procscan_refused"], st["procscans"]))
        check(st["procscan_sockets"] < 1000,
              "the map holds only the sockets asked for: %d" % st["procscan_sockets"])
        check_eq(st["procscan_refused"], 0, "nothing refused")
        # The socket in flight: found, no owner, and no scan every pass.
        c = lu.find_one(d, lu.tuple_pred(fl_cport, fl_lport), "the socket in flight")
        check(twtest.show(d, c["cookie"]).get("pid") in (None, 0),
              "no process holds the socket in flight")
        scans = d.stats()["procscans"]
        passes = d.stats()["reconcile_passes"] if "reconcile_passes" in st else None
        time.sleep(6)  # six reconcile passes at --reconcile-interval 1
        check_eq(d.stats()["procscans"], scans,
                 "no /proc scan for a socket that no process holds (passes: %s)" % passes)
    for p in floods + [pair, flight]:
        twtest.stop_proc(p)


if __name__ == "__main__":
    twtest.run(main)
