"""Scenarios shared by tests: the client-closes-first one of the IPv4 and
IPv6 loopback tests (both sides' listings and state histories checked),
and the many held connections of the tests at scale."""

import os
import socket
import subprocess
import time

from .checks import (check_conn_fields, check_derived, check_history_times,
                     expected_pairs, list_conns, path_str, show, state_history,
                     transitions)
from .daemon import Daemon, bin_dir
from .netns import host_netns_inode
from .procs import finish_child, read_line, spawn, spawn_python, wait_for
from .runner import at_cleanup, check, check_eq, fail, log, pretty

CLIENT_CLOSES_FIRST = r'''
import os, socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host, port = sys.argv[2], int(sys.argv[3])
s = socket.socket(fam, socket.SOCK_STREAM)
s.connect((host, port))
print(os.getpid(), s.getsockname()[1], flush=True)
time.sleep(0.05)
s.sendall(b"hello from the client\n")
time.sleep(0.05)
s.close()
'''

CLIENT_STATES = ["CLOSE", "SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
                 "TIME_WAIT"]
SERVER_STATES = ["LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK",
                 "CLOSE"]


def client_closes_first(family):
    """Run the close-by-client scenario on 127.0.0.1 (family 4) or ::1 (6)
    and check both sides' histories."""
    host = "::1" if family == 6 else "127.0.0.1"
    fam_name = "inet6" if family == 6 else "inet"
    af = socket.AF_INET6 if family == 6 else socket.AF_INET
    host_ns = host_netns_inode()

    with Daemon() as d:
        t_lo = time.time_ns() - 1_000_000_000
        ls = socket.socket(af, socket.SOCK_STREAM)
        try:
            ls.bind((host, 0))
            ls.listen(16)
            port = ls.getsockname()[1]
            log("server listening on %s port %d" % (host, port))

            client = spawn_python(CLIENT_CLOSES_FIRST, family, host, port)
            ls.settimeout(10)
            conn, _peer = ls.accept()
            pid_txt, cport_txt = read_line(client).split()
            client_pid, cport = int(pid_txt), int(cport_txt)
            check_eq(client_pid, client.pid, "pid the client printed vs Popen pid")
            log("client pid %d connected from port %d" % (client_pid, cport))

            conn.settimeout(10)
            data = b""
            while True:
                b = conn.recv(4096)
                if not b:
                    break
                data += b
            check_eq(data, b"hello from the client\n", "data the server read")
            time.sleep(0.05)
            conn.close()  # after EOF: server is the passive closer
            finish_child(client, what="client")

            last = {}

            def snapshot():
                conns = list_conns(d, "-a")
                cl = [c for c in conns if c.get("local_port") == cport
                      and c.get("remote_port") == port
                      and c.get("local_addr") == host
                      and c.get("netns") == host_ns]
                sv = [c for c in conns if c.get("local_port") == port
                      and c.get("remote_port") == cport
                      and c.get("local_addr") == host
                      and c.get("netns") == host_ns]
                related = [c for c in conns
                           if {c.get("local_port"), c.get("remote_port")}
                           & {port, cport}]
                last.update(client_list=cl, server_list=sv, cshow=None,
                            sshow=None, related=related)
                if len(cl) != 1 or len(sv) != 1:
                    return None
                cs, ss_ = show(d, cl[0]["cookie"]), show(d, sv[0]["cookie"])
                last.update(cshow=cs, sshow=ss_)
                # The listing and the two shows are separate requests:
                # accept only a snapshot in which they agree.
                ok = (transitions(state_history(cs)) == expected_pairs(CLIENT_STATES)
                      and transitions(state_history(ss_)) == expected_pairs(SERVER_STATES)
                      and cl[0].get("state") == cs.get("state")
                      and sv[0].get("state") == ss_.get("state"))
                return (cl[0], sv[0], cs, ss_) if ok else None

            got = wait_for(snapshot, timeout=15)
            t_hi = time.time_ns() + 1_000_000_000
        finally:
            ls.close()

        if not got:
            print("last stats: %s" % d.cli("stats", "--json").strip())
        check(len(last["client_list"]) == 1,
              "client side (%s:%d -> %s:%d) in `list -a --json`: expected exactly 1 "
              "entry, actual %d; all entries with port %d or %d:\n%s"
              % (host, cport, host, port, len(last["client_list"]), port, cport,
                 pretty(last["related"])))
        check(len(last["server_list"]) == 1,
              "server side (%s:%d -> %s:%d) in `list -a --json`: expected exactly 1 "
              "entry, actual %d; all entries with port %d or %d:\n%s"
              % (host, port, host, cport, len(last["server_list"]), port, cport,
                 pretty(last["related"])))
        cl, sv, cs, ss_ = (last["client_list"][0], last["server_list"][0],
                           last["cshow"], last["sshow"])
        ch, sh_ = state_history(cs), state_history(ss_)
        if transitions(ch) != expected_pairs(CLIENT_STATES):
            fail("client connection state history:\n  expected: %s\n  actual:   %s\n"
                 "full show --json:\n%s" % ("->".join(CLIENT_STATES),
                                            path_str(transitions(ch)), pretty(cs)))
        if transitions(sh_) != expected_pairs(SERVER_STATES):
            fail("server connection state history:\n  expected: %s\n  actual:   %s\n"
                 "full show --json:\n%s" % ("->".join(SERVER_STATES),
                                            path_str(transitions(sh_)), pretty(ss_)))

        # The listing entries.
        for c, what in ((cl, "client side (list)"), (sv, "server side (list)"),
                        (cs, "client side (show)"), (ss_, "server side (show)")):
            check_conn_fields(c, what)
            check_eq(c["family"], fam_name, "%s family" % what)
            check_eq(c["local_addr"], host, "%s local_addr" % what)
            check_eq(c["remote_addr"], host, "%s remote_addr" % what)
            check_eq(c["netns"], host_ns, "%s netns" % what)
        check_eq(cs["cookie"], cl["cookie"], "client: show cookie vs list cookie")
        check_eq(ss_["cookie"], sv["cookie"], "server: show cookie vs list cookie")
        check_eq((cl["local_port"], cl["remote_port"]), (cport, port),
                 "client side (local_port, remote_port)")
        check_eq((sv["local_port"], sv["remote_port"]), (port, cport),
                 "server side (local_port, remote_port)")
        check_eq(cl["state"], "TIME_WAIT", "client side current state")
        check_eq(cl["closed"], False, "client side closed (in TIME_WAIT)")
        check_eq(sv["state"], "CLOSE", "server side current state")
        check_eq(sv["closed"], True, "server side closed")
        check_eq(cl["pid"], client_pid, "client side pid")
        check_eq(cs["pid"], client_pid, "client side pid (show)")

        # Times: wall clock ns, non-decreasing, whole span > 0.
        check_history_times(cs, ch, t_lo, t_hi, "client history")
        check_history_times(ss_, sh_, t_lo, t_hi, "server history")
        # Only the active closer's TIME_WAIT entry may be derived; all
        # other transitions here are reported by the tracepoint.
        check_derived(ch, {"TIME_WAIT"}, "client history")
        check_derived(sh_, set(), "server history")
        log("client history: %s" % path_str(transitions(ch)))
        log("server history: %s" % path_str(transitions(sh_)))


def hold_sockets(n):
    """Start tw-hold with n established loopback sockets (on 127.0.0.x) and
    wait until it says they are ready; return its process."""
    path = os.path.join(bin_dir(), "tw-hold")
    if not os.access(path, os.X_OK):
        fail("%s not built" % path)
    p = spawn([path, "-n", str(n), "-t", "600"], stdin=subprocess.DEVNULL)
    line = read_line(p, timeout=120)
    line = line.decode() if isinstance(line, bytes) else (line or "")
    check(line.startswith("ready "), "tw-hold: %r" % line)
    log("tw-hold " + line.strip())
    return p


def loopback_pairs(src, dst, n):
    """n connections from src to one listener on dst, both ends open until
    the test's cleanup: (the listener's port, the clients' ports)."""
    ls = socket.socket()
    ls.bind((dst, 0))
    ls.listen(n)
    at_cleanup(ls.close)
    ports = []
    for _ in range(n):
        c = socket.create_connection(ls.getsockname(), source_address=(src, 0))
        a, _ = ls.accept()
        at_cleanup(c.close)
        at_cleanup(a.close)
        ports.append(c.getsockname()[1])
    return ls.getsockname()[1], ports
