#!/usr/bin/python3
"""No event lost to the kernel's recursion guard. Under tw-storm (threads on
one listener, both sides closing at once) softirqs hit inet_sock_set_state
while one of our programs runs on that CPU, and the kernel skips a program
that is already running there. Each program has two copies
(bpf/tcpwatch.bpf.c): whichever is skipped, the other serves the hit. With
the kernel's BPF statistics on, every hit of the tracepoint is one run or
one skipped run of the first copy, so the daemon must have received exactly
that many state events, with the skipped runs (there must be some, or the
load did not nest) counted as handed over, not lost.

The exact count needs a reader that keeps up: a round whose rings filled
(a sanitizer build's daemon drains slower than tw-storm makes events) says
nothing about nesting, so the next round paces tw-storm to a rate the
daemon drained, and the test needs one round with no ring loss in which
some hit nested."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402

STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
ROUNDS = 8
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


def storm(ns, seconds, rate):
    """Runs tw-storm in namespace ns (at most rate connections a second, 0:
    flat out); its measured rate. In a namespace of the test's own, the
    hundreds of thousands of TIME_WAIT sockets it leaves go with the
    namespace, instead of slowing every test after this one."""
    path = os.path.join(twtest.bin_dir(), "tw-storm")
    if not os.access(path, os.X_OK):
        fail("%s not built" % path)
    r = subprocess.run(ns.prefix() + [path, "-d", str(seconds), "-t", "4", "-r", str(rate)],
                       capture_output=True, text=True, timeout=seconds + 30)
    check_eq(r.returncode, 0, "tw-storm's exit status (%s)" % r.stderr.strip())
    log(r.stdout.strip())
    fields = dict(kv.split("=", 1) for kv in r.stdout.split())
    return float(fields["rate"])


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
    # A reconcile reads every socket, and tw-storm leaves hundreds of
    # thousands in TIME_WAIT: one every minute keeps the loop on the rings
    # (a sanitizer build's reconcile of them takes longer than its ring
    # holds). TW_NESTED_ARGS adds options (--ringbuf-kb 256 shows the
    # paced rounds).
    args = ["--reconcile-interval", "60"] + os.environ.get("TW_NESTED_ARGS", "").split()
    with twtest.Netns() as ns, twtest.Daemon(args) as d:
        pid = d.proc.pid
        progs = programs(pid)
        check("handle_set_state" in progs,
              "the daemon holds handle_set_state (it has %s)" % sorted(progs))
        first, second = progs["handle_set_state"], progs.get("nest_set_state", (0, 0))
        st = settled(d)
        before = (first, second, st)
        rate = 0
        clean = 0
        for rnd in range(ROUNDS):
            made = storm(ns, SECONDS, rate)
            st = settled(d)
            progs = programs(pid)
            first, second = progs["handle_set_state"], progs.get("nest_set_state", (0, 0))
            hits = first[0] + first[1]
            # Since the round began (the counters run from start-up).
            b_first, b_second, b_st = before
            r_hits = hits - (b_first[0] + b_first[1])
            r_state = st["events_state"] - b_st["events_state"]
            r_ring = (st["events_lost"] - st["events_nested_lost"]) - \
                (b_st["events_lost"] - b_st["events_nested_lost"])
            r_skipped = first[1] + second[1] - b_first[1] - b_second[1]
            before = (first, second, st)
            log("round %d (rate %s): %d hits (%d skipped of the first copy, %d of the second), "
                "%d state events received, %d lost to full rings; %s" %
                (rnd + 1, rate or "flat out", r_hits, first[1] - b_first[1],
                 second[1] - b_second[1], r_state, r_ring, st["events_loss"]))
            # Whatever the rings did: no event lost to nesting, and the
            # second copy saw every hit the first saw.
            check_eq(st["events_nested_lost"], 0, "events_nested_lost")
            check_eq(second[0] + second[1], hits,
                     "the second copy ran or was skipped on every hit the first saw")
            check(st["events_nested_handed_over"] >= first[1] + second[1],
                  "skipped runs counted as handed over: %d, at least %d"
                  % (st["events_nested_handed_over"], first[1] + second[1]))
            if r_ring:
                # The reader fell behind: pace the next round to what it
                # drained, with a margin.
                rate = max(500, int(made * 0.6 * r_state / max(r_hits, 1)))
                log("rings filled: the next round at %d connections a second" % rate)
                continue
            # Nothing else on the host changes TCP state meanwhile but the
            # tests, run one at a time.
            check_eq(r_state, r_hits, "state events received = tracepoint hits (round %d)"
                     % (rnd + 1))
            clean += 1
            if r_skipped:
                break
        else:
            check(clean > 0, "every one of %d rounds filled the rings: inconclusive" % ROUNDS)
            fail("the storm nested no tracepoint hit in %d rounds with no ring loss "
                 "(%d such rounds): inconclusive" % (ROUNDS, clean))


if __name__ == "__main__":
    twtest.run(main)
