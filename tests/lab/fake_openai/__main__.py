# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake OpenAI upstream's HTTP server (see the package docstring)."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = []
LOCK = threading.Lock()
# A slow stream on request: `chunks:N` in the last user message streams N content chunks, `every:MS` apart
# (default FAKE_OPENAI_CHUNK_MS, 50 ms), like a model generating; without the marker nothing changes.
CHUNKS = re.compile(r'\bchunks:(\d{1,4})\b')
EVERY = re.compile(r'\bevery:(\d{1,5})\b')


def settings():
    return dict(
        key=os.environ.get('FAKE_OPENAI_KEY', ''),
        model=os.environ.get('FAKE_OPENAI_MODEL', ''),
        reply=os.environ.get('FAKE_OPENAI_REPLY', 'pong'),
        report=os.environ.get('FAKE_OPENAI_REPORT', '').lower() == 'true',
        chunk_ms=int(os.environ.get('FAKE_OPENAI_CHUNK_MS') or 50),
    )


def slow_stream(messages, default_ms):
    """(chunks, seconds between them) asked for by the last user message, or None."""
    users = [m for m in messages or [] if isinstance(m, dict) and m.get('role') == 'user']
    text = users[-1].get('content') if users else ''
    text = text if isinstance(text, str) else json.dumps(text)
    count = CHUNKS.search(text)
    if not count or int(count.group(1)) < 1:
        return None
    every = EVERY.search(text)
    return min(int(count.group(1)), 2000), (int(every.group(1)) if every else default_ms) / 1000.0


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: a streamed answer ends when the connection closes, as a plain SSE server does.
    protocol_version = 'HTTP/1.0'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _send(self, status, body, content_type='application/json'):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server naming)
        if self.path == '/_requests':
            with LOCK:
                self._send(200, list(LOG))
        elif self.path == '/health':
            self._send(200, {'ok': True})
        else:
            self._send(404, ('Invalid URL (GET %s)' % self.path).encode(), 'text/plain; charset=utf-8')

    def _body(self):
        """The request body, sent with a Content-Length or chunked (one-api forwards an unmapped request chunked)."""
        if 'chunked' not in self.headers.get('Transfer-Encoding', '').lower():
            return self.rfile.read(int(self.headers.get('Content-Length') or 0))
        data = b''
        while True:
            size = int(self.rfile.readline().split(b';', 1)[0].strip() or b'0', 16)
            if size == 0:
                while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                    pass
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    def do_POST(self):  # noqa: N802
        conf = settings()
        try:
            body = json.loads(self._body() or b'{}')
        except ValueError:
            body = {}
        authorization = self.headers.get('Authorization', '')
        key_ok = not conf['key'] or authorization == 'Bearer ' + conf['key']
        entry = dict(
            path=self.path,
            model=body.get('model'),
            key_ok=key_ok,
            stream=bool(body.get('stream')),
            max_tokens=body.get('max_tokens'),
            stop=body.get('stop'),
        )
        with LOCK:
            LOG.append(entry)
        if self.path != '/v1/chat/completions':
            self._send(404, ('Invalid URL (POST %s)' % self.path).encode(), 'text/plain; charset=utf-8')
            return
        if not key_ok:
            self._send(
                401, {'error': {'message': 'invalid token', 'type': 'invalid_request_error', 'code': 'invalid_api_key'}}
            )
            return
        model = conf['model'] or body.get('model')
        # Asked in Chinese, it answers in Chinese, as a model does.
        chinese = any('\u4e00' <= ch <= '\u9fff' for ch in json.dumps(body.get('messages'), ensure_ascii=False))
        content = '你好！这是实验室的模拟回答。' if chinese else conf['reply']
        if conf['report']:
            content = json.dumps(dict(entry, authorization=authorization, reply=content), ensure_ascii=False)
        slow = slow_stream(body.get('messages'), conf['chunk_ms'])
        if slow:
            pieces = ['%s%s-%d' % (' ' if i else '', conf['reply'], i + 1) for i in range(slow[0])]
            content = ''.join(pieces)
        if body.get('stream') and slow:
            self.stream(model, pieces, slow[1])
        elif body.get('stream'):
            self.stream(model, [content])
        else:
            self._send(
                200,
                {
                    'id': 'chatcmpl-lab',
                    'object': 'chat.completion',
                    'created': 1700000000,
                    'model': model,
                    'choices': [
                        {'index': 0, 'message': {'role': 'assistant', 'content': content}, 'finish_reason': 'stop'}
                    ],
                    'usage': {'prompt_tokens': 1, 'completion_tokens': 1, 'total_tokens': 2},
                },
            )

    def stream(self, model, pieces, every=0.0):
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream')
        self.end_headers()
        deltas = [({'role': 'assistant', 'content': pieces[0]}, None)]
        deltas += [({'content': piece}, None) for piece in pieces[1:]]
        for index, (delta, finish) in enumerate(deltas + [({}, 'stop')]):
            if index and every:
                time.sleep(every)
            chunk = {
                'id': 'chatcmpl-lab',
                'object': 'chat.completion.chunk',
                'created': 1700000000,
                'model': model,
                'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish}],
            }
            self.wfile.write(b'data: ' + json.dumps(chunk).encode() + b'\n\n')
        self.wfile.write(b'data: [DONE]\n\n')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0]) if argv else int(os.environ.get('FAKE_OPENAI_PORT', '8080'))
    ThreadingHTTPServer(('0.0.0.0', port), Handler).serve_forever()


if __name__ == '__main__':
    main()
