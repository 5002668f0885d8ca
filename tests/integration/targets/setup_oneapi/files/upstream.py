# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny OpenAI-compatible upstream for the one-api integration targets (standard library only).

POST /v1/chat/completions answers when ``Authorization: Bearer <UPSTREAM_KEY>`` matches, 401 otherwise.
GET /_requests returns what it received (model names, whether the key matched), for the assertions.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = os.environ.get("UPSTREAM_KEY", "")
LOG = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path == "/_requests":
            with LOCK:
                self._send(200, list(LOG))
        elif self.path == "/health":
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        key_ok = self.headers.get("Authorization", "") == "Bearer " + KEY
        with LOCK:
            LOG.append({"path": self.path, "model": body.get("model"), "key_ok": key_ok})
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
        elif not key_ok:
            self._send(401, {"error": {"message": "invalid token", "type": "invalid_request_error", "code": "invalid_api_key"}})
        else:
            self._send(200, {"id": "chatcmpl-it", "object": "chat.completion", "created": 1, "model": body.get("model"),
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def log_message(self, *args):
        return


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("UPSTREAM_PORT", "8080"))), Handler).serve_forever()
