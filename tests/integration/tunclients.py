#!/usr/bin/python3
"""Remote TCP clients behind a TUN device, for the listener tests (stdlib
only).

Run inside a network namespace the test created::

    ip netns exec NS /usr/bin/python3 tunclients.py --port P --count N --ack MODE

It creates the TUN device ``tw1`` with 198.18.0.1/24 (the namespace's
address, where the listener under test binds) and plays N clients at
198.18.0.2, each from its own port: it sends their SYNs to 198.18.0.1:P and
answers the listener's SYN-ACKs according to MODE:

``never``
    No ACK and no RST: every request stays half-open until the kernel gives
    up on it (the SYN-ACK retransmission schedule, tcp_synack_retries).
``hold``
    ACKs nothing until every client has its first SYN-ACK (or --hold
    seconds passed: a full SYN queue drops some SYNs), then ACKs them all at
    once, and every later SYN-ACK at once: the accept queue fills and the
    final ACKs beyond it overflow (TCP_LISTEN_OVERFLOW).
``now``
    ACKs each SYN-ACK at once: ordinary clients.

Every SYN-ACK (first or retransmit) is printed as a JSON line
``{"synack": PORT, "t": MONOTONIC_SECONDS, "n": K}`` (K: the how-many-th
for that client); "ready" is printed once the SYNs are sent. It exits on
SIGTERM, on EOF of stdin, or after --timeout seconds. time.monotonic() is
CLOCK_MONOTONIC, the clock of the kernel's and the daemon's times.
"""

import argparse
import fcntl
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tunpeer  # noqa: E402

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--ack", choices=("never", "hold", "now"), default="now")
    ap.add_argument("--dev", default="tw1")
    ap.add_argument("--local", default="198.18.0.1/24")
    ap.add_argument("--peer", default="198.18.0.2")
    ap.add_argument("--first-port", type=int, default=40000)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--hold", type=float, default=1.0,
                    help="hold: release the ACKs after this many seconds at most")
    a = ap.parse_args(argv)

    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", a.dev.encode(),
                                           IFF_TUN | IFF_NO_PI))
    for args in (["ip", "addr", "add", a.local, "dev", a.dev],
                 ["ip", "link", "set", a.dev, "up"]):
        subprocess.run(args, check=True, capture_output=True, timeout=10)
    server = tunpeer.ip_aton(a.local.split("/")[0])
    peer = tunpeer.ip_aton(a.peer)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    clients = {}
    for i in range(a.count):
        sport = a.first_port + i
        isn = random.randrange(1 << 32)
        clients[sport] = {"isn": isn, "synacks": 0, "server_isn": None}
        # MSS, SACK-permitted, window scale: an ordinary SYN.
        opts = struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02" + b"\x01\x03\x03\x07"
        os.write(fd, tunpeer.build(peer, server, sport, a.port, isn, 0, tunpeer.SYN,
                                   options=opts, window=64240))
    print("ready", flush=True)

    def ack(sport):
        c = clients[sport]
        os.write(fd, tunpeer.build(peer, server, sport, a.port, c["isn"] + 1,
                                   c["server_isn"] + 1, tunpeer.ACK, window=64240))

    released = a.ack == "now"
    start = time.monotonic()
    deadline = start + a.timeout
    while not stop and time.monotonic() < deadline:
        r, _, _ = select.select([fd, sys.stdin], [], [], 0.05)
        if sys.stdin in r and not os.read(sys.stdin.fileno(), 4096):
            break
        if (a.ack == "hold" and not released and time.monotonic() - start >= a.hold):
            released = True
            for p, c in clients.items():
                if c["server_isn"] is not None:
                    ack(p)
        if fd not in r:
            continue
        seg = tunpeer.parse(os.read(fd, 65536))
        t = time.monotonic()
        if seg is None or seg.dst != peer or seg.dport not in clients:
            continue
        c = clients[seg.dport]
        if seg.flags & tunpeer.SYN and seg.flags & tunpeer.ACK:
            c["synacks"] += 1
            c["server_isn"] = seg.seq
            print(json.dumps({"synack": seg.dport, "t": t, "n": c["synacks"]}), flush=True)
            if a.ack == "never":
                continue
            if not released and all(x["synacks"] for x in clients.values()):
                released = True
                for p, x in clients.items():
                    if x["server_isn"] is not None:
                        ack(p)
            elif released:
                ack(seg.dport)
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
