#!/usr/bin/python3
"""Every limit of on-demand probing refuses with a 4xx JSON error that
names it, counted in /api/v1/stats: the allow-list (403; no packet is
sent), the TCP API without a configured token and with a wrong one (403;
the right one works; GET stays open), the global probe rate (429), the
per-target minimum interval and one job per target (429), the concurrent
job limit (429, free again once a job is cancelled with DELETE), and bad
bodies (400, 413 over 4 KiB, 404 for an unknown namespace)."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probeapi  # noqa: E402
import twtest  # noqa: E402
from twtest import check, check_eq  # noqa: E402


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused(d, body, status, words, tcp=None, headers=()):
    st, j, raw = probeapi.request(d, "POST", "/api/v1/probes", body, tcp=tcp, headers=headers)
    check_eq(st, status, "POST %r: status (%s)" % (body, raw[:300]))
    check(isinstance(j, dict) and j.get("status") == status and
          all(w in j.get("error", "") for w in words),
          "POST %r: the error should name %r: %s" % (body, words, raw[:300]))


def main():
    port = free_tcp_port()
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    twtest.at_cleanup(lst.close)
    target = "127.0.0.1:%d" % lst.getsockname()[1]
    with twtest.Daemon(["--listen", "127.0.0.1:%d" % port, "--probe-rate", "30",
                        "--probe-max-jobs", "2", "--probe-min-interval", "0.02",
                        "--probe-token", "s3cret-token"]) as d:
        tcp = ("127.0.0.1", port)
        # The allow-list: nothing leaves for a target outside it.
        refused(d, {"target": "198.18.5.5:80"}, 403, ["allow-list", "198.18.5.5:80"])
        refused(d, {"target": "[fd00::5]:80"}, 403, ["allow-list"])
        check_eq(d.stats()["probe_sent"], 0, "probes sent to refused targets")
        # Over TCP: the token.
        refused(d, {"target": target}, 403, ["token"], tcp=tcp)
        refused(d, {"target": target}, 403, ["token"], tcp=tcp,
                headers=["Authorization: Bearer wrong"])
        st, j, raw = probeapi.request(d, "POST", "/api/v1/probes", {"target": target},
                                      tcp=tcp, headers=["Authorization: Bearer s3cret-token"])
        check_eq(st, 201, "POST over TCP with the token (%s)" % raw[:300])
        probeapi.wait_job(d, j["id"])
        st, j, raw = probeapi.request(d, "GET", "/api/v1/probes", tcp=tcp)
        check_eq(st, 200, "GET over TCP needs no token")
        # The rate: 50/s asked, 30/s allowed.
        refused(d, {"target": target, "count": 100, "interval": 0.02}, 429,
                ["probe-rate"])
        # The per-target interval.
        refused(d, {"target": "127.0.0.2:%d" % lst.getsockname()[1], "count": 5,
                    "interval": 0.01}, 429, ["probe-min-interval"])
        # Concurrent jobs, and one job per target.
        a = probeapi.submit(d, target=target, count=100, interval=1)
        refused(d, {"target": target, "count": 2, "interval": 1}, 429,
                ["being probed already"])
        b = probeapi.submit(d, target="127.0.0.3:9", count=100, interval=1)
        refused(d, {"target": "127.0.0.4:9", "count": 2, "interval": 1}, 429,
                ["probe-max-jobs"])
        st, j, raw = probeapi.request(d, "DELETE", "/api/v1/probes/%d" % a)
        check_eq(st, 200, "DELETE a job (%s)" % raw[:200])
        check(j["done"], "a cancelled job is done")
        st, j, raw = probeapi.request(d, "DELETE", "/api/v1/probes/%d" % a, tcp=tcp)
        check_eq(st, 403, "DELETE over TCP without the token")
        c = probeapi.submit(d, target="127.0.0.4:9", count=1)
        probeapi.request(d, "DELETE", "/api/v1/probes/%d" % b)
        probeapi.wait_job(d, c)
        # Bad requests.
        refused(d, "not json", 400, ["JSON object"])
        refused(d, {"target": target, "colour": "red"}, 400, ["unknown field"])
        refused(d, {"target": "example.com:80"}, 400, ["ADDR:PORT"])
        refused(d, {"target": "::1:80"}, 400, ["ADDR:PORT"])
        refused(d, {"target": target, "count": 0}, 400, ["count"])
        refused(d, {"target": target, "count": 1.5}, 400, ["count"])
        refused(d, {"target": target, "count": 10 ** 9}, 400, ["count"])
        refused(d, {"target": target, "timeout": 0}, 400, ["timeout"])
        refused(d, {"target": target, "interval": "1"}, 400, ["interval"])
        refused(d, {"target": target, "mode": "ping"}, 400, ["mode"])
        refused(d, {"target": target, "netns": "/nonexistent/ns"}, 404, ["namespace"])
        refused(d, {"target": target, "netns": 12345}, 404, ["namespace"])
        refused(d, {"target": target, "mode": "half-open", "count": 2}, 400, ["count must be 1"])
        refused(d, "{" + " " * 5000 + "}", 413, ["4096"])
        st, j, raw = probeapi.request(d, "GET", "/api/v1/probes/99999")
        check_eq(st, 404, "an unknown probe id")
        st, j, raw = probeapi.request(d, "GET", "/api/v1/probes/abc")
        check_eq(st, 400, "a probe id that is no number")
        st, j, raw = probeapi.request(d, "GET", "/api/v1/probes/%d?before=3" % c)
        check_eq(st, 400, "an unknown parameter")
        st, j, raw = probeapi.request(d, "PUT", "/api/v1/probes")
        check_eq(st, 405, "PUT /api/v1/probes")
        # Counted.
        s = d.stats()
        check(s["probe_refused_allow"] >= 2 and s["probe_refused_limit"] >= 4 and
              s["probe_refused_invalid"] >= 1 and s["probe_refused_netns"] >= 2 and
              s["http_probe_token_refused"] >= 1 and s["http_bodies_too_big"] >= 1,
              "refusals counted: %r" % {k: v for k, v in s.items() if "refused" in k or
                                         "too_big" in k})
        d.assert_alive("after every refusal")


if __name__ == "__main__":
    twtest.run(main)
