#!/usr/bin/python3
"""The half-open mode against a real Linux listener in a namespace with
tcp_synack_retries=2: one SYN, our own RST dropped by the tcx program, and
the listener's SYN-ACKs timed by the kernel: three of them, 1 s and 2 s
apart (its doubling schedule), and a lifetime of 7 s (the last wait
doubled), which the daemon's own record of that listener's half-open
(traced from the listener's side: expired, 2 SYN-ACKs resent) confirms.
Afterwards nothing stays attached, and an ordinary probe is reset again
(the listener's SYN queue empties at once), and the prober's sockets in
the namespace are closed once no job uses them."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

PORT = 8099


def tcx_links():
    out = subprocess.run(["bpftool", "link", "show"], capture_output=True, text=True).stdout
    return out.count("halfopen_drop_r")


def main():
    with twtest.Netns() as ns, twtest.Daemon() as d:
        ns.run(["sysctl", "-qw", "net.ipv4.tcp_synack_retries=2"])
        lst = ns.spawn_python(
            "import socket,sys,time\n"
            "s=socket.socket(); s.bind(('127.0.0.1', %d)); s.listen(16)\n"
            "print('ready', flush=True); time.sleep(120)\n" % PORT)
        check_eq(twtest.read_line(lst), "ready", "listener in the namespace")
        path = "/run/netns/%s" % ns.name
        # The daemon follows /run/netns names from its next reconcile.
        twtest.wait_for(lambda: probeapi.request(d, "POST", "/api/v1/probes", {
            "target": "127.0.0.1:%d" % PORT, "netns": path, "count": 1})[0] == 201, timeout=10)
        before = tcx_links()
        t0 = time.monotonic()
        job = probeapi.run_job(d, target="127.0.0.1:%d" % PORT, netns=path, mode="half-open",
                               count=1, timeout=2)
        log("half-open job took %.1f s: %r" % (time.monotonic() - t0, job["half_open"]))
        check_eq(job["probes"][0]["state"], "open", "the first answer")
        ho = job["half_open"]
        check_eq(ho["synacks"], 3, "SYN-ACKs of a listener with tcp_synack_retries=2")
        check_eq(ho["retransmits"], 2, "retransmissions")
        iv = ho["intervals_us"]
        check(abs(iv[0] - 1e6) < 1e5 and abs(iv[1] - 2e6) < 1.5e5,
              "the kernel's schedule is 1 s then 2 s: %r" % iv)
        check(abs(ho["lifetime_estimate_us"] - 7e6) < 3e5,
              "lifetime %r, the kernel's is 1+2+4 s" % ho["lifetime_estimate_us"])
        st = d.stats()
        check(st["probe_halfopen_rsts_dropped"] >= 3,
              "our RSTs dropped: %d" % st["probe_halfopen_rsts_dropped"])
        check_eq(tcx_links(), before, "tcx links left attached after the job")
        # The listener's side, traced by the daemon: the same half-open.
        status, ls = d.http_get("/api/v1/listeners?local_port=%d" % PORT)
        check(status == 200 and ls, "the listener in the namespace: %r" % ls)
        status, l1 = d.http_get("/api/v1/listeners/%d" % ls[0]["cookie"])
        mine = [h for h in l1["half_opens"] if h["remote_port"] == job["probes"][0]["sport"]]
        check(mine, "the probe's half-open in the listener's record: %r" % l1["half_opens"])
        h = mine[0]
        check_eq(h["state"], "expired", "the listener's half-open ended")
        check_eq(h["synack_retransmits"], 2, "SYN-ACKs the listener resent (its side)")
        check(abs(h["lifetime_us"] - ho["lifetime_estimate_us"]) < 3e5,
              "lifetime seen by the prober %.0f us, by the listener's tracing %.0f us"
              % (ho["lifetime_estimate_us"], h["lifetime_us"]))
        # An ordinary probe (the namespace named by its inode this time) is
        # reset by our kernel again: no half-open stays.
        job = probeapi.run_job(d, target="127.0.0.1:%d" % PORT, netns=ns.inode, count=1)
        check_eq(job["netns"], ns.inode, "the job's namespace, given as an inode")
        check_eq(job["probes"][0]["state"], "open", "an ordinary probe")

        def queue_empty():
            s, v = d.http_get("/api/v1/listeners?local_port=%d" % PORT)
            return s == 200 and v and v[0]["syn_queue"] == 0
        twtest.wait_for(queue_empty, timeout=5)
        # Nothing probes from the namespace any more: its sockets go (they
        # would keep it alive after its container went).
        check(d.stats()["probe_netns"] >= 1, "the namespace's sockets while in use")
        twtest.wait_for(lambda: d.stats()["probe_netns"] == 0, timeout=5)
        # The default allow-list takes the interface addresses of every
        # namespace the daemon follows: one of another namespace's, probed
        # from this one (which has no route to it: the probe is an error,
        # nothing is sent), against an address no namespace has (refused).
        with twtest.Netns() as other:
            other.run(["ip", "addr", "add", "198.18.77.1/32", "dev", "lo"])
            job = {"target": "198.18.77.1:80", "netns": path}
            twtest.wait_for(lambda: probeapi.request(d, "POST", "/api/v1/probes", job)[0]
                            == 201, timeout=10)
            st, j, raw = probeapi.request(d, "POST", "/api/v1/probes",
                                          {"target": "198.18.77.2:80", "netns": path})
            check_eq(st, 403, "an address of no namespace (%s)" % raw[:300])


if __name__ == "__main__":
    twtest.run(main)
