#!/usr/bin/python3
"""With no daemon (its socket absent) `tcpwatch list` reads sock_diag
itself: the test's sockets are listed as `ss -tan` lists them (state,
Recv-Q, Send-Q, local and peer), with one note on stderr that histories,
end reasons and closed connections need the daemon; -p names this
process as ss -p does, -e prints ino and sk as ss -e, -o the keepalive
timer, -i and -m the second line; state filters and ss expressions
select as they do with the daemon; --kernel does the same while a
daemon runs; --json, which needs the daemon's records, is refused."""

import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

NOSOCK = "/nonexistent/tcpwatchd.sock"


def cli(*args, sock=NOSOCK):
    return subprocess.run([os.path.join(twtest.bin_dir(), "tcpwatch"), "--socket", sock]
                          + list(args), capture_output=True, text=True, timeout=30)


def table(text, first):
    """(state, recvq, sendq, local, peer) of each row."""
    out = []
    for line in text.splitlines()[first:]:
        f = line.split()
        if f and not line.startswith("\t"):
            out.append(tuple(f[:5]))
    return sorted(out)


def main():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    twtest.at_cleanup(lst.close)
    port = lst.getsockname()[1]
    l6 = socket.socket(socket.AF_INET6)
    l6.bind(("::1", port))
    l6.listen(8)
    twtest.at_cleanup(l6.close)
    pairs = []
    for host, ls in (("127.0.0.1", lst), ("127.0.0.1", lst), ("::1", l6)):
        c = socket.create_connection((host, port))
        a, _ = ls.accept()
        twtest.at_cleanup(c.close)
        twtest.at_cleanup(a.close)
        pairs.append((c, a))
    pairs[0][0].sendall(b"k" * 4321)  # unread: Recv-Q 4321 on the server
    c0 = pairs[0][0]
    c0.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c0.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 100)
    time.sleep(0.2)
    expr = "( sport = :%d or dport = :%d )" % (port, port)
    ss = subprocess.run(["ss", "-tan", expr], capture_output=True, text=True).stdout

    t0 = time.monotonic()
    r = cli("list", "-a", expr)
    log("tcpwatch list -a (no daemon) in %.3f s:\n%s\nstderr: %s" %
        (time.monotonic() - t0, r.stdout, r.stderr))
    check_eq(r.returncode, 0, "exit status")
    check_eq(table(r.stdout, 1), table(ss, 1), "the rows of ss -tan")
    check(("4321", "0", "127.0.0.1:%d" % port) in
          [x[1:4] for x in table(r.stdout, 1)], "Recv-Q of the unread bytes")
    notes = [x for x in r.stderr.splitlines() if x]
    check(len(notes) == 1 and "histories" in notes[0] and "end reasons" in notes[0] and
          "closed connections need the daemon" in notes[0] and NOSOCK in notes[0],
          "one note on stderr: %r" % r.stderr)
    check(r.stdout.splitlines()[0].split()[:4] == ["State", "Recv-Q", "Send-Q", "Local"],
          "the header: %r" % r.stdout.splitlines()[0])

    # The default (no -a): connected sockets only, as ss -tn.
    r = cli("list", expr)
    ss_tn = subprocess.run(["ss", "-tn", expr], capture_output=True, text=True).stdout
    check_eq(table(r.stdout, 1), table(ss_tn, 1), "list equals ss -tn")
    r = cli("list", "-l", expr)
    check_eq(len(table(r.stdout, 1)), 2, "-l: the two listeners")
    r = cli("list", "-6", expr)
    check_eq(len(table(r.stdout, 1)), 2, "-6: the IPv6 pair")
    r = cli("list", "state", "listening", "exclude", "listening", expr)
    check(r.returncode == 2, "every state excluded: %r" % r.stderr)
    cport = c0.getsockname()[1]
    r = cli("list", "-H", "sport = :%d" % cport)
    check(len(r.stdout.splitlines()) == 1 and "127.0.0.1:%d" % cport in r.stdout,
          "-H and an expression: %r" % r.stdout)

    # -p, -e, -o, -i, -m against ss.
    r = cli("list", "-peoim", "sport = :%d" % cport)
    log(r.stdout)
    ss_e = subprocess.run(["ss", "-tnpeoim", "sport = :%d" % cport], capture_output=True,
                          text=True).stdout
    row = r.stdout.splitlines()[1]
    check('users:(("python3",pid=%d))' % os.getpid() in row, "-p: this process: %r" % row)
    check(re.search(r"\buid:%d\b" % os.getuid(), row), "-e: the uid: %r" % row)
    for pat in (r"ino:(\d+)", r"sk:([0-9a-f]+)"):
        mine, theirs = re.search(pat, row), re.search(pat, ss_e)
        check(mine and theirs and mine.group(1) == theirs.group(1),
              "%s as ss -e: %r / %r" % (pat, row, ss_e))
    check(re.search(r"timer:\(keepalive,1min\d*", row), "-o: the keepalive timer: %r" % row)
    second = r.stdout.splitlines()[2]
    check(second.startswith("\t skmem:(") and " rtt:" in second and
          "bytes_acked:4322" in second, "-m and -i: %r" % second)
    mine = re.search(r"skmem:\((r\d+,rb\d+),t\d+,(tb\d+)", second)
    theirs = re.search(r"skmem:\((r\d+,rb\d+),t\d+,(tb\d+)", ss_e)
    check(mine and theirs and mine.groups() == theirs.groups(),
          "r, rb, tb as ss -m: %r / %r" % (second, ss_e))

    # --json has nothing to print without the daemon's records.
    r = cli("--json", "list")
    check(r.returncode == 2 and "daemon" in r.stderr, "--json refused: %r" % r.stderr)

    # --kernel while a daemon runs: the kernel's table, not the daemon's.
    with twtest.Daemon() as d:
        r = cli("list", "--kernel", "-a", expr, sock=d.sock)
        check_eq(r.returncode, 0, "--kernel")
        check_eq(table(r.stdout, 1), table(
            subprocess.run(["ss", "-tan", expr], capture_output=True, text=True).stdout, 1),
            "--kernel equals ss -tan")
        check("need the daemon" in r.stderr, "--kernel notes it: %r" % r.stderr)
        r = cli("list", expr, sock=d.sock)
        check("Recv-Q" not in r.stdout and not r.stderr, "the daemon's own table")


if __name__ == "__main__":
    twtest.run(main)
