# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab stand-in for the chatgpt-web service (image ``chenzhaoyu94/chatgpt-web``).

Written from chatgpt-web's documented behaviour (docs/lab-chatgpt-web-standin.md); Python standard library only, so it runs in the lab
base image. It reproduces the behaviour that automation has to survive:

* the environment variables of the real Node service and their defaults (``OPENAI_API_KEY``,
  ``OPENAI_ACCESS_TOKEN``, ``OPENAI_API_BASE_URL``, ``OPENAI_API_MODEL``, ``OPENAI_API_DISABLE_DEBUG``,
  ``AUTH_SECRET_KEY``, ``MAX_REQUEST_PER_HOUR``, ``TIMEOUT_MS``, ``API_REVERSE_PROXY``, the proxy variables
  as shown by ``/config``); ``PORT`` is ignored like upstream (use ``--port``);
* ``POST /api/session``, ``/api/verify``, ``/api/config``, ``/api/chat-process`` (also without ``/api``),
  every error with HTTP 200 and a ``status`` field, CORS headers on every reply;
* the auth middleware (``Bearer`` stripped, trimmed, HTTP 200 ``Unauthorized`` body);
* the per-IP hourly limit on ``/chat-process`` after auth (``trust proxy`` = 1);
* the ``chatgpt@5.2.5`` client: ``${apiBaseUrl}/chat/completions`` with ``stream: true``,
  ``presence_penalty: 1``, ``max_tokens`` from the model-name budget, history through ``parentMessageId``,
  only ``delta.content`` read (``reasoning_content`` dropped, ``<think>`` text passed through literally),
  resolution only on ``data: [DONE]``, ``TIMEOUT_MS`` as a total limit (``0``/``""`` = none);
* the newline-separated cumulative JSON lines of ``/chat-process`` (no trailing newline, errors appended
  without a newline).

Image flavour: the ``/v1`` handling and the model budgets differ between tag ``v2.11.1`` and ``main``.
``CHATGPT_WEB_STANDIN_FLAVOR`` (lab only, not an upstream variable) selects ``v2.11.1`` (default, the tag the
``chatgpt_web`` role pins) or ``main``.

Not modelled: the access-token mode's reverse proxy, SOCKS/HTTPS proxies (shown by ``/config`` only), the real
``cl100k_base`` tokenizer (tokens are estimated as one per 4 UTF-8 bytes), the SPA (``GET /`` serves a stub
page with the real title).
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import http.client
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORT = 3002
DEFAULT_MODEL = "gpt-3.5-turbo"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_USAGE_BASE_URL = "https://api.openai.com"
DEFAULT_TIMEOUT_MS = 100 * 1000
RATE_WINDOW_SECONDS = 60 * 60
JSON_BODY_LIMIT = 100 * 1024
MESSAGE_STORE_MAX = 10000
FLAVORS = ("v2.11.1", "main")

USER_LABEL = "User"
ASSISTANT_LABEL = "ChatGPT"

UNAUTHORIZED_MESSAGE = "Error: 无访问权限 | No access rights"
RATE_LIMIT_MESSAGE = "Too many request from this IP in 1 hour"
TIMEOUT_MESSAGE = "OpenAI timed out waiting for response"
ERROR_CODE_MESSAGE = {
    401: "[OpenAI] 提供错误的API密钥 | Incorrect API key provided",
    403: "[OpenAI] 服务器拒绝访问，请稍后再试 | Server refused to access, please try again later",
    502: "[OpenAI] 错误的网关 |  Bad Gateway",
    503: "[OpenAI] 服务器繁忙，请稍后再试 | Server is busy, please try again later",
    504: "[OpenAI] 网关超时 | Gateway Time-out",
    500: "[OpenAI] 服务器繁忙，请稍后再试 | Internal Server Error",
}

INDEX_HTML = (
    "<!DOCTYPE html><html lang=\"zh-cmn-Hans\"><head><meta charset=\"UTF-8\">"
    "<title>ChatGPT Web</title></head><body><div id=\"app\">chatgpt-web lab stand-in</div></body></html>"
)

UNDEFINED = object()  # a JavaScript ``undefined`` property: kept in place, left out by JSON.stringify

_JS_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def js_number(value):
    """JavaScript ``Number(value)`` / unary ``+value`` for a string or None; NaN is returned as None."""
    if value is None:
        return None
    text = value.strip()
    if text == "":
        return 0
    lowered = text.lower()
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if lowered.startswith(prefix):
            try:
                return int(text[2:], base)
            except ValueError:
                return None
    if text in ("Infinity", "+Infinity"):
        return math.inf
    if text == "-Infinity":
        return -math.inf
    if not _JS_NUMBER_RE.match(text):
        return None
    number = float(text)
    return int(number) if number.is_integer() else number


def js_parse_int(value):
    """JavaScript ``parseInt(value)`` (base 10); NaN is returned as None."""
    match = re.match(r"^\s*([+-]?\d+)", value or "")
    return int(match.group(1)) if match else None


def not_empty(value):
    """chatgpt-web ``isNotEmptyString``."""
    return isinstance(value, str) and len(value) > 0


def estimate_tokens(text):
    """Stand-in for js-tiktoken ``cl100k_base``: one token per 4 UTF-8 bytes, rounded up."""
    return int(math.ceil(len(text.encode("utf-8")) / 4.0))


def model_budget(model, flavor):
    """(maxModelTokens, maxResponseTokens) chosen from the model name (reference §4)."""
    name = model.lower()
    if "gpt-4" in name:
        if "32k" in name:
            return 32768, 8192
        if flavor == "main":
            if "-4o-mini" in name:
                return 128000, 16384
            if re.search(r"-preview|-turbo|o", name):
                return 128000, 4096
        return 8192, 2048
    if "gpt-3.5" in name:
        if "16k" in name or (flavor == "main" and ("1106" in name or "0125" in name)):
            return 16384, 4096
    return 4000, 1000


def api_base_url(env_value, flavor):
    """``apiBaseUrl`` of the chatgpt client: how ``OPENAI_API_BASE_URL`` becomes the request prefix."""
    if not not_empty(env_value):
        return DEFAULT_BASE_URL
    if flavor == "main" and "/v1" in env_value:
        return env_value
    return env_value + "/v1"


def default_system_message():
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return (
        "You are ChatGPT, a large language model trained by OpenAI. Answer as concisely as possible.\n"
        "Knowledge cutoff: 2021-09-01\nCurrent date: " + today
    )


class Settings:
    """Environment of the real service, read once at start-up like the Node module."""

    def __init__(self, environ):
        self.flavor = environ.get("CHATGPT_WEB_STANDIN_FLAVOR") or "v2.11.1"
        if self.flavor not in FLAVORS:
            raise ValueError("CHATGPT_WEB_STANDIN_FLAVOR must be one of %s" % ", ".join(FLAVORS))
        self.api_key = environ.get("OPENAI_API_KEY")
        self.access_token = environ.get("OPENAI_ACCESS_TOKEN")
        if not not_empty(self.api_key) and not not_empty(self.access_token):
            raise ValueError("Missing OPENAI_API_KEY or OPENAI_ACCESS_TOKEN environment variable")
        self.api_mode = "ChatGPTAPI" if not_empty(self.api_key) else "ChatGPTUnofficialProxyAPI"
        self.base_url_env = environ.get("OPENAI_API_BASE_URL")
        self.api_base_url = api_base_url(self.base_url_env, self.flavor)
        model = environ.get("OPENAI_API_MODEL")
        self.model = model if not_empty(model) else DEFAULT_MODEL
        self.max_model_tokens, self.max_response_tokens = model_budget(self.model, self.flavor)
        self.debug = environ.get("OPENAI_API_DISABLE_DEBUG") != "true"
        timeout = js_number(environ.get("TIMEOUT_MS"))
        self.timeout_ms = DEFAULT_TIMEOUT_MS if timeout is None else timeout
        self.reverse_proxy = environ.get("API_REVERSE_PROXY")
        self.https_proxy = environ.get("HTTPS_PROXY") or environ.get("ALL_PROXY")
        socks_host, socks_port = environ.get("SOCKS_PROXY_HOST"), environ.get("SOCKS_PROXY_PORT")
        self.socks_proxy = "%s:%s" % (socks_host, socks_port) if socks_host and socks_port else "-"
        raw_max = environ.get("MAX_REQUEST_PER_HOUR")
        self.max_request_per_hour = 0
        if not_empty(raw_max) and js_number(raw_max) is not None:
            self.max_request_per_hour = js_parse_int(raw_max) or 0
        self.environ = environ

    def auth_secret_key(self):
        # Read per request, like the middleware (process.env.AUTH_SECRET_KEY).
        return self.environ.get("AUTH_SECRET_KEY")


class MessageStore:
    """The chatgpt library's in-memory message store (Keyv on QuickLRU, maxSize 10000)."""

    def __init__(self, max_size=MESSAGE_STORE_MAX):
        self._data = OrderedDict()
        self._max = max_size
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, message):
        with self._lock:
            self._data[message["id"]] = message
            self._data.move_to_end(message["id"])
            while len(self._data) > self._max:
                self._data.popitem(last=False)


class RateLimiter:
    """express-rate-limit v6 MemoryStore: fixed window, every request counts, reject when hits > max."""

    def __init__(self, max_hits, window=RATE_WINDOW_SECONDS):
        self.max_hits = max_hits
        self.window = window
        self._hits = {}
        self._reset_at = time.monotonic() + window
        self._lock = threading.Lock()

    def hit(self, key):
        """Return (allowed, remaining)."""
        with self._lock:
            now = time.monotonic()
            if now >= self._reset_at:
                self._hits.clear()
                self._reset_at = now + self.window
            total = self._hits.get(key, 0) + 1
            self._hits[key] = total
        if self.max_hits and total > self.max_hits:
            return False, 0
        return True, max(0, self.max_hits - total) if self.max_hits else 0


class ChatError(Exception):
    """An error of ``sendMessage``; ``status_code`` set for non-OK upstream replies."""

    def __init__(self, message, status_code=None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def build_messages(settings, store, text, system_message, parent_message_id):
    """chatgpt 5.2.5 ``ChatGPTAPI._buildMessages``: (messages, max_tokens, num_tokens)."""
    max_num_tokens = settings.max_model_tokens - settings.max_response_tokens
    messages = [{"role": "system", "content": system_message}] if system_message else []
    offset = len(messages)
    next_messages = messages + [{"role": "user", "content": text}] if text else list(messages)
    num_tokens = 0
    while True:
        parts = []
        for message in next_messages:
            if message["role"] == "system":
                parts.append("Instructions:\n%s" % message["content"])
            elif message["role"] == "user":
                parts.append("%s:\n%s" % (USER_LABEL, message["content"]))
            else:
                parts.append("%s:\n%s" % (ASSISTANT_LABEL, message["content"]))
        prompt = "\n\n".join(parts)
        estimate = estimate_tokens(prompt)
        valid = estimate <= max_num_tokens
        if prompt and not valid:
            break
        messages = next_messages
        num_tokens = estimate
        if not valid or not parent_message_id:
            break
        parent = store.get(parent_message_id)
        if parent is None:
            break
        next_messages = next_messages[:offset] + [{"role": parent.get("role") or "user", "content": parent["text"]}] + next_messages[offset:]
        parent_message_id = parent.get("parentMessageId")
    max_tokens = max(1, min(settings.max_model_tokens - num_tokens, settings.max_response_tokens))
    return messages, max_tokens, num_tokens


def _log(*parts):
    print(*parts, flush=True)


class Upstream:
    """One streaming call to ``${apiBaseUrl}/chat/completions``, abortable from another thread."""

    def __init__(self, url, headers, body, timeout=None):
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.aborted = False
        self._conn = None
        self._response = None
        self._sock = None  # kept here: http.client drops conn.sock once a response will close the connection
        self._lock = threading.Lock()

    def abort(self):
        with self._lock:
            self.aborted = True
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def open(self):
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ChatError("Invalid URL: %s" % self.url)
        conn_class = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parsed.hostname, parsed.port, timeout=self.timeout)
        with self._lock:
            self._conn = conn
            if self.aborted:
                raise ChatError(TIMEOUT_MESSAGE)
        path = parsed.path or "/"
        if parsed.query:
            path += "?" + parsed.query
        try:
            conn.connect()
            with self._lock:
                self._sock = conn.sock
                if self.aborted:
                    raise ChatError(TIMEOUT_MESSAGE)
            conn.request("POST", path, body=json.dumps(self.body, ensure_ascii=False).encode("utf-8"), headers=self.headers)
            self._response = conn.getresponse()
            return self._response
        except (OSError, http.client.HTTPException) as exc:
            if self.aborted:
                raise ChatError(TIMEOUT_MESSAGE) from exc
            raise ChatError("request to %s failed, reason: %s" % (self.url, exc)) from exc

    def close(self):
        for resource in (self._response, self._conn, self._sock):
            if resource is not None:
                resource.close()


def iter_sse_data(response):
    """eventsource-parser: yield the ``data`` of each event (multi-line data joined with newlines)."""
    data_lines = []
    while True:
        raw = response.readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if data_lines:
                yield "\n".join(data_lines)
                data_lines = []
            continue
        if line.startswith(":"):
            continue
        field, _sep, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data_lines.append(value)
    if data_lines:
        yield "\n".join(data_lines)


class ChatGPTWebHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Express"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------------
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.access_log:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "authorization, Content-Type")
        self.send_header("Access-Control-Allow-Methods", "*")
        self.send_header("X-Powered-By", "Express")

    def _send_bytes(self, status, body, content_type, extra_headers=None):
        self.send_response(status)
        self._cors()
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload, extra_headers=None):
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._send_bytes(200, body, "application/json; charset=utf-8", extra_headers)

    def _send_html_error(self, status, text):
        body = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n"
                "<body>\n<pre>%s</pre>\n</body>\n</html>\n" % text).encode("utf-8")
        self._send_bytes(status, body, "text/html; charset=utf-8")

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
            self._send_html_error(413, "PayloadTooLargeError: request entity too large")
            return False, None
        if not raw.strip():
            return True, {}
        try:
            return True, json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            self._send_html_error(400, "SyntaxError: %s" % exc)
            return False, None

    def _route(self):
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/api/"):
            path = path[len("/api"):]
        return path

    # -- HTTP verbs -------------------------------------------------------------------------------
    def do_OPTIONS(self):  # noqa: N802 (http.server naming)
        self._read_raw_body()
        if self._route() in ("/session", "/verify", "/config", "/chat-process"):
            self._send_bytes(200, b"POST", "text/html; charset=utf-8", {"Allow": "POST"})
        else:
            self._send_html_error(404, "Cannot OPTIONS %s" % self.path)

    def do_GET(self):  # noqa: N802
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send_bytes(200, INDEX_HTML.encode("utf-8"), "text/html; charset=UTF-8")
        else:
            self._send_html_error(404, "Cannot GET %s" % path)

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        route = self._route()
        handlers = {
            "/session": self._session,
            "/verify": self._verify,
            "/config": self._config,
            "/chat-process": self._chat_process,
        }
        handler = handlers.get(route)
        if handler is None:
            self._read_raw_body()
            self._send_html_error(404, "Cannot POST %s" % urllib.parse.urlsplit(self.path).path)
            return
        handler()

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
    def _session(self):
        ok, _body = self._json_body()
        if not ok:
            return
        settings = self.server.settings
        self._send_json({"status": "Success", "message": "",
                         "data": {"auth": not_empty(settings.auth_secret_key()), "model": settings.api_mode}})

    def _verify(self):
        ok, body = self._json_body()
        if not ok:
            return
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

    def _config(self):
        ok, _body = self._json_body()
        if not ok:
            return
        if not self._authorized():
            self._send_json({"status": "Unauthorized", "message": UNAUTHORIZED_MESSAGE, "data": None})
            return
        settings = self.server.settings
        data = {
            "apiModel": settings.api_mode,
            "reverseProxy": settings.reverse_proxy if settings.reverse_proxy is not None else "-",
            # JSON.stringify(Infinity) is null
            "timeoutMs": None if math.isinf(settings.timeout_ms) else settings.timeout_ms,
            "socksProxy": settings.socks_proxy,
            "httpsProxy": settings.https_proxy if settings.https_proxy is not None else "-",
            "usage": self.server.fetch_usage(),
        }
        self._send_json({"message": None, "data": data, "status": "Success"})

    def _chat_process(self):
        ok, body = self._json_body()
        if not ok:
            return
        if not self._authorized():
            self._send_json({"status": "Unauthorized", "message": UNAUTHORIZED_MESSAGE, "data": None})
            return
        limiter = self.server.limiter
        headers = {}
        if limiter.max_hits:
            allowed, remaining = limiter.hit(self._client_ip())
            headers = {"X-RateLimit-Limit": str(limiter.max_hits), "X-RateLimit-Remaining": str(remaining)}
            if not allowed:
                self._send_json({"status": "Fail", "message": RATE_LIMIT_MESSAGE, "data": None}, headers)
                return
        self.send_response(200)
        self._cors()
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        state = {"first": True}

        def write(text):
            data = text.encode("utf-8")
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        def on_progress(message):
            visible = {key: value for key, value in message.items() if value is not UNDEFINED}
            line = json.dumps(visible, ensure_ascii=False, separators=(",", ":"))
            write(line if state["first"] else "\n" + line)
            state["first"] = False

        try:
            if not isinstance(body, dict):
                # req.body undefined: destructuring throws a TypeError, JSON.stringify(error) is "{}".
                write("{}")
            else:
                try:
                    self.server.chat_reply(body, on_progress)
                except ChatError as exc:
                    message = ERROR_CODE_MESSAGE.get(exc.status_code, exc.message)
                    write(json.dumps({"message": message, "data": None, "status": "Fail"}, ensure_ascii=False, separators=(",", ":")))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ChatGPTWebStandin(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, settings, access_log=False):
        super().__init__(address, ChatGPTWebHandler)
        self.settings = settings
        self.access_log = access_log
        self.store = MessageStore()
        self.limiter = RateLimiter(settings.max_request_per_hour)

    # -- chatgpt-web chatReplyProcess + chatgpt ChatGPTAPI.sendMessage ----------------------------
    def chat_reply(self, body, on_progress):
        settings = self.settings
        if settings.api_mode != "ChatGPTAPI":
            raise ChatError("The lab stand-in does not emulate OPENAI_ACCESS_TOKEN (ChatGPTUnofficialProxyAPI) mode")
        prompt = body.get("prompt")
        options = body.get("options")
        system_message = body.get("systemMessage")
        if not not_empty(system_message):
            system_message = default_system_message()
        parent_message_id = options.get("parentMessageId") if isinstance(options, dict) else None
        text = prompt if isinstance(prompt, str) else ("" if prompt is None else str(prompt))
        finite = settings.timeout_ms and settings.timeout_ms > 0 and not math.isinf(settings.timeout_ms)
        deadline = time.monotonic() + settings.timeout_ms / 1000.0 if finite else None

        user_message = {"role": "user", "id": str(uuid.uuid4()), "parentMessageId": parent_message_id, "text": text}
        messages, max_tokens, num_tokens = build_messages(settings, self.store, text, system_message, parent_message_id)
        request_body = {"max_tokens": max_tokens, "model": settings.model, "temperature": 0.8, "top_p": 1.0, "presence_penalty": 1}
        # completionParams {model, temperature, top_p} from the request override the constructor defaults;
        # an omitted (undefined) value is dropped by JSON.stringify.
        for key in ("temperature", "top_p"):
            if key in body and body[key] is not None:
                request_body[key] = body[key]
            else:
                request_body.pop(key)
        request_body["messages"] = messages
        request_body["stream"] = True
        if settings.debug:
            _log("sendMessage (%d tokens)" % num_tokens, json.dumps(request_body, ensure_ascii=False))

        result = {"role": "assistant", "id": str(uuid.uuid4()), "parentMessageId": user_message["id"], "text": ""}
        url = settings.api_base_url + "/chat/completions"
        headers = {"Content-Type": "application/json", "Authorization": "Bearer %s" % settings.api_key}
        upstream = Upstream(url, headers, request_body, None if deadline is None else max(0.001, deadline - time.monotonic()))
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), upstream.abort)
            timer.daemon = True
            timer.start()
        try:
            done = self._stream(upstream, result, on_progress)
            if not done:
                # The promise resolves only on [DONE]: wait for the timeout, or forever without one.
                if deadline is None:
                    threading.Event().wait()
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
                raise ChatError(TIMEOUT_MESSAGE)
        except ChatError as exc:
            _log(exc.message)
            raise
        finally:
            if timer is not None:
                timer.cancel()
            upstream.close()
        result["text"] = result["text"].strip()
        self.store.put(user_message)
        self.store.put({key: value for key, value in result.items() if value is not UNDEFINED})

    def _stream(self, upstream, result, on_progress):
        """Read the upstream SSE stream; True when ``[DONE]`` was seen."""
        response = upstream.open()
        if response.status < 200 or response.status >= 300:
            try:
                reason = response.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                reason = response.reason
            if upstream.aborted:
                raise ChatError(TIMEOUT_MESSAGE)
            raise ChatError("ChatGPT error %d: %s" % (response.status, reason), status_code=response.status)
        try:
            for data in iter_sse_data(response):
                if data == "[DONE]":
                    return True
                try:
                    chunk = json.loads(data)
                except ValueError as exc:
                    raise ChatError("Unexpected token in JSON: %s" % exc) from exc
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("id"):
                    result["id"] = chunk["id"]
                choices = chunk.get("choices")
                if choices:
                    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
                    if not isinstance(delta, dict):
                        raise ChatError("Cannot read properties of undefined (reading 'content')")
                    # Only delta.content is read: reasoning_content is dropped, <think> text stays literal.
                    result["delta"] = delta["content"] if "content" in delta else UNDEFINED
                    if delta.get("content"):
                        result["text"] += delta["content"]
                    if delta.get("role"):
                        result["role"] = delta["role"]
                    result["detail"] = chunk
                    on_progress(result)
        except (OSError, http.client.HTTPException) as exc:
            if upstream.aborted:
                raise ChatError(TIMEOUT_MESSAGE) from exc
            raise ChatError("Premature close: %s" % exc) from exc
        if upstream.aborted:
            raise ChatError(TIMEOUT_MESSAGE)
        return False

    def fetch_usage(self):
        """``/config`` usage: GET ``${base or https://api.openai.com}/v1/dashboard/billing/usage``."""
        settings = self.settings
        if not not_empty(settings.api_key):
            return "-"
        base = settings.base_url_env if not_empty(settings.base_url_env) else DEFAULT_USAGE_BASE_URL
        today = datetime.date.today()
        last_day = calendar.monthrange(today.year, today.month)[1]
        start = "%d-%02d-01" % (today.year, today.month)
        end = "%d-%02d-%02d" % (today.year, today.month, last_day)
        url = "%s/v1/dashboard/billing/usage?start_date=%s&end_date=%s" % (base, start, end)
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            return "-"
        conn_class = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parsed.hostname, parsed.port, timeout=30)
        try:
            conn.request("GET", parsed.path + "?" + parsed.query,
                         headers={"Authorization": "Bearer %s" % settings.api_key, "Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            if response.status < 200 or response.status >= 300:
                _log("获取使用量失败")
                return "-"
            usage = round(float(json.loads(payload.decode("utf-8"))["total_usage"])) / 100
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
            _log(exc)
            return "-"
        finally:
            conn.close()
        if not usage:
            return "-"
        return "$%s" % (int(usage) if float(usage).is_integer() else usage)


def build_server(host="127.0.0.1", port=DEFAULT_PORT, environ=None, access_log=False):
    """Create the server (raises ValueError on a start-up error, like the Node module throws)."""
    settings = Settings(os.environ if environ is None else environ)
    return ChatGPTWebStandin((host, port), settings, access_log=access_log)


def main(argv=None):
    parser = argparse.ArgumentParser(description="chatgpt-web lab stand-in")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    try:
        server = build_server(args.host, args.port, access_log=args.access_log)
    except ValueError as exc:
        sys.stderr.write("Error: %s\n" % exc)
        return 1

    def _stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _log("Server is running on port %d" % server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
