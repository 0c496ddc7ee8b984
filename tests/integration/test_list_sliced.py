#!/usr/bin/python3
"""A listing whose filter names no port (state=, local_addr=, pid=, none at
all) walks the whole table; on a table of 16,384 connections or more that
walk runs in slices while the request waits (http_scans_sliced counts
them). With 20,000 held loopback sockets and the test's own 40
connections, while reconcile passes run and other clients ask for single
connections, each such answer is exact: local_addr= returns exactly the
test's client sides, in cookie order; state=established with it the same;
limit= and after= page through them; sort=local returns them by port;
the first listing by port waits for the port index's build in slices
(http_index_waits) and is exact, the next one does not wait, and its
one row is sent with its length (a scan's listing streams in chunks);
format=text has one row each; the unfiltered listing has every socket
`ss -tanH` shows for tw-hold's addresses, each once, cookies ascending.
The summary (of local_addr= exactly the test's 40, of all at least what ss
shows), the metrics' established count and the findings pass over the
table in slices too (http_walks_sliced); a burst of summaries without
parameters shares passes (http_passes_shared), every answer whole."""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log  # noqa: E402

HELD_SOCKETS = 20000
OWN = 40
SRC = "127.0.78.1"
DST = "127.0.78.2"


def get_list(d, query):
    status, body = d.http_get("/api/v1/connections" + ("?" + query if query else ""),
                              timeout=60)
    check_eq(status, 200, "GET /api/v1/connections?%s" % query)
    check(isinstance(body, list), "a list for %s" % query)
    return body


BURST = 12


def burst_summaries(d, established_min):
    """BURST requests for /api/v1/summary sent at once (the connections
    opened first, the requests' last bytes written back to back), up to
    three bursts until one shares a pass: every answer 200, every count at
    least established_min, and requests = passes + answered by another's."""
    req = b"GET /api/v1/summary HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r"
    for attempt in range(3):
        st0 = d.stats()
        socks = []
        for _ in range(BURST):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(60)
            s.connect(d.sock)
            s.sendall(req)
            socks.append(s)
        for s in socks:
            s.sendall(b"\n")
        answers = []
        for s in socks:
            answers.append(twtest.parse_http_response(twtest.recv_until_close(s, 60)))
            s.close()
        st = d.stats()
        for r in answers:
            check_eq(r.status, 200, "a summary of the burst")
            body = r.json("a summary of the burst")
            check(body["inet"]["states"].get("ESTABLISHED", 0) >= established_min,
                  "a summary of the burst counts every established socket: %r" % body["inet"])
        walked = st["http_walks_sliced"] - st0["http_walks_sliced"]
        shared = st["http_passes_shared"] - st0["http_passes_shared"]
        log("burst %d: %d summaries, %d passes, %d answered by another's"
            % (attempt + 1, BURST, walked, shared))
        check_eq(walked + shared, BURST, "each summary of the burst passed or was answered "
                 "by another's pass")
        if shared:
            return
    fail("no summary of three bursts of %d was answered by another's pass" % BURST)


def main():
    with twtest.Daemon(["--reconcile-interval", "1"]) as d:
        twtest.hold_sockets(HELD_SOCKETS)
        lport, ports = twtest.loopback_pairs(SRC, DST, OWN)
        ports.sort()
        deadline = time.time() + 60
        while d.stats()["connections_live"] < HELD_SOCKETS + 2 * OWN:
            if time.time() > deadline:
                fail("the table did not reach %d live connections" % (HELD_SOCKETS + 2 * OWN))
            time.sleep(0.5)
        # The table has the test's own client sides (the port index answers
        # this one, not a scan): the live count alone may include another
        # test's leftovers.
        while True:
            known = sorted(c["local_port"] for c in get_list(
                d, "remote_addr=%s&remote_port=%d&local_addr=%s" % (DST, lport, SRC)))
            if known == ports or time.time() > deadline:
                break
            time.sleep(0.2)
        check_eq(known, ports, "the test's client sides, by remote_port")
        st = d.stats()
        # The first query by port on this table waited for the index's
        # build in slices; the later ones found it built.
        check_eq(st["port_index"], 1, "the port index is built")
        check(st["http_index_waits"] >= 1, "a listing by port waited for the index's build: %d"
              % st["http_index_waits"])
        waits0, sliced0 = st["http_index_waits"], st["http_scans_sliced"]
        again = sorted(c["local_port"] for c in get_list(
            d, "local_addr=%s&local_port=%d" % (SRC, ports[0])))
        check_eq(again, [ports[0]], "local_port= from the built index")
        check_eq(d.stats()["http_index_waits"], waits0, "no wait once built")
        # A few rows (the index's answer) go out whole with their length;
        # a long listing streams in chunks.
        r = d.http_request("/api/v1/connections?local_addr=%s&local_port=%d" % (SRC, ports[0]))
        check_eq(r.status, 200, "a listing by port")
        check("content-length" in r.headers and "transfer-encoding" not in r.headers,
              "a listing of one row is sent with its length: %r" % r.headers)
        check_eq([c["local_port"] for c in r.json("a listing of one row")], [ports[0]],
                 "the listing of one row")
        r = d.http_request("/api/v1/connections?local_addr=%s" % SRC, timeout=60)
        check_eq(r.status, 200, "a listing by address (a scan)")
        check_eq(r.headers.get("transfer-encoding", "").lower(), "chunked",
                 "a scan's listing is streamed")
        check_eq(len(r.json("a scan's listing")), OWN, "the scan's listing: the test's own")

        # Single connections asked for meanwhile: answered while scans run.
        stop = threading.Event()
        errors = []

        def side_client():
            while not stop.is_set():
                status, body = d.http_get("/api/v1/stats", timeout=30)
                if status != 200 or "connections_live" not in body:
                    errors.append("stats: %d" % status)

        side = threading.Thread(target=side_client)
        side.start()
        try:
            rows = get_list(d, "local_addr=%s" % SRC)
            cookies = [c["cookie"] for c in rows]
            check_eq(sorted(c["local_port"] for c in rows), ports,
                     "local_addr=%s: the test's client sides" % SRC)
            check(all(c["remote_addr"] == DST for c in rows), "all to %s" % DST)
            check_eq(cookies, sorted(set(cookies)), "cookie order, no duplicate")

            est = get_list(d, "state=established&local_addr=%s" % SRC)
            check_eq([c["cookie"] for c in est], cookies, "state=established&local_addr=")

            # Pages: limit= then after= the last cookie of each page.
            paged, after = [], 0
            while True:
                page = get_list(d, "local_addr=%s&limit=7%s"
                                % (SRC, "&after=%d" % after if after else ""))
                if not page:
                    break
                check(len(page) <= 7, "a page of at most 7")
                paged += [c["cookie"] for c in page]
                after = page[-1]["cookie"]
            check_eq(paged, cookies, "pages with limit=7 and after=")

            by_port = get_list(d, "local_addr=%s&sort=local" % SRC)
            check_eq([c["local_port"] for c in by_port], ports, "sort=local")

            r = d.http_request("/api/v1/connections?local_addr=%s&format=text&header=0"
                               % SRC, timeout=60)
            check_eq(r.status, 200, "format=text")
            text = r.body.decode() if isinstance(r.body, bytes) else r.body
            lines = [ln for ln in text.splitlines() if ln.strip()]
            check_eq(len(lines), OWN, "format=text rows:\n%s" % text[:2000])

            # Everything: checked against ss for tw-hold's addresses.
            everything = get_list(d, "")
            all_cookies = [c["cookie"] for c in everything]
            check_eq(all_cookies, sorted(set(all_cookies)), "the whole listing: cookie order")
            ss = subprocess.run(["ss", "-tanH", "state", "established"], capture_output=True,
                                text=True, check=True).stdout
            want = set()
            for ln in ss.splitlines():
                f = ln.split()
                if len(f) >= 4 and f[2].startswith("127.0.0.") and f[3].startswith("127.0.0."):
                    la, lp = f[2].rsplit(":", 1)
                    ra, rp = f[3].rsplit(":", 1)
                    want.add((la, int(lp), ra, int(rp)))
            got = set((c["local_addr"], c["local_port"], c["remote_addr"], c["remote_port"])
                      for c in everything if c.get("state") == "ESTABLISHED")
            missing = want - got
            check(len(want) >= HELD_SOCKETS, "ss shows tw-hold's %d sockets: %d"
                  % (HELD_SOCKETS, len(want)))
            check(not missing, "%d of ss's %d established sockets missing from the listing, "
                  "e.g. %r" % (len(missing), len(want), sorted(missing)[:5]))

            # The summary, the metrics and the findings pass over the
            # whole table too: in slices (http_walks_sliced), and exact.
            walks0 = d.stats()["http_walks_sliced"]
            status, summ = d.http_get("/api/v1/summary?local_addr=%s" % SRC, timeout=60)
            check_eq(status, 200, "GET /api/v1/summary?local_addr=")
            check_eq(summ["inet"]["states"], {"ESTABLISHED": OWN},
                     "the summary of local_addr=%s: the test's client sides" % SRC)
            check_eq((summ["total"], summ["open"], summ["closed"]), (OWN, OWN, 0),
                     "the summary's totals for local_addr=%s" % SRC)
            status, summ = d.http_get("/api/v1/summary", timeout=60)
            check_eq(status, 200, "GET /api/v1/summary")
            check(summ["inet"]["states"].get("ESTABLISHED", 0) >= len(want) + 2 * OWN,
                  "the whole summary counts every established socket ss shows and the "
                  "test's: %r" % summ["inet"])
            r = d.http_request("/metrics", timeout=60)
            check_eq(r.status, 200, "GET /metrics")
            text = r.body.decode() if isinstance(r.body, bytes) else r.body
            est = [ln for ln in text.splitlines()
                   if ln.startswith('tcpwatch_connections{state="ESTABLISHED"}')]
            check_eq(len(est), 1, "the metrics' established connections")
            check(float(est[0].split()[-1]) >= len(want) + 2 * OWN,
                  "the metrics count every established socket: %s" % est[0])
            status, fnd = d.http_get("/api/v1/findings", timeout=60)
            check_eq(status, 200, "GET /api/v1/findings")
            check(isinstance(fnd, dict) and isinstance(fnd.get("findings"), list),
                  "findings: %r" % (fnd if not isinstance(fnd, dict) else list(fnd)))
            walks = d.stats()["http_walks_sliced"] - walks0
            check_eq(walks, 4, "the summaries, the metrics and the findings passed in slices")

            # Many asking at once for the summary without parameters: one
            # pass answers all who asked before it began (a pass is under
            # way and one gathers), each answer whole and exact.
            burst_summaries(d, len(want) + 2 * OWN)
        finally:
            stop.set()
            side.join(60)
        st = d.stats()
        check(not errors, "side client: %s" % errors[:5])
        sliced = st["http_scans_sliced"] - sliced0
        log("%d listings scanned in slices; loop max %.2f ms, over 5 ms %d of %d turns"
            % (sliced, st["loop_max_ms"], st["loop_over_5ms"], st["loop_iterations"]))
        # local_addr, state, the pages, sort, text, everything.
        check(sliced >= 6, "listings without a port scanned in slices: %d" % sliced)


if __name__ == "__main__":
    twtest.run(main)
