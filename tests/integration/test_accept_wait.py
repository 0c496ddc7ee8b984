#!/usr/bin/python3
"""Accept wait: a server that sleeps 200 ms before each accept(), its
clients connecting one at a time: the listener's accept wait p50 is within
10 % of 200 ms, each connection shows its own wait, and accept() names the
process that accepted (the events, not a /proc scan). The listener shows
its address, namespace and owner; closed, it is kept (listeners -a) with
what it saw."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402
from twtest import listen as tl  # noqa: E402

PORT = 8083
ROUNDS = 8
SLEEP_MS = 200

# Connects a client, waits for the server to accept it, and again.
CLIENTS = r'''
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
cs = []
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port)); cs.append(c)
    c.recv(1)  # the server writes a byte once it accepted
print("done", flush=True)
sys.stdin.read()
'''

# Sleeps from the moment a connection is queued (the listener readable),
# so each wait is the sleep however late the client started.
SERVER = r'''
import os, select, socket, sys, time
ls = socket.socket(); ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(16)
print(os.getpid(), flush=True)
kept = []
for _ in range(int(sys.argv[2])):
    select.select([ls], [], [])
    time.sleep(int(sys.argv[3]) / 1000.0)
    a, _ = ls.accept(); a.send(b"x"); kept.append(a)
sys.stdin.read()
'''


def main():
    # Accept waits over 0.1 s are slow: the 200 ms ones raise the finding.
    with twtest.Netns() as ns, twtest.Daemon(["--accept-wait-threshold", "0.1"]) as d:
        srv = ns.spawn_python(SERVER, PORT, ROUNDS, SLEEP_MS)
        pid = int(twtest.read_line(srv))
        cl = ns.spawn_python(CLIENTS, PORT, ROUNDS)
        check_eq(twtest.read_line(cl, timeout=30), "done", "clients")
        tl.passes(d)
        l = tl.listener(d, PORT, ns.inode)
        aw = l["accept_wait_us"]
        twtest.log("accept wait: %s" % aw)
        check_eq(aw["count"], ROUNDS, "accept waits recorded")
        check(abs(aw["p50"] / 1000 - SLEEP_MS) <= 0.1 * SLEEP_MS,
              "accept wait p50 %.1f ms, expected %d ms within 10 %%"
              % (aw["p50"] / 1000, SLEEP_MS))
        check_eq(l["accepted"], ROUNDS, "accepted")
        conns = [c for c in twtest.list_conns(d) if c["local_port"] == PORT
                 and c["netns"] == ns.inode]
        check_eq(len(conns), ROUNDS, "accepted connections listed")
        for c in conns:
            check(c["accept_wait_us"] is not None
                  and abs(c["accept_wait_us"] / 1000 - SLEEP_MS) < 0.25 * SLEEP_MS,
                  "connection %d accept_wait_us %r" % (c["cookie"], c["accept_wait_us"]))
            check_eq(c["pid"], pid, "connection %d owner (the accepting process)" % c["cookie"])
            check_eq(c["listener_cookie"], l["cookie"], "connection's listener")
        v = twtest.show(d, conns[0]["cookie"])
        check([h for h in v["history"] if h["kind"] == "accept"],
              "no accept entry in the history: %s" % pretty(v["history"]))
        status, body = d.http_get("/api/v1/findings")
        slow = [f for f in body["findings"] if f["kind"] == "accept_wait_slow"
                and f["listener_cookie"] == l["cookie"]]
        check(slow and slow[0]["processes"] and slow[0]["processes"][0]["pid"] == pid
              and "accept wait p99" in slow[0]["summary"],
              "no accept_wait_slow finding naming the server: %s" % pretty(body))
        check_eq(body["thresholds"]["accept_wait_ms"], 100, "the threshold reported")

        # The listener's identity: address, namespace, owner, age.
        check_eq((l["local_addr"], l["local_port"], l["netns"]), ("127.0.0.1", PORT, ns.inode),
                 "the listener's address and namespace")
        check_eq((l["pid"], l["comm"], l["uid"]), (pid, "python3", 0), "the listener's owner")
        check(l["age_ms"] >= ROUNDS * SLEEP_MS, "age_ms %r" % l["age_ms"])
        twtest.finish_child(cl, what="clients")
        twtest.finish_child(srv, what="server")

        # Closed, it is kept with what it saw: listed with -a, not without.
        def closed():
            x = tl.listener(d, PORT, ns.inode, state="closed")
            return x if x and x["closed"] else None

        gone = twtest.wait_for(closed, timeout=10)
        check(gone and gone["closed"] and gone["cookie"] == l["cookie"],
              "the closed listener is not kept: %s" % pretty(gone))
        check_eq((gone["accepted"], gone["accept_wait_us"]["count"]), (ROUNDS, ROUNDS),
                 "the closed listener's accepts and accept waits")
        check(tl.listener(d, PORT, ns.inode) is None,
              "the closed listener is still listed without -a")


if __name__ == "__main__":
    twtest.run(main)
