# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Express app of ``service/src/index.ts``: static files first, ``express.json()``, CORS headers on
everything after that, the router under ``''`` and ``/api``, the auth middleware and express-rate-limit v6."""

from __future__ import annotations

import email.utils
import json
import math
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from .chat import ChatError
from .jsutil import etag, js_stringify, json_parse, not_empty

JSON_BODY_LIMIT = 100 * 1024
RATE_WINDOW_SECONDS = 60 * 60
UNAUTHORIZED_MESSAGE = "Error: 无访问权限 | No access rights"
RATE_LIMIT_MESSAGE = "Too many request from this IP in 1 hour"
ROUTES = ("/session", "/verify", "/config", "/chat-process")
# The image serves the built web UI from /app/public; the stand-in has a page with the same title.
INDEX_HTML = (
    "<!DOCTYPE html><html lang=\"zh-cmn-Hans\"><head><meta charset=\"UTF-8\"><title>ChatGPT Web</title></head>"
    "<body><div id=\"app\">chatgpt-web lab stand-in</div></body></html>"
).encode("utf-8")
INDEX_MTIME = time.time()
CORS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "authorization, Content-Type"),
    ("Access-Control-Allow-Methods", "*"),
)


class RateLimiter:
    """express-rate-limit v6 MemoryStore: every request counts, one reset time for all clients (the window
    starts when the store is created), refused when hits > max; max 0 counts but never refuses."""

    def __init__(self, max_hits, window=RATE_WINDOW_SECONDS):
        self.max_hits = max_hits
        self.window = window
        self._hits = {}
        self._reset_at = time.time() + window
        self._lock = threading.Lock()

    def hit(self, key):
        """(allowed, headers) with the legacy X-RateLimit-* headers the limiter sets."""
        with self._lock:
            now = time.time()
            while now >= self._reset_at:
                self._hits.clear()
                self._reset_at += self.window
            total = self._hits.get(key, 0) + 1
            self._hits[key] = total
            reset_at = self._reset_at
        headers = [
            ("X-RateLimit-Limit", str(self.max_hits)),
            ("X-RateLimit-Remaining", str(max(self.max_hits - total, 0))),
            ("Date", email.utils.formatdate(usegmt=True)),
            ("X-RateLimit-Reset", str(int(math.ceil(reset_at)))),
        ]
        allowed = not (self.max_hits and total > self.max_hits)
        if not allowed:
            headers.append(("Retry-After", str(self.window)))
        return allowed, headers


class ChatGPTWebHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    # -- plumbing ---------------------------------------------------------------------------------
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.access_log:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _start(self, status, headers):
        """Status line and headers in Express's order (no Server header; Date unless already given)."""
        self.send_response_only(status)
        names = set()
        for name, value in [("X-Powered-By", "Express")] + list(headers):
            self.send_header(name, value)
            names.add(name.lower())
        if "date" not in names:
            self.send_header("Date", email.utils.formatdate(usegmt=True))
        if (self.headers.get("Connection") or "").lower() == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Connection", "keep-alive")
            self.send_header("Keep-Alive", "timeout=5")

    def _send(self, status, body, headers):
        self._start(status, _with_length(headers, body))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload, before=()):
        """``res.send(object)``: JSON, charset, length, weak ETag."""
        body = js_stringify(payload).encode("utf-8", "backslashreplace")
        headers = (
            list(CORS)
            + list(before)
            + [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("ETag", etag(body)),
            ]
        )
        self._send(200, body, headers)

    def _send_html_error(self, status, text, cors=True):
        """finalhandler's error page."""
        escaped = (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("\n", "<br>")
            .replace("  ", " &nbsp;")
        )
        body = (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n"
            "<body>\n<pre>%s</pre>\n</body>\n</html>\n" % escaped
        ).encode("utf-8")
        headers = (list(CORS) if cors else []) + [
            ("Content-Security-Policy", "default-src 'none'"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        self._send(status, body, headers)

    def _read_raw_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self):
        """express.json(): (ok, body). body is None when the content type is not JSON (req.body undefined)."""
        raw = self._read_raw_body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return True, None
        if len(raw) > JSON_BODY_LIMIT:
            self._send_html_error(413, "PayloadTooLargeError: request entity too large", cors=False)
            return False, None
        if not raw:
            return True, {}
        text = raw.decode("utf-8", "replace")
        first = text.lstrip(" \t\n\r")[:1]
        try:
            if first not in ("{", "["):  # body-parser's strict mode
                raise ValueError(
                    "Unexpected token %s in JSON at position %d"
                    % (first or " ", len(text) - len(text.lstrip(" \t\n\r")))
                )
            return True, json_parse(text)
        except ValueError as exc:
            self._send_html_error(400, "SyntaxError: %s\n    at JSON.parse (<anonymous>)" % exc, cors=False)
            return False, None

    def _route(self):
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/api/"):
            path = path[len("/api") :]
        return path

    # -- HTTP verbs -------------------------------------------------------------------------------
    def do_OPTIONS(self):  # noqa: N802 (http.server naming)
        self._read_raw_body()
        if self._route() in ROUTES:
            self._send(
                200,
                b"POST",
                list(CORS)
                + [
                    ("Allow", "POST"),
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", "4"),
                    ("ETag", etag(b"POST")),
                ],
            )
        else:
            self._send_html_error(404, "Cannot OPTIONS %s" % urllib.parse.urlsplit(self.path).path)

    def do_GET(self):  # noqa: N802
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(
                200,
                INDEX_HTML,
                [
                    ("Accept-Ranges", "bytes"),
                    ("Cache-Control", "public, max-age=0"),
                    ("Last-Modified", email.utils.formatdate(INDEX_MTIME, usegmt=True)),
                    ("ETag", 'W/"%x-%x"' % (len(INDEX_HTML), int(INDEX_MTIME * 1000))),
                    ("Content-Type", "text/html; charset=UTF-8"),
                ],
            )
        else:
            self._send_html_error(404, "Cannot GET %s" % path)

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        handler = {
            "/session": self._session,
            "/verify": self._verify,
            "/config": self._config,
            "/chat-process": self._chat_process,
        }.get(self._route())
        ok, body = self._json_body()
        if not ok:
            return
        if handler is None:
            self._send_html_error(404, "Cannot POST %s" % urllib.parse.urlsplit(self.path).path)
            return
        handler(body)

    # -- middleware -------------------------------------------------------------------------------
    def _authorized(self):
        key = self.server.settings.auth_secret_key()
        if not not_empty(key):
            return True
        header = self.headers.get("Authorization")
        return bool(header) and header.replace("Bearer ", "", 1).strip() == key.strip()

    def _client_ip(self):
        forwarded = self.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[-1].strip()
        return self.client_address[0]

    # -- routes -----------------------------------------------------------------------------------
    def _session(self, _body):
        settings = self.server.settings
        self._send_json(
            {
                "status": "Success",
                "message": "",
                "data": {"auth": not_empty(settings.auth_secret_key()), "model": settings.api_mode},
            }
        )

    def _verify(self, body):
        if not isinstance(body, dict):
            message = "Cannot destructure property 'token' of 'req.body' as it is undefined."
        else:
            token = body.get("token")
            if not token:
                message = "Secret key is empty"
            elif self.server.settings.auth_secret_key() != token:
                message = "密钥无效 | Secret key is invalid"
            else:
                self._send_json({"status": "Success", "message": "Verify successfully", "data": None})
                return
        self._send_json({"status": "Fail", "message": message, "data": None})

    def _config(self, _body):
        if not self._authorized():
            self._send_json({"status": "Unauthorized", "message": UNAUTHORIZED_MESSAGE, "data": None})
            return
        settings = self.server.settings
        data = {
            "apiModel": settings.api_mode,
            "reverseProxy": settings.reverse_proxy if settings.reverse_proxy is not None else "-",
            # JSON.stringify(Infinity) is null
            "timeoutMs": None if math.isinf(settings.timeout_ms) else settings.timeout_ms,
            "socksProxy": settings.socks_proxy_shown,
            "httpsProxy": settings.https_proxy_shown,
            "usage": self.server.chat.fetch_usage(),
        }
        self._send_json({"message": None, "data": data, "status": "Success"})

    def _chat_process(self, body):
        if not self._authorized():
            self._send_json({"status": "Unauthorized", "message": UNAUTHORIZED_MESSAGE, "data": None})
            return
        allowed, limit_headers = self.server.limiter.hit(self._client_ip())
        if not allowed:
            self._send_json({"status": "Fail", "message": RATE_LIMIT_MESSAGE, "data": None}, before=limit_headers)
            return
        self._start(200, list(CORS) + limit_headers + [("Content-type", "application/octet-stream")])
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        state = {"first": True}

        def write(text):
            data = text.encode("utf-8", "backslashreplace")
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        def on_progress(message):
            line = js_stringify(message)
            write(line if state["first"] else "\n" + line)
            state["first"] = False

        try:
            if not isinstance(body, dict):
                # req.body undefined: destructuring throws a TypeError, JSON.stringify(error) is "{}".
                write("{}")
            else:
                try:
                    self.server.chat.reply(body, on_progress)
                except ChatError as exc:
                    write(
                        json.dumps(
                            {"message": exc.client_message(), "data": None, "status": "Fail"},
                            ensure_ascii=False,
                            separators=(",", ":"),
                        )
                    )
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _with_length(headers, body):
    headers = list(headers)
    if not any(name.lower() == "content-length" for name, _value in headers):
        headers.append(("Content-Length", str(len(body))))
    return headers
