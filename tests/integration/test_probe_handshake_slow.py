#!/usr/bin/python3
"""The handshake_slow finding, end to end: an emulated server (behind a TUN
device in a namespace) answers the prober's SYNs in 1 ms but real clients'
in 40 ms (a server slow in its accept path for them, while the network is
fast). With a configured probe target and five real connections from that
namespace, GET /api/v1/probes shows their handshakes beside the probe RTT,
and GET /api/v1/findings raises handshake_slow naming the endpoint, the
probe, the connections and both medians."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import tunresponder  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

CLIENTS = 5


def main():
    cpu = tunresponder.isolate_cpu()
    with twtest.Netns() as ns:
        resp = tunresponder.Responder(ns, "twhs0", ["--v4", "198.18.0.2", "--mode", "open",
                                                    "--delay-us", "1000", "--sport-delay",
                                                    "1024-60999=40000"], cpu=cpu)
        ns.run(["ip", "addr", "add", "198.18.0.1/24", "dev", "twhs0"])
        ns.run(["ip", "link", "set", "twhs0", "up"])
        path = "/run/netns/%s" % ns.name
        with twtest.Daemon(["--probe", "198.18.0.2:80 interval=0.1s timeout=1s netns=%s" % path,
                            "--probe-allow", "198.18.0.0/15"]) as d:
            clients = ns.spawn_python(
                "import socket,sys,time\n"
                "cs=[socket.create_connection(('198.18.0.2', 80), timeout=5) for _ in range(%d)]\n"
                "print('connected', flush=True)\n"
                "time.sleep(60)\n" % CLIENTS)
            check_eq(twtest.read_line(clients, timeout=15), "connected", "real clients")
            time.sleep(1.0)
            status, body, raw = probeapi.request(d, "GET", "/api/v1/probes")
            check_eq(status, 200, "GET /api/v1/probes")
            t = body["probes"][0]
            log("probe summary %r; handshakes %r" % (t["summary"], t["handshakes"]))
            check(t["summary"]["received"] >= 5, "probes answered: %r" % t["summary"])
            check(900 < t["summary"]["p50_us"] < 3000, "probe RTT p50 %r" % t["summary"])
            hs = t["handshakes"]
            check(hs and hs["count"] == CLIENTS, "handshakes beside the probe: %r" % hs)
            check(39000 < hs["p50_us"] < 50000, "the clients' handshake median %r" % hs)
            status, f, raw = probeapi.request(d, "GET", "/api/v1/findings")
            slow = [x for x in f["findings"] if x["kind"] == "handshake_slow"]
            check_eq(len(slow), 1, "handshake_slow findings: %r" % f["findings"])
            x = slow[0]
            check_eq((x["remote_addr"], x["remote_port"], x["probe_id"], x["count"]),
                     ("198.18.0.2", 80, t["id"], CLIENTS), "the finding's endpoint and probe")
            check(x["handshake_p50_us"] > 4 * x["probe_rtt_p50_us"],
                  "the numbers behind it: %r" % x)
            check_eq(len(x["connections"]), CLIENTS, "the connections named")
            check("198.18.0.2:80" in x["summary"] and "4x" in x["summary"],
                  "summary: %r" % x["summary"])
            check_eq(f["thresholds"]["handshake_ratio"], 4, "the threshold shown")
            out = d.cli("findings")
            check("handshake_slow" in out, "tcpwatch findings:\n%s" % out)
        resp.stop()


if __name__ == "__main__":
    twtest.run(main)
