#!/usr/bin/python3
"""A tiny userspace TCP peer behind a TUN device, for IPv4 (stdlib only).

Run it inside a network namespace the test created::

    ip netns exec NS /usr/bin/python3 tunpeer.py --mode MODE

It creates the TUN device ``tw0`` (IFF_TUN | IFF_NO_PI) in the current
namespace, gives it 198.18.0.1/24 and brings it up, so that every packet the
namespace sends to 198.18.0.2 (the "remote host") arrives on the TUN file
descriptor.  It answers TCP segments to 198.18.0.2 on any port according to
MODE:

``blackhole``
    Never answers anything: SYNs are dropped, so connect() retransmits the
    SYN and eventually fails with ETIMEDOUT.
``echo``
    A normal peer: completes the handshake, echoes data back, and when the
    local side sends its FIN, ACKs it and then sends its own FIN (the local
    socket goes FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT).
``simultaneous-close``
    Completes the handshake and ACKs data (no echo).  When the local FIN
    arrives it does NOT acknowledge it; it first sends its own FIN whose ACK
    field does not cover the local FIN, and only after --fin-ack-delay
    seconds ACKs the local FIN.  The local socket therefore goes
    FIN_WAIT1 -> CLOSING -> TIME_WAIT.
``rst-after-data``
    Completes the handshake and answers the first data segment with a RST
    (the local side's recv() fails with ECONNRESET).
``bad-csum``
    Answers each SYN with a SYN-ACK whose TCP checksum is wrong: the local
    kernel drops it (TCP_CSUM) and connect() keeps retransmitting its SYN.
``bad-ipcsum``
    The same with the IP header's checksum wrong: the kernel drops the
    SYN-ACK (IP_CSUM) before any socket is looked up.

It prints ``ready`` on stdout (flushed) once the device is up, and exits 0 on
SIGTERM/SIGINT or after --timeout seconds.  Diagnostics go to stderr.

As a module: ``TunPeer(mode).run()`` does the same in the calling process
(which must already be inside the namespace).
"""

import argparse
import fcntl
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

MODES = ("blackhole", "echo", "simultaneous-close", "rst-after-data", "bad-csum",
         "bad-ipcsum")

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

DEFAULT_DEV = "tw0"
DEFAULT_LOCAL = "198.18.0.1/24"
DEFAULT_PEER = "198.18.0.2"


# --------------------------------------------------------------------------
# Packet building and parsing


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_aton(text):
    return bytes(int(x) for x in text.split("."))


def ip_ntoa(b):
    return ".".join(str(x) for x in b)


def flags_str(flags):
    return "".join(n for bit, n in ((SYN, "S"), (FIN, "F"), (RST, "R"),
                                    (PSH, "P"), (ACK, "."))
                   if flags & bit) or "-"


class Segment:
    """A parsed IPv4 TCP segment."""

    __slots__ = ("src", "dst", "sport", "dport", "seq", "ack", "flags",
                 "window", "payload")

    def __repr__(self):
        return ("%s:%d > %s:%d [%s] seq %d ack %d len %d"
                % (ip_ntoa(self.src), self.sport, ip_ntoa(self.dst),
                   self.dport, flags_str(self.flags), self.seq, self.ack,
                   len(self.payload)))


def parse(pkt):
    """Return a Segment for an IPv4 TCP packet, else None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    if pkt[9] != 6 or ihl < 20 or total > len(pkt) or total < ihl + 20:
        return None
    frag = struct.unpack("!H", pkt[6:8])[0]
    if frag & 0x3FFF:  # fragments: not for us
        return None
    tcp = pkt[ihl:total]
    doff = (tcp[12] >> 4) * 4
    if doff < 20 or doff > len(tcp):
        return None
    s = Segment()
    s.src, s.dst = bytes(pkt[12:16]), bytes(pkt[16:20])
    s.sport, s.dport, s.seq, s.ack = struct.unpack("!HHII", tcp[:12])
    s.flags = tcp[13]
    s.window = struct.unpack("!H", tcp[14:16])[0]
    s.payload = bytes(tcp[doff:])
    return s


_ip_id = random.randrange(65536)


def build(src, dst, sport, dport, seq, ack, flags, payload=b"",
          options=b"", window=65535):
    """An IPv4+TCP packet with correct checksums."""
    global _ip_id
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    doff = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, doff << 4, flags, window, 0, 0)
    tcp += options + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    csum = checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    _ip_id = (_ip_id + 1) & 0xFFFF
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), _ip_id,
                      0x4000, 64, 6, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + tcp


# --------------------------------------------------------------------------
# The peer


class Conn:
    def __init__(self, seg, isn):
        self.key = (seg.src, seg.sport, seg.dst, seg.dport)
        self.local_ip, self.local_port = seg.src, seg.sport  # the kernel side
        self.peer_ip, self.peer_port = seg.dst, seg.dport    # us
        self.isn = isn
        self.snd_nxt = isn + 1
        self.rcv_nxt = (seg.seq + 1) & 0xFFFFFFFF
        self.state = "SYN_RCVD"
        self.fin_received = False
        self.fin_acked = False     # we acknowledged the local FIN
        self.fin_sent = False      # we sent our FIN


class TunPeer:
    def __init__(self, mode, dev=DEFAULT_DEV, local=DEFAULT_LOCAL,
                 peer=DEFAULT_PEER, timeout=120.0, fin_ack_delay=0.1,
                 close_delay=0.05, setup=True, verbose=False, out=None):
        if mode not in MODES:
            raise ValueError("unknown mode %r (one of %s)"
                             % (mode, ", ".join(MODES)))
        self.mode = mode
        self.dev = dev
        self.local = local
        self.peer = ip_aton(peer)
        self.timeout = timeout
        self.fin_ack_delay = fin_ack_delay
        self.close_delay = close_delay
        self.setup = setup
        self.verbose = verbose
        self.out = out if out is not None else sys.stdout
        self.fd = None
        self.conns = {}
        self.timers = []  # (due monotonic, packet bytes, callback or None)
        self.stop = False

    def log(self, msg, always=False):
        if self.verbose or always:
            sys.stderr.write("tunpeer[%s]: %s\n" % (self.mode, msg))
            sys.stderr.flush()

    # -- device --

    def open(self):
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        ifr = struct.pack("16sH22x", self.dev.encode(), IFF_TUN | IFF_NO_PI)
        fcntl.ioctl(self.fd, TUNSETIFF, ifr)
        if self.setup:
            for args in (["ip", "addr", "add", self.local, "dev", self.dev],
                         ["ip", "link", "set", self.dev, "up"]):
                r = subprocess.run(args, capture_output=True, text=True,
                                   timeout=10)
                if r.returncode != 0:
                    raise RuntimeError("%s failed: %s"
                                       % (" ".join(args), r.stderr.strip()))

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # -- sending --

    def send(self, c, flags, payload=b"", seq=None, ack=None, options=b""):
        pkt = build(c.peer_ip, c.local_ip, c.peer_port, c.local_port,
                    c.snd_nxt if seq is None else seq,
                    c.rcv_nxt if ack is None else ack, flags, payload, options)
        if self.mode == "bad-csum" and flags & SYN:
            # The TCP checksum (bytes 16-17 of the TCP header), off by one.
            ihl = (pkt[0] & 0x0F) * 4
            csum = (struct.unpack("!H", pkt[ihl + 16:ihl + 18])[0] + 1) & 0xFFFF
            pkt = pkt[:ihl + 16] + struct.pack("!H", csum) + pkt[ihl + 18:]
        elif self.mode == "bad-ipcsum" and flags & SYN:
            # The IP header checksum (bytes 10-11), off by one.
            csum = (struct.unpack("!H", pkt[10:12])[0] + 1) & 0xFFFF
            pkt = pkt[:10] + struct.pack("!H", csum) + pkt[12:]
        self.log("send %r" % parse(pkt))
        os.write(self.fd, pkt)

    def later(self, delay, fn):
        self.timers.append((time.monotonic() + delay, fn))
        self.timers.sort(key=lambda t: t[0])

    # -- receiving --

    def handle(self, seg):
        if seg.dst != self.peer:
            return
        self.log("recv %r" % seg)
        if self.mode == "blackhole":
            return
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        c = self.conns.get(key)
        if seg.flags & RST:
            if c is not None:
                self.log("connection %d reset by the local side" % seg.sport)
                del self.conns[key]
            return
        if seg.flags & SYN:
            if seg.flags & ACK:
                return
            if c is not None and c.state == "SYN_RCVD":
                # Retransmitted SYN: resend the SYN-ACK.
                self.send(c, SYN | ACK, seq=c.isn,
                          options=struct.pack("!BBH", 2, 4, 1460))
                return
            c = Conn(seg, random.randrange(1 << 32))
            self.conns[key] = c
            self.send(c, SYN | ACK, seq=c.isn,
                      options=struct.pack("!BBH", 2, 4, 1460))
            return
        if c is None:
            return  # stray segment (e.g. after a reset): ignore
        if seg.flags & ACK:
            if c.state == "SYN_RCVD" and seg.ack == c.snd_nxt:
                c.state = "ESTABLISHED"
                self.log("connection from port %d established" % c.local_port)
            if c.fin_sent and seg.ack == c.snd_nxt:
                c.state = "FIN_ACKED_BY_LOCAL"
        if c.state == "SYN_RCVD":
            return
        plen = len(seg.payload)
        if plen:
            if seg.seq == c.rcv_nxt and not c.fin_received:
                c.rcv_nxt = (c.rcv_nxt + plen) & 0xFFFFFFFF
                if self.mode == "rst-after-data":
                    self.send(c, RST | ACK)
                    self.log("answered data from port %d with RST"
                             % c.local_port)
                    del self.conns[key]
                    return
                if self.mode == "echo":
                    self.send(c, PSH | ACK, seg.payload)
                    c.snd_nxt = (c.snd_nxt + plen) & 0xFFFFFFFF
                else:
                    self.send(c, ACK)
            else:
                self.send(c, ACK)  # out of order or retransmitted: dup ACK
        if seg.flags & FIN:
            fin_seq = (seg.seq + plen) & 0xFFFFFFFF
            if c.fin_received:
                # A retransmitted FIN: re-ACK it once we have acknowledged
                # it; before that (simultaneous close) keep quiet.
                if c.fin_acked:
                    self.send(c, ACK)
                return
            if fin_seq != c.rcv_nxt:
                self.send(c, ACK)
                return
            c.fin_received = True
            self.log("FIN from port %d" % c.local_port)
            if self.mode == "simultaneous-close":
                self.simultaneous_close(c)
            else:
                self.normal_close(c)

    def normal_close(self, c):
        c.rcv_nxt = (c.rcv_nxt + 1) & 0xFFFFFFFF
        c.fin_acked = True
        self.send(c, ACK)

        def our_fin():
            if c.fin_sent:
                return
            c.fin_sent = True
            self.send(c, FIN | ACK)
            c.snd_nxt = (c.snd_nxt + 1) & 0xFFFFFFFF
        self.later(self.close_delay, our_fin)

    def simultaneous_close(self, c):
        # Our FIN, acknowledging everything but the local FIN.
        c.fin_sent = True
        self.send(c, FIN | ACK)
        c.snd_nxt = (c.snd_nxt + 1) & 0xFFFFFFFF

        def ack_their_fin():
            c.rcv_nxt = (c.rcv_nxt + 1) & 0xFFFFFFFF
            c.fin_acked = True
            self.send(c, ACK)
        self.later(self.fin_ack_delay, ack_their_fin)

    # -- main loop --

    def run(self, on_ready=None):
        if self.fd is None:
            self.open()
        deadline = time.monotonic() + self.timeout
        if on_ready is not None:
            on_ready()
        else:
            self.out.write("ready\n")
            self.out.flush()
        self.log("up: %s on %s answering for %s"
                 % (self.local, self.dev, ip_ntoa(self.peer)), always=True)
        try:
            while not self.stop:
                now = time.monotonic()
                if now >= deadline:
                    self.log("timeout, exiting", always=True)
                    break
                while self.timers and self.timers[0][0] <= now:
                    _, fn = self.timers.pop(0)
                    fn()
                wait = deadline - now
                if self.timers:
                    wait = min(wait, max(0.0, self.timers[0][0] - now))
                try:
                    r, _, _ = select.select([self.fd], [], [], min(wait, 0.5))
                except InterruptedError:
                    continue
                if r:
                    pkt = os.read(self.fd, 65536)
                    seg = parse(pkt)
                    if seg is not None:
                        self.handle(seg)
        finally:
            self.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", required=True, choices=MODES)
    ap.add_argument("--dev", default=DEFAULT_DEV)
    ap.add_argument("--local", default=DEFAULT_LOCAL,
                    help="address/prefix given to the device "
                    "(default %(default)s)")
    ap.add_argument("--peer", default=DEFAULT_PEER,
                    help="the address answered for (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="exit after this many seconds (default %(default)s)")
    ap.add_argument("--fin-ack-delay", type=float, default=0.1,
                    help="simultaneous-close: seconds before the local FIN "
                    "is acknowledged (default %(default)s)")
    ap.add_argument("--no-setup", action="store_true",
                    help="do not assign the address or bring the device up")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)

    peer = TunPeer(a.mode, dev=a.dev, local=a.local, peer=a.peer,
                   timeout=a.timeout, fin_ack_delay=a.fin_ack_delay,
                   setup=not a.no_setup, verbose=a.verbose)

    def on_signal(_signum, _frame):
        peer.stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    peer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
