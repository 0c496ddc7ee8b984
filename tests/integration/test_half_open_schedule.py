#!/usr/bin/python3
"""Half-open connections whose final ACK never comes (clients behind a TUN
device that answer no SYN-ACK), in a namespace with tcp_synack_retries 2:
the listener's SYN queue holds them, its SYN-ACK retransmits are counted,
and each half-open's SYN-ACK times and lifetime follow the kernel's
schedule (initial timeout 1 s, doubling: SYN-ACKs resent at 1 s and 3 s,
given up at 7 s) within 10 %; they match the SYN-ACKs the clients saw, and
end as expired, with the half_open_expiring finding raised."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402
from twtest import listen as tl  # noqa: E402

PORT = 8081
CLIENTS = 3
SCHEDULE_S = (1.0, 3.0)  # SYN-ACK retransmits after the first
LIFETIME_S = 7.0


def near(actual, expected, what):
    check(abs(actual - expected) <= 0.1 * expected,
          "%s: %.3f s, expected %.3f s within 10 %%" % (what, actual, expected))


def main():
    with twtest.Netns() as ns, twtest.Daemon(["--findings-window", "30"]) as d:
        tl.setup_ns(ns, tcp_synack_retries=2)
        srv = tl.Server(ns, PORT, 16)
        clients = tl.TunClients(ns, PORT, CLIENTS, "never")

        def queued():
            l = tl.listener(d, PORT, ns.inode)
            return l if l and l["syn_queue"] == CLIENTS else None

        l = twtest.wait_for(queued, timeout=10)
        check(l, "the SYN queue never showed the %d half-opens: %s"
              % (CLIENTS, pretty(tl.listener(d, PORT, ns.inode))))
        twtest.log("SYN queue %d" % l["syn_queue"])

        def ended():
            l = tl.listener(d, PORT, ns.inode)
            return l if l and l["half_open_expired"] == CLIENTS else None

        check(twtest.wait_for(ended, timeout=20),
              "the half-opens did not expire: %s" % pretty(tl.listener(d, PORT, ns.inode)))
        status, detail = d.http_get("/api/v1/listeners/%d" % l["cookie"])
        check_eq(status, 200, "GET /api/v1/listeners/{cookie}")
        check_eq(detail["synack_retransmits"], CLIENTS * len(SCHEDULE_S),
                 "SYN-ACK retransmits")
        check_eq(detail["syn_queue_max_seen"], CLIENTS, "SYN queue high-water mark")
        seen = clients.synacks()
        halfopens = [h for h in detail["half_opens"] if h["state"] == "expired"]
        check_eq(len(halfopens), CLIENTS, "expired half-opens in the listener's detail")
        for h in halfopens:
            what = "half-open from port %d" % h["remote_port"]
            check_eq(h["synack_retransmits"], len(SCHEDULE_S), what + " SYN-ACKs resent")
            check_eq(h["first_synack_derived"], False, what + ": first SYN-ACK time known")
            after = [x / 1e6 for x in h["retransmit_after_first_us"]]
            for got, want in zip(after, SCHEDULE_S):
                near(got, want, what + " SYN-ACK retransmit")
            near(h["lifetime_us"] / 1e6, LIFETIME_S, what + " lifetime")
            # The clients' own clock (CLOCK_MONOTONIC, like the kernel's).
            t = seen.get(h["remote_port"], [])
            check_eq(len(t), 1 + len(SCHEDULE_S), what + ": SYN-ACKs the client received")
            for got, theirs in zip(after, [x - t[0] for x in t[1:]]):
                check(abs(got - theirs) < 0.01, "%s: retransmit at +%.4f s, the client saw "
                      "it at +%.4f s" % (what, got, theirs))
        # The queue's past: a sample per reconcile, oldest first, that saw
        # the half-opens queued and then gone.
        dh = detail["depth_history"]
        times = [x["time_ns"] for x in dh]
        check(0 < len(dh) <= 120 and times == sorted(times), "depth_history %s" % pretty(dh))
        full = [i for i, x in enumerate(dh) if x["syn_queue"] == CLIENTS]
        check(full and dh[-1]["syn_queue"] == 0 and full[0] < len(dh) - 1,
              "depth_history does not show the SYN queue fill and drain: %s"
              % [x["syn_queue"] for x in dh])
        lt = detail["half_open_lifetime_us"]
        check_eq(lt["count"], CLIENTS, "half-open lifetimes recorded")
        near(lt["p50"] / 1e6, LIFETIME_S, "half-open lifetime p50")
        status, body = d.http_get("/api/v1/findings")
        f = [x for x in body["findings"] if x["kind"] == "half_open_expiring"
             and x.get("listener_cookie") == l["cookie"]]
        check(f and f[0]["delta"] == CLIENTS, "no half_open_expiring finding: %s"
              % pretty(body["findings"]))
        twtest.log("ok: %s" % f[0]["summary"])
        # The ladder of one of them.
        out = d.cli("show", str(l["cookie"]))
        twtest.log("tcpwatch show %d:\n%s" % (l["cookie"], out))
        check("expired" in out and "SYN-ACK (retransmit)" in out,
              "`tcpwatch show LISTENER` does not draw the half-opens:\n%s" % out)
        del srv


if __name__ == "__main__":
    twtest.run(main)
