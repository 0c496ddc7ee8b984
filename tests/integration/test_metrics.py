#!/usr/bin/python3
"""GET /metrics against a real Prometheus: the text format passes
`promtool check metrics` (its only remarks are the node_exporter-style
names of the namespace counters, kept on purpose); OpenMetrics is served
when asked (counter families without _total, # EOF); a Prometheus started
on loopback with a 1 s scrape interval scrapes tcpwatchd, and queries
through its HTTP API return what the test made: five connections reset by
their client (connections_closed_total by role and end reason), their
handshakes (the histogram's count), a listener's accept queue (three
connections it never accepted), and a configured probe target that is up,
with its RTT histogram."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import Skip, check, check_eq, fail, log  # noqa: E402


def get(url, headers=None, timeout=5):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def query(prom, expr):
    url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (prom, urllib.parse.quote(expr))
    status, ctype, body = get(url)
    data = json.loads(body)
    check_eq(data["status"], "success", "Prometheus query %s" % expr)
    return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]


def value(prom, expr):
    r = query(prom, expr)
    return r[0][1] if r else None


def main():
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            raise Skip("%s not installed (scripts/install-deps.sh installs it)" % tool)
    api = twtest.free_port()
    prom = twtest.free_port()
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    twtest.at_cleanup(lst.close)
    lport = lst.getsockname()[1]
    with twtest.Daemon(["--listen", "127.0.0.1:%d" % api,
                        "--probe", "127.0.0.1:%d interval=0.2s" % lport]) as d:
        base = "http://127.0.0.1:%d/metrics" % api
        status, ctype, text = get(base)
        check(status == 200 and ctype.startswith("text/plain; version=0.0.4"),
              "text format: %d %s" % (status, ctype))
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        remarks = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
        other = [x for x in remarks if not (x.startswith("tcpwatch_netstat_") and "camelCase" in x)]
        check_eq(other, [], "promtool's remarks beyond the node_exporter-style names")
        log("promtool check metrics: %d lines, %d remarks (netstat names only)"
            % (len(text.splitlines()), len(remarks)))
        for needle in ('tcpwatch_connections{state="ESTABLISHED"}',
                       "# TYPE tcpwatch_connections_closed_total counter",
                       "tcpwatch_handshake_seconds_bucket{le=\"+Inf\"}",
                       "# TYPE tcpwatch_daemon_events_lost_total counter",
                       "tcpwatch_daemon_uptime_seconds ",
                       'tcpwatch_listener_accept_queue{listener="127.0.0.1:%d"' % lport,
                       'tcpwatch_probe_up{target="127.0.0.1:%d"}' % lport,
                       "tcpwatch_netstat_TcpExt_ListenOverflows{netns="):
            check(needle in text, "the text format lacks %r" % needle)
        status, ctype, om = get(base, {"Accept": "application/openmetrics-text; version=1.0.0"})
        check(ctype.startswith("application/openmetrics-text; version=1.0.0"), "OM: %s" % ctype)
        check(om.endswith("# EOF\n"), "OpenMetrics ends with # EOF")
        check("# TYPE tcpwatch_connections_closed counter" in om and
              "tcpwatch_connections_closed_total{" in om and "# TYPE tcpwatch_netstat_Tcp_CurrEstab unknown" in om,
              "OpenMetrics families")

        tmp = tempfile.mkdtemp(prefix="tw-prom-")
        twtest.at_cleanup(lambda: shutil.rmtree(tmp, ignore_errors=True))
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: tcpwatch\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % api)
        p = twtest.spawn(["prometheus", "--config.file=%s/prometheus.yml" % tmp,
                          "--storage.tsdb.path=%s/data" % tmp,
                          "--web.listen-address=127.0.0.1:%d" % prom],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "prometheus.log"), "w"))
        twtest.at_cleanup(lambda: p.kill())

        def ready():
            try:
                return get("http://127.0.0.1:%d/-/ready" % prom)[0] == 200
            except OSError:
                return False
        twtest.wait_for(ready, timeout=30)
        twtest.wait_for(lambda: value(prom, 'up{job="tcpwatch"}') == 1, timeout=15)

        expr_reset = ('sum(tcpwatch_connections_closed_total{role="active",'
                      'end_reason="reset_sent"})')
        before = value(prom, expr_reset) or 0
        hs_before = value(prom, "tcpwatch_handshake_seconds_count") or 0
        # Five connections, each reset by its client (SO_LINGER 0).
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", lport))
            lst.accept()[0].close()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        # Three more the listener never accepts.
        held = [socket.create_connection(("127.0.0.1", lport)) for _ in range(3)]
        twtest.at_cleanup(lambda: [h.close() for h in held])
        twtest.wait_for(lambda: (value(prom, expr_reset) or 0) >= before + 5, timeout=15)
        check_eq(value(prom, expr_reset) - before, 5.0, "resets counted through Prometheus")
        check(value(prom, "tcpwatch_handshake_seconds_count") >= hs_before + 5,
              "handshakes in the histogram")
        expr_q = 'tcpwatch_listener_accept_queue{listener="127.0.0.1:%d"}' % lport
        twtest.wait_for(lambda: value(prom, expr_q) == 3, timeout=15)
        check_eq(value(prom, 'tcpwatch_listener_accept_queue_limit{listener="127.0.0.1:%d"}'
                       % lport), 16.0, "the backlog")
        target = "127.0.0.1:%d" % lport
        check_eq(value(prom, 'tcpwatch_probe_up{target="%s"}' % target), 1.0, "probe up")
        check(value(prom, 'tcpwatch_probe_rtt_seconds_count{target="%s"}' % target) > 0,
              "probe RTT histogram")
        p50 = value(prom, 'histogram_quantile(0.5, tcpwatch_probe_rtt_seconds_bucket{target="%s"})'
                    % target)
        check(p50 is not None and 0 < p50 < 0.01, "probe RTT p50 through PromQL: %r" % p50)
        check_eq(value(prom, "tcpwatch_daemon_events_lost_total"), 0.0, "events lost")
        log("through Prometheus: 5 resets, accept queue 3 of 16, probe up, RTT p50 %.1f us"
            % (p50 * 1e6))
        p.terminate()
        p.wait(timeout=10)


if __name__ == "__main__":
    twtest.run(main)
