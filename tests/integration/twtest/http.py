"""A minimal HTTP/1.1 client for the daemon's API: raw exchanges over the
Unix socket, and one incremental response parser (status line, headers,
then a Content-Length, chunked or read-to-close body) with the one chunked
decoder, used alike for whole responses and for event streams read as they
arrive."""

import json
import socket
import time

from .runner import fail

_HEX = frozenset(b"0123456789abcdefABCDEF")


class HttpResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def json(self, what="response body"):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            fail("%s is not JSON (%s); status %d, body: %r"
                 % (what, e, self.status, self.body[:2000]))

    def __repr__(self):
        return "HTTP %d %s %r" % (self.status, self.reason, self.body[:500])


class ChunkedDecoder:
    """Incremental HTTP/1.1 chunked-body decoder.

    feed(data) takes the next bytes of the body as they arrive and returns
    the payload bytes they complete (also collected in .body); .done turns
    true once the terminating 0-size chunk arrived (trailers and anything
    after it are ignored).  A malformed size line or a chunk not followed by
    CRLF fails at once; finish() fails if the body was cut short.  what
    names the body in those messages."""

    def __init__(self, what="chunked body"):
        self.what = what
        self.body = b""
        self.done = False
        self._buf = b""   # received, not decoded yet
        self._pos = 0     # offset of _buf[0] in the whole chunked body

    def feed(self, data):
        if self.done:
            return b""
        self._buf += data
        new = []
        while not self.done:
            eol = self._buf.find(b"\r\n")
            if eol < 0:
                break
            size = self._size(self._buf[:eol])
            if size == 0:
                self.done = True
                self._buf = b""
                break
            end = eol + 2 + size
            if len(self._buf) < end + 2:
                break
            if self._buf[end:end + 2] != b"\r\n":
                fail("chunk not followed by CRLF at offset %d in %s"
                     % (self._pos + end, self.what))
            new.append(self._buf[eol + 2:end])
            self._buf = self._buf[end + 2:]
            self._pos += end + 2
        out = b"".join(new)
        self.body += out
        return out

    def _size(self, line):
        size_txt = line.split(b";", 1)[0].strip()
        if not size_txt or not _HEX.issuperset(size_txt):
            fail("bad chunk size line %r in %s" % (line[:200], self.what))
        return int(size_txt, 16)

    def finish(self):
        """Assert the terminating chunk arrived; return the whole body."""
        if self.done:
            return self.body
        eol = self._buf.find(b"\r\n")
        if eol < 0:
            fail("truncated chunked body: %r" % self._buf[:200])
        size = self._size(self._buf[:eol])
        have = len(self._buf) - (eol + 2)
        if have < size:
            fail("truncated chunk: wanted %d bytes, have %d" % (size, have))
        fail("chunk not followed by CRLF at offset %d in %s"
             % (self._pos + eol + 2 + size, self.what))


class ResponseParser:
    """Incremental HTTP/1.1 response parser.

    feed(data) takes bytes as they arrive and returns the body bytes they
    complete.  Once the headers are in, .status, .reason, .status_line and
    .headers (lower-case names) are set; .head_raw holds what arrived before
    the end of the headers.  .body is the body so far (de-chunked when
    Transfer-Encoding is chunked, cut at Content-Length when given, else
    everything).  finish() asserts that the response is complete and returns
    an HttpResponse.  chunked_what names a chunked body in error messages."""

    def __init__(self, chunked_what="chunked body"):
        self.head_raw = b""
        self.status = None
        self.reason = None
        self.status_line = None
        self.headers = None
        self._chunked_what = chunked_what
        self._dechunk = None   # a ChunkedDecoder for a chunked body
        self._length = None    # Content-Length, when given
        self._raw_body = b""   # the body as received, when not chunked

    @property
    def body(self):
        if self._dechunk is not None:
            return self._dechunk.body
        if self._length is not None:
            return self._raw_body[:self._length]
        return self._raw_body

    def feed(self, data):
        if self.headers is None:
            self.head_raw += data
            head, sep, data = self.head_raw.partition(b"\r\n\r\n")
            if not sep:
                return b""
            self.head_raw = head
            self._parse_head(head)
        if self._dechunk is not None:
            return self._dechunk.feed(data)
        before = len(self.body)
        self._raw_body += data
        return self.body[before:]

    def _parse_head(self, head):
        lines = head.decode("iso-8859-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            fail("bad HTTP status line %r" % lines[0])
        try:
            status = int(parts[1])
        except ValueError:
            fail("bad HTTP status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.status_line = lines[0]
        self.status = status
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._dechunk = ChunkedDecoder(self._chunked_what)
        elif "content-length" in headers:
            self._length = int(headers["content-length"])

    def finish(self):
        if self.headers is None:
            fail("incomplete HTTP response (no end of headers): %r"
                 % self.head_raw[:500])
        if self._dechunk is not None:
            self._dechunk.finish()
        elif self._length is not None and len(self._raw_body) < self._length:
            fail("body shorter than Content-Length %d: got %d bytes"
                 % (self._length, len(self._raw_body)))
        return HttpResponse(self.status, self.reason, self.headers, self.body)


def parse_http_response(raw):
    """Parse a whole response (everything received until the server
    closed); fails if it is malformed or cut short."""
    p = ResponseParser()
    p.feed(raw)
    return p.finish()


def recv_until_close(s, timeout=10.0):
    """Everything received on s until the peer closes (or timeout)."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def unix_exchange(sock_path, data, timeout=10.0, shut_wr=False):
    """Send raw bytes on a fresh connection to the Unix socket and return
    everything received until the peer closes (or timeout).  Send errors
    (the server may hang up early) are ignored."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return recv_until_close(s, timeout)
    finally:
        s.close()
