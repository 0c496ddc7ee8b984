#!/usr/bin/python3
"""tcpwatchd under a service manager: READY=1 once tracing and the first
snapshot are in place, STATUS= with the live counts, WATCHDOG=1 from the
event loop at half of $WATCHDOG_USEC (so a stalled loop stops feeding the
watchdog: a stopped daemon sends none, and feeds it again when it runs),
STOPPING=1 at SIGTERM. The unit file passes systemd-analyze verify."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import Skip, check, check_eq, log  # noqa: E402

WATCHDOG_USEC = 400000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def messages(sock, seconds):
    out, deadline = [], time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        sock.settimeout(left)
        try:
            out.append((time.monotonic(), sock.recv(4096).decode()))
        except socket.timeout:
            return out


def check_journal_levels():
    """Under systemd (JOURNAL_STREAM set) each line starts with its syslog
    priority; elsewhere it does not."""
    daemon = os.path.join(twtest.bin_dir(), "tcpwatchd")
    bad = [daemon, "--foreground", "--listen", "none", "--socket",
           "/tmp/tw-journal-test.sock", "--socket-group", "tw-no-such-group"]
    r = subprocess.run(bad, capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, JOURNAL_STREAM="8:1234"))
    lines = r.stderr.strip().splitlines()
    check(lines and all(line.startswith(("<3>", "<4>", "<6>", "<7>"))
                        for line in lines),
          "every line has a priority under journald: %r" % lines)
    check(any(line.startswith("<3>tcpwatchd: ") and "tw-no-such-group" in line
              for line in lines), "the error at priority 3: %r" % lines)
    r = subprocess.run(bad, capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items()
                            if k != "JOURNAL_STREAM"})
    lines = r.stderr.strip().splitlines()
    check(lines and not any(line.startswith("<") for line in lines),
          "no priorities on a terminal or file: %r" % lines)
    env = dict(os.environ, JOURNAL_STREAM="8:1234")
    old = os.environ.get("JOURNAL_STREAM")
    os.environ["JOURNAL_STREAM"] = env["JOURNAL_STREAM"]
    try:
        with twtest.Daemon(["--debug"]) as d:
            twtest.wait_for(lambda: "<6>tcpwatchd: tracking " in d.stderr_text(),
                            timeout=10)
            text = d.stderr_text()
    finally:
        if old is None:
            del os.environ["JOURNAL_STREAM"]
        else:
            os.environ["JOURNAL_STREAM"] = old
    check("\n<6>tcpwatchd: tracking " in "\n" + text,
          "information at priority 6: %r" % text[-500:])
    check("<7>tcpwatchd: " in text, "--debug lines at priority 7")


def main():
    check_journal_levels()
    tmp = tempfile.mkdtemp(prefix="tw-notify-")
    twtest.at_cleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    twtest.at_cleanup(sock.close)
    os.environ["NOTIFY_SOCKET"] = path
    os.environ["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
    with twtest.Daemon() as d:
        got = messages(sock, 1.5)
        texts = [m for _, m in got]
        check("READY=1" in texts, "READY=1 sent: %r" % texts)
        status = [m for m in texts if m.startswith("STATUS=")]
        check(status and "connections" in status[0] and "network namespaces" in status[0],
              "STATUS= with the counts: %r" % status)
        pings = [t for t, m in got if m == "WATCHDOG=1"]
        check(len(pings) >= 4, "WATCHDOG=1 every %.1f s: %d in 1.5 s"
              % (WATCHDOG_USEC / 2e6, len(pings)))
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        check(max(gaps) < WATCHDOG_USEC / 1e6, "watchdog gaps %r" % gaps)
        log("READY=1, %s, %d watchdog pings in 1.5 s" % (status[0], len(pings)))
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            messages(sock, 0.1)  # what was queued before the stop
            stalled = [m for _, m in messages(sock, 1.0) if m == "WATCHDOG=1"]
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        check_eq(stalled, [], "watchdog pings while the loop was stopped")
        resumed = [m for _, m in messages(sock, 1.0) if m == "WATCHDOG=1"]
        check(len(resumed) >= 2, "pings again once it runs: %d" % len(resumed))
        d.stop()  # SIGTERM, and a clean exit
        d.proc = None
        check("STOPPING=1" in [m for _, m in messages(sock, 0.5)], "STOPPING=1 at SIGTERM")

    if not shutil.which("systemd-analyze"):
        raise Skip("systemd-analyze not installed")
    unit = os.path.join(tmp, "tcpwatchd.service")
    with open(os.path.join(ROOT, "packaging", "tcpwatchd.service")) as f:
        text = f.read().replace("/usr/local/sbin/tcpwatchd",
                                os.path.join(twtest.bin_dir(), "tcpwatchd"))
    check("WatchdogSec=" in text and "Type=notify" in text, "the unit asks for notify and a watchdog")
    with open(unit, "w") as f:
        f.write(text)
    # Documentation=man:...: verify runs man(1) on them; the pages of the
    # tree, laid out as an installed man directory.
    mandir = os.path.join(tmp, "man")
    for page in ("tcpwatch.1", "tcpwatchd.8"):
        sect = os.path.join(mandir, "man" + page[-1])
        os.makedirs(sect, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "docs", "man", page), sect)
    env = dict(os.environ, MANPATH=mandir)
    r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                       timeout=60, env=env)
    check(r.returncode == 0, "systemd-analyze verify: %s %s" % (r.stdout, r.stderr))
    # The sandbox's rating (BENCHMARKS.md): 1.9 of 10, no worse (the
    # issue's bound is 2.0).
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--threshold=19", unit], capture_output=True, text=True,
                       timeout=60)
    log(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr)
    check(r.returncode == 0, "systemd-analyze security: exposure over 1.9: %s"
          % r.stdout.strip().splitlines()[-1:])


if __name__ == "__main__":
    twtest.run(main)
