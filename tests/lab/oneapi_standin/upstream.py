# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outgoing HTTP the way Go's net/http client does it, with Go's error texts.

* ``Accept-Encoding: gzip`` is added and a gzip answer is decoded transparently (``Content-Encoding`` and
  ``Content-Length`` are then dropped from the headers, like ``Response.Uncompressed``).
* A body passed as a stream (one-api forwards the client's body unchanged) goes out with
  ``Transfer-Encoding: chunked``; a marshalled body goes out with ``Content-Length``.
* Proxies come from the environment, except for loopback (``ProxyFromEnvironment``).
* Redirects are followed like Go's client: 301/302/303 as a GET; 307/308 with the same method and body when the body
  can be replayed (a re-marshalled one), else the 307/308 is the answer (a forwarded, streamed body).
* Connection errors read like Go's: ``Post "URL": dial tcp 10.0.0.5:8080: connect: connection refused``.
"""

from __future__ import annotations

import errno
import socket
import urllib.error
import urllib.parse
import urllib.request
import zlib
from email.message import Message
from typing import Any, Iterable, Optional, Union

_OPENERS: dict = {}


class GoRedirects(urllib.request.HTTPRedirectHandler):
    """net/http's redirect policy: 307/308 repeat the request only when the body can be replayed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
        if code in (307, 308) and req.get_method() not in ("GET", "HEAD"):
            if not isinstance(req.data, (bytes, bytearray)):
                return None  # a streamed body cannot be sent again: the 307/308 is the answer
            kept = {k: v for k, v in req.header_items() if k.lower() not in ("content-length", "host")}
            return urllib.request.Request(
                newurl,
                data=req.data,
                headers=kept,
                method=req.get_method(),
                origin_req_host=req.origin_req_host,
                unverifiable=True,
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def opener_for(url: str) -> urllib.request.OpenerDirector:
    """Go's ProxyFromEnvironment never proxies loopback; urllib would, so loopback gets a proxy-less opener."""
    host = urllib.parse.urlsplit(url).hostname or ""
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    if loopback not in _OPENERS:
        handlers: list = [GoRedirects()] + ([urllib.request.ProxyHandler({})] if loopback else [])
        _OPENERS[loopback] = urllib.request.build_opener(*handlers)
    return _OPENERS[loopback]


def resolver_address() -> str:
    """The first nameserver of /etc/resolv.conf as Go prints it in lookup errors (127.0.0.53:53 by default)."""
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return f"[{parts[1]}]:53" if ":" in parts[1] else f"{parts[1]}:53"
    except OSError:
        pass
    return "127.0.0.1:53"


def _host_port(url: str) -> tuple:
    split = urllib.parse.urlsplit(url)
    port = split.port or (443 if split.scheme == "https" else 80)
    return split.hostname or "", port


def go_dial_error(host: str, port: int, exc: BaseException) -> str:
    """The net.OpError text of a failed dial: ``dial tcp 1.2.3.4:80: connect: connection refused``."""
    if isinstance(exc, socket.gaierror):
        return f"dial tcp: lookup {host} on {resolver_address()}: no such host"
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, IndexError):
        address = host
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"dial tcp {target}: i/o timeout"
    reason = {
        errno.ECONNREFUSED: "connection refused",
        errno.EHOSTUNREACH: "no route to host",
        errno.ENETUNREACH: "network is unreachable",
        errno.ECONNRESET: "connection reset by peer",
    }
    text = reason.get(getattr(exc, "errno", None) or 0, str(getattr(exc, "strerror", "") or exc).lower())
    return f"dial tcp {target}: connect: {text}"


def go_request_error(method: str, url: str, exc: BaseException, client_timeout: bool = False) -> str:
    """The *url.Error text: ``Post "URL": <cause>``."""
    reason = getattr(exc, "reason", exc)
    if client_timeout and isinstance(reason, (socket.timeout, TimeoutError)):
        cause = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    elif isinstance(reason, OSError):
        cause = go_dial_error(*_host_port(url), reason)
    else:
        cause = str(reason)
    return f'{method.capitalize()} "{url}": {cause}'


class RequestFailed(Exception):
    """The request did not get an HTTP answer; ``str()`` is Go's *url.Error text."""


class _Body:
    """The answer body, gunzipped on the fly when needed; readline() and read() like a file."""

    def __init__(self, raw: Any, gzipped: bool):
        self.raw = raw
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        self.buffer = b""
        self.eof = False

    def _fill(self) -> None:
        try:
            data = self.raw.read1(65536) if hasattr(self.raw, "read1") else self.raw.read(65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            if self.inflate is not None:
                self.buffer += self.inflate.flush()
            return
        self.buffer += self.inflate.decompress(data) if self.inflate is not None else data

    def readline(self) -> bytes:
        while b"\n" not in self.buffer and not self.eof:
            self._fill()
        line, sep, rest = self.buffer.partition(b"\n")
        self.buffer = rest
        return line + sep

    def read(self) -> bytes:
        while not self.eof:
            self._fill()
        data, self.buffer = self.buffer, b""
        return data


class Answer:
    """An upstream answer: status, headers (first value per name, Go-canonical), body."""

    def __init__(self, raw: Any):
        self.raw = raw
        self.status = raw.status if hasattr(raw, "status") else raw.code
        headers: Message = raw.headers
        gzipped = (headers.get("Content-Encoding") or "").lower() == "gzip"
        self.headers: dict = {}
        for name in headers.keys():
            canonical = "-".join(part.capitalize() for part in name.split("-"))
            if canonical in ("Transfer-Encoding",) or (gzipped and canonical in ("Content-Encoding", "Content-Length")):
                continue
            self.headers.setdefault(canonical, headers.get(name))
        self.body = _Body(raw, gzipped)

    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def read_all(self) -> bytes:
        try:
            return self.body.read()
        finally:
            self.close()

    def close(self) -> None:
        try:
            self.raw.close()
        except OSError:
            pass


def send(method: str, url: str, body: Union[bytes, Iterable, None], headers: dict, timeout: Optional[float]) -> Answer:
    """One request; HTTP error statuses are answers, not exceptions. Raises RequestFailed on transport errors."""
    request = urllib.request.Request(url, data=body, method=method)
    for name, value in headers.items():
        request.add_header(name, value)
    if not request.has_header("User-agent"):
        request.add_header("User-Agent", "Go-http-client/1.1")
    if not request.has_header("Accept-encoding"):
        request.add_header("Accept-Encoding", "gzip")
    try:
        return Answer(opener_for(url).open(request, timeout=timeout))
    except urllib.error.HTTPError as exc:
        return Answer(exc)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RequestFailed(go_request_error(method, url, exc, client_timeout=bool(timeout))) from None


def chunked(body: bytes) -> Iterable:
    """A body of unknown length for urllib: sent with Transfer-Encoding: chunked, as Go sends an io.Reader."""
    return iter([body] if body else [])
