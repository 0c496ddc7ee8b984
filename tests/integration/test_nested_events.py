#!/usr/bin/python3
"""No event lost to the kernel's recursion guard. Under tw-storm (threads on
one listener, both sides closing at once) softirqs hit inet_sock_set_state
while one of our programs runs on that CPU, and the kernel skips a program
that is already running there. Each program has two copies
(bpf/tcpwatch.bpf.c): whichever is skipped, the other serves the hit. With
the kernel's BPF statistics on, every hit of the tracepoint is one run or
one skipped run of the first copy, so the daemon must have received exactly
that many state events, with the skipped runs (there must be some, or the
load did not nest) counted as handed over, not lost."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
ROUNDS = 4
SECONDS = 5


def prog_ids(pid):
    """The ids of the BPF programs the daemon holds, from its fdinfo."""
    ids = set()
    fd_dir = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def programs(pid):
    """name -> (runs, skipped runs) of the daemon's programs."""
    out = {}
    for i in prog_ids(pid):
        r = subprocess.run(["bpftool", "prog", "show", "id", str(i), "-j"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            continue
        p = json.loads(r.stdout)
        out[p["name"]] = (p.get("run_cnt", 0), p.get("recursion_misses", 0))
    return out


def storm(seconds):
    path = os.path.join(twtest.bin_dir(), "tw-storm")
    if not os.access(path, os.X_OK):
        fail("%s not built" % path)
    r = subprocess.run([path, "-d", str(seconds), "-t", "4"], capture_output=True,
                       text=True, timeout=seconds + 30)
    check_eq(r.returncode, 0, "tw-storm's exit status (%s)" % r.stderr.strip())
    log(r.stdout.strip())


def settled(d):
    """The stats once the state-event count stops moving (the rings drained)."""
    last = None
    for _ in range(50):
        st = d.stats()
        if last is not None and st["events_state"] == last:
            return st
        last = st["events_state"]
        time.sleep(0.3)
    fail("events_state still moving after 15 s")


def main():
    if not os.path.exists(STATS_SYSCTL):
        raise twtest.Skip("no %s" % STATS_SYSCTL)
    with open(STATS_SYSCTL) as f:
        old = f.read().strip()

    def restore():
        with open(STATS_SYSCTL, "w") as f:
            f.write(old)

    twtest.at_cleanup(restore)
    # On before the daemon loads: every run of its programs is counted.
    with open(STATS_SYSCTL, "w") as f:
        f.write("1")
    with twtest.Daemon() as d:
        pid = d.proc.pid
        progs = programs(pid)
        check("handle_set_state" in progs,
              "the daemon holds handle_set_state (it has %s)" % sorted(progs))
        skipped = 0
        for rnd in range(ROUNDS):
            storm(SECONDS)
            st = settled(d)
            progs = programs(pid)
            first, second = progs["handle_set_state"], progs.get("nest_set_state", (0, 0))
            hits = first[0] + first[1]
            skipped = first[1] + second[1]
            log("round %d: %d hits (%d runs + %d skipped of the first copy; %d skipped of the "
                "second), %d state events received, %s" %
                (rnd + 1, hits, first[0], first[1], second[1], st["events_state"],
                 st["events_loss"]))
            # Nothing else in this namespace changes TCP state meanwhile
            # but the tests, run one at a time.
            check_eq(st["events_state"], hits, "state events received = tracepoint hits")
            check_eq(st["events_lost"], 0, "events lost (ring full or nested)")
            check_eq(second[0] + second[1], hits,
                     "the second copy ran or was skipped on every hit the first saw")
            check_eq(st["events_nested_lost"], 0, "events_nested_lost")
            check(st["events_nested_handed_over"] >= skipped,
                  "skipped runs counted as handed over: %d, at least %d"
                  % (st["events_nested_handed_over"], skipped))
            if skipped:
                break
        check(skipped > 0, "the storm nested no tracepoint hit in %d rounds: inconclusive"
              % ROUNDS)


if __name__ == "__main__":
    twtest.run(main)
