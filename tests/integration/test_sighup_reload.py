#!/usr/bin/python3
"""SIGHUP reloads the configuration file without losing the table: a
threshold changed in the file shows in /api/v1/findings (and its finding
appears), the daemon keeps running with the connections it knew, a setting
that cannot change live is logged as such, and a broken file keeps the old
settings. (Before, SIGHUP ended the daemon with status 0.)"""

import os
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, pretty  # noqa: E402


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def findings(d):
    status, body = d.http_get("/api/v1/findings")
    check_eq(status, 200, "GET /api/v1/findings status")
    return body


def hup_and_wait(d, what):
    before = d.stats()["config_reloads"] + d.stats()["config_reload_failures"]
    d.proc.send_signal(signal.SIGHUP)
    check(twtest.wait_for(lambda: d.stats()["config_reloads"] +
                          d.stats()["config_reload_failures"] > before, timeout=5),
          "no reload after SIGHUP (%s)" % what)
    d.assert_alive("after SIGHUP (%s)" % what)


def main():
    conf_dir = tempfile.mkdtemp(prefix="tw-conf-")
    conf = os.path.join(conf_dir, "tcpwatchd.conf")
    write(conf, "[tcpwatchd]\nclose-wait-threshold = 3600\nmax-clients = 64\n")
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    port = ls.getsockname()[1]
    try:
        with twtest.Daemon(["-c", conf]) as d:
            # A connection whose server side sits in CLOSE_WAIT: the client
            # closes, the server never does.
            cl = socket.create_connection(("127.0.0.1", port))
            sv, _ = ls.accept()
            cl.close()
            cw = twtest.wait_for(lambda: [c for c in twtest.list_conns(d)
                                          if c["state"] == "CLOSE_WAIT"
                                          and c["local_port"] == port], timeout=10)
            check(cw, "no CLOSE_WAIT connection listed")
            f = findings(d)
            check_eq(f["thresholds"]["close_wait_ms"], 3600000, "threshold from the file")
            check(not [x for x in f["findings"] if x["kind"] == "close_wait_stuck"],
                  "a close_wait finding below its threshold: %s" % pretty(f))
            live_before = d.stats()["connections_live"]

            write(conf, "[tcpwatchd]\nclose-wait-threshold = 0.2\nmax-clients = 32\n")
            hup_and_wait(d, "new threshold")
            time.sleep(0.3)
            f = findings(d)
            check_eq(f["thresholds"]["close_wait_ms"], 200, "threshold after SIGHUP")
            stuck = [x for x in f["findings"] if x["kind"] == "close_wait_stuck"
                     and cw[0]["cookie"] in x["connections"]]
            check(stuck, "no close_wait_stuck finding after the reload: %s" % pretty(f))
            check(d.stats()["connections_live"] >= live_before - 1,
                  "the table was lost: %d live before, %d after"
                  % (live_before, d.stats()["connections_live"]))
            check(twtest.show(d, cw[0]["cookie"])["state"] == "CLOSE_WAIT",
                  "the CLOSE_WAIT connection is gone after the reload")
            err = d.stderr_text()
            check("max-clients changed, but takes effect only after a restart" in err,
                  "the log does not say max-clients needs a restart:\n%s" % err[-2000:])

            # A broken file: the settings stay.
            write(conf, "[tcpwatchd]\nclose-wait-threshold = soon\n")
            hup_and_wait(d, "broken file")
            check_eq(findings(d)["thresholds"]["close_wait_ms"], 200,
                     "threshold after a failed reload")
            check_eq(d.stats()["config_reload_failures"], 1, "config_reload_failures")
            check("reload:" in d.stderr_text() and "soon" in d.stderr_text(),
                  "the failed reload is not logged with its reason")
            sv.close()
    finally:
        ls.close()
        for p in (conf, conf + ".tmp"):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(conf_dir)


if __name__ == "__main__":
    twtest.run(main)
