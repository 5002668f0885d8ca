# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tiny fake one-api for the role_chatgpt_web target (stdlib only, runs in the stand-in image).

``POST /v1/chat/completions`` streams one chunk whose content is a JSON report of what chatgpt-web sent
(path, Authorization header, model, max_tokens), then ``finish_reason: stop`` and ``[DONE]``. Any other path
answers 404 ``Invalid URL``, like one-api.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVED_MODEL = "DeepSeek-R1-Distill-Qwen-1.5B"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.requestline.split(" ")[1]
        if path != "/v1/chat/completions":
            data = ("Invalid URL (POST %s)" % path).encode()
            self.send_response(404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        report = {
            "path": path,
            "authorization": self.headers.get("Authorization"),
            "model": body.get("model"),
            "max_tokens": body.get("max_tokens"),
            "stream": body.get("stream"),
        }
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for delta, finish in (({"role": "assistant", "content": json.dumps(report)}, None), ({}, "stop")):
            chunk = {
                "id": "chatcmpl-it",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": SERVED_MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")


def main():
    server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 3000), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
