#!/usr/bin/python3
"""The prober's TCP traceroute through three routers, IPv4 and IPv6: a
source namespace, three forwarding namespaces joined by veth pairs
(198.18.1.0/30, .4/30, .8/30; fd00:10:1::/64 to fd00:10:3::/64), and behind
the last one's TUN device tw-tun-responder emulating the target
198.18.2.2 / fd00:10:4::2 (open, its SYN-ACK held 2 ms). A trace job from
the source namespace lists hops 1, 2, 3 as the routers' addresses on the
way, in order (state hop, ICMP time exceeded: 11/0, ICMPv6 3/0) and hop 4
as the target's SYN-ACK (open, TTL 64 less the three routers, RTT not
under the 2 ms hold), and ends there; only the TTL-4 SYNs reached the
target, with one hop left. `tcpwatch probe --trace` prints the same hops."""

import contextlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tunresponder as tr  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, log, pretty  # noqa: E402

PORT = 80
COUNT = 2  # attempts per hop
DELAY_US = 2000
DEV = "twt0"
SRC = {4: "198.18.1.1", 6: "fd00:10:1::1"}
# The routers' addresses on their links toward the source: the ICMP
# errors come from these (the route back leaves by the link the SYN came).
HOPS = {4: ["198.18.1.2", "198.18.1.6", "198.18.1.10"],
        6: ["fd00:10:1::2", "fd00:10:2::2", "fd00:10:3::2"]}
TARGET = {4: "198.18.2.2", 6: "fd00:10:4::2"}
TIME_EXCEEDED = {4: {"type": 11, "code": 0}, 6: {"type": 3, "code": 0}}


def target(fam):
    return ("%s:%d" if fam == 4 else "[%s]:%d") % (TARGET[fam], PORT)


def setup(src, r1, r2, r3):
    for ns in (src, r1, r2, r3):
        # no DAD: every address usable at once (link-locals too, for ND)
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0"])
    for ns in (r1, r2, r3):
        ns.run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                # time exceeded is rate-limited per destination, else
                "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"])
    links = [(src, "s0", ["198.18.1.1/30", "fd00:10:1::1/64"],
              r1, "a0", ["198.18.1.2/30", "fd00:10:1::2/64"]),
             (r1, "a1", ["198.18.1.5/30", "fd00:10:2::1/64"],
              r2, "b0", ["198.18.1.6/30", "fd00:10:2::2/64"]),
             (r2, "b1", ["198.18.1.9/30", "fd00:10:3::1/64"],
              r3, "c0", ["198.18.1.10/30", "fd00:10:3::2/64"])]
    for a, an, aaddrs, b, bn, baddrs in links:
        a.run(["ip", "link", "add", an, "type", "veth", "peer", "name", bn, "netns", b.name])
        for ns, dev, addrs in ((a, an, aaddrs), (b, bn, baddrs)):
            for addr in addrs:
                ns.run(["ip", "addr", "add", addr, "dev", dev, "nodad"])
            ns.run(["ip", "link", "set", dev, "up"])
    r3.run(["ip", "addr", "add", "198.18.2.1/24", "dev", DEV])
    r3.run(["ip", "addr", "add", "fd00:10:4::1/64", "dev", DEV, "nodad"])
    r3.run(["ip", "link", "set", DEV, "up"])
    # Toward the target and back; the connected routes are more specific.
    for ns, routes in ((src, [("198.18.0.0/15", "198.18.1.2"), ("fd00::/8", "fd00:10:1::2")]),
                       (r1, [("198.18.0.0/15", "198.18.1.6"), ("fd00::/8", "fd00:10:2::2")]),
                       (r2, [("198.18.1.0/30", "198.18.1.5"), ("198.18.2.0/24", "198.18.1.10"),
                             ("fd00:10:1::/64", "fd00:10:2::1"),
                             ("fd00:10:4::/64", "fd00:10:3::2")]),
                       (r3, [("198.18.0.0/15", "198.18.1.9"), ("fd00::/8", "fd00:10:3::1")])):
        for prefix, via in routes:
            ns.run(["ip", "route", "add", prefix, "via", via])


def check_path(src, resp, fam):
    """The path works before the daemon is asked: a connect() from the
    source namespace is answered by the responder behind the routers."""
    since = len(resp.records)
    r = src.run(["/usr/bin/python3", "-c", r'''
import socket, struct, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.settimeout(5)
s.connect((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("ok")
''', TARGET[fam], str(PORT)], check_rc=False)
    check(r.returncode == 0 and r.stdout.strip() == "ok",
          "setup: connect() from the source namespace to %s through the routers failed: "
          "%s %s" % (target(fam), r.stdout.strip(), r.stderr.strip()[-500:]))
    got = resp.wait_records(lambda x: x["fam"] == fam, 1, since=since)
    check_eq(got[0]["ttl"], 61, "setup: the TTL of a connect()'s SYN (64) at the target, "
             "three routers on")


def trace(d, resp, nspath, fam, first):
    what = "IPv%d trace" % fam
    since = len(resp.records)
    job = tr.wait_job(d, tr.submit(d, follow_timeout=tr.FOLLOW_TIMEOUT_S if first else 0,
                                   target=target(fam), count=COUNT, mode="trace",
                                   netns=nspath, timeout=1))
    log("%s: %s" % (what, " | ".join(
        "%d: %s" % (h["ttl"], ", ".join("%s %s %.1f us" % (p["state"], p["from"],
                                                             p["rtt_us"] or -1)
                                         for p in h["probes"])) for h in job["hops"])))
    check_eq(job["mode"], "trace", what + ": mode")
    check_eq([h["ttl"] for h in job["hops"]], [1, 2, 3, 4],
             "%s: the hops (the trace ends at the target): %s" % (what, pretty(job["hops"])))
    for h in job["hops"]:
        ttl = h["ttl"]
        w = "%s hop %d" % (what, ttl)
        check_eq(len(h["probes"]), COUNT, w + ": attempts")
        for p in h["probes"]:
            check_eq(p["ttl_sent"], ttl, w + ": the SYN's TTL")
            check_eq(p["flags"], [], w + ": flags (a kernel timestamp missing?)")
            check(isinstance(p["rtt_us"], (int, float)) and 0 < p["rtt_us"] < 1e6,
                  "%s: rtt %r" % (w, p["rtt_us"]))
            if ttl <= 3:
                check_eq((p["state"], p["icmp"], p["from"]),
                         ("hop", TIME_EXCEEDED[fam], HOPS[fam][ttl - 1]),
                         w + ": state, ICMP, the router that sent it")
            else:
                check_eq((p["state"], p["icmp"], p["from"]), ("open", None, TARGET[fam]),
                         w + ": state, ICMP, who answered (the target)")
                check_eq((p["ttl"], p["options"]), (61, "MSTNW"),
                         w + ": the SYN-ACK's TTL (64, three routers on) and options")
                check(p["rtt_us"] >= DELAY_US, "%s: rtt %.3f us, under the %d us the target "
                      "held its SYN-ACK" % (w, p["rtt_us"], DELAY_US))
    s = job["summary"]
    check_eq((s["sent"], s["received"], s["lost"], s["errors"]), (4 * COUNT, 4 * COUNT, 0, 0),
             what + ": summary sent/received/lost/errors")
    check_eq((s["states"]["hop"], s["states"]["open"]), (3 * COUNT, COUNT),
             what + ": summary states hop/open")
    # Only the TTL-4 SYNs reached the target, with one hop left.
    resp.settle(0.2)
    got = [r for r in resp.records[since:] if r["fam"] == fam]
    check_eq(sorted(r["sport"] for r in got),
             sorted(p["sport"] for p in job["hops"][3]["probes"]),
             "%s: the SYNs the target saw (source ports) against hop 4's: %s" % (what, got))
    for r in got:
        check_eq((r["ttl"], r["src"], r["csum"], r["opts"]), (1, SRC[fam], "ok", "MSTNW"),
                 "%s: a SYN at the target: TTL left, source, checksums, options" % what)


def trace_cli(d, nspath):
    """`tcpwatch probe --trace`: a line per hop, the routers then the target."""
    out = d.cli("probe", target(4), "--trace", "-c", COUNT, "--netns", nspath)
    log("tcpwatch probe --trace:\n" + out)
    lines = out.split("\n\n")[0].splitlines()  # the hops, before the summary
    check(lines and lines[0].startswith("trace to %s" % target(4)),
          "the CLI's first line: %r" % lines[:1])
    hops = {}
    for line in lines[1:]:
        m = re.match(r"^\s*(\d+)\s+(\S+)\s+(.*)$", line)
        check(m, "the CLI printed %r among the hops:\n%s" % (line, out))
        hops[int(m.group(1))] = (m.group(2), m.group(3))
    check_eq(sorted(hops), [1, 2, 3, 4], "the CLI's hop lines:\n" + out)
    for ttl in (1, 2, 3):
        addr, rest = hops[ttl]
        check(addr == HOPS[4][ttl - 1] and rest.count(" ms") == COUNT and "(" not in rest,
              "the CLI's hop %d: %r, expected %s with %d RTTs:\n%s"
              % (ttl, hops[ttl], HOPS[4][ttl - 1], COUNT, out))
    addr, rest = hops[4]
    check(addr == TARGET[4] and rest.count("(open)") == COUNT,
          "the CLI's hop 4: %r, expected %s open %d times:\n%s" % (hops[4], TARGET[4], COUNT,
                                                                    out))


def main():
    with contextlib.ExitStack() as stack:
        src, r1, r2, r3 = (stack.enter_context(twtest.Netns()) for _ in range(4))
        log("source %s, routers %s %s %s" % (src.name, r1.name, r2.name, r3.name))
        resp = tr.Responder(r3, DEV, ["--v4", TARGET[4], "--v6", TARGET[6], "--mode", "open",
                                      "--delay-us", DELAY_US])
        setup(src, r1, r2, r3)
        for fam in (4, 6):
            check_path(src, resp, fam)
        nspath = "/run/netns/" + src.name
        with twtest.Daemon(["--probe-allow", "198.18.0.0/15,[fd00::/8]",
                            "--reconcile-interval", "1"]) as d:
            trace(d, resp, nspath, 4, first=True)
            trace(d, resp, nspath, 6, first=False)
            trace_cli(d, nspath)
            resp.stop()


if __name__ == "__main__":
    twtest.run(main)
