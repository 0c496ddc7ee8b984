#!/usr/bin/python3
"""`tcpwatch list -m` shows each socket's memory as `ss -tmn` does,
skmem:(r,rb,t,tb,f,w,o,bl,d) from the daemon's last sock_diag sample: the
test leaves 20,000 bytes unread in a server socket, and its r (receive
memory) is non-zero and equal to what ss prints, as are rb and tb for
both ends; GET /api/v1/connections/{cookie} has the same figures under
"skmem"."""

import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

SKMEM = re.compile(r"skmem:\(r(\d+),rb(\d+),t(\d+),tb(\d+),f(\d+),w(\d+),o(\d+),bl(\d+),d(\d+)\)")


def rows_with_mem(text):
    """{(local, peer): [r, rb, t, tb, f, w, o, bl, d]} from ss-like output
    (a socket line, then a tab-indented line with skmem)."""
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith("\t") or line.startswith(" "):
            m = SKMEM.search(line)
            if m and key:
                out[key] = [int(x) for x in m.groups()]
            continue
        f = line.split()
        addrs = [x for x in f if re.fullmatch(r"[\d.]+:\d+", x)]
        key = tuple(addrs[:2]) if len(addrs) >= 2 else None
    return out


def main():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    twtest.at_cleanup(lst.close)
    port = lst.getsockname()[1]
    with twtest.Daemon() as d:
        c = socket.create_connection(("127.0.0.1", port))
        twtest.at_cleanup(c.close)
        a, _ = lst.accept()
        twtest.at_cleanup(a.close)
        c.sendall(b"m" * 20000)  # never read: it stays in a's receive queue
        expr = "sport = :%d or dport = :%d" % (port, port)
        ss_cmd = ["ss", "-tmn", "( %s )" % expr]

        def agree():
            ss = rows_with_mem(subprocess.run(ss_cmd, capture_output=True, text=True).stdout)
            ours = rows_with_mem(d.cli("list", "-m", expr))
            if len(ss) == 2 and ss == ours:
                return ours
            log("not yet equal:\n  ss   %r\n  ours %r" % (ss, ours))
            return None
        # The figures are the last reconcile's (every second here): they
        # agree once a pass has run after the data settled.
        ours = twtest.wait_for(agree, timeout=10, interval=0.5)
        check(ours, "tcpwatch list -m agrees with ss -tmn for both ends")
        server = ours[("127.0.0.1:%d" % port, "127.0.0.1:%d" % c.getsockname()[1])]
        client = ours[("127.0.0.1:%d" % c.getsockname()[1], "127.0.0.1:%d" % port)]
        check(server[0] > 20000, "r counts the 20,000 unread bytes: %r" % server)
        check_eq(client[0], 0, "the client has nothing to read")
        check(server[1] > 0 and server[3] > 0, "rb and tb are set: %r" % server)

        # The same figures in the connection's JSON.
        rows = d.cli_json("--json", "list", expr)
        cookie = [r["cookie"] for r in rows if r["local_port"] == port][0]
        status, conn = d.http_get("/api/v1/connections/%d" % cookie)
        check_eq(status, 200, "GET the server's connection")
        sk = conn["skmem"]
        log("skmem: %r" % sk)
        check_eq([sk["rmem_alloc_bytes"], sk["rcvbuf_bytes"], sk["wmem_alloc_bytes"],
                  sk["sndbuf_bytes"], sk["fwd_alloc_bytes"], sk["wmem_queued_bytes"],
                  sk["optmem_bytes"], sk["backlog_bytes"], sk["drops"]], server,
                 "JSON skmem equals the -m line")
        # Without -m, no second line.
        check("skmem" not in d.cli("list", expr), "no skmem without -m")


if __name__ == "__main__":
    twtest.run(main)
