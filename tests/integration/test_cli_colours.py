#!/usr/bin/python3
"""On a terminal `tcpwatch list` colours the state column (and bolds the
header) without moving the columns; with NO_COLOR=1 (no-color.org), or
piped, it prints no escape code at all, and the text is the same once
the escapes are taken out. top clears the screen only on a terminal."""

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402

ESC = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def no_age(text):
    """The table with its Age column (the 4th) blanked: it moves between runs."""
    return "\n".join(" ".join(f[:3] + f[4:]) for f in (line.split() for line in text.splitlines()))


def on_pty(argv, env):
    """Runs argv with stdout and stderr on a pseudo-terminal; its output."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        elif p.poll() is not None:
            break
    p.wait(timeout=10)
    os.close(master)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


def main():
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    twtest.at_cleanup(lst.close)
    port = lst.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = lst.accept()
    twtest.at_cleanup(c.close)
    twtest.at_cleanup(a.close)
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"
    with twtest.Daemon() as d:
        argv = [d.cli_path, "--socket", d.sock, "list", "-a", "sport = :%d or dport = :%d"
                % (port, port)]
        tty = on_pty(argv, env)
        log("on a terminal: %r" % tty)
        check("\x1b[32mESTAB\x1b[0m" in tty, "ESTAB in green on a terminal")
        check("\x1b[36mLISTEN\x1b[0m" in tty, "LISTEN in cyan")
        check(tty.startswith("\x1b[1mState"), "a bold header")
        piped = subprocess.run(argv, capture_output=True, text=True, env=env).stdout
        check("\x1b" not in piped, "piped: no escapes")
        check_eq(no_age(ESC.sub("", tty)), no_age(piped),
                 "the same text, colours aside (nothing truncated)")
        no = on_pty(argv, dict(env, NO_COLOR="1"))
        check("\x1b" not in no, "NO_COLOR=1 on a terminal: no escapes: %r" % no)
        check_eq(no_age(no), no_age(piped), "NO_COLOR: the piped text")
        # An empty NO_COLOR does not count (no-color.org).
        check("\x1b[" in on_pty(argv, dict(env, NO_COLOR="")), "NO_COLOR= (empty) colours")
        # -s and the daemon-less list too.
        s_argv = argv[:4] + ["-s"]
        check("\x1b[" in on_pty(s_argv, env), "-s coloured on a terminal")
        check("\x1b" not in on_pty(s_argv, dict(env, NO_COLOR="1")), "-s with NO_COLOR")
        k_argv = [d.cli_path, "--socket", "/nonexistent", "list", "sport = :%d" % port]
        kt = on_pty(k_argv, env)
        check("\x1b[32mESTAB" in kt, "daemon-less list coloured: %r" % kt)
        kp = subprocess.run(k_argv, capture_output=True, text=True, env=env)
        note = kp.stderr
        check_eq(ESC.sub("", kt).replace(note, ""), kp.stdout,
                 "daemon-less: the same text, colours aside")
        check("\x1b" not in on_pty(k_argv, dict(env, NO_COLOR="1")), "daemon-less NO_COLOR")
    top = on_pty([argv[0], "top", "-n", "1", "-d", "0.2"], dict(env, NO_COLOR="1"))
    check(top.startswith("\x1b[H\x1b[2J") and "\x1b[3" not in top,
          "top on a terminal clears the screen, no colour with NO_COLOR: %r" % top[:80])


if __name__ == "__main__":
    twtest.run(main)
