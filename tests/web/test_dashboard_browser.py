#!/usr/bin/python3
"""The dashboard works in a real browser: a daemon (twtest.Daemon, as the
integration tests run it) serves the page on a loopback port, with a probe
target on a listener held here; dashboard.mjs drives headless Chromium
through playwright-core and asserts what a user sees (the page loads
without console errors, a connection it makes appears within a second,
a click shows its transitions, the filter box filters and shows a bad
filter's error at the bad token, listeners, probes and charts fill in).
The screenshot is left in $TCPWATCH_ARTIFACTS/dashboard.png."""

import os
import random
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import twtest  # noqa: E402
from twtest import check, fail, log  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DRIVER_TIMEOUT_S = 70
WEB = os.path.normpath(os.path.join(HERE, "..", "..", "web"))


def find_node():
    node = os.environ.get("TCPWATCH_NODE", "")
    if not node or node.endswith("-NOTFOUND"):
        node = shutil.which("node") or ""
    return node


def main():
    node = find_node()
    for what, path in (("node", node), ("chromium", CHROMIUM),
                       ("playwright-core",
                        os.path.join(WEB, "node_modules", "playwright-core"))):
        if not path or not os.path.exists(path):
            fail("%s is missing (%r): run scripts/install-deps.sh" % (what, path))
    artifacts = os.environ.get("TCPWATCH_ARTIFACTS") or os.path.join(
        twtest.bin_dir(), "..", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    shot = os.path.join(artifacts, "dashboard.png")
    if os.path.exists(shot):
        os.unlink(shot)

    # A listener the prober aims at: the kernel answers its SYNs, nobody
    # needs to accept.
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen(16)
    target_port = target.getsockname()[1]
    port = twtest.free_port()
    # Source ports of its own: another daemon on this host may hold the
    # default range.
    port_base = random.randrange(40000, 60000, 64)
    with twtest.Daemon(extra_args=(
            "--listen", "127.0.0.1:%d" % port,
            "--probe", "127.0.0.1:%d interval=1" % target_port,
            "--probe-port-base", str(port_base), "--probe-port-count", "32")) as d:
        env = dict(os.environ,
                   TW_URL="http://127.0.0.1:%d/" % port,
                   TW_CHROMIUM=CHROMIUM,
                   TW_SCREENSHOT=shot,
                   TW_PROBE_TARGET="127.0.0.1:%d" % target_port)
        log("driving Chromium: %s" % os.path.join(HERE, "dashboard.mjs"))
        try:
            r = subprocess.run([node, os.path.join(HERE, "dashboard.mjs")],
                               env=env, stdin=subprocess.DEVNULL,
                               timeout=DRIVER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail("dashboard.mjs did not finish within %d s" % DRIVER_TIMEOUT_S)
        check(r.returncode == 0, "dashboard.mjs failed (exit %d): see above"
              % r.returncode)
        d.assert_alive("after the browser's visit")
    target.close()

    with open(shot, "rb") as f:
        head = f.read(8)
    check(head == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % shot)
    check(os.path.getsize(shot) > 20000,
          "%s is suspiciously small (%d bytes)" % (shot, os.path.getsize(shot)))
    log("screenshot: %s" % os.path.abspath(shot))


if __name__ == "__main__":
    twtest.run(main, timeout=85)
