#!/usr/bin/python3
"""The prober against an emulated host, IPv4 and IPv6: tw-tun-responder
behind a TUN device in a namespace (198.18.0.1/24 and fd00:1::1/64 there)
answers for 198.18.0.2 and fd00:1::2, each reply held 20 ms after the SYN
was read, timed on CLOCK_MONOTONIC with the device busy-polled, so the true
RTT is known to a microsecond. The daemon probes from that namespace (once
it follows it):

  port 80 open      every probe (20, 50 ms apart) open, with the SYN-ACK's
                    TTL, MSS, window, scale and options, and its RTT within
                    200 us of 20 ms and of the hold the responder measured
  port 81 closed    closed (through `tcpwatch probe --json`), RTT as above
  port 82 silent    filtered, no ICMP, no RTT, lost (timeout 0.5 s)
  port 83/84/85     filtered with the ICMP type and code the responder sent
                    (3/13, 3/1, 3/10; ICMPv6 1/1, 1/4, 1/3) from the target,
                    RTT as above; on 85 the error quotes only 8 bytes of
                    the SYN's TCP header (RFC 792's least)

and every SYN the responder saw is one of the probes (as many, on their
source ports, checksums right, Linux's options, TTL 64).

Every RTT is checked against the responder's true hold: never under it,
over it by the transit (and how late the responder saw the SYN) only, else
the run is judged again (the CPU was taken from the kernel between its
stamp and the device: once, +556 us, in CI under ASan). The
20 ms +- 200 us of every probe is asserted on a run the responder kept its
own timing for: it gets a CPU of its own (the test and the daemon keep to
the others), but a busy machine or the hypervisor can still take it away
for milliseconds; such a run is logged and the job run again (10 at most,
then the test fails: the machine is too busy to judge)."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tunresponder as tr  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402

DEV = "twp0"
LOCAL = {4: "198.18.0.1", 6: "fd00:1::1"}
PEER = {4: "198.18.0.2", 6: "fd00:1::2"}
DELAY_US = 20000
TOL_US = 200  # the prober's RTT against the true one
# The responder's own timing for its hold to be the reference: the SYN
# seen and the reply written within this much (together) of the ideal.
CLEAN_US = 100
ATTEMPTS = 10
PAUSE_S = 0.5
OPEN, CLOSED, SILENT, UNREACH_A, UNREACH_B, UNREACH_Q = 80, 81, 82, 83, 84, 85
# What the responder sends on the unreachable ports: (type, code).
ICMP = {(4, UNREACH_A): (3, 13), (6, UNREACH_A): (1, 1),
        (4, UNREACH_B): (3, 1), (6, UNREACH_B): (1, 4),
        (4, UNREACH_Q): (3, 10), (6, UNREACH_Q): (1, 3)}
OPEN_COUNT, OPEN_INTERVAL = 20, 0.05


def target(fam, port):
    return ("%s:%d" if fam == 4 else "[%s]:%d") % (PEER[fam], port)


def syns(resp, since, fam, port, what, count):
    """The responder's records (from index since on) of the SYNs to port:
    exactly count, from distinct source ports, as the prober should send
    them."""
    def ours(r):
        return r["fam"] == fam and r["dport"] == port

    resp.wait_records(ours, count, since=since)
    resp.settle(0.1)
    got = [r for r in resp.records[since:] if ours(r)]
    check_eq(len(got), count, "SYNs the responder saw for IPv%d port %d (%s)"
             % (fam, port, got[:5]))
    by_sport = {}
    for r in got:
        check(r["sport"] not in by_sport,
              "two SYNs from source port %d to port %d: %s" % (r["sport"], port, got))
        by_sport[r["sport"]] = r
        check_eq(r["what"], what, "what the responder did with %r" % r)
        check_eq((r["src"], r["dst"]), (LOCAL[fam], PEER[fam]),
                 "the SYN's addresses (the namespace's route to the target)")
        check_eq(r["csum"], "ok", "the checksums of the prober's SYN %r" % r)
        check_eq(r["opts"], "MSTNW", "the prober's SYN options (Linux's order) %r" % r)
        check_eq(r["ttl"], 64, "the prober's SYN TTL on arrival %r" % r)
    return by_sport


def responder_timing(h):
    """How far the responder's own clock is from the ideal for the SYN of
    record h, in us: the arrival's uncertainty and the reply's lateness."""
    return h["seen_ns"] / 1e3, h["late_ns"] / 1e3


def check_truth(probes, by_sport, what):
    """Every probe against what the responder measured: the kernel stamps
    the SYN before the responder can read it and the reply once the
    responder writes it, so the RTT is never under the true hold, and over
    it by the transit and the arrival's uncertainty only. The probes the
    responder was late for (scheduled out: its hold is no reference)."""
    late = []
    for p in probes:
        h = by_sport.get(p["sport"])
        check(h is not None, "%s seq %d: no SYN from port %d reached the responder"
              % (what, p["seq"], p["sport"]))
        check_eq(p["flags"], [], "%s seq %d: flags (a kernel timestamp missing?)"
                 % (what, p["seq"]))
        rtt = p["rtt_us"]
        check(isinstance(rtt, (int, float)), "%s seq %d: rtt_us %r" % (what, p["seq"], rtt))
        hold = h["ns"] / 1e3
        seen, behind = responder_timing(h)
        check(rtt - hold >= 0,
              "%s seq %d: rtt %.3f us, under the true hold %.3f us (by %.3f us): the "
              "prober's stamps are wrong; responder: %r"
              % (what, p["seq"], rtt, hold, hold - rtt, h))
        if seen + behind > CLEAN_US:
            late.append((p, h))
        elif rtt - hold > seen + TOL_US:
            # Over the truth by more than transit: the kernel stamped the SYN
            # (tun_net_xmit) or the reply (the write) that much from where
            # the responder saw them. Between those stamps and the device's
            # queue only the kernel runs, so the CPU was taken from it (the
            # hypervisor: seen once under ASan, +556 us with the responder
            # on time). Judged again like a late responder; a prober that
            # is always over fails the test after ATTEMPTS runs.
            log("%s seq %d: rtt %.3f us, true hold %.3f us (SYN seen within %.3f us): "
                "over it by %+.3f us, more than %.3f of transit; responder: %r"
                % (what, p["seq"], rtt, hold, seen, rtt - hold, seen + TOL_US, h))
            late.append((p, h))
    return late


def check_delay(probes, by_sport, what):
    """The requirement: every probe's RTT within TOL_US of the delay (and
    of its true hold). The largest errors."""
    e_delay, e_hold = [], []
    for p in probes:
        h, rtt = by_sport[p["sport"]], p["rtt_us"]
        hold = h["ns"] / 1e3
        check(abs(rtt - DELAY_US) <= TOL_US,
              "%s seq %d: rtt %.3f us, the responder held the reply %.3f us after a "
              "%d us delay: off the delay by %+.3f us (more than %d); responder: %r"
              % (what, p["seq"], rtt, hold, DELAY_US, rtt - DELAY_US, TOL_US, h))
        check(rtt - hold <= TOL_US,
              "%s seq %d: rtt %.3f us, true hold %.3f us: off by %+.3f us (more than %d); "
              "responder: %r" % (what, p["seq"], rtt, hold, rtt - hold, TOL_US, h))
        e_delay.append(rtt - DELAY_US)
        e_hold.append(rtt - hold)
    seen = sorted(responder_timing(by_sport[p["sport"]])[0] for p in probes)
    behind = sorted(responder_timing(by_sport[p["sport"]])[1] for p in probes)
    log("%s: %d RTTs; rtt - %d us: %+.3f .. %+.3f us (max |error| %.3f us); rtt - true "
        "hold: %+.3f .. %+.3f us; responder: SYN seen within %.1f us (max), reply late "
        "%.1f us (max)"
        % (what, len(probes), DELAY_US, min(e_delay), max(e_delay),
           max(abs(x) for x in e_delay), min(e_hold), max(e_hold), seen[-1], behind[-1]))
    return max(abs(x) for x in e_delay), max(abs(x) for x in e_hold)


def timed(what, attempt):
    """attempt() runs a job and returns (probes, the responder's records by
    source port). Every run is checked against the truth; the delay itself
    on the first run the responder kept its own timing for every probe of
    (else its hold was not the 20 ms reference for some, through no fault
    of the prober)."""
    for n in range(1, ATTEMPTS + 1):
        probes, by_sport = attempt()
        late = check_truth(probes, by_sport, what)
        if not late:
            return check_delay(probes, by_sport, what) + (n,)
        log("%s, run %d: the responder or the kernel was scheduled out around %d "
            "probe(s), so the hold is no %d us reference for them (RTT/true hold/seen "
            "within/late, us: %s); "
            "running the job again in %.1f s"
            % (what, n, len(late), DELAY_US, ", ".join(
                "%.1f/%.1f/%.1f/%.1f" % ((p["rtt_us"], h["ns"] / 1e3)
                                         + responder_timing(h)) for p, h in late),
                PAUSE_S))
        time.sleep(PAUSE_S)  # a burst of other work may pass meanwhile
    fail("%s: in %d runs the responder never kept its own timing (SYN seen and reply "
         "written within %d us together) and the transit never stayed within %d us for "
         "every probe: the machine is too busy to judge the prober's RTTs, or the prober "
         "is always late" % (what, ATTEMPTS, CLEAN_US, TOL_US))


SENT = [0]  # probes sent by every job, for the totals at the end


def check_counts(job, what, sent, received, lost):
    s = job["summary"]
    SENT[0] += s["sent"]
    check_eq((s["sent"], s["received"], s["lost"], s["errors"]), (sent, received, lost, 0),
             "%s: summary sent/received/lost/errors" % what)
    check_eq(len(job["probes"]), sent, "%s: results" % what)
    check_eq(sorted(p["seq"] for p in job["probes"]), list(range(sent)), "%s: seqs" % what)


def probe_open(d, resp, nspath, fam, first):
    what = "IPv%d open" % fam

    def attempt():
        since = len(resp.records)
        job_id = tr.submit(d, follow_timeout=tr.FOLLOW_TIMEOUT_S if first else 0,
                           target=target(fam, OPEN), count=OPEN_COUNT, interval=OPEN_INTERVAL,
                           netns=nspath, mode="syn")
        job = tr.wait_job(d, job_id, OPEN_COUNT * OPEN_INTERVAL)
        check_counts(job, what, OPEN_COUNT, OPEN_COUNT, 0)
        for p in job["probes"]:
            w = "%s seq %d" % (what, p["seq"])
            check_eq(p["state"], "open", w + ": state")
            check_eq(p["from"], PEER[fam], w + ": who answered")
            check_eq(p["icmp"], None, w + ": icmp")
            check_eq((p["ttl"], p["mss"], p["window"], p["wscale"], p["options"]),
                     (64, tr.SYNACK_MSS[fam], tr.SYNACK_WINDOW[fam], tr.SYNACK_WSCALE,
                      "MSTNW"), w + ": the SYN-ACK's TTL, MSS, window, scale and options")
        by_sport = syns(resp, since, fam, OPEN, "held", OPEN_COUNT)
        for r in by_sport.values():
            check_eq(r["reply"], "synack", "the responder's reply %r" % r)
        return job["probes"], by_sport

    return timed(what, attempt)


def probe_closed_cli(d, resp, nspath, fam):
    what = "IPv%d closed (tcpwatch probe --json)" % fam

    def attempt():
        since = len(resp.records)
        out = d.cli("probe", target(fam, CLOSED), "-c", 3, "-i", 0.05, "-w", 1,
                    "--netns", nspath, "--json")
        try:
            job = json.loads(out)
        except ValueError as e:
            fail("%s printed no JSON (%s): %r" % (what, e, out[:2000]))
        check(job.get("done") is True and job.get("mode") == "syn" and
              job.get("target") == target(fam, CLOSED),
              "%s: not the finished job: %s" % (what, out[:1000]))
        check_counts(job, what, 3, 3, 0)
        for p in job["probes"]:
            w = "%s seq %d" % (what, p["seq"])
            check_eq(p["state"], "closed", w + ": state")
            check_eq(p["from"], PEER[fam], w + ": who answered")
            check_eq((p["ttl"], p["window"], p["mss"], p["icmp"]), (64, 0, None, None),
                     w + ": the RST's TTL, window, MSS, icmp")
        by_sport = syns(resp, since, fam, CLOSED, "held", 3)
        for r in by_sport.values():
            check_eq(r["reply"], "rst", "the responder's reply %r" % r)
        return job["probes"], by_sport

    return timed(what, attempt)


def probe_silent(d, resp, nspath, fam):
    what = "IPv%d silent" % fam
    since = len(resp.records)
    job = tr.wait_job(d, tr.submit(d, target=target(fam, SILENT), count=2, interval=0.05,
                                   timeout=0.5, netns=nspath), 0.5)
    check_counts(job, what, 2, 0, 2)
    for p in job["probes"]:
        w = "%s seq %d" % (what, p["seq"])
        check_eq((p["state"], p["icmp"], p["rtt_us"], p["from"]),
                 ("filtered", None, None, None), w + ": state, icmp, rtt, from")
    by_sport = syns(resp, since, fam, SILENT, "dropped", 2)
    for p in job["probes"]:
        check(p["sport"] in by_sport, "%s seq %d: its SYN (port %d) never reached the "
              "responder" % (what, p["seq"], p["sport"]))


def probe_unreach(d, resp, nspath, fam, port):
    itype, icode = ICMP[(fam, port)]
    what = "IPv%d unreachable %d/%d" % (fam, itype, icode)

    def attempt():
        since = len(resp.records)
        job = tr.wait_job(d, tr.submit(d, target=target(fam, port), count=2, interval=0.05,
                                       timeout=1, netns=nspath), 0.05)
        check_counts(job, what, 2, 2, 0)
        for p in job["probes"]:
            w = "%s seq %d" % (what, p["seq"])
            check_eq(p["state"], "filtered", w + ": state")
            check_eq(p["icmp"], {"type": itype, "code": icode}, w + ": icmp")
            check_eq(p["from"], PEER[fam], w + ": who sent the ICMP error")
        by_sport = syns(resp, since, fam, port, "held", 2)
        for r in by_sport.values():
            check_eq(r["reply"], "icmp", "the responder's reply %r" % r)
        return job["probes"], by_sport

    return timed(what, attempt)


def main():
    cpu = tr.isolate_cpu()
    log("the responder busy-polls on CPU %s, the rest on %s"
        % (cpu, sorted(os.sched_getaffinity(0))))
    with twtest.Netns() as ns:
        resp = tr.Responder(ns, DEV, cpu=cpu, args=[
            "--v4", PEER[4], "--v6", PEER[6], "--mode", "open", "--delay-us", DELAY_US,
            "--port", "%d=closed" % CLOSED, "--port", "%d=silent" % SILENT,
            "--port", "%d=unreach:13,1" % UNREACH_A, "--port", "%d=unreach:1,4" % UNREACH_B,
            "--port", "%d=unreach:10,3/8" % UNREACH_Q])
        ns.run(["ip", "addr", "add", LOCAL[4] + "/24", "dev", DEV])
        ns.run(["ip", "-6", "addr", "add", LOCAL[6] + "/64", "dev", DEV, "nodad"])
        ns.run(["ip", "link", "set", DEV, "up"])
        for fam in (4, 6):
            r = ns.run(["ip", "-%d" % fam, "route", "get", PEER[fam]])
            check("dev %s" % DEV in r.stdout and "src %s" % LOCAL[fam] in r.stdout,
                  "namespace route to %s: %r" % (PEER[fam], r.stdout))
        nspath = "/run/netns/" + ns.name
        with twtest.Daemon(["--probe-allow", "198.18.0.0/15,[fd00::/8]",
                            "--reconcile-interval", "1"]) as d:
            worst = {}
            worst["IPv4 open"] = probe_open(d, resp, nspath, 4, first=True)
            worst["IPv6 open"] = probe_open(d, resp, nspath, 6, first=False)
            for fam in (4, 6):
                worst["IPv%d closed" % fam] = probe_closed_cli(d, resp, nspath, fam)
                probe_silent(d, resp, nspath, fam)
                for port in (UNREACH_A, UNREACH_B, UNREACH_Q):
                    worst["IPv%d icmp %d/%d" % ((fam,) + ICMP[(fam, port)])] = \
                        probe_unreach(d, resp, nspath, fam, port)
            st = d.stats()
            for k in ("probe_malformed", "probe_no_tx_stamp", "probe_no_rx_stamp",
                      "probe_bad_clock", "probe_duplicates", "probe_send_errors"):
                check_eq(st.get(k), 0, "stats %s" % k)
            check_eq(st.get("probe_sent"), SENT[0], "stats probe_sent (the jobs' sum)")
            resp.settle(0.2)
            check_eq(len(resp.records), SENT[0],
                     "SYNs the responder saw in all (one per probe, none resent)")
            resp.stop()
            for k, (a, b, n) in worst.items():
                log("max |rtt error| %-18s vs %d us delay: %7.3f us; vs true hold: %7.3f us "
                    "(run %d)" % (k, DELAY_US, a, b, n))


if __name__ == "__main__":
    twtest.run(main)
