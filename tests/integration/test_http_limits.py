#!/usr/bin/python3
"""Idle and hostile clients cost only memory. While 500 idle TCP
connections are held and a slowloris sends one header byte a second,
/healthz still answers; the slowloris is cut by the whole-request time
limit (request-timeout), not kept alive by its trickle. One client (a TCP
address, a Unix uid) gets max-clients-per-peer connections, the next is
answered 503 and counted, and others are still served. Event streams have
slots per door: TCP clients holding all of theirs leave the Unix socket's."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, log  # noqa: E402
from twtest import unit  # noqa: E402
from twtest.http import parse_http_response  # noqa: E402

REQUEST_TIMEOUT_S = 8
PER_PEER = 64
IDLE = 500
MEMBER = "tw-member"


def connect_from(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    twtest.at_cleanup(s.close)
    return s


def get(sock, path="/healthz", host="localhost", timeout=10):
    sock.settimeout(timeout)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                  % (path, host)).encode())
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    return parse_http_response(out)


def healthz(port):
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        r = get(s)
    check_eq(r.status, 200, "/healthz")
    return time.monotonic() - t0


def closed_by_peer(sock):
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def idle_and_slowloris(d, port):
    base = max(healthz(port) for _ in range(5))
    # 500 idle connections, 50 from each of ten loopback addresses.
    idle = [connect_from("127.0.0.%d" % (10 + i // 50), port) for i in range(IDLE)]
    twtest.wait_for(lambda: d.stats()["http_clients_tcp"] >= IDLE, timeout=10)
    slow = connect_from("127.0.0.99", port)
    slow.sendall(b"GET /api/v1/stats HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    t0 = time.monotonic()
    worst = 0.0
    cut_at = None
    while time.monotonic() - t0 < REQUEST_TIMEOUT_S + 6:
        try:
            slow.send(b"a")
        except OSError:
            cut_at = time.monotonic() - t0
            break
        if closed_by_peer(slow):
            cut_at = time.monotonic() - t0
            break
        worst = max(worst, healthz(port))
        time.sleep(1.0)
    log("/healthz with %d idle connections and a slowloris: worst %.1f ms "
        "(alone: %.1f ms); slowloris cut after %s s" % (
            IDLE, worst * 1e3, base * 1e3,
            "%.1f" % cut_at if cut_at is not None else "never"))
    check(worst < 1.0, "/healthz answers meanwhile: worst %.3f s" % worst)
    check(cut_at is not None and REQUEST_TIMEOUT_S - 1 <= cut_at <= REQUEST_TIMEOUT_S + 4,
          "the slowloris is cut by the request time limit (%d s): %r"
          % (REQUEST_TIMEOUT_S, cut_at))
    check(d.stats()["http_requests_cut_slow"] >= 1, "the cut counted")
    for s in idle:
        s.close()


def per_peer_tcp(d, port):
    mine = [connect_from("127.0.0.200", port) for _ in range(PER_PEER)]
    twtest.wait_for(lambda: d.stats()["http_clients_tcp"] >= PER_PEER, timeout=10)
    extra = connect_from("127.0.0.200", port)
    r = get(extra)
    check_eq(r.status, 503, "connection %d of one address" % (PER_PEER + 1))
    check("max-clients-per-peer" in r.json("503 body")["error"], "says why")
    check_eq(get(mine[0]).status, 200, "the address's admitted connections are served")
    healthz(port)  # another address is served meanwhile
    check_eq(d.stats()["http_clients_refused_peer"], 1, "the refusal counted")
    for s in mine:
        s.close()


HOLD_UNIX = r'''
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX); s.connect(path); held.append(s)
extra = socket.socket(socket.AF_UNIX); extra.connect(path)
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
out = b""
while True:
    c = extra.recv(4096)
    if not c:
        break
    out += c
print(out.split(b"\r\n", 1)[0].decode(), flush=True)
sys.stdin.read()
'''


def per_peer_unix(d):
    pw = unit.ensure_member(MEMBER)
    os.chmod(d.tmpdir, 0o711)  # the member reaches the socket (group tcpwatch)
    p = twtest.spawn(["setpriv", "--reuid", MEMBER, "--regid", str(pw.pw_gid),
                      "--init-groups", "--", "/usr/bin/python3", "-c", HOLD_UNIX,
                      d.sock, str(PER_PEER)])
    line = twtest.read_line(p, timeout=20)
    check("503" in line, "uid %d's connection %d: %r" % (pw.pw_uid, PER_PEER + 1, line))
    # root, another uid, is still served on the same socket.
    check_eq(d.http_get("/healthz")[0], 200, "another uid meanwhile")
    check_eq(d.stats()["http_clients_refused_peer"], 2, "counted")
    twtest.stop_proc(p)


def stream_slots(d, port):
    held = []
    for _ in range(2):
        s = connect_from("127.0.0.1", port)
        s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        s.settimeout(10)
        check(b" 200 " in s.recv(4096).split(b"\r\n", 1)[0], "a TCP event stream")
        held.append(s)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        check_eq(get(s, "/api/v1/events").status, 503, "TCP's streams are all taken")
    raw = twtest.unix_exchange(d.sock, b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n",
                               timeout=2.0)
    check(raw.startswith(b"HTTP/1.1 200"), "the Unix socket's slots are its own: %r"
          % raw[:100])
    for s in held:
        s.close()


def main():
    port = twtest.free_port()
    with twtest.Daemon(["--listen", "127.0.0.1:%d" % port,
                        "--request-timeout", str(REQUEST_TIMEOUT_S),
                        "--max-clients-per-peer", str(PER_PEER),
                        "--max-watchers", "2"]) as d:
        st = d.stats()
        check_eq(subprocess.run([d.daemon_path, "--help"], capture_output=True,
                                text=True).stdout.count("max-clients"), 2,
                 "max-clients and max-clients-per-peer in --help")
        check("http_clients_refused_full" in st, "the refusal counters are in stats")
        idle_and_slowloris(d, port)
        per_peer_tcp(d, port)
        per_peer_unix(d)
        stream_slots(d, port)
    # The default: at least 1,024 clients.
    r = subprocess.run([os.path.join(twtest.bin_dir(), "tcpwatchd"), "--help"],
                       capture_output=True, text=True)
    line = [x for x in r.stdout.splitlines() if "--max-clients " in x or
            "--max-clients=" in x]
    check(line and "1024" in line[0], "max-clients defaults to 1024: %r" % line)


if __name__ == "__main__":
    twtest.run(main)
