#!/usr/bin/python3
"""The table survives a restart (--state-dir). Under loopback churn, the
daemon is stopped (SIGTERM) with known connections closed (retained) and
live; some live ones are reset while it is down; started again on the same
state directory, it lists every closed one it had retained, with its end
reason and history, every still-live one with its history from before the
restart (first seen before it) and history_gap marked, and the ones reset
meanwhile as ended "vanished". Then kill -9: what the last checkpoint
(--checkpoint-interval 1) held is back. Last, a corrupt, a truncated and a
future-version state file: the daemon starts, says so, sets the file aside
(state.bad-TIMESTAMP) and counts it."""

import glob
import os
import shutil
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twtest  # noqa: E402
from twtest import check, check_eq, fail, log, pretty  # noqa: E402

HOST = "127.0.0.1"
N_CLOSED = 12
N_LIVE = 10
N_RESET_WHILE_DOWN = 4
ARGS = ["--checkpoint-interval", "1", "--retain-count", "500000"]

# A few hundred connections a second on loopback, until stdin closes.
CHURN = r'''
import select, socket, sys, time
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(256)
port = ls.getsockname()[1]
print(port, flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    t0 = time.monotonic()
    for _ in range(30):
        c = socket.socket(); c.connect(("127.0.0.1", port))
        a, _ = ls.accept(); c.close(); a.close()
    time.sleep(max(0, 0.1 - (time.monotonic() - t0)))
'''


def pair(ls):
    c = socket.create_connection((HOST, ls.getsockname()[1]), timeout=10)
    a, _ = ls.accept()
    c.sendall(b"ping")
    check_eq(a.recv(4), b"ping", "data across a pair")
    return c, a


def reset(s):
    """Close with a RST: the socket is gone at once, no TIME_WAIT."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def ours(d, port):
    """Connections on the test listener's port, by (local, remote port)."""
    out = {}
    for c in twtest.list_conns(d, "-a", *twtest.ss_port_filter(port)):
        if c.get("state") != "LISTEN" and c.get("local_addr") == HOST:
            out[(c["local_port"], c["remote_port"])] = c
    return out


def sides(keys):
    """Both ends of each pair (client port, listener port)."""
    return [k for cport, port in keys for k in ((cport, port), (port, cport))]


def wait_listed(d, port, live, closed):
    """Until every live key is listed open and every closed one ended."""
    last = {}

    def ready():
        last["m"] = m = ours(d, port)
        return (all(k in m and not m[k]["closed"] for k in live)
                and all(k in m and m[k]["closed"] and m[k].get("end_reason")
                        for k in closed))

    twtest.wait_for(ready, timeout=20)
    if not ready():
        fail("not all known connections listed:\n  live missing: %s\n"
             "  closed missing: %s" % (
                 [k for k in live if k not in last["m"] or last["m"][k]["closed"]],
                 [k for k in closed if k not in last["m"] or not last["m"][k]["closed"]]))
    return last["m"]


def histories(d, conns):
    return {k: twtest.show(d, c["cookie"]) for k, c in conns.items()}


def entries(conn):
    return [(h.get("kind"), h.get("from"), h.get("to"), h.get("derived"),
             h.get("time_ns")) for h in conn["history"]]


def same_time(a, b):
    """Times are wall-clock in the JSON, through an offset each reply
    samples anew: the same instant may differ by a few ns."""
    return abs(a - b) < 1000000


def check_history(now, before, what, prefix=False):
    a, b = entries(now), entries(before)
    if prefix:
        a = a[:len(b)]
    if len(a) != len(b) or any(x[:4] != y[:4] or not same_time(x[4], y[4])
                               for x, y in zip(a, b)):
        fail("%s history:\n  before: %s\n  now:    %s" % (what, b, entries(now)))


def check_gap(conn, want, what):
    if "history_gap" not in conn:
        fail("%s: no history_gap field: %s" % (what, pretty(conn)[:3000]))
    check_eq(conn["history_gap"], want, "%s history_gap" % what)


def first_run(state_dir, ls, port):
    """Known connections under churn, then SIGTERM. Returns what it saw."""
    live, closed = [], []
    with twtest.Daemon(ARGS, state_dir=state_dir) as d:
        churn = twtest.spawn_python(CHURN)
        log("churn on port %s" % twtest.read_line(churn).strip())
        for _ in range(N_CLOSED):
            c, a = pair(ls)
            closed.append((c.getsockname()[1], port))
            reset(c)  # both ends gone: no TIME_WAIT left to reconcile
            a.close()
        held = []
        for _ in range(N_LIVE):
            c, a = pair(ls)
            held.append((c, a))
            live.append((c.getsockname()[1], port))
        m = wait_listed(d, port, sides(live), sides(closed))
        before = histories(d, {k: m[k] for k in sides(live) + sides(closed)})
        for k in sides(closed):
            check(before[k].get("end_reason") is not None,
                  "%s ended before the restart: %s" % (k, pretty(before[k])))
        time.sleep(1.5)  # churn across a checkpoint or two
        saved = d.stats().get("state_saved", 0)
        check(saved >= 1, "checkpoints while running: state_saved %s" % saved)
    # The daemon is down: reset some live pairs; their sockets are gone
    # when it comes back.
    gone = live[:N_RESET_WHILE_DOWN]
    for (c, a), k in zip(held[:N_RESET_WHILE_DOWN], gone):
        reset(c)
        a.close()
    time.sleep(0.5)
    return {"live": live[N_RESET_WHILE_DOWN:], "gone": gone, "closed": closed,
            "held": held[N_RESET_WHILE_DOWN:], "before": before,
            "churn": churn}


def check_restored(d, port, run, t_restart_ns):
    m = wait_listed(d, port, sides(run["live"]), sides(run["closed"] + run["gone"]))
    now = histories(d, {k: m[k] for k in sides(run["live"] + run["gone"] + run["closed"])})
    before = run["before"]
    for k in sides(run["closed"]):
        what = "closed before the restart %s" % (k,)
        c, b = now[k], before[k]
        check_eq(c["cookie"], b["cookie"], what + " cookie")
        check_eq(c["closed"], True, what + " closed")
        check_eq(c["end_reason"], b["end_reason"], what + " end_reason")
        check_history(c, b, what)
        check_gap(c, False, what)
    for k in sides(run["live"]):
        what = "live across the restart %s" % (k,)
        c, b = now[k], before[k]
        check_eq(c["cookie"], b["cookie"], what + " cookie")
        check_eq(c["closed"], False, what + " closed")
        check_eq(c["state"], "ESTABLISHED", what + " state")
        check(same_time(c["first_seen_ns"], b["first_seen_ns"]),
              "%s first_seen_ns: %d before, %d after" % (what, b["first_seen_ns"],
                                                         c["first_seen_ns"]))
        check(c["first_seen_ns"] < t_restart_ns, "%s first seen before the restart" % what)
        check_history(c, b, what, prefix=True)
        check_gap(c, True, what)
    for k in sides(run["gone"]):
        what = "reset while the daemon was down %s" % (k,)
        c, b = now[k], before[k]
        check_eq(c["cookie"], b["cookie"], what + " cookie")
        check_eq(c["closed"], True, what + " closed")
        lu_end = c.get("end_reason")
        check(lu_end == "vanished", "%s end_reason: expected 'vanished', actual %r:\n%s"
              % (what, lu_end, pretty(c)[:4000]))
        check_history(c, b, what, prefix=True)
        check_gap(c, True, what)
    st = d.stats()
    check(st["state_loaded"] >= 2 * (N_CLOSED + N_LIVE),
          "state_loaded %s: at least our %d sockets" % (st["state_loaded"],
                                                       2 * (N_CLOSED + N_LIVE)))
    check_eq(st["state_load_errors"], 0, "state_load_errors")
    log("restored: %d closed, %d live, %d vanished (of %d connections loaded)"
        % (len(run["closed"]), len(run["live"]), len(run["gone"]), st["state_loaded"]))


def restart_after_sigterm(state_dir, ls, port):
    run = first_run(state_dir, ls, port)
    t_restart_ns = time.time_ns()
    try:
        with twtest.Daemon(ARGS, state_dir=state_dir) as d:
            check_restored(d, port, run, t_restart_ns)
    finally:
        twtest.stop_proc(run["churn"])
    return run


def restart_after_kill(state_dir, ls, port, run):
    """kill -9: what the last checkpoint held comes back."""
    closed, held, live = [], [], []
    with twtest.Daemon(ARGS, state_dir=state_dir) as d:
        for _ in range(4):
            c, a = pair(ls)
            closed.append((c.getsockname()[1], port))
            reset(c)
            a.close()
        for _ in range(4):
            c, a = pair(ls)
            held.append((c, a))
            live.append((c.getsockname()[1], port))
        m = wait_listed(d, port, sides(live + run["live"]), sides(closed))
        before = {k: m[k] for k in sides(live + closed)}
        saved = d.stats()["state_saved"]
        twtest.wait_for(lambda: d.stats()["state_saved"] >= saved + 2, timeout=10)
        check(d.stats()["state_saved"] >= saved + 2, "two checkpoints after the connections")
        d.kill()
    with twtest.Daemon(ARGS, state_dir=state_dir) as d:
        m = wait_listed(d, port, sides(live + run["live"]), sides(closed))
        for k, b in before.items():
            check_eq(m[k]["cookie"], b["cookie"], "after kill -9, %s cookie" % (k,))
            check_eq(m[k]["closed"], b["closed"], "after kill -9, %s closed" % (k,))
            check_eq(m[k].get("end_reason"), b.get("end_reason"),
                     "after kill -9, %s end_reason" % (k,))
    log("after kill -9: %d closed and %d live connections of the last checkpoint back"
        % (len(closed), len(live)))
    for c, a in held:
        c.close()
        a.close()


def bad_files(good):
    """A corrupt, a truncated and a future-version state file."""
    with open(good, "rb") as f:
        data = f.read()
    check(len(data) > 200, "the state file has records (%d bytes)" % len(data))
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0x40
    future = bytearray(data)
    future[8:12] = struct.pack("<I", 99)
    return (("corrupt", bytes(corrupt), "CRC"), ("truncated", data[:len(data) - 7], "truncated"),
            ("future-version", bytes(future), "newer"))


def bad_file_set_aside(good):
    for name, content, says in bad_files(good):
        state_dir = tempfile.mkdtemp(prefix="tw-state-%s-" % name)
        twtest.at_cleanup(lambda p=state_dir: shutil.rmtree(p, ignore_errors=True))
        with open(os.path.join(state_dir, "state"), "wb") as f:
            f.write(content)
        with twtest.Daemon(ARGS, state_dir=state_dir) as d:
            st = d.stats()
            check_eq(st["state_load_errors"], 1, "%s file: state_load_errors" % name)
            check_eq(st["state_set_aside"], 1, "%s file: state_set_aside" % name)
            check_eq(st["state_loaded"], 0, "%s file: state_loaded" % name)
            bad = glob.glob(os.path.join(state_dir, "state.bad-*"))
            check_eq(len(bad), 1, "%s file: one set aside (%s)" % (name, os.listdir(state_dir)))
            with open(bad[0], "rb") as f:
                check(f.read() == content, "%s file: set aside unchanged" % name)
            err = d.stderr_text()
            check("does not load" in err and says in err and "set aside" in err,
                  "%s file: the log says so: %s" % (name, err[-2000:]))
        check(os.path.exists(os.path.join(state_dir, "state")),
              "%s file: a new state saved at stop" % name)
        log("%s state file: reported, set aside as %s, counted"
            % (name, os.path.basename(bad[0])))


def main():
    state_dir = tempfile.mkdtemp(prefix="tw-state-")
    twtest.at_cleanup(lambda: shutil.rmtree(state_dir, ignore_errors=True))
    ls = socket.socket()
    ls.bind((HOST, 0))
    ls.listen(64)
    ls.settimeout(10)
    port = ls.getsockname()[1]
    log("test listener on port %d, state in %s" % (port, state_dir))

    run = restart_after_sigterm(state_dir, ls, port)
    restart_after_kill(state_dir, ls, port, run)
    bad_file_set_aside(os.path.join(state_dir, "state"))
    for c, a in run["held"]:
        c.close()
        a.close()


if __name__ == "__main__":
    twtest.run(main, timeout=170)
