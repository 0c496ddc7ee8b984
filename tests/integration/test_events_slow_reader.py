#!/usr/bin/python3
"""An event-stream reader that is always behind, under loopback churn,
costs the daemon a bounded amount of memory: while tens of megabytes are
delivered to it, its queue stays within its bound (4 x 1 MiB) and the
daemon's RSS does not grow with what was delivered. (Before the fix the
queue was reset only when empty, so a reader that never caught up kept
every byte ever sent to it.) The reader is told what it missed (`event:
lost` with a count), and those counts add up to no more than the daemon's
`watch_dropped`."""

import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, fail  # noqa: E402

CHURN_S = 20
READ_BYTES_PER_S = 2 * 1024 * 1024
QUEUE_BOUND = 4 * 1024 * 1024  # SSE_QUEUE_MAX (1 MiB) and its doubling
RSS_GROWTH_MAX = 8 * 1024 * 1024
# Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
# default) before it is reused, so RSS follows what was freed, not what is
# held: the daemon gets a small quarantine and the bound its allowance.
SANITIZED = os.environ.get("TCPWATCH_SANITIZED") == "1"
if SANITIZED:
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":quarantine_size_mb=8:thread_local_quarantine_size_kb=256")
    RSS_GROWTH_MAX += 32 * 1024 * 1024


def churn(seconds, pause_us):
    """Paced loopback churn: one connection, then pause_us of sleep."""
    path = os.path.join(twtest.bin_dir(), "tw-churn")
    if not os.access(path, os.X_OK):
        fail("%s not built" % path)
    return twtest.spawn([path, "-c", "1", "-d", str(seconds), "-a", "127.0.0.1",
                         "-i", str(pause_us)],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)


def main():
    with twtest.Daemon() as d:
        # Warm up: the table grows to its churn size (TIME_WAIT sockets,
        # retention) before the baseline is taken.
        w = churn(4, 50)
        w.wait(timeout=30)
        time.sleep(1.5)
        base = d.rss_bytes()
        table_base = d.stats()["table_bytes"]
        twtest.log("daemon RSS after warm-up: %.1f MiB" % (base / 2**20))

        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        s.settimeout(5)
        # About 1,000 connections (10,000 events, 4.5 MB) a second, read at
        # READ_BYTES_PER_S: the reader falls behind at once and never
        # catches up, so its queue never empties.
        load = churn(CHURN_S, 1000)
        got = 0
        lost_reported = 0
        tail = b""
        peak_queue = 0
        peak_rss = base
        t_end = time.monotonic() + CHURN_S + 1
        next_look = time.monotonic()
        quota = 0
        tick = time.monotonic()
        while time.monotonic() < t_end:
            now = time.monotonic()
            quota = min(quota + (now - tick) * READ_BYTES_PER_S, 65536)
            tick = now
            if quota < 4096:
                time.sleep(0.005)
                continue
            try:
                chunk = s.recv(int(quota))
            except socket.timeout:
                break
            if not chunk:
                fail("the daemon closed the event stream")
            quota -= len(chunk)
            got += len(chunk)
            data = tail + chunk
            for m in re.finditer(rb'event: lost\r?\n(?:[0-9a-f]+\r\n)?data: '
                                 rb'\{"dropped":(\d+)\}', data):
                if m.end() > len(tail):  # not counted with the last chunk
                    lost_reported += int(m.group(1))
            tail = data[-256:]
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + 0.5
                st = d.stats()
                peak_queue = max(peak_queue, st["watch_buffer_bytes"])
                # What the table grew (more TIME_WAIT sockets) is not the
                # stream's.
                peak_rss = max(peak_rss, d.rss_bytes() -
                               max(0, st["table_bytes"] - table_base))
        load.wait(timeout=30)
        st = d.stats()
        s.close()
        growth = peak_rss - base
        twtest.log("delivered %.0f MiB; peak queue %.2f MiB; RSS growth %.1f MiB; "
                   "lost reported %d, watch_dropped %d"
                   % (got / 2**20, peak_queue / 2**20, growth / 2**20,
                      lost_reported, st["watch_dropped"]))
        check(got > 16 * 2**20,
              "the reader got only %d bytes: the load did not stress the stream" % got)
        check(peak_queue <= QUEUE_BOUND,
              "the stream's queue held %d bytes, over its bound of %d"
              % (peak_queue, QUEUE_BOUND))
        check(growth < RSS_GROWTH_MAX,
              "the daemon's RSS grew by %.1f MiB while %.0f MiB were delivered "
              "(bound %.0f MiB)" % (growth / 2**20, got / 2**20,
                                    RSS_GROWTH_MAX / 2**20))
        check(st["watch_dropped"] > 0,
              "no event was dropped: the reader kept up, so the test proved nothing "
              "about a slow one (%s)" % json.dumps(st))
        check(0 < lost_reported <= st["watch_dropped"],
              "the reader was told of %d lost events; the daemon counted %d"
              % (lost_reported, st["watch_dropped"]))


if __name__ == "__main__":
    twtest.run(main, timeout=120)
