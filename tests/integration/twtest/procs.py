"""Commands and child processes: polling, running commands, spawning
children registered for cleanup, reading their output line by line, and
waiting for them to finish."""

import json
import os
import select
import socket
import subprocess
import time

from .runner import check, check_eq, fail, register_child


def wait_for(pred, timeout=15.0, interval=0.25):
    """Poll pred() until it returns a truthy value or timeout seconds pass.

    Returns the last value of pred() (falsy on timeout); the caller asserts,
    so that the failure message can show what was last observed.
    """
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def sh(args, check_rc=True, timeout=30, input_text=None):
    """Run a command, return CompletedProcess (text).  Fails on non-zero exit."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       input=input_text, stdin=None if input_text is not None
                       else subprocess.DEVNULL)
    if check_rc and r.returncode != 0:
        fail("command %r exited %d\n  stdout: %s\n  stderr: %s"
             % (args, r.returncode, r.stdout.strip(), r.stderr.strip()))
    return r


def spawn(args, **kw):
    """Popen registered for cleanup.  stdin/stdout are binary pipes."""
    kw.setdefault("stdin", subprocess.PIPE)
    kw.setdefault("stdout", subprocess.PIPE)
    return register_child(subprocess.Popen(args, bufsize=0, **kw))


def spawn_python(code, *args, prefix=()):
    """Run ``/usr/bin/python3 -c code args...`` (optionally behind prefix,
    e.g. ``ip netns exec NAME``) as a separate process."""
    return spawn(list(prefix) + ["/usr/bin/python3", "-c", code]
                 + [str(a) for a in args])


def read_line(proc, timeout=10.0):
    """Read one line from proc.stdout (a binary pipe), bounded in time."""
    buf = b""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            fail("timed out after %.0f s waiting for a line from child pid %d "
                 "(got so far: %r; exit status %r)"
                 % (timeout, proc.pid, buf, proc.poll()))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        b = os.read(fd, 1)
        if not b:
            fail("child pid %d closed stdout before a full line (got %r); "
                 "exit status %r" % (proc.pid, buf, proc.wait(timeout=5)))
        buf += b
    return buf.decode().strip()


class LineReader:
    """Collects complete lines from a child's binary stdout pipe."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.lines = []
        self.eof = False

    def pump(self, duration):
        """Read for up to duration seconds; return the new lines."""
        new = []
        deadline = time.monotonic() + duration
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            b = os.read(self.fd, 65536)
            if not b:
                self.eof = True
                break
            self.buf += b
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.decode("utf-8", "replace").strip()
                if line:
                    self.lines.append(line)
                    new.append(line)
        return new


def json_lines(lines, what):
    """Parse lines a program printed, each one JSON object; fails on any
    other line."""
    out = []
    for line in lines:
        try:
            v = json.loads(line)
        except ValueError as e:
            fail("%s printed a line that is not JSON (%s): %r" % (what, e, line))
        check(isinstance(v, dict), "%s printed a JSON value that is not an "
              "object: %r" % (what, line))
        out.append(v)
    return out


def finish_child(proc, timeout=10.0, what="child"):
    """Close the child's stdin (its cue to exit) and assert it exits 0."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("%s (pid %d) did not exit within %.0f s" % (what, proc.pid, timeout))
    check_eq(rc, 0, "%s (pid %d) exit status" % (what, proc.pid))


def stop_proc(p, timeout=5):
    """SIGTERM a child we started, then SIGKILL if it lingers."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except Exception:  # noqa: B902
            p.kill()
            p.wait(timeout=5)


def raise_fd_limit(need):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        fail("RLIMIT_NOFILE hard limit %d is below the %d file descriptors "
             "this test needs" % (hard, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def free_port(host="127.0.0.1"):
    """A TCP port free on host now (for a daemon's --listen, say)."""
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port
