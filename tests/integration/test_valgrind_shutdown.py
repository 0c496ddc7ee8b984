#!/usr/bin/python3
"""No leak on the daemon's shutdown path, by Valgrind's memcheck (the
sanitizer build's LeakSanitizer checks the same at every test's exit;
this is the second, independent check the issue asks for). tcpwatchd runs
under valgrind --leak-check=full with the errors of every leak kind but
"still reachable" (what libraries keep for the process's life) counted,
and does its work: connections opened and closed (records, histories,
the retention), every listing and view, the metrics, the event stream, a
probe, a reload, then SIGTERM and its state file. Valgrind must report no
memory error and no lost block. Not in the sanitizer build: memcheck and
ASan cannot run together."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPP = os.path.join(ROOT, "tests", "valgrind", "libbpf.supp")


def work(d):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port = srv.getsockname()[1]
    held = []
    for i in range(40):
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        if i % 2:
            c.close()
            a.close()
        else:
            held.append((c, a))
    twtest.wait_for(lambda: d.stats()["connections_live"] >= 40, timeout=60)
    rows = twtest.list_conns(d, "-a")
    check(len(rows) >= 40, "connections listed: %d" % len(rows))
    mine = [r for r in rows if port in (r.get("local_port"), r.get("remote_port"))]
    check(mine, "the test's connections are listed")
    conn = [r for r in mine if r.get("state") == "ESTABLISHED"]
    check(conn, "an established one among them")
    twtest.show(d, conn[0]["cookie"])
    d.cli("show", str(conn[0]["cookie"]))
    for args in (["list", "-a", "-p", "-e", "-i", "-m", "-o"], ["list", "-s"],
                 ["list", "--sort", "age", "state", "established"], ["findings"],
                 ["listeners"], ["stats"]):
        d.cli(*args)
    resp = d.http_request("/metrics")
    check_eq(resp.status, 200, "GET /metrics")
    for path in ("/api/v1/connections?local_port=%d" % port,
                 "/api/v1/connections?filter=dport%%20%%3D%%20%%3A%d" % port,
                 "/api/v1/findings", "/api/v1/listeners", "/api/v1/stats",
                 "/api/v1/connections/1", "/api/v1/nosuch", "/"):
        d.http_request(path, timeout=30)
    # The event stream, briefly, while more connections come and go.
    watch = subprocess.Popen([d.cli_path, "--socket", d.sock, "watch", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(2)
    for _ in range(10):
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        c.close()
        a.close()
    time.sleep(2)
    watch.terminate()
    out, _ = watch.communicate(timeout=20)
    check(out.count(b"\n") > 0, "the event stream sent events")
    log("%d connections listed, %d events streamed" % (len(rows), out.count(b"\n")))
    job = probeapi.run_job(d, target="127.0.0.1:%d" % port, count=2, interval=0.2)
    check_eq([p.get("state") for p in job["probes"]], ["open", "open"], "a probe")
    d.proc.send_signal(signal.SIGHUP)
    twtest.wait_for(lambda: d.stats().get("config_reloads", 0) >= 1, timeout=30)
    for c, a in held:
        c.close()
        a.close()
    srv.close()


def main():
    if os.environ.get("TCPWATCH_SANITIZED") == "1":
        raise twtest.Skip("memcheck does not run beside ASan (LeakSanitizer checks this build)")
    if subprocess.run(["which", "valgrind"], capture_output=True).returncode != 0:
        fail("valgrind not installed (scripts/install-deps.sh installs it)")
    logdir = tempfile.mkdtemp(prefix="tw-valgrind-")
    vlog = os.path.join(logdir, "memcheck.log")
    wrapper = ["valgrind", "--tool=memcheck", "--leak-check=full",
               "--show-leak-kinds=definite,indirect,possible",
               "--errors-for-leak-kinds=definite,indirect,possible",
               "--error-exitcode=99", "--suppressions=" + SUPP,
               "--log-file=" + vlog]
    t0 = time.monotonic()
    with twtest.Daemon(wrapper=wrapper, startup_timeout=150, stop_timeout=90) as d:
        log("ready under valgrind after %.1f s" % (time.monotonic() - t0))
        work(d)
    with open(vlog) as f:
        text = f.read()
    summary = [ln for ln in text.splitlines()
               if re.search(r"(definitely|indirectly|possibly) lost:|still reachable:|"
                            r"ERROR SUMMARY|in use at exit", ln)]
    log("memcheck:\n  " + "\n  ".join(summary))
    m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    check(m, "memcheck printed its error summary")
    if int(m.group(1)):
        fail("memcheck found %s errors:\n%s" % (m.group(1), text[-6000:]))
    for kind in ("definitely", "indirectly", "possibly"):
        lost = re.search(r"%s lost: ([\d,]+) bytes" % kind, text)
        check(lost is None or lost.group(1) == "0", "%s lost: %s bytes" %
              (kind, lost.group(1) if lost else "0"))
    check("LEAK SUMMARY" in text or "All heap blocks were freed" in text,
          "memcheck checked for leaks at exit")
    shutil.rmtree(logdir, ignore_errors=True)


if __name__ == "__main__":
    twtest.run(main)
