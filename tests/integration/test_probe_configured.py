#!/usr/bin/python3
"""Configured probe targets (the config file's `probe = ...` lines): probed
for ever on their interval from the one event loop, spread over the
interval instead of in a burst, listed by GET /api/v1/probes with their
summaries; real connections to a probed endpoint show their handshakes
beside the probe RTT. A bad `probe` line stops the daemon with a message
naming it."""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

SPREAD_TARGETS = 10


def listener(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((addr, 0))
    s.listen(128)
    twtest.at_cleanup(s.close)
    return s


def main():
    l4 = listener(socket.AF_INET, "127.0.0.1")
    p4 = l4.getsockname()[1]
    lines = ["probe = 127.0.0.1:%d interval=100ms timeout=1s" % p4]
    if twtest.ipv6_loopback_available():
        l6 = listener(socket.AF_INET6, "::1")
        lines.append("probe = [::1]:%d interval=0.1 timeout=1" % l6.getsockname()[1])
    # Ten more, 1 s apart each: their first probes spread over that second.
    for k in range(SPREAD_TARGETS):
        lines.append("probe = 127.0.0.%d:%d interval=1s" % (10 + k, p4))
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write("[tcpwatchd]\n" + "\n".join(lines) + "\n")
    conf.close()
    twtest.at_cleanup(lambda: os.unlink(conf.name))

    with twtest.Daemon(["--config", conf.name]) as d:
        time.sleep(1.6)
        status, body, raw = probeapi.request(d, "GET", "/api/v1/probes")
        check_eq(status, 200, "GET /api/v1/probes")
        targets = body["probes"]
        check_eq(len(targets), len(lines), "configured targets listed")
        for t in targets[:len(lines) - SPREAD_TARGETS]:
            check(t["configured"] and not t["done"] and t["count"] is None,
                  "a configured target: %r" % t)
            s = t["summary"]
            # One probe every 100 ms since its phase (< 100 ms) began.
            age_s = (t["last"]["time_ns"] - t["created_ns"]) / 1e9
            check(age_s * 10 - 1 <= s["sent"] <= age_s * 10 + 2,
                  "%s: %d probes in %.2f s at 100 ms" % (t["target"], s["sent"], age_s))
            check_eq(s["states"]["open"], s["sent"] - t["in_flight"],
                     "%s: every probe open" % t["target"])
            check(t["last"] and t["last"]["state"] == "open", "last: %r" % t["last"])
        firsts = []
        for t in targets[len(lines) - SPREAD_TARGETS:]:
            status, one, raw = probeapi.request(d, "GET", "/api/v1/probes/%d" % t["id"])
            check(one["probes"], "%s probed within 1.6 s" % t["target"])
            firsts.append(one["probes"][0]["time_ns"])
        span_ms = (max(firsts) - min(firsts)) / 1e6
        log("first probes of %d targets 1 s apart span %.0f ms" % (SPREAD_TARGETS, span_ms))
        check(span_ms > 300, "targets probed in a burst: first probes within %.0f ms" % span_ms)

        # Real connections beside the probes.
        conns = []
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", p4))
            conns.append(c)
            l4.accept()[0].close()
        time.sleep(0.3)
        status, body, raw = probeapi.request(d, "GET", "/api/v1/probes")
        t = [x for x in body["probes"] if x["target"] == "127.0.0.1:%d" % p4][0]
        check(t["handshakes"] and t["handshakes"]["count"] >= 5,
              "handshakes beside the probe: %r" % t["handshakes"])
        check(t["handshakes"]["p50_us"] > 0, "handshake median %r" % t["handshakes"])
        for c in conns:
            c.close()
        status, f, raw = probeapi.request(d, "GET", "/api/v1/findings")
        check_eq(status, 200, "findings with the prober's")
        check(not [x for x in f["findings"] if x["kind"] == "handshake_slow"],
              "loopback handshakes are not slow: %r" % f["findings"])

    # A bad line: the daemon does not start, and says which.
    bad = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    bad.write("probe = 127.0.0.1:%d interval=fast\n" % p4)
    bad.close()
    twtest.at_cleanup(lambda: os.unlink(bad.name))
    r = subprocess.run([os.path.join(twtest.bin_dir(), "tcpwatchd"), "--config", bad.name,
                        "--socket", "/tmp/tw-bad-%d.sock" % os.getpid(), "--listen", "none",
                        "--foreground"], capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "interval=fast" in r.stderr,
          "a bad probe line: exit %d, %r" % (r.returncode, r.stderr))


if __name__ == "__main__":
    twtest.run(main)
