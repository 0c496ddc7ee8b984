#!/usr/bin/python3
"""Least privilege. tcpwatchd run as the systemd unit runs it (its User=,
AmbientCapabilities=, CapabilityBoundingSet=, SystemCallFilter= and
ProtectProc=/ProcSubset=, read from packaging/tcpwatchd.service) keeps
after start-up only the capabilities it still uses: /proc/PID/status shows
them, and the work that needs them still works after the drop (a
namespace added later, one that only another user's process holds, a
probe). Its API socket belongs to the group
tcpwatch, mode 0660: a member uses the CLI, anyone else is refused.
Started as root with --user, it becomes that user the same way; a user or
group that does not exist is a clear error at start-up."""

import grp
import json
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402
from twtest import unit  # noqa: E402
from twtest import lifecycle as lu  # noqa: E402

# No CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH: owners and namespaces come
# from the task iterators (bpf/tasks.bpf.c).
RUNTIME = ["CAP_NET_RAW", "CAP_SYS_ADMIN"]
MEMBER = "tw-member"


def caps_of(status, field):
    return int(status[field], 16)


def names(mask):
    return sorted(n for n, b in unit.CAP_NUMBERS.items() if mask >> b & 1)


def cli_as(d, user, *args):
    gid = pwd.getpwnam(user).pw_gid
    return subprocess.run(
        ["setpriv", "--reuid", user, "--regid", str(gid), "--init-groups", "--",
         d.cli_path, "--socket", d.sock] + list(args),
        capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)


def check_socket(d):
    st = os.stat(d.sock)
    check_eq(grp.getgrgid(st.st_gid).gr_name, "tcpwatch", "the socket's group")
    check_eq(oct(st.st_mode & 0o777), oct(0o660), "the socket's mode")
    unit.ensure_member(MEMBER)
    r = cli_as(d, MEMBER, "stats", "--json")
    check(r.returncode == 0, "a member of tcpwatch runs `tcpwatch stats`: "
          "exit %d, %s" % (r.returncode, r.stderr.strip()))
    check("events_received" in json.loads(r.stdout), "stats as a member")
    r = cli_as(d, "nobody", "stats")
    check(r.returncode != 0, "nobody is refused (exit %d)" % r.returncode)
    check("Permission denied" in r.stderr or "permission" in r.stderr.lower(),
          "the refusal says why: %r" % r.stderr.strip())


def check_status(d, want, user, unit_bound=True):
    st = unit.proc_status(d.proc.pid)
    log("tcpwatchd status: Uid %s CapEff %s CapPrm %s CapBnd %s CapAmb %s "
        "NoNewPrivs %s Seccomp %s" % (st["Uid"], st["CapEff"], st["CapPrm"],
                                      st["CapBnd"], st["CapAmb"],
                                      st["NoNewPrivs"], st["Seccomp"]))
    check_eq(names(caps_of(st, "CapEff")), sorted(want), "CapEff after start-up")
    check_eq(caps_of(st, "CapPrm"), caps_of(st, "CapEff"), "CapPrm = CapEff")
    check_eq(caps_of(st, "CapAmb"), 0, "no ambient capabilities")
    check_eq(caps_of(st, "CapInh"), 0, "no inheritable capabilities")
    if unit_bound:
        check_eq(caps_of(st, "CapBnd") & ~unit.cap_mask(
            unit.capabilities("CapabilityBoundingSet")), 0,
            "bounding set within the unit's")
    check_eq(st["NoNewPrivs"], "1", "no_new_privs")
    uid = str(user.pw_uid)
    check_eq(st["Uid"].split(), [uid] * 4, "real, effective, saved, fs uid")
    check_eq(st["Gid"].split()[0], str(user.pw_gid), "gid")
    check("capabilities after start-up: " in d.stderr_text(),
          "the log says what was kept")
    return st


NS_PAIR = r'''
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 7001)); s.listen(1)
c = socket.create_connection(("127.0.0.1", 7001)); a, _ = s.accept()
print("ok", flush=True)
sys.stdin.read()
'''

LISTENER = r'''
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
'''


def check_after_drop(d):
    """setns (CAP_SYS_ADMIN) after the drop: a namespace made now is
    followed and its connection found; a probe opens its raw socket now
    (CAP_NET_RAW)."""
    with twtest.Netns() as ns:
        pair = ns.spawn_python(NS_PAIR)
        check_eq(twtest.read_line(pair), "ok", "a connection in %s" % ns.name)
        lu.find_one(d, lambda c: c.get("netns") == ns.inode
                    and c.get("remote_port") == 7001
                    and c.get("state") == "ESTABLISHED",
                    "the connection in a namespace made after the drop",
                    timeout=15.0)
        twtest.stop_proc(pair)
    srv = twtest.spawn_python(LISTENER)
    port = int(twtest.read_line(srv))
    job = probeapi.run_job(d, target="127.0.0.1:%d" % port, count=2,
                           interval=0.1)
    states = [p.get("state") for p in job["probes"]]
    check_eq(states, ["open", "open"], "probes of a loopback listener")
    twtest.stop_proc(srv)


HIDDEN_PAIR = r'''
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 7002)); s.listen(1)
c = socket.create_connection(("127.0.0.1", 7002)); a, _ = s.accept()
print(os.getpid(), os.stat("/proc/self/ns/net").st_ino, flush=True)
sys.stdin.read()
'''


def check_unnamed_netns(d):
    """A namespace no name holds, only a process of another user (root):
    without CAP_SYS_PTRACE its /proc/PID/ns/net is closed to the daemon,
    which finds it by the task iterator and opens it by its file handle;
    the connection inside is found, with its owner (the socket iterator:
    /proc/PID/fd is closed to it too)."""
    before = d.stats()
    check_eq(before.get("owner_source"), "task_iter", "owners from the task iterator")
    proc = twtest.spawn_python(
        HIDDEN_PAIR, prefix=["unshare", "--net", "sh", "-c",
                             'ip link set lo up && exec "$0" "$@"'])
    pid, inode = (int(x) for x in twtest.read_line(proc).split())
    log("process %d alone holds namespace %d" % (pid, inode))
    c = lu.find_one(d, lambda c: c.get("netns") == inode
                    and c.get("remote_port") == 7002
                    and c.get("state") == "ESTABLISHED"
                    and c.get("pid") == pid,
                    "the connection in a namespace only a root process holds, "
                    "owned by that process", timeout=15.0)
    check_eq(c.get("comm"), "python3", "its owner's command")
    # The events found the connection; the namespace is followed (its diag
    # socket made) at the next reconcile.
    twtest.wait_for(lambda: d.stats()["netns_handle_opens"] > before["netns_handle_opens"],
                    timeout=15)
    after = d.stats()
    check(after["netns_handle_opens"] > before["netns_handle_opens"],
          "opened by its file handle: netns_handle_opens %d -> %d (%s)"
          % (before["netns_handle_opens"], after["netns_handle_opens"],
             {k: v for k, v in after.items() if "netns" in k or "task_iter" in k}))
    twtest.stop_proc(proc)


def check_half_open_refused(d):
    status, body, raw = probeapi.request(
        d, "POST", "/api/v1/probes",
        {"target": "127.0.0.1:9", "mode": "half-open"})
    raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    check(status in (400, 501, 503), "half-open without CAP_NET_ADMIN refused: "
          "%d %s" % (status, raw[:300]))
    check("CAP_NET_ADMIN" in raw, "the refusal names the capability: %s"
          % raw[:300])


def main():
    user = unit.ensure_user()
    with twtest.Daemon(sandbox=True) as d:
        check_status(d, RUNTIME, user)
        check_socket(d)
        check_after_drop(d)
        check_unnamed_netns(d)
        check_half_open_refused(d)
    # Root with --user: the same drop, CAP_NET_ADMIN kept for the half-open
    # program (root may attach it), the bounding set cut to what is kept.
    with twtest.Daemon(["--user", user.pw_name]) as d:
        st = check_status(d, RUNTIME + ["CAP_NET_ADMIN"], user,
                          unit_bound=False)
        check_eq(caps_of(st, "CapBnd"), caps_of(st, "CapEff"),
                 "bounding set = kept set when started as root")
    for flag, value, message in (
            ("--user", "tw-no-such-user", "no such user"),
            ("--socket-group", "tw-no-such-group", "no such group")):
        r = subprocess.run([os.path.join(twtest.bin_dir(), "tcpwatchd"),
                            "--foreground", "--listen", "none", "--socket",
                            "/tmp/tw-priv-bad.sock", flag, value],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode != 0, "%s %s: refused at start (exit %d)"
              % (flag, value, r.returncode))
        check(message in r.stderr, "%s %s: says %r: %r"
              % (flag, value, message, r.stderr.strip()[-300:]))


if __name__ == "__main__":
    twtest.run(main)
