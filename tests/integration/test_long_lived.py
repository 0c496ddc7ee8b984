#!/usr/bin/python3
"""A long-lived connection explains itself: its keepalive timer (as
sock_diag reports it), idle time and tcp_info figures are in `show
--json`, its age grows, and `tcpwatch show` draws its life as a ladder."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402

HOST = "127.0.0.1"


def main():
    host_ns = twtest.host_netns_inode()
    with twtest.Daemon() as d:
        c, a, port, cport, _ = lu.loopback_pair(HOST)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 600)
        c.sendall(b"x" * 1000)
        check_eq(len(a.recv(2000)), 1000, "bytes the server read")

        cl = lu.find_one(d, lu.tuple_pred(cport, port, HOST, host_ns),
                         "client side %d->%d" % (cport, port))

        # The reconcile (every second in tests) samples timer and tcp_info;
        # then let the connection sit idle a while.
        def sampled(conn):
            t = conn.get("timer")
            return (isinstance(t, dict) and t.get("kind") == "keepalive"
                    and isinstance(conn.get("tcp_info"), dict)
                    and (conn.get("idle_ms") or 0) >= 1500)

        time.sleep(1.5)
        cs = lu.wait_show(d, cl["cookie"], sampled, "client connection")
        check(sampled(cs), "expected a keepalive timer, tcp_info and idle_ms >= "
              "1500 on the client side:\n%s" % pretty(cs))
        timer = cs["timer"]
        check(0 < timer["expires_ms"] <= 600 * 1000,
              "keepalive expires_ms %r not within TCP_KEEPIDLE 600 s" % timer)
        ti = cs["tcp_info"]
        check(ti["bytes_acked"] >= 1000, "bytes_acked %r < 1000 sent" % ti)
        check(ti["rtt_us"] > 0, "rtt_us %r" % ti)
        check(cs["age_ms"] >= 1500, "age_ms %r after 1.5 s" % cs["age_ms"])
        check(cs["end_reason"] is None, "an open connection has no end reason: %s"
              % pretty(cs))
        check(cs["state_times_us"].get("ESTABLISHED", 0) >= 1_000_000,
              "state_times_us: ESTABLISHED %r, expected over 1 s"
              % cs["state_times_us"])

        # The accepted side has no keepalive: its timer says so.
        sv = lu.find_one(d, lu.tuple_pred(port, cport, HOST, host_ns),
                         "server side %d->%d" % (port, cport))
        ss_ = lu.wait_show(d, sv["cookie"],
                           lambda x: isinstance(x.get("timer"), dict),
                           "server connection")
        check(ss_["timer"]["kind"] != "keepalive",
              "the server side has no SO_KEEPALIVE: %r" % ss_["timer"])

        # The ladder: local column, transitions, the packets between.
        text = d.cli("show", str(cl["cookie"]))
        for needle in ("SYN_SENT", "ESTABLISHED", "SYN ---", "<--", "SYN-ACK",
                       "%s:%d" % (HOST, cport), "%s:%d" % (HOST, port),
                       "handshake", "role active"):
            check(needle in text, "`tcpwatch show` lacks %r:\n%s" % (needle, text))
        c.close()
        a.close()


if __name__ == "__main__":
    twtest.run(main)
