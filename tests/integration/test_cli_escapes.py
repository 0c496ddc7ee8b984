#!/usr/bin/python3
"""A process may name itself with terminal escapes (comm "ev\\x1b[2Jil"):
`tcpwatch watch`, `show`, `findings` and `list -p` print it escaped as
\\x1b, never the raw byte that would clear the operator's screen."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check  # noqa: E402

EVIL = b"ev\x1b[2Jil"
ESCAPED = "ev\\x1b[2Jil"

# Names itself EVIL, listens, accepts one connection from a client of its
# own and lets the client close: its side stays in CLOSE_WAIT.
SERVER = r'''
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(sys.argv[1].encode("latin-1")), 0, 0, 0)
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4)
port = ls.getsockname()[1]
print(port, flush=True)
sys.stdin.readline()
c = socket.create_connection(("127.0.0.1", port))
a, _ = ls.accept()
c.close()
print("done", flush=True)
sys.stdin.readline()
'''


def no_raw_escape(text, what):
    check("\x1b" not in text, "%s prints a raw ESC byte:\n%r" % (what, text[:2000]))
    check(ESCAPED in text, "%s does not show the name escaped (%s):\n%r"
          % (what, ESCAPED, text[:2000]))


def main():
    with twtest.Daemon(["--close-wait-threshold", "0"]) as d:
        proc = twtest.spawn_python(SERVER, EVIL.decode("latin-1"))
        port = int(twtest.read_line(proc))
        watch = subprocess.Popen([d.cli_path, "--socket", d.sock, "watch",
                                  "sport", "=", ":%d" % port],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        check(twtest.read_line(proc) == "done", "the server did not finish")

        def server_side():
            for c in twtest.list_conns(d):
                if c["local_port"] == port and c["state"] == "CLOSE_WAIT":
                    return c
            return None

        c = twtest.wait_for(server_side, timeout=10)
        check(c is not None, "the CLOSE_WAIT side was not listed")
        check(c["comm"] == EVIL.decode("latin-1"),
              "the API's comm is %r, not the process's name" % c["comm"])
        time.sleep(0.5)
        watch.terminate()
        out, _ = watch.communicate(timeout=10)
        no_raw_escape(out.decode("utf-8", "replace"), "`tcpwatch watch`")
        no_raw_escape(d.cli("show", str(c["cookie"])), "`tcpwatch show`")
        twtest.wait_for(lambda: ESCAPED in d.cli("findings"), timeout=10)
        no_raw_escape(d.cli("findings"), "`tcpwatch findings`")
        no_raw_escape(d.cli("list", "-p"), "`tcpwatch list -p`")
        twtest.finish_child(proc, what="server")


if __name__ == "__main__":
    twtest.run(main)
