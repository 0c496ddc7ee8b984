"""The systemd unit (packaging/tcpwatchd.service) as the tests use it: its
user, capabilities and system call filter, read from the file itself, so
tcpwatchd runs in the tests with exactly what the unit grants
(TCPWATCH_SANDBOX=1, or Daemon(sandbox=True)).

Without systemd the parts are put together by hand: setpriv (user, groups,
bounding, inheritable and ambient sets, securebits, no_new_privs) and
tw-sandbox (the seccomp allow list as systemd builds it from
SystemCallFilter=, and a /proc mounted hidepid=invisible, as ProtectProc=)."""

import functools
import os
import pwd
import subprocess

from .runner import fail

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT_PATH = os.path.normpath(os.path.join(HERE, "..", "..", "..", "packaging",
                                          "tcpwatchd.service"))

# Capability numbers (linux/capability.h) of the names the unit uses.
CAP_NUMBERS = {
    "CAP_DAC_READ_SEARCH": 2, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
    "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24,
    "CAP_PERFMON": 38, "CAP_BPF": 39,
}


@functools.lru_cache(maxsize=None)
def settings(path=UNIT_PATH):
    """{key: [values in order]} of the [Service] section."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k.strip(), []).append(v.strip())
    return out


def one(key):
    v = settings().get(key)
    if not v:
        fail("%s: no %s=" % (UNIT_PATH, key))
    return v[-1]


def capabilities(key="AmbientCapabilities"):
    """The capability names of key, e.g. ['CAP_BPF', ...]."""
    return [c for v in settings().get(key, []) for c in v.split()]


def cap_mask(names):
    m = 0
    for n in names:
        if n not in CAP_NUMBERS:
            fail("capability %s: add its number to twtest/unit.py" % n)
        m |= 1 << CAP_NUMBERS[n]
    return m


def _group(name):
    r = subprocess.run(["systemd-analyze", "syscall-filter", name],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("systemd-analyze syscall-filter %s: %s" % (name, r.stderr.strip()))
    items = []
    for line in r.stdout.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            items.append(line)
    return items


@functools.lru_cache(maxsize=None)
def _expand(item):
    if not item.startswith("@"):
        return frozenset([item])
    out = set()
    for i in _group(item):
        out |= _expand(i)
    return frozenset(out)


def allowed_syscalls():
    """The allow list SystemCallFilter= yields: the first line allows, a
    later ~ line removes, a later plain line adds (systemd.exec(5))."""
    allowed = None
    for v in settings().get("SystemCallFilter", []):
        deny = v.startswith("~")
        names = set()
        for item in v.lstrip("~").split():
            names |= _expand(item)
        if allowed is None:
            if deny:
                fail("the unit's first SystemCallFilter= is a deny list")
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    if not allowed:
        fail("the unit has no SystemCallFilter=")
    return sorted(allowed)


def ensure_user():
    """The unit's User= (and its group), created if missing, as the
    package's postinst would."""
    user = one("User")
    try:
        return pwd.getpwnam(user)
    except KeyError:
        pass
    subprocess.run(["groupadd", "--system", "-f", one("Group")], check=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", "-g", one("Group"), user], check=True)
    return pwd.getpwnam(user)


def ensure_member(name):
    """A user (made if missing) in the unit's Group=, which owns the API
    socket."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "-U", name], check=True)
    subprocess.run(["usermod", "-a", "-G", one("Group"), name], check=True)
    return pwd.getpwnam(name)


def sandbox_prefix(bin_dir, workdir):
    """The command prefix that runs a program as the unit would."""
    pw = ensure_user()
    os.chown(workdir, pw.pw_uid, pw.pw_gid)
    os.chmod(workdir, 0o750)
    syscalls = os.path.join(workdir, "syscalls.txt")
    with open(syscalls, "w") as f:
        f.write("\n".join(allowed_syscalls()) + "\n")
    caps = ",".join("+" + c[4:].lower() for c in capabilities())
    bounding = ",".join("+" + c[4:].lower()
                        for c in capabilities("CapabilityBoundingSet"))
    return [os.path.join(bin_dir, "tw-sandbox"), "--syscalls", syscalls,
            "--proc", "--",
            "setpriv", "--reuid", pw.pw_name, "--regid", one("Group"),
            "--init-groups", "--bounding-set", "-all," + bounding,
            "--inh-caps", "-all," + caps, "--ambient-caps", "-all," + caps,
            "--securebits", "+noroot,+noroot_locked", "--no-new-privs", "--"
            ] + _sanitizer_env()


def _sanitizer_env():
    """LeakSanitizer stops the world with ptrace(), which the unit's
    system call filter refuses: leaks are checked by the other runs."""
    if os.environ.get("TCPWATCH_SANITIZED") != "1":
        return []
    opts = os.environ.get("ASAN_OPTIONS", "")
    return ["env", "ASAN_OPTIONS=%s%sdetect_leaks=0" % (opts, ":" if opts else "")]


def proc_status(pid):
    """/proc/PID/status as {field: value}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out
