#!/usr/bin/python3
"""`tcpwatch top` ranks connections by throughput from tcp_info byte
counters between two sock_diag dumps: a sender the test paces at 20 MB/s
over loopback shows as the top rows (its sending and receiving ends) at
that rate within a factor of 2, in each of `-n 2` batches `-d 0.5` s
apart; piped, the output has no escape codes; --json gives the rates as
numbers."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

RATE = 20e6  # bytes per second
UNITS = {"B/s": 1, "KB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9}


def rate(text):
    m = re.fullmatch(r"([\d.]+)([KMG]?B/s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def main():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    twtest.at_cleanup(lst.close)
    port = lst.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = lst.accept()
    twtest.at_cleanup(c.close)
    twtest.at_cleanup(a.close)
    stop = threading.Event()

    def reader():
        while not stop.is_set() and a.recv(1 << 20):
            pass

    def sender():
        chunk, sent, t0 = b"t" * 65536, 0, time.monotonic()
        while not stop.is_set():
            if sent < RATE * (time.monotonic() - t0):
                c.sendall(chunk)
                sent += len(chunk)
            else:
                time.sleep(0.001)
    threads = [threading.Thread(target=f, daemon=True) for f in (reader, sender)]
    for t in threads:
        t.start()
    twtest.at_cleanup(stop.set)
    time.sleep(0.5)
    cport = c.getsockname()[1]

    top = os.path.join(twtest.bin_dir(), "tcpwatch")
    t0 = time.monotonic()
    r = subprocess.run([top, "--socket", "/nonexistent", "top", "-n", "2", "-d", "0.5"],
                       capture_output=True, text=True, timeout=30)
    took = time.monotonic() - t0
    log("tcpwatch top -n 2 -d 0.5 (%.2f s):\n%s" % (took, r.stdout))
    check_eq(r.returncode, 0, "exit status: %r" % r.stderr)
    check(0.9 < took < 5, "two batches of 0.5 s: %.2f s" % took)
    check("\x1b" not in r.stdout, "piped: no escape codes")
    batches = [b for b in r.stdout.split("\n\n") if b.strip()]
    check_eq(len(batches), 2, "two batches")
    for b in batches:
        lines = b.splitlines()
        check(lines[0].startswith("tcpwatch top - ") and "moving data" in lines[0],
              "the batch's title: %r" % lines[0])
        check(lines[1].split()[:2] == ["State", "Local"], "the header: %r" % lines[1])
        rows = {}
        for line in lines[2:]:
            f = line.split()
            rows[(f[1], f[2])] = (rate(f[3]), rate(f[4]), rate(f[5]))
        client = rows.get(("127.0.0.1:%d" % cport, "127.0.0.1:%d" % port))
        server = rows.get(("127.0.0.1:%d" % port, "127.0.0.1:%d" % cport))
        check(client and server, "both ends listed: %r" % rows)
        check(RATE / 2 < client[0] < RATE * 2 and client[1] < 1e5,
              "the sender sends ~20 MB/s: %r" % (client,))
        check(RATE / 2 < server[1] < RATE * 2 and server[0] < 1e5,
              "the receiver receives ~20 MB/s: %r" % (server,))
        # The top rows are the test's (nothing else here moves 10 MB/s).
        firsts = [tuple(x.split()[1:3]) for x in lines[2:4]]
        check(set(firsts) == {("127.0.0.1:%d" % cport, "127.0.0.1:%d" % port),
                              ("127.0.0.1:%d" % port, "127.0.0.1:%d" % cport)},
              "ranked first: %r" % firsts)

    # --json, one batch, filtered to the sender.
    r = subprocess.run([top, "--json", "top", "-n", "1", "-d", "0.5", "sport", "=", ":%d" % cport],
                       capture_output=True, text=True, timeout=30)
    js = json.loads(r.stdout)
    check_eq(len(js["rows"]), 1, "the filter keeps the sender: %r" % js)
    check(RATE / 2 < js["rows"][0]["sent_bytes_per_s"] < RATE * 2, "JSON rate: %r" % js)
    r = subprocess.run([top, "top", "-d", "0"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "-d" in r.stderr, "-d 0 refused: %r" % r.stderr)


if __name__ == "__main__":
    twtest.run(main)
