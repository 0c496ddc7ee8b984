"""The prober's API for the integration tests: a request with a JSON body
on the daemon's Unix socket (or a TCP port), and a job waited out."""

import json
import socket
import time

import twtest
from twtest import fail


def request(d, method, path, body=None, headers=(), tcp=None, timeout=10.0):
    """(status, parsed JSON or None, raw text). body: a dict or raw text."""
    data = b"" if body is None else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (method, path)
    for h in headers:
        head += h + "\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    req = head.encode("latin-1") + b"\r\n" + data
    if tcp:
        s = socket.create_connection(tcp, timeout=timeout)
        s.sendall(req)
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
        s.close()
    else:
        raw = d.http_raw(req, timeout=timeout)
    if not raw:
        fail("no HTTP response to %s %s" % (method, path))
    resp = twtest.parse_http_response(raw)
    try:
        parsed = json.loads(resp.body)
    except ValueError:
        parsed = None
    return resp.status, parsed, resp.body


def submit(d, **job):
    status, body, raw = request(d, "POST", "/api/v1/probes", job)
    if status != 201:
        fail("POST /api/v1/probes %r: %d %s" % (job, status, raw[:500]))
    return body["id"]


def wait_job(d, job_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, raw = request(d, "GET", "/api/v1/probes/%d" % job_id)
        if status != 200:
            fail("GET /api/v1/probes/%d: %d %s" % (job_id, status, raw[:500]))
        if body["done"]:
            return body
        time.sleep(0.05)
    fail("probe job %d not done within %.0f s" % (job_id, timeout))


def run_job(d, **job):
    return wait_job(d, submit(d, **job))
