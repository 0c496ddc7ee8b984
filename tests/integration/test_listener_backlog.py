#!/usr/bin/python3
"""A listener with backlog 4 whose process does not accept(), in a namespace
of the test's (SYN cookies off, tcp_synack_retries 2): four clients fill its
accept queue, then 26 more (behind a TUN device: 30 in all) complete their handshakes
at once. tcpwatch listeners shows the accept queue at its limit, equal to ss
-ltn's Recv-Q / Send-Q; the final ACKs beyond it are drops with the
kernel's reason TCP_LISTEN_OVERFLOW, counted on that listener; the SYN-ACKs
the kernel resends for them are counted; the accept_queue_full finding
names the listener and its process; the namespace's counters equal nstat
-az's. Then the process accepts everything: the queue drains to 0, the
accept waits are recorded and the finding clears."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402
from twtest import listen as tl  # noqa: E402

PORT = 8080

FILL = r'''
import socket, sys
cs = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(4)]
print("connected", flush=True)
sys.stdin.read()
'''

COUNTERS = ("ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies",
            "SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "TCPSynRetrans")


def findings(d, kind, cookie):
    status, body = d.http_get("/api/v1/findings")
    check_eq(status, 200, "GET /api/v1/findings")
    return [f for f in body["findings"] if f["kind"] == kind
            and f.get("listener_cookie") == cookie]


def main():
    with twtest.Netns() as ns, twtest.Daemon() as d:
        tl.setup_ns(ns, tcp_syncookies=0, tcp_synack_retries=2)
        srv = tl.Server(ns, PORT, 4)
        fill = ns.spawn_python(FILL, PORT)
        check_eq(twtest.read_line(fill), "connected", "the four first clients")
        t_fill = time.monotonic()
        clients = tl.TunClients(ns, PORT, 26, "hold", hold=0.5)

        # The queue full, the overflows and the retransmits they cause.
        def overflowing():
            l = tl.listener(d, PORT, ns.inode)
            return l if l and l["overflows"] > 0 and l["synack_retransmits"] > 0 else None

        l = twtest.wait_for(overflowing, timeout=15)
        check(l, "no overflow and SYN-ACK retransmit seen: %s"
              % pretty(tl.listener(d, PORT, ns.inode)))
        tl.passes(d)
        l = tl.listener(d, PORT, ns.inode)
        recvq, sendq = tl.ss_listen(ns, PORT)
        twtest.log("listener: accept queue %d/%d (ss %d/%d), overflows %d, drops %s, "
                   "SYN-ACKs resent %d" % (l["accept_queue"], l["accept_queue_limit"], recvq,
                                          sendq, l["overflows"], l["drops"],
                                          l["synack_retransmits"]))
        twtest.log("tcpwatch listeners:\n%s" % d.cli("listeners", "-p", "sport", "=",
                                                      ":%d" % PORT))
        check_eq((l["accept_queue"], l["accept_queue_limit"]), (recvq, sendq),
                 "accept queue and its limit against ss -ltn's Recv-Q and Send-Q")
        check_eq(l["accept_queue_limit"], 4, "accept queue limit (the backlog)")
        check_eq(l["accept_queue"], 5, "accept queue (the kernel holds backlog + 1)")
        check(l["accept_queue_max_seen"] >= 5, "high-water mark %d" % l["accept_queue_max_seen"])
        check_eq(l["drops"].get("TCP_LISTEN_OVERFLOW"), l["overflows"],
                 "drops with reason TCP_LISTEN_OVERFLOW against the overflows")
        check_eq(l["pid"], srv.pid, "the listener's process")
        f = findings(d, "accept_queue_full", l["cookie"])
        check(f and f[0]["processes"] and f[0]["processes"][0]["pid"] == srv.pid,
              "no accept_queue_full finding naming the listener's process: %s" % pretty(f))
        check("accept queue 5 of 4" in f[0]["summary"], "summary: %r" % f[0]["summary"])
        # Overflows and drops by reason rising, each naming the listener.
        for kind, words in (("listen_overflows", "for full queues"),
                            ("listener_drops", "mostly TCP_LISTEN_OVERFLOW")):
            f = findings(d, kind, l["cookie"])
            check(f and f[0]["processes"] and f[0]["processes"][0]["pid"] == srv.pid
                  and words in f[0]["summary"],
                  "no %s finding naming the listener's process: %s" % (kind, pretty(f)))

        # Once the kernel gave up on the requests (1 + 2 + 4 s) nothing moves:
        # the namespace's counters then equal nstat's.
        def no_requests():
            return not ns.run(["ss", "-tnH", "state", "syn-recv"]).stdout.strip()

        check(twtest.wait_for(no_requests, timeout=15), "the half-opens did not end")
        check(twtest.wait_for(lambda: tl.listener(d, PORT, ns.inode)["half_open_expired"] >= 1,
                              timeout=5), "no half-open counted as expired")
        tl.passes(d, 2)
        l = tl.listener(d, PORT, ns.inode)
        kernel = tl.nstat(ns)
        ours = l["netstat"]
        for name in COUNTERS:
            check_eq(ours["TcpExt_" + name]["total"], kernel["TcpExt" + name],
                     "namespace counter %s against nstat -az" % name)
        check(l["synack_retransmits"] <= kernel["TcpExtTCPSynRetrans"],
              "SYN-ACK retransmits %d over the namespace's TCPSynRetrans %d"
              % (l["synack_retransmits"], kernel["TcpExtTCPSynRetrans"]))
        seen = clients.synacks()
        resent = sum(len(v) - 1 for v in seen.values())
        check_eq(l["synack_retransmits"], resent,
                 "SYN-ACK retransmits against those the clients received")

        # The process accepts everything: drained, waits recorded, cleared.
        t_accept = time.monotonic()
        n = srv.command("accept 0")
        twtest.log("the server accepted %d" % n)
        check(n >= 5, "accepted only %d" % n)
        tl.passes(d, 2)
        l = tl.listener(d, PORT, ns.inode)
        check_eq(l["accept_queue"], 0, "accept queue after accepting")
        check_eq(l["accepted"], n, "accepted, as the events counted them")
        aw = l["accept_wait_us"]
        check_eq(aw["count"], n, "accept waits recorded")
        waited = t_accept - t_fill
        check(abs(aw["max"] / 1e6 - waited) < 1.0,
              "accept wait max %r: the first clients waited %.1f s (since they connected)"
              % (aw, waited))
        check(not findings(d, "accept_queue_full", l["cookie"]),
              "the accept_queue_full finding did not clear")
        twtest.finish_child(fill, what="first clients")


if __name__ == "__main__":
    twtest.run(main)
