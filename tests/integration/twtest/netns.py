"""Network namespaces and the TUN host in them: Netns (created and deleted
around a ``with`` block, and at cleanup), the host's namespace, IPv6
loopback, and tunpeer.py (a userspace TCP peer on a TUN device inside a
namespace) with a client that talks to it.

Network rule: tests talk only to loopback (127.0.0.0/8, ::1) or to addresses
inside network namespaces they create themselves (198.18.0.0/15 there; the
TUN peer answers for 198.18.0.2, the namespace side is 198.18.0.1).
"""

import os
import signal
import socket
import subprocess
import time

from .procs import finish_child, read_line, sh, spawn, spawn_python
from .runner import at_cleanup, check, fail, log

# tunpeer.py is a standalone program beside this package.
TUNPEER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "tunpeer.py")
NS_LOCAL = "198.18.0.1"   # the namespace's address on the TUN device
NS_PEER = "198.18.0.2"    # the TUN peer (tunpeer.py) answers for this one

# Every namespace created through Netns, deleted at cleanup if still there.
_namespaces = []


def host_netns_inode():
    return os.stat("/proc/self/ns/net").st_ino


def ipv6_loopback_available():
    try:
        with open("/proc/sys/net/ipv6/conf/lo/disable_ipv6") as f:
            if f.read().strip() != "0":
                return False
    except OSError:
        return False
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


# --------------------------------------------------------------------------
# Network namespaces


class Netns:
    """``with Netns() as ns:`` creates tw-test-<pid>-N with lo up, and
    deletes it (killing what still runs inside it) at exit."""

    _counter = 0

    def __init__(self):
        Netns._counter += 1
        self.name = "tw-test-%d-%d" % (os.getpid(), Netns._counter)
        self.inode = None

    def __enter__(self):
        sh(["ip", "netns", "add", self.name])
        _namespaces.append(self.name)
        sh(["ip", "-n", self.name, "link", "set", "lo", "up"])
        r = self.run(["stat", "-L", "-c", "%i", "/proc/self/ns/net"])
        self.inode = int(r.stdout.strip())
        return self

    def __exit__(self, *exc):
        _delete_netns(self.name)
        return False

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def run(self, args, **kw):
        return sh(self.prefix() + list(args), **kw)

    def spawn_python(self, code, *args):
        return spawn_python(code, *args, prefix=self.prefix())


def _delete_netns(name):
    if name not in _namespaces:
        return
    # Kill what the test left running inside the namespace (our own
    # children, started with ip netns exec), by pid.
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                       text=True, timeout=10)
    for tok in r.stdout.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass
    r = subprocess.run(["ip", "netns", "del", name], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        log("warning: ip netns del %s failed: %s" % (name, r.stderr.strip()))
    _namespaces.remove(name)


@at_cleanup
def _delete_all_netns():
    for ns in reversed(list(_namespaces)):
        _delete_netns(ns)


# --------------------------------------------------------------------------
# The TUN peer


def start_tunpeer(ns, mode, *extra, timeout=120):
    """Start tunpeer.py in MODE inside the namespace ns (a Netns); return
    its Popen once it printed "ready".  Registered for cleanup."""
    p = spawn(ns.prefix() + ["/usr/bin/python3", TUNPEER, "--mode", mode,
                             "--timeout", str(timeout)]
              + [str(a) for a in extra])
    line = read_line(p, timeout=15)
    if line != "ready":
        fail("tunpeer (%s) printed %r instead of 'ready'" % (mode, line))
    log("tunpeer %s up in %s (pid %d): %s answers for %s"
        % (mode, ns.name, p.pid, NS_LOCAL, NS_PEER))
    return p


# A client run inside a namespace: binds 198.18.0.1:0 first so that its port
# is known (and kept) even when connect() fails, prints it, connects to
# argv[1]:argv[2] and then, per argv[3]:
#   "connect"  only connect, print the outcome
#   "data"     connect, send, recv (prints the outcome), close
#   "close"    connect, send, close at once
# Prints one line per step: "port N", "connect ok|ERRNAME", "recv ...", "done".
NS_CLIENT = r'''
import errno, os, socket, sys, time
host, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.bind((sys.argv[4], 0))
print("port", s.getsockname()[1], os.getpid(), flush=True)
t0 = time.monotonic()
try:
    s.connect((host, port))
except OSError as e:
    print("connect", errno.errorcode.get(e.errno, str(e.errno)),
          "%.2f" % (time.monotonic() - t0), flush=True)
    s.close()
    print("done", flush=True)
    sys.exit(0)
print("connect ok %.3f" % (time.monotonic() - t0), flush=True)
if what == "data":
    s.sendall(b"hello tunpeer\n")
    s.settimeout(10)
    try:
        d = s.recv(100)
        print("recv", "eof" if not d else "data", flush=True)
    except OSError as e:
        print("recv", errno.errorcode.get(e.errno, str(e.errno)), flush=True)
elif what == "close":
    s.sendall(b"hello tunpeer\n")
    time.sleep(0.2)
    print("recv skipped", flush=True)
s.close()
time.sleep(0.5)
print("done", flush=True)
'''


def run_ns_client(ns, what, host=NS_PEER, port=80, timeout=30):
    """Run NS_CLIENT in ns; return (local_port, pid, {"connect": ...,
    "recv": ...}) after it printed "done"."""
    p = ns.spawn_python(NS_CLIENT, host, port, what, NS_LOCAL)
    first = read_line(p, timeout=10).split()
    check(len(first) == 3 and first[0] == "port",
          "namespace client's first line: %r" % first)
    cport, pid = int(first[1]), int(first[2])
    out = {}
    deadline = time.monotonic() + timeout
    while True:
        line = read_line(p, timeout=max(1.0, deadline - time.monotonic()))
        k, _, v = line.partition(" ")
        if k == "done":
            break
        out[k] = v
    finish_child(p, what="namespace client")
    return cport, pid, out
