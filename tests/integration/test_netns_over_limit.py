#!/usr/bin/python3
"""With --max-netns 1 the daemon follows only its own namespace. A
connection the events show in a second namespace is not dumped by any
reconcile: it must be kept as it is (ESTABLISHED, not closed, no end
reason), marked `reconciled: false`, and counted (`netns_refused`,
`reconcile_unreconciled`), not retired as `vanished` after two passes.
When it really closes, the events close it."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402

ADDR = "198.18.0.1"

NS_CODE = r'''
import os, socket, sys
addr = sys.argv[1]
ls = socket.socket(); ls.bind((addr, 0)); ls.listen(4)
port = ls.getsockname()[1]
c = socket.socket(); c.connect((addr, port))
a, _ = ls.accept()
c.sendall(b"x"); a.recv(1)
print(port, c.getsockname()[1], flush=True)
sys.stdin.readline()
c.close(); a.close()
sys.stdin.readline()
'''


def main():
    with twtest.Netns() as ns, twtest.Daemon(["--max-netns", "1"]) as d:
        ns.run(["ip", "addr", "add", ADDR + "/32", "dev", "lo"])
        proc = ns.spawn_python(NS_CODE, ADDR)
        port, cport = (int(x) for x in twtest.read_line(proc).split())
        twtest.log("in netns %s (inode %d): %s:%d <- port %d"
                   % (ns.name, ns.inode, ADDR, port, cport))

        def client_side():
            for c in twtest.list_conns(d, "-a"):
                if c.get("local_port") == cport and c.get("remote_port") == port:
                    return c
            return None

        c = twtest.wait_for(client_side, timeout=10)
        check(c is not None, "the namespace's connection was never listed")
        check_eq(c["netns"], ns.inode, "the connection's netns")
        runs0 = d.stats()["reconcile_runs"]
        # Four more passes (one a second): two misses used to retire it.
        check(twtest.wait_for(lambda: d.stats()["reconcile_runs"] >= runs0 + 4, timeout=15),
              "the reconciles did not run")
        st = d.stats()
        c = twtest.show(d, c["cookie"])
        twtest.log("after %d passes: state %s, closed %s, reconciled %s, end %s"
                   % (st["reconcile_runs"] - runs0, c["state"], c["closed"],
                      c.get("reconciled"), c.get("end_reason")))
        check_eq((c["state"], c["closed"], c["end_reason"]),
                 ("ESTABLISHED", False, None),
                 "the unfollowed namespace's connection (state, closed, end_reason)")
        check_eq(c.get("reconciled"), False, "its reconciled field")
        check(st["netns_refused"] >= 1, "netns_refused: %s" % pretty(st))
        check(st["reconcile_unreconciled"] >= 2,
              "reconcile_unreconciled (the pair at least): %s" % pretty(st))
        check_eq(st["reconcile_vanished"], 0, "reconcile_vanished")
        out = d.cli("show", str(c["cookie"]))
        check("not reconciled" in out, "`tcpwatch show` does not say it is not "
              "reconciled:\n%s" % out)

        # Closed for real: the events say so.
        proc.stdin.write(b"\n")
        proc.stdin.flush()

        def ended():
            v = twtest.show(d, c["cookie"])
            return v if v["state"] in ("TIME_WAIT", "CLOSE") else None

        v = twtest.wait_for(ended, timeout=10)
        check(v is not None, "the close was not seen")
        check(v["end_reason"] != "vanished", "end reason %r" % v["end_reason"])
        time.sleep(0.1)
        twtest.finish_child(proc, what="netns process")


if __name__ == "__main__":
    twtest.run(main)
