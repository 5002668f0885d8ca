# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP plumbing (ThreadingHTTPServer, chunked streams, gzip) and the process: logging, start-up, signals."""

from __future__ import annotations

import gzip
import logging
import os
import random
import signal
import sqlite3
import string
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from .app import OneAPI
from .catalog import VERSION
from .config import Config, Fatal, check_database, check_redis, load_token_encoders, parse_args
from .gojson import go_json
from .security import client_ip, session_cookie_header
from .web import Ctx, Response

LOG = logging.getLogger("one-api")
REQUEST_ID_HEADER = "X-Oneapi-Request-Id"


def request_id() -> str:
    """helper.GenRequestID: yyyyMMddHHmmss + nanoseconds % 1e9 + 8 random digits."""
    return (
        time.strftime("%Y%m%d%H%M%S")
        + str(time.time_ns() % 1_000_000_000)
        + "".join(random.choices(string.digits, k=8))
    )


class Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into Ctx, runs OneAPI.dispatch and writes the Response."""

    protocol_version = "HTTP/1.1"
    server: "StandinServer"

    def send_response(self, code: int, message: Optional[str] = None) -> None:  # no Server header, like Go
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        LOG.info("[GIN] %s | %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _session(self) -> Optional[dict]:
        for part in self.headers.get("Cookie", "").split(";"):
            name, _sep, value = part.strip().partition("=")
            if name == "session":
                return self.server.app.sessions.decode(value.strip('"'))
        return None

    def handle_any(self) -> None:
        uri = self.path
        split = urllib.parse.urlsplit(uri)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        ctx = Ctx(
            handler=self,
            method=self.command,
            path=urllib.parse.unquote(split.path),
            uri=uri,
            query=query,
            headers=self.headers,
            body=self._read_body(),
            client_ip=client_ip(self.headers, self.client_address[0]),
            request_id=request_id(),
        )
        ctx.session = self._session()
        try:
            response = self.server.app.dispatch(ctx)
        except (sqlite3.Error, LookupError):
            LOG.exception("request failed")
            response = Response(500, go_json({"success": False, "message": "internal error"}))
        if ctx.streamed or response is None:
            return
        self.write_response(ctx, response)

    def _common_headers(self, ctx: Ctx) -> None:
        if (
            self.headers.get("Connection", "").lower() == "close"
        ):  # net/http answers a closing request with Connection: close
            self.send_header("Connection", "close")
        if ctx.send_request_id:
            self.send_header(REQUEST_ID_HEADER, ctx.request_id)
        for cookie in ctx.set_cookies:
            self.send_header("Set-Cookie", session_cookie_header(cookie))
        for name, value in ctx.extra_headers:
            self.send_header(name, value)

    def write_response(self, ctx: Ctx, response: Response) -> None:
        body = response.body
        headers = list(response.headers)
        if ctx.gzip and response.status not in (301, 307):  # gin-contrib/gzip: even an empty body gets a gzip stream
            body = gzip.compress(body)
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        self.send_response(response.status)
        self._common_headers(ctx)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in headers:
            self.send_header(name, value)
        if response.status != 204:  # net/http sends no Content-Length with a 204
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def start_stream(self, ctx: Ctx, headers: list) -> None:
        self.send_response(200)
        self._common_headers(ctx)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> bool:
        if not data:
            return True
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except OSError:
            return False
        return True

    def end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


class StandinServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the OneAPI application."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple, app: OneAPI):
        super().__init__(address, Handler)
        self.app = app


def build_server(config: Config) -> StandinServer:
    app = OneAPI(config)
    return StandinServer((config.host, config.port), app)


def log_environment(config: Config) -> None:
    env = os.environ
    for name in ("LOG_SQL_DSN", "BATCH_UPDATE_ENABLED", "CHANNEL_TEST_FREQUENCY", "FRONTEND_BASE_URL"):
        if env.get(name):
            LOG.warning("lab stand-in: %s is set but ignored", name)
    if env.get("NODE_TYPE") and not env.get("SQL_DSN", "").strip():
        LOG.warning("lab stand-in: NODE_TYPE is set but the data is in SQLite (%s): a single node", config.sqlite_path)
    if env.get("INITIAL_ROOT_ACCESS_TOKEN"):
        LOG.warning("lab stand-in: INITIAL_ROOT_ACCESS_TOKEN is ignored: it does not exist in v0.6.6 (v0.6.8+)")


def _terminate(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _setup_logging(config: Config) -> None:
    formatter = logging.Formatter("[SYS] %(asctime)s | %(message)s", "%Y/%m/%d - %H:%M:%S")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="[SYS] %(asctime)s | %(message)s", datefmt="%Y/%m/%d - %H:%M:%S"
    )
    os.makedirs(config.log_dir, exist_ok=True)
    log_file = logging.FileHandler(os.path.join(config.log_dir, f"oneapi-{time.strftime('%Y%m%d%H%M%S')}.log"))
    log_file.setFormatter(formatter)
    logging.getLogger().addHandler(log_file)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        print(VERSION)
        return 0
    config = Config.from_env(args)
    os.makedirs(config.data_dir, exist_ok=True)
    _setup_logging(config)
    LOG.info("One API %s started (lab stand-in)", VERSION)
    log_environment(config)
    try:
        check_database()
        server = build_server(config)  # migrations and the root user come before Redis and the encoders, like upstream
        check_redis()
        LOG.info("using theme %s", server.app.options.get("Theme"))
        if config.memory_cache:
            LOG.info("memory cache enabled")
            LOG.info("sync frequency: %d seconds", config.sync_frequency)
        load_token_encoders()
    except Fatal as exc:
        sys.stderr.write(f"[FATAL] {time.strftime('%Y/%m/%d - %H:%M:%S')} | [{exc}] \n")
        sys.stderr.flush()
        return 1
    signal.signal(signal.SIGTERM, _terminate)  # PID 1 in a container ignores SIGTERM without a handler; Go exits on it
    LOG.info("listening on %s:%d", config.host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.store.close()
    return 0
