"""Helpers of the listener tests: a server whose accept() the test drives,
clients behind a TUN device (tunclients.py), and the kernel's own view of
the queues (ss -ltn) and counters (nstat -az) in a namespace."""

import json
import os

from .netns import Netns  # noqa: F401  (the namespace these run in)
from .procs import read_line, sh, spawn, wait_for
from .runner import check, fail, log

TUNCLIENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "tunclients.py")

# A listener on 0.0.0.0:PORT with BACKLOG that accepts only when told:
# "accept N" accepts N (0: all that come within a second), "sleep-accept
# N MS" accepts N, sleeping MS before each; prints "accepted K" after each
# command; EOF ends it.
SERVER = r'''
import os, socket, sys, time
port, backlog = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port)); ls.listen(backlog)
print(os.getpid(), flush=True)
kept = []
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    n = int(cmd[1]); k = 0
    if cmd[0] == "accept":
        ls.settimeout(1.0)
        while n == 0 or k < n:
            try:
                a, _ = ls.accept()
            except socket.timeout:
                break
            kept.append(a); k += 1
    elif cmd[0] == "sleep-accept":
        ls.settimeout(10.0)
        for _ in range(n):
            time.sleep(int(cmd[2]) / 1000.0)
            a, _ = ls.accept(); kept.append(a); k += 1
    print("accepted", k, flush=True)
'''


class Server:
    """The SERVER program inside ns, registered for cleanup."""

    def __init__(self, ns, port, backlog):
        self.port = port
        self.proc = ns.spawn_python(SERVER, port, backlog)
        self.pid = int(read_line(self.proc))
        log("server pid %d listens on port %d, backlog %d" % (self.pid, port, backlog))

    def command(self, text, timeout=30):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()
        line = read_line(self.proc, timeout=timeout)
        check(line.startswith("accepted "), "server answered %r to %r" % (line, text))
        return int(line.split()[1])


class TunClients:
    """tunclients.py inside ns: COUNT clients from 198.18.0.2 to
    198.18.0.1:PORT; .synacks() collects the SYN-ACK times it saw."""

    def __init__(self, ns, port, count, ack, hold=0.5, timeout=60):
        self.proc = spawn(ns.prefix() + ["/usr/bin/python3", TUNCLIENTS, "--port", str(port),
                                         "--count", str(count), "--ack", ack, "--hold",
                                         str(hold), "--timeout", str(timeout)])
        line = read_line(self.proc, timeout=15)
        if line != "ready":
            fail("tunclients printed %r instead of 'ready'" % line)
        self.times = {}

    def synacks(self, until_quiet=0.0):
        """Reads what arrived (waiting up to until_quiet seconds for more):
        {client port: [monotonic seconds of each SYN-ACK]}."""
        import select
        fd = self.proc.stdout.fileno()
        buf = b""
        while True:
            r, _, _ = select.select([fd], [], [], until_quiet)
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                v = json.loads(line)
                self.times.setdefault(v["synack"], []).append(v["t"])
        return self.times


def ss_listen(ns, port):
    """(Recv-Q, Send-Q) of the listener on port, as ss -ltn shows them."""
    out = ns.run(["ss", "-ltnH", "sport", "=", ":%d" % port]).stdout.split()
    check(len(out) >= 3 and out[0] == "LISTEN", "ss -ltn shows %r for port %d" % (out, port))
    return int(out[1]), int(out[2])


def nstat(ns):
    """Every counter of nstat -az in the namespace, absolute, by name."""
    out = ns.run(["nstat", "-az"]).stdout
    v = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1].isdigit():
            v[f[0]] = int(f[1])
    return v


def listener(d, port, netns, state="LISTEN"):
    """The listener of tcpwatch listeners --json on port in netns, or None."""
    args = ["listeners", "--json", "sport", "=", ":%d" % port]
    if state != "LISTEN":
        args.insert(1, "-a")
    for l in d.cli_json(*args):
        if l["local_port"] == port and l["netns"] == netns:
            return l
    return None


def passes(d, n=1, timeout=15):
    """Waits for n more reconcile passes to complete."""
    start = d.stats()["reconcile_runs"]
    check(wait_for(lambda: d.stats()["reconcile_runs"] >= start + n, timeout=timeout,
                   interval=0.1),
          "no reconcile pass within %d s" % timeout)


def setup_ns(ns, **sysctls):
    """sysctl net.ipv4.NAME=VALUE inside the namespace."""
    for k, v in sysctls.items():
        sh(ns.prefix() + ["sysctl", "-qw", "net.ipv4.%s=%s" % (k, v)])
