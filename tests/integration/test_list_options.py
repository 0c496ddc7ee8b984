#!/usr/bin/python3
"""`tcpwatch list` takes ss's -o, -e and -i instead of ignoring them:
-o prints the socket's timer as ss -o does (a keepalive connection shows
timer:(keepalive,...)), -e its uid, inode and cookie (sk:), equal to what
ss -e prints for the same socket, -i a second line of tcp_info (rtt, cwnd,
bytes acked), -m the socket's memory (skmem:); -N NAME|INODE lists one namespace's
connections."""

import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402


def main():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    twtest.at_cleanup(lst.close)
    port = lst.getsockname()[1]
    with twtest.Daemon() as d:
        c = socket.create_connection(("127.0.0.1", port))
        twtest.at_cleanup(c.close)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 100)
        a, _ = lst.accept()
        twtest.at_cleanup(a.close)
        c.send(b"x" * 1000)
        a.recv(1000)
        cport = c.getsockname()[1]
        time.sleep(2.5)  # a reconcile samples tcp_info and the timer
        expr = "sport = :%d" % cport
        out = d.cli("list", "-oei", expr)
        log("tcpwatch list -oei:\n%s" % out)
        lines = out.splitlines()
        row = [x for x in lines if "127.0.0.1:%d" % cport in x and x.startswith("ESTAB")]
        check_eq(len(row), 1, "the client's row")
        i = lines.index(row[0])
        m = re.search(r"timer:\(keepalive,(\d+)min(\d+)?", row[0])
        check(m and int(m.group(1)) == 1, "a keepalive timer of 1 min 40 s or less: %r" % row[0])
        ss = subprocess.run(["ss", "-tnoe", expr], capture_output=True, text=True).stdout
        ss_ino = re.search(r"ino:(\d+)", ss).group(1)
        ss_sk = re.search(r"sk:([0-9a-f]+)", ss).group(1)
        check("ino:%s " % ss_ino in row[0] and row[0].rstrip().endswith("sk:%s" % ss_sk),
              "ino and sk as ss -e prints them (ino:%s sk:%s): %r" % (ss_ino, ss_sk, row[0]))
        check(re.search(r"\buid:0\b", row[0]), "uid: %r" % row[0])
        info = lines[i + 1] if i + 1 < len(lines) else ""
        check(info.startswith("\t") and re.search(r"rtt:\d+\.\d+/\d+\.\d+ cwnd:\d+", info) and
              "bytes_acked:1001" in info, "the tcp_info line: %r" % info)
        mem = d.cli("list", "-m", expr)
        check(re.search(r"\n\t skmem:\(r\d+,rb\d+,t\d+,tb\d+,f\d+,w\d+,o\d+,bl\d+,d\d+\)", mem),
              "-m: the skmem line (test_list_memory.py checks it against ss): %r" % mem)
        plain = d.cli("list", expr)
        check("timer:" not in plain and "ino:" not in plain and "\t rtt" not in plain,
              "without the options, the table is unchanged: %r" % plain)

        # -N NAME: one namespace's connections, as ss -N shows them.
        with twtest.Netns() as ns:
            p = ns.spawn_python(
                "import socket,time\n"
                "l=socket.socket(); l.bind(('127.0.0.1', 18777)); l.listen(4)\n"
                "c=socket.create_connection(('127.0.0.1', 18777)); a=l.accept()\n"
                "print('up', flush=True); time.sleep(60)\n")
            check_eq(twtest.read_line(p), "up", "a connection in the namespace")

            def listed():
                out = d.cli("list", "-N", ns.name)
                return [x for x in out.splitlines()[1:] if x.strip()]
            twtest.wait_for(lambda: len(listed()) == 2, timeout=10)
            rows = listed()
            check(all(":18777" in x for x in rows), "only the namespace's: %r" % rows)
            check_eq(len([x for x in d.cli("list", "-N", str(ns.inode)).splitlines()[1:]
                          if x.strip()]), 2, "-N INODE")
            r = d.cli_run("list", "-N", "no-such-ns")
            check(r.returncode == 2 and "-N" in r.stderr, "-N of no namespace: %r" % r.stderr)


if __name__ == "__main__":
    twtest.run(main)
