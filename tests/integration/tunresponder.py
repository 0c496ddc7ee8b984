"""Helpers of the prober's emulated-network tests: tw-tun-responder (built
from tests/tools/tun_responder.c into bin/) run inside a namespace the test
created, its per-SYN report, and a job submitted once the daemon follows
the namespace it is probed from (the rest of the API: probeapi.py).

Network rule: the responder emulates only hosts of 198.18.0.0/15 and
fd00::/8 behind a TUN device in our own namespace; nothing else is sent to.
"""

import os
import select
import signal
import subprocess
import time

import probeapi
import twtest
from twtest import Skip, check, check_eq, fail, log

RESPONDER = os.path.join(twtest.bin_dir(), "tw-tun-responder")

# Linux's SYN-ACK for a 1500-byte MTU, as the responder sends it: MSS,
# and the window a multiple of the MSS less the timestamps under 64 KiB.
SYNACK_MSS = {4: 1460, 6: 1440}
SYNACK_WINDOW = {f: 65535 // (m - 12) * (m - 12) for f, m in SYNACK_MSS.items()}
SYNACK_WSCALE = 7
# How long the daemon may take to follow a new namespace (reconcile 1 s).
FOLLOW_TIMEOUT_S = 15.0


def isolate_cpu():
    """A CPU of its own for the responder: the last one this process may
    use, taken off this process's set, so that the daemon, the CLI and
    everything else the test starts from now on (they inherit the set)
    never preempt its busy loop. None with a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    os.sched_setaffinity(0, cpus[:-1])
    return cpus[-1]


class Responder:
    """tw-tun-responder --dev DEV ARGS in ns (a twtest.Netns), registered
    for cleanup; up once it printed "ready" (the TUN device exists, not
    configured yet). Skips the test (77) if the kernel has no TUN."""

    def __init__(self, ns, dev, args, timeout=170, cpu=None):
        if not os.access(RESPONDER, os.X_OK):
            fail("%s not found or not executable (build first: target "
                 "tw-tun-responder)" % RESPONDER)
        self.ns, self.dev = ns, dev
        argv = [RESPONDER, "--dev", dev, "--timeout", str(timeout)] + [str(a) for a in args]
        if cpu is not None:
            argv += ["--cpu", str(cpu)]
        self.proc = twtest.spawn(ns.prefix() + argv, stdin=subprocess.DEVNULL)
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.records = []  # every line parsed, in order
        first = self._line(15.0)
        if first is None:
            rc = self.proc.wait(timeout=5)
            if rc == twtest.SKIP_RC:
                raise Skip("the kernel has no TUN device support (tw-tun-responder "
                           "exited 77)")
            fail("tw-tun-responder exited %s before it was ready" % rc)
        check_eq(first, "ready dev=%s" % dev, "tw-tun-responder's first line")
        log("tw-tun-responder in %s (pid %d): %s" % (ns.name, self.proc.pid, " ".join(argv[1:])))

    def _line(self, timeout):
        """The next line (None at EOF), waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("tw-tun-responder printed no line within %.1f s (so far %r)"
                     % (timeout, self.buf))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                b = os.read(self.fd, 65536)
                if not b:
                    return None
                self.buf += b
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def _pump(self, duration):
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if r:
                b = os.read(self.fd, 65536)
                if not b:
                    return
                self.buf += b
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    self.records.append(parse_record(line.decode()))
            elif left <= 0:
                return

    def wait_records(self, pred, count, since=0, timeout=5.0):
        """The records (from index since on) pred accepts, once there are
        count of them (fails after timeout seconds with what came)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [r for r in self.records[since:] if pred(r)]
            if len(got) >= count or time.monotonic() >= deadline:
                break
            self._pump(0.05)
        check(len(got) >= count, "tw-tun-responder reported %d of the %d SYNs expected; "
              "all it reported: %s" % (len(got), count, self.records[-40:]))
        return got

    def settle(self, duration=0.2):
        """Collect what else comes within duration seconds."""
        self._pump(duration)

    def stop(self):
        """SIGTERM; asserts a clean exit (status 0: no write failed). What
        it still prints is read meanwhile (it exits once that is out)."""
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._pump(0.05)
        try:
            rc = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            fail("tw-tun-responder did not exit within 5 s of SIGTERM")
        self._pump(0)
        check_eq(rc, 0, "tw-tun-responder's exit status after SIGTERM")


def parse_record(line):
    """'held fam=4 src=... ns=N' to {"what": "held", "fam": 4, ...}."""
    words = line.split()
    check(words and words[0] in ("held", "dropped"),
          "tw-tun-responder printed an unexpected line: %r" % line)
    rec = {"what": words[0]}
    for w in words[1:]:
        k, eq, v = w.partition("=")
        check(eq, "tw-tun-responder line %r: %r is not KEY=VALUE" % (line, w))
        rec[k] = int(v) if k in ("fam", "sport", "dport", "seq", "ttl", "seen_ns", "ns",
                                 "late_ns", "write_ns") else v
    return rec


# --------------------------------------------------------------------------
# The prober's API (probeapi.py), and the wait for a namespace to be followed


def submit(d, follow_timeout=0.0, **job):
    """POST the job; its id. With follow_timeout, a 404 because the daemon
    does not follow the job's namespace yet is retried that long (it picks
    up /run/netns names at each reconcile)."""
    t0 = time.monotonic()
    refused = 0
    while True:
        status, body, raw = probeapi.request(d, "POST", "/api/v1/probes", job)
        if status == 404 and b"not a namespace tcpwatchd follows" in raw \
                and time.monotonic() < t0 + follow_timeout:
            refused += 1
            time.sleep(0.2)
            continue
        if status != 201 or not isinstance(body, dict) or "id" not in body:
            fail("POST /api/v1/probes %r: %d %s" % (job, status, raw[:500]))
        if refused:
            log("the daemon follows %s after %.1f s (%d POSTs refused with 404 before)"
                % (job.get("netns"), time.monotonic() - t0, refused))
        return body["id"]


def wait_job(d, job_id, quiet_s=0.0):
    """The job once done; the first quiet_s seconds without asking (the
    polls' work would compete with the responder for the CPUs)."""
    time.sleep(quiet_s)
    return probeapi.wait_job(d, job_id)
