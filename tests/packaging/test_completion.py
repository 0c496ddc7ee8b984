#!/usr/bin/python3
"""The bash completion of tcpwatch completes what the CLI takes: its
subcommands, a subcommand's flags, state names after `state`/`exclude`, and
for `show` the cookies of a running daemon's connections (a daemon of our
own: root, as the integration tests; quietly nothing, at once, when no
daemon runs).

Usage: test_completion.py COMPLETION_FILE  (TCPWATCH_BIN: the built binaries)"""

import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import twtest  # noqa: E402

# Sets the completion variables as bash does for LINE (split on blanks; a
# trailing blank starts an empty word), calls _tcpwatch, prints COMPREPLY.
DRIVER = r'''
source "$1" || exit 3
line=$2
read -r -a COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
_tcpwatch tcpwatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


def complete(comp_file, line, env=None):
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "driver", comp_file, line],
                       capture_output=True, text=True, timeout=20, env=env)
    twtest.check(r.returncode == 0, "completing %r: bash exited %d: %s"
                 % (line, r.returncode, r.stderr))
    twtest.check(not r.stderr.strip(), "completing %r printed errors: %s" % (line, r.stderr))
    return sorted(w for w in r.stdout.split("\n") if w)


def expect(comp_file, line, expected, env=None):
    got = complete(comp_file, line, env)
    twtest.check_eq(got, sorted(expected), "completions of %r" % line)


def main():
    comp = os.path.abspath(sys.argv[1])
    cli = os.path.join(twtest.bin_dir(), "tcpwatch")
    states = ("established syn-sent syn-recv fin-wait-1 fin-wait-2 time-wait closed "
              "close-wait last-ack listening closing all connected synchronized bucket "
              "big").split()

    # The commands and aliases `tcpwatch --help` lists (show's alias history
    # is not in it).
    r = subprocess.run([cli, "--help"], capture_output=True, text=True, timeout=10)
    commands = {"history"}
    for m in re.finditer(r"^  ([a-z]+)(?:, ([a-z]+))?", r.stdout, re.M):
        commands |= {c for c in m.groups() if c}
    twtest.check(len(commands) >= 10, "tcpwatch --help lists only %s" % sorted(commands))
    expect(comp, "tcpwatch ", commands)
    expect(comp, "tcpwatch li", ["list", "listeners"])
    expect(comp, "tcpwatch --json l", ["list", "listeners", "ll", "ls"])
    expect(comp, "tcpwatch --", ["--socket", "--json", "--help", "--version"])
    expect(comp, "tcpwatch list --", ["--listening", "--all", "--processes", "--options",
                                      "--extended", "--info", "--memory", "--summary", "--net",
                                      "--no-header", "--sort", "--reverse", "--kernel",
                                      "--socket", "--json", "--help", "--version"])
    expect(comp, "tcpwatch list --s", ["--socket", "--sort", "--summary"])
    expect(comp, "tcpwatch ls --sort r", ["remote", "rtt"])
    expect(comp, "tcpwatch ls --sort -b", ["-bytes"])
    expect(comp, "tcpwatch top -", ["-d", "-n", "-4", "-6", "-p", "-N", "--delay", "--batches",
                                    "--processes", "--net", "-S", "--socket", "-j", "--json",
                                    "-h", "--help", "-V", "--version"])
    expect(comp, "tcpwatch top state syn", ["syn-sent", "syn-recv", "synchronized"])
    expect(comp, "tcpwatch probe 127.0.0.1:22 --t", ["--timeout", "--trace"])
    expect(comp, "tcpwatch probe --h", ["--half-open", "--help"])
    expect(comp, "tcpwatch ll -", ["-a", "-p", "-H", "--all", "--processes", "--no-header",
                                   "-S", "--socket", "-j", "--json", "-h", "--help", "-V",
                                   "--version"])
    expect(comp, "tcpwatch list state ", states)
    expect(comp, "tcpwatch list -a exclude time", ["time-wait"])
    expect(comp, "tcpwatch watch state fin", ["fin-wait-1", "fin-wait-2"])
    expect(comp, "tcpwatch -j listeners state li", ["listening"])
    expect(comp, "tcpwatch list state established d", ["dport", "dst"])
    expect(comp, "tcpwatch stats ", [])

    # Every state name offered is one the CLI takes.
    for s in states:
        r = subprocess.run([cli, "--socket", "/nonexistent/tw.sock", "list", "state", s],
                           capture_output=True, text=True, timeout=10)
        twtest.check("unknown state" not in r.stderr,
                     "the completion offers %s, the CLI refuses it: %s" % (s, r.stderr))

    # Every flag offered is one the command takes (a value where it needs one;
    # top once, without a daemon; probe without a target stops at that).
    globals_ = {"-S", "--socket", "-j", "--json", "-h", "--help", "-V", "--version"}
    values = {"-N": "1", "--net": "1", "--sort": "age", "-c": "1", "--count": "1", "-i": "1",
              "--interval": "1", "-w": "1", "--timeout": "1", "--netns": "1", "-d": "0.01",
              "--delay": "0.01", "--batches": "1"}
    for cmd in ("list", "listeners", "top", "probe"):
        for flag in set(complete(comp, "tcpwatch %s -" % cmd)) - globals_:
            argv = [cli, "--socket", "/nonexistent/tw.sock", cmd, flag]
            if flag in values or (flag == "-n" and cmd in ("top", "probe")):
                argv.append(values.get(flag, "1"))
            if cmd == "top":
                argv += ["-n", "1", "-d", "0.01"]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                               stdin=subprocess.DEVNULL)
            twtest.check("unknown option" not in r.stderr,
                         "the completion offers %s %s, the CLI refuses it: %s"
                         % (cmd, flag, r.stderr.strip()))

    # Every sort key offered is one the CLI takes.
    for key in complete(comp, "tcpwatch list --sort "):
        r = subprocess.run([cli, "--socket", "/nonexistent/tw.sock", "list", "--sort", key],
                           capture_output=True, text=True, timeout=10)
        twtest.check("unknown key" not in r.stderr,
                     "the completion offers --sort %s, the CLI refuses it: %s" % (key, r.stderr))

    # No daemon: nothing to offer, fast.
    start = time.monotonic()
    expect(comp, "%s --socket /nonexistent/tw.sock show " % cli, [])
    twtest.check(time.monotonic() - start < 2, "completing cookies without a daemon is slow")

    with twtest.Daemon() as d:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = srv.accept()
        want = set()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            conns = d.cli_json("--json", "list", "-a")
            want = {str(c["cookie"]) for c in conns
                    if c.get("local_port") == port or c.get("remote_port") == port}
            if len(want) >= 2:
                break
            time.sleep(0.3)
        twtest.check(len(want) >= 2, "the daemon does not show the loopback pair on :%d" % port)
        got = set(complete(comp, "%s --socket %s show " % (cli, d.sock)))
        twtest.check(want <= got, "show <TAB> offers %s, not the cookies %s"
                     % (sorted(got)[:10], sorted(want - got)))
        some = sorted(want)[0]
        got = complete(comp, "%s -S %s history %s" % (cli, d.sock, some[:-1]))
        twtest.check(some in got, "history %s<TAB> does not offer %s: %s"
                     % (some[:-1], some, got[:10]))
        for s in (client, accepted, srv):
            s.close()
        twtest.log("show <TAB> offers the %d cookies of the loopback pair" % len(want))


if __name__ == "__main__":
    twtest.run(main)
