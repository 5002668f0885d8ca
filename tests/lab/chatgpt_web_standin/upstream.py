# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node-fetch v3 as chatgpt-web uses it, over ``proxy.open_connection``, and the client's stream reading.

What matters for fidelity:

* the request carries node-fetch's headers (``Accept: */*``, ``Accept-Encoding: gzip, deflate, br``,
  ``Connection: close``, ``User-Agent: node-fetch``) and follows redirects like fetch does;
* the streamed body is decoded **per socket read**: the client calls ``chunk.toString()`` on each buffer it
  reads, so a UTF-8 character whose bytes arrive in two reads becomes U+FFFD replacement characters (one for
  the truncated lead part, one per orphan continuation byte), whatever the HTTP chunking;
* a body that ends early, is reset or never ends is not an error for the client: it just never sees
  ``[DONE]`` and the caller waits for ``TIMEOUT_MS``.
"""

from __future__ import annotations

import threading
import urllib.parse
import zlib

from .proxy import ConnectFailed, NeverAnswers, ProxyReplay, open_connection

READ_SIZE = 65536
MAX_REDIRECTS = 20


class FetchFailed(Exception):
    """node-fetch's FetchError / TypeError message."""


class Hang(Exception):
    """The request can never complete (the caller waits for its timeout, or forever)."""


class Connection:
    """Holds the live socket so that a timeout can abort the request from another thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._socks = []
        self.aborted = False

    def register(self, sock):
        with self._lock:
            self._socks.append(sock)
            aborted = self.aborted
        if aborted:
            self._shutdown(sock)

    def abort(self):
        with self._lock:
            self.aborted = True
            socks = list(self._socks)
        for sock in socks:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock):
        try:
            sock.shutdown(2)
        except OSError:
            pass

    def close(self):
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            try:
                sock.close()
            except OSError:
                pass


class Response:
    """Status, headers and the body reader of one upstream response."""

    def __init__(self, url, status, reason, headers, reader):
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = headers
        self._reader = reader

    @property
    def ok(self):
        return 200 <= self.status < 300

    def iter_text(self):
        """Decoded body text, one piece per socket read (errors replaced per piece, as Buffer#toString)."""
        for data in self._reader.iter_bytes():
            if data:
                yield data.decode("utf-8", "replace")

    def text(self):
        """``res.text()``: the whole body decoded at once; None when the body broke off."""
        try:
            data = b"".join(self._reader.iter_bytes(strict=True))
        except (OSError, EOFError):
            return None
        return data.decode("utf-8", "replace")


class BodyReader:
    """Undoes the framing (Content-Length, chunked, or until close) and the content coding, per read."""

    def __init__(self, sock, leftover, headers):
        self.sock = sock
        self.leftover = leftover
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self.remaining = int(length) if (length and length.isdigit() and not self.chunked) else None
        coding = headers.get("content-encoding", "").strip().lower()
        self.decompress = None
        if coding in ("gzip", "x-gzip"):
            self.decompress = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self.decompress = zlib.decompressobj()
        elif coding == "br":
            raise FetchFailed("The lab stand-in cannot decode a Brotli-compressed upstream response")
        self._chunk_left = 0
        self._state = "size"  # size, data, data-end, trailer, done
        self._pending = b""

    def _dechunk(self, data):
        out = []
        self._pending += data
        buf = self._pending
        pos = 0
        while pos < len(buf) and self._state != "done":
            if self._state == "size":
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    break
                size_text = buf[pos:end].split(b";")[0].strip()
                self._chunk_left = int(size_text, 16) if size_text else 0
                pos = end + 2
                self._state = "data" if self._chunk_left else "trailer"
            elif self._state == "data":
                take = min(self._chunk_left, len(buf) - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._state = "data-end"
            elif self._state == "data-end":
                if len(buf) - pos < 2:
                    break
                pos += 2
                self._state = "size"
            else:  # trailer: lines until an empty one
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    break
                self._state = "done" if end == pos else "trailer"
                pos = end + 2
        self._pending = buf[pos:]
        return b"".join(out)

    def iter_bytes(self, strict=False):
        """Body bytes per read. strict: raise EOFError when the body broke off (else just stop)."""
        data, self.leftover = self.leftover, b""
        while True:
            if data:
                if self.chunked:
                    body = self._dechunk(data)
                elif self.remaining is not None:
                    body = data[: self.remaining]
                    self.remaining -= len(body)
                else:
                    body = data
                if self.decompress is not None and body:
                    try:
                        body = self.decompress.decompress(body)
                    except zlib.error:
                        if strict:
                            raise EOFError("bad content coding") from None
                        return
                yield body
            if (self.chunked and self._state == "done") or self.remaining == 0 or self.sock is None:
                return
            try:
                data = self.sock.recv(READ_SIZE)
            except OSError:
                if strict:
                    raise
                return
            if not data:
                if strict and (self.chunked or self.remaining):
                    raise EOFError("Premature close")
                return


def _read_head(sock, data):
    """(status, reason, headers, leftover); EOFError when the connection ends before a complete head."""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head, leftover = data[:end].decode("latin-1"), data[end + 4 :]
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                data = leftover  # interim response
                continue
            headers = {}
            for line in lines[1:]:
                name, _sep, value = line.partition(":")
                key = name.strip().lower()
                headers[key] = (headers[key] + ", " + value.strip()) if key in headers else value.strip()
            return status, parts[2] if len(parts) > 2 else "", headers, leftover
        part = sock.recv(READ_SIZE) if sock is not None else b""
        if not part:
            raise EOFError("socket hang up")
        data += part


def request_headers(body_length, extra):
    """node-fetch's request headers as they reach the server: lower-case names in sorted order (its Headers
    object), then Host, which Node adds."""
    headers = {"accept": "*/*", "accept-encoding": "gzip, deflate, br"}
    headers.update((name.lower(), value) for name, value in extra.items())
    headers.setdefault("connection", "close")
    if body_length is not None:
        headers["content-length"] = str(body_length)
    headers.setdefault("user-agent", "node-fetch")
    return sorted(headers.items())


def _split_url(url):
    try:
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port
    except ValueError:
        raise FetchFailed("Invalid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        if parsed.scheme and parsed.hostname:
            raise FetchFailed("node-fetch cannot load %s. URL scheme \"%s\" is not supported." % (url, parsed.scheme))
        raise FetchFailed("Invalid URL")
    secure = parsed.scheme == "https"
    path = (parsed.path or "/") + ("?" + parsed.query if parsed.query else "")
    host_header = parsed.netloc.rsplit("@", 1)[-1]
    return parsed.hostname, port or (443 if secure else 80), secure, path, host_header


def fetch(url, method, headers, body, proxy, connection):
    """One fetch() call: returns a Response whose body has not been read yet.

    Raises FetchFailed (message as the client reports it) or Hang."""
    for _redirect in range(MAX_REDIRECTS + 1):
        host, port, secure, path, host_header = _split_url(url)
        try:
            try:
                sock = open_connection(proxy, host, port, secure, connection.register)
                data = b""
            except ProxyReplay as replay:
                sock, data = None, replay.data
            except NeverAnswers:
                raise Hang() from None
            if sock is not None:
                lines = ["%s %s HTTP/1.1" % (method, path)]
                lines += ["%s: %s" % pair for pair in request_headers(len(body) if body is not None else None, headers)]
                lines.append("Host: %s" % host_header)
                sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
            status, reason, response_headers, leftover = _read_head(sock, data)
            if sock is None:
                # https-proxy-agent replays the refused CONNECT's head to node's parser; the body reads empty
                leftover, response_headers = b"", dict(response_headers, **{"content-length": "0"})
                response_headers.pop("transfer-encoding", None)
        except ConnectFailed as exc:
            if connection.aborted:
                raise Hang() from None
            raise FetchFailed("request to %s failed, reason: %s" % (url, exc)) from None
        except (OSError, EOFError, ValueError, IndexError) as exc:
            if connection.aborted:
                raise Hang() from None
            reason_text = str(exc) if isinstance(exc, EOFError) else "read ECONNRESET"
            raise FetchFailed("request to %s failed, reason: %s" % (url, reason_text)) from None
        if status in (301, 302, 303, 307, 308) and "location" in response_headers:
            target = urllib.parse.urljoin(url, response_headers["location"])
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if urllib.parse.urlsplit(target).hostname != host:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = target
            continue
        return Response(url, status, reason, response_headers, BodyReader(sock, leftover, response_headers))
    raise FetchFailed("maximum redirect reached at: %s" % url)


class SSEParser:
    """A port of eventsource-parser 0.0.5 (``feed`` per decoded read). Its quirks are kept: a CR at the end of
    one read and the LF at the start of the next make an extra empty line, and the BOM test compares the
    characters U+00EF U+00BB U+00BF, so a real BOM (U+FEFF) is not removed."""

    def __init__(self, on_event):
        self.on_event = on_event
        self.first = True
        self.buffer = ""
        self.start = 0
        self.start_field = -1
        self.data = ""

    def feed(self, chunk):
        buf = self.buffer + chunk if self.buffer else chunk
        if self.first and buf.startswith("\u00ef\u00bb\u00bf"):
            buf = buf[3:]
        self.first = False
        length = len(buf)
        position = 0
        discard_lf = False
        first_cr = buf.find("\r")
        first_line = True
        while position < length:
            if discard_lf:
                if buf[position] == "\n":
                    position += 1
                discard_lf = False
            # The parser scans each line from startingPosition, which it resets to 0 (not to the line's start)
            # after a complete line: a CR anywhere earlier in the buffer then marks the line as CR-terminated,
            # so an LF right after it is dropped. Same result as its loop, without rescanning.
            scan = self.start if first_line else 0
            origin = max(scan, position)
            ends = [i for i in (buf.find("\r", origin), buf.find("\n", origin)) if i >= 0]
            end = min(ends) if ends else -1
            stop = end if end >= 0 else length
            colon = buf.find(":", origin, stop)
            if first_line and self.start_field >= 0:
                field_length = self.start_field
            else:
                field_length = colon - position if colon >= 0 else -1
            if end < 0:
                self.start = length - position
                self.start_field = field_length
                break
            cr_from = buf.find("\r", scan, end + 1) if first_line else (first_cr if first_cr <= end else -1)
            discard_lf = cr_from >= 0
            self.start = 0
            self.start_field = -1
            first_line = False
            self._line(buf, position, field_length, end - position)
            position = end + 1
        self.buffer = "" if position >= length else buf[position:]

    def _line(self, buf, index, field_length, line_length):
        if line_length == 0:
            if self.data:
                data, self.data = self.data[:-1], ""
                self.on_event(data)
            return
        no_value = field_length < 0
        field = buf[index : index + (line_length if no_value else field_length)]
        if no_value:
            step = line_length
        elif index + field_length + 1 < len(buf) and buf[index + field_length + 1] == " ":
            step = field_length + 2
        else:
            step = field_length + 1
        value = buf[index + step : index + line_length]
        if field == "data":
            self.data += value + "\n"
