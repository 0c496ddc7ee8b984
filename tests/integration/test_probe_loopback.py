#!/usr/bin/python3
"""The prober on loopback, IPv4 and IPv6: an open port answers SYN-ACK
(open, with the listener's TTL, window, MSS and options), a closed one RST
(closed); every RTT comes from the kernel's timestamps (no flags), the
summary adds up; the SYN on the wire is a Linux SYN (the same options in
the same order, window and MSS as the kernel's own connect()); the source
ports are reserved (bind fails while the daemon holds them); packets to
those ports that answer no probe (a forged SYN-ACK with a wrong ack) are
counted as foreign and change no result; the CLI prints a line per probe
and nping's summary, and --json the documented object."""

import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402

PORT_BASE = 61000
PORT_COUNT = 512
RESULT_FIELDS = ("seq", "state", "rtt_us", "ttl", "window", "mss", "options",
                 "icmp", "time_ns")
SUMMARY_FIELDS = ("sent", "received", "lost", "min_us", "avg_us", "max_us",
                  "mdev_us", "p50_us", "p90_us", "p99_us")


def listener(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 0))
    s.listen(64)
    twtest.at_cleanup(s.close)
    return s


def free_port(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_open(job, mss, what):
    check(job["probes"], "%s: no results" % what)
    for p in job["probes"]:
        for f in RESULT_FIELDS:
            check(f in p, "%s: result lacks %s: %r" % (what, f, p))
        check_eq(p["state"], "open", "%s: state of %r" % (what, p))
        check(p["rtt_us"] is not None and 0 < p["rtt_us"] < 100000,
              "%s: rtt %r" % (what, p["rtt_us"]))
        check_eq(p["flags"], [], "%s: flags (a stamp missing?)" % what)
        check_eq(p["ttl"], 64, "%s: the reply's TTL" % what)
        check_eq(p["mss"], mss, "%s: the listener's MSS" % what)
        check_eq(p["options"], "MSTNW", "%s: the SYN-ACK's options" % what)
        check(p["window"] > 0 and p["wscale"] is not None, "%s: window %r" % (what, p))
        check(PORT_BASE <= p["sport"] < PORT_BASE + PORT_COUNT,
              "%s: source port %d outside the reserved range" % (what, p["sport"]))
        check(p["icmp"] is None, "%s: icmp %r" % (what, p["icmp"]))
        check(abs(p["time_ns"] / 1e9 - time.time()) < 60, "%s: time %r" % (what, p))
    s = job["summary"]
    for f in SUMMARY_FIELDS:
        check(f in s, "%s: summary lacks %s" % (what, f))
    n = len(job["probes"])
    check_eq((s["sent"], s["received"], s["lost"]), (n, n, 0), "%s: summary counts" % what)
    rtts = sorted(p["rtt_us"] for p in job["probes"])
    check(abs(s["min_us"] - rtts[0]) < 0.01 and abs(s["max_us"] - rtts[-1]) < 0.01,
          "%s: min/max %r vs %r" % (what, s, rtts))
    check(s["min_us"] <= s["p50_us"] <= s["p90_us"] <= s["p99_us"] <= s["max_us"],
          "%s: percentiles out of order %r" % (what, s))


def capture_syns(port, count, timeout=10.0):
    """SYNs to port seen on lo (AF_PACKET): their TCP headers."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind(("lo", 0))
    s.settimeout(0.2)
    got, deadline = [], time.monotonic() + timeout
    result = {"syns": got}

    def loop():
        while len(got) < count and time.monotonic() < deadline:
            try:
                frame = s.recv(65536)
            except socket.timeout:
                continue
            eth_type = struct.unpack("!H", frame[12:14])[0]
            ip = frame[14:]
            if eth_type == 0x0800 and ip[9] == 6:
                tcp = ip[(ip[0] & 15) * 4:]
            elif eth_type == 0x86DD and ip[6] == 6:
                tcp = ip[40:]
            else:
                continue
            dport = struct.unpack("!H", tcp[2:4])[0]
            if dport == port and tcp[13] == 0x02:
                got.append(bytes(tcp[:(tcp[12] >> 4) * 4]))
        s.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    result["thread"] = t
    return result


def syn_shape(tcp):
    """What must match between our SYN and Linux's: header length, flags,
    window, urgent pointer, the options' kinds, lengths and order, MSS and
    window scale (not ports, sequence, checksum or TSval)."""
    opts, i, shape = tcp[20:], 0, []
    while i < len(opts):
        kind = opts[i]
        if kind in (0, 1):
            shape.append((kind,))
            i += 1
            continue
        length = opts[i + 1]
        body = opts[i + 2:i + length]
        if kind == 2:
            shape.append((2, length, body))
        elif kind == 3:
            shape.append((3, length, body))
        elif kind == 8:
            shape.append((8, length, body[4:]))  # TSecr (0) only
        else:
            shape.append((kind, length))
        i += length
    return (tcp[12] >> 4, tcp[13], tcp[14:16], tcp[18:20], tuple(shape),
            tcp[8:12])


def compare_with_linux(d, family, addr, lst):
    port = lst.getsockname()[1]
    cap = capture_syns(port, 2)
    time.sleep(0.1)
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((addr, port))
    c.close()
    target = "[%s]:%d" % (addr, port) if family == socket.AF_INET6 else "%s:%d" % (addr, port)
    probeapi.run_job(d, target=target, count=1)
    cap["thread"].join(timeout=12)
    syns = cap["syns"]
    check_eq(len(syns), 2, "SYNs to %s captured on lo" % target)
    check_eq(syn_shape(syns[1]), syn_shape(syns[0]),
             "the prober's SYN against the kernel's own to %s" % target)
    log("%s: the prober's SYN has the kernel's shape (options %s)"
        % (target, syns[1][20:].hex()))


def main():
    v6 = twtest.ipv6_loopback_available()
    with twtest.Daemon() as d:
        l4 = listener(socket.AF_INET, "127.0.0.1")
        p4 = l4.getsockname()[1]
        closed4 = free_port(socket.AF_INET, "127.0.0.1")

        job = probeapi.run_job(d, target="127.0.0.1:%d" % p4, count=5, interval=0.02)
        check_open(job, 65495, "IPv4 open")
        job = probeapi.run_job(d, target="127.0.0.1:%d" % closed4, count=3, interval=0.02)
        for p in job["probes"]:
            check_eq(p["state"], "closed", "IPv4 closed port: %r" % p)
            check(p["rtt_us"] is not None and p["rtt_us"] > 0, "closed rtt %r" % p)
        check_eq(job["summary"]["states"]["closed"], 3, "closed count")

        if v6:
            l6 = listener(socket.AF_INET6, "::1")
            job = probeapi.run_job(d, target="[::1]:%d" % l6.getsockname()[1], count=5,
                                   interval=0.02)
            check_open(job, 65476, "IPv6 open")
            closed6 = free_port(socket.AF_INET6, "::1")
            job = probeapi.run_job(d, target="[::1]:%d" % closed6, count=2, interval=0.02)
            check_eq([p["state"] for p in job["probes"]], ["closed"] * 2, "IPv6 closed")

        # The source ports are held: nobody else can bind them.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("0.0.0.0", PORT_BASE))
            fail("port %d could be bound while the prober reserves it" % PORT_BASE)
        except OSError as e:
            check_eq(e.errno, 98, "bind to a reserved port: errno")
        finally:
            s.close()

        # The SYN looks like the kernel's own.
        compare_with_linux(d, socket.AF_INET, "127.0.0.1", l4)
        if v6:
            compare_with_linux(d, socket.AF_INET6, "::1", l6)

        # A forged SYN-ACK to a reserved port answers no probe: counted,
        # ignored.
        before = d.stats()
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        for k in range(5):
            seg = struct.pack("!HHIIBBHHH", p4, PORT_BASE + k, 1234, 999 + k, 5 << 4, 0x12,
                              65535, 0, 0)
            r.sendto(seg, ("127.0.0.1", 0))
        r.close()
        twtest.wait_for(lambda: d.stats()["probe_foreign"] >= before["probe_foreign"] + 5,
                        timeout=5)
        after = d.stats()
        check_eq(after["probe_received"], before["probe_received"],
                 "results after forged SYN-ACKs")

        # The CLI: a line per probe, then the summary.
        out = d.cli("probe", "127.0.0.1:%d" % p4, "-c", "3", "-i", "0.05")
        lines = [x for x in out.splitlines() if " seq=" in x]
        check_eq(len(lines), 3, "CLI probe lines:\n%s" % out)
        for x in lines:
            check(" open " in x and "rtt=" in x and "opts=MSTNW" in x and "ms" in x,
                  "CLI line: %r" % x)
        check("3 sent, 3 received, 0 lost" in out, "CLI summary:\n%s" % out)
        check("rtt min/avg/max/mdev = " in out and "p50/p90/p99 = " in out,
              "CLI summary figures:\n%s" % out)
        r = d.cli_run("probe", "127.0.0.1:%d" % closed4, "-c", "1", "-w", "0.5")
        check_eq(r.returncode, 0, "a closed port answered: exit 0 (%s)" % r.stderr)
        check(" closed " in r.stdout, "CLI closed: %r" % r.stdout)

        j = d.cli_json("probe", "localhost:%d" % p4, "-c", "2", "-i", "0.05", "--json")
        check_eq(j["target"], "127.0.0.1:%d" % p4, "--json target (localhost resolved)")
        check_eq(len(j["probes"]), 2, "--json probes")
        for f in SUMMARY_FIELDS:
            check(f in j["summary"], "--json summary lacks %s" % f)
        check(isinstance(j["probes"][0]["time_ns"], int) and j["probes"][0]["time_ns"] > 1e18,
              "--json time_ns is the daemon's integer: %r" % j["probes"][0]["time_ns"])

        st = d.stats()
        check(st["probe_sent"] >= 15 and st["probe_received"] >= 15, "stats %r"
              % {k: v for k, v in st.items() if k.startswith("probe")})
        check_eq(st["probe_no_tx_stamp"] + st["probe_no_rx_stamp"], 0,
                 "probes without a kernel timestamp")
        log("probe stats: %s" % json.dumps({k: v for k, v in st.items()
                                             if k.startswith("probe")}))


if __name__ == "__main__":
    twtest.run(main)
