# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server process: settings read once, the tokenizer loaded, ``app.listen(3002)``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from .chat import ChatClient, log
from .handler import ChatGPTWebHandler, RateLimiter
from .settings import Settings
from .tokens import default_tokenizer

DEFAULT_PORT = 3002


class ChatGPTWebStandin(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, settings, tokenizer, access_log=False):
        super().__init__(address, ChatGPTWebHandler)
        self.settings = settings
        self.access_log = access_log
        self.chat = ChatClient(settings, tokenizer)
        self.limiter = RateLimiter(settings.max_request_per_hour)


def build_server(host="127.0.0.1", port=DEFAULT_PORT, environ=None, access_log=False, tokenizer=None):
    """Create the server (raises ValueError on a start-up error, like the Node module throws)."""
    environ = os.environ if environ is None else environ
    settings = Settings(environ)
    return ChatGPTWebStandin((host, port), settings, tokenizer or default_tokenizer(environ), access_log=access_log)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m chatgpt_web_standin", description="chatgpt-web lab stand-in")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    # The real process needs about a second before it listens (Node, the wasm tokenizer); the image sets
    # CHATGPT_WEB_STANDIN_STARTUP_DELAY so that readiness checks meet the same gap.
    started = time.monotonic()
    try:
        server = build_server(args.host, args.port, access_log=args.access_log)
    except ValueError as exc:
        sys.stderr.write("Error: %s\n" % exc)
        return 1
    if not server.chat.tokenizer.exact:
        log(
            "chatgpt-web lab stand-in: no cl100k_base ranks (%s); token counts are estimated. "
            "Fetch them with: python3 -m chatgpt_web_standin.ranks fetch" % server.chat.tokenizer.ranks_path
        )
    try:
        delay = float(os.environ.get("CHATGPT_WEB_STANDIN_STARTUP_DELAY") or 0)
    except ValueError:
        delay = 0.0
    remaining = delay - (time.monotonic() - started)
    if remaining > 0:
        # not listening yet: connections are refused meanwhile, as with the real process
        server.socket.close()
        time.sleep(remaining)
        server = build_server(args.host, args.port, access_log=args.access_log, tokenizer=server.chat.tokenizer)

    def _stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log("Server is running on port %d" % DEFAULT_PORT)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
