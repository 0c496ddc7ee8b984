#!/usr/bin/python3
"""Induced ring-buffer loss. With rings of one page per CPU (--ringbuf-kb 8)
a loopback churn overflows them: the loss is counted per CPU and said as
"N lost of M", an early reconcile runs, and once the churn stops the table
agrees with ss exactly. Connections alive while events were lost are marked
history_gap (and `show` says so); one made after the loss is not. Under a
lasting loss the early reconciles back off instead of running every second."""

import operator
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402

CHURN_S = 12
PAIRS = 200


def churn(seconds):
    path = os.path.join(twtest.bin_dir(), "tw-churn")
    if not os.access(path, os.X_OK):
        fail("%s not built" % path)
    return twtest.spawn([path, "-c", "2", "-d", str(seconds), "-a", "127.0.0.1"],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)


def pair():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    c = socket.create_connection(ls.getsockname())
    a, _ = ls.accept()
    for s in (ls, c, a):
        twtest.at_cleanup(s.close)
    return ls.getsockname()[1], c.getsockname()[1], (ls, c, a)


def many_pairs(n):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(n)
    twtest.at_cleanup(ls.close)
    out = []
    for _ in range(n):
        c = socket.create_connection(ls.getsockname())
        a, _ = ls.accept()
        twtest.at_cleanup(c.close)
        twtest.at_cleanup(a.close)
        out.append((c, a))
    return ls.getsockname()[1], out


def agree(d, port):
    """The live sockets of port, in the table and in ss: the same set."""
    host_ns = twtest.host_netns_inode()
    ss = {t for t in twtest.ss_sockets(["-tanH"] + twtest.ss_port_filter(port))
          if port in (t[1], t[3])}
    tw = {(c["local_addr"], c["local_port"], c["remote_addr"], c["remote_port"], c["state"])
          for c in twtest.list_conns(d, "-a")
          if not c.get("closed") and c.get("netns") == host_ns
          and port in (c.get("local_port"), c.get("remote_port"))}
    return ss, tw


def main():
    with twtest.Daemon(["--ringbuf-kb", "8", "--reconcile-interval", "8"]) as d:
        lport, cport, held = pair()
        before = lu.find_one(d, lu.tuple_pred(cport, lport), "a connection made before")
        check_eq(twtest.show(d, before["cookie"]).get("history_gap"), False,
                 "no gap before any loss")
        port, pairs = many_pairs(PAIRS)
        st0 = d.stats()
        p = churn(CHURN_S)
        time.sleep(CHURN_S / 2)
        for c, a in pairs[:PAIRS // 2]:
            c.close()  # client FIN_WAIT2, server CLOSE_WAIT, amid the loss
        mid = d.stats()
        check(mid["events_lost"] > st0["events_lost"],
              "one-page rings overflow under churn: %d lost" % mid["events_lost"])
        check(mid["reconcile_early"] > st0["reconcile_early"], "an early reconcile ran")
        p.wait(timeout=CHURN_S + 30)
        st = d.stats()
        log("lost: %s; early reconciles %d, deferred %d" % (
            st["events_loss"], st["reconcile_early"], st["reconcile_early_deferred"]))
        m = re.match(r"(\d+) lost of (\d+) \((.*); (\d+) nested\)$", st["events_loss"])
        check(m, "events_loss reads 'N lost of M (cpu0 a, ...; k nested)': %r"
              % st["events_loss"])
        per_cpu = [int(x.split()[1]) for x in m.group(3).split(", ")]
        check_eq(int(m.group(1)), st["events_lost"], "N is events_lost")
        check_eq(int(m.group(2)), st["events_received"], "M is events_received")
        check_eq(sum(per_cpu) + int(m.group(4)), st["events_lost"],
                 "the CPUs' losses and the nested ones add up")
        check(len(per_cpu) == os.cpu_count(), "one figure per CPU: %r" % per_cpu)
        check_eq([st.get("events_lost_cpu%d" % i) for i in range(len(per_cpu))], per_cpu,
                 "events_lost_cpuN, a counter per CPU")
        # And in the metrics, labelled by CPU (promtool checks the format
        # in integration.metrics). Read after stats: counters only grow.
        resp = d.http_request("/metrics")
        check_eq(resp.status, 200, "GET /metrics")
        text = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
        by_cpu = {int(m2.group(1)): int(float(m2.group(2))) for m2 in re.finditer(
            r'^tcpwatch_daemon_events_lost_by_cpu_total\{cpu="(\d+)"\} (\S+)$', text, re.M)}
        check_eq(sorted(by_cpu), list(range(len(per_cpu))),
                 "tcpwatch_daemon_events_lost_by_cpu_total, one series per CPU")
        check(all(by_cpu[i] >= per_cpu[i] for i in by_cpu) and sum(by_cpu.values()) > 0,
              "the metric's per-CPU losses: %r, stats: %r" % (by_cpu, per_cpu))
        # Backoff: ~12 s of lasting loss, early reconciles at 1, 2, 4, 8 s
        # at most; every one a second would be ~12.
        early = st["reconcile_early"] - st0["reconcile_early"]
        check(early <= 6, "early reconciles back off: %d in %d s" % (early, CHURN_S))
        check(st["reconcile_early_deferred"] > 0, "losses whose early reconcile waited")

        # The table after a reconcile agrees with ss on the test's sockets,
        # half of which changed state while events were being lost.
        twtest.wait_for(lambda: operator.eq(*agree(d, port)), timeout=20)
        ss, tw = agree(d, port)
        log("after the loss and a reconcile: %d sockets of port %d, the same in ss"
            % (len(ss), port))
        check_eq(len([t for t in tw if t[4] == "CLOSE_WAIT"]), PAIRS // 2,
                 "the servers whose clients closed amid the loss are in CLOSE_WAIT")
        check(len(tw) >= 1 + PAIRS + PAIRS // 2, "the port's sockets: %d" % len(tw))

        gap = twtest.show(d, before["cookie"])
        check_eq(gap.get("history_gap"), True, "alive during the loss: history_gap")
        out = d.cli("show", str(before["cookie"]))
        check("history gap" in out, "show says so: %r" % out[:600])
        time.sleep(2)
        lport2, cport2, held2 = pair()
        after = lu.find_one(d, lu.tuple_pred(cport2, lport2), "a connection made after")
        check_eq(twtest.show(d, after["cookie"]).get("history_gap"), False,
                 "made after the loss: no gap")


if __name__ == "__main__":
    twtest.run(main)
