# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's one fake OpenAI-compatible upstream (standard library only).

``POST /v1/chat/completions`` answers, streamed (SSE, ``[DONE]``) or not, when the ``Authorization: Bearer <key>``
matches ``FAKE_OPENAI_KEY`` (any key when unset), HTTP 401 otherwise. The answer's ``model`` is ``FAKE_OPENAI_MODEL``
(or the requested one); its content is ``FAKE_OPENAI_REPLY`` (default ``pong``; a Chinese sentence when the messages are
in Chinese) or, with ``FAKE_OPENAI_REPORT=true``, a JSON report of what the caller sent (path, Authorization header,
model, max_tokens, stream) and of that reply. ``chunks:N`` in the last user message (and optionally ``every:MS``,
default ``FAKE_OPENAI_CHUNK_MS`` or 50) asks for a slow answer: N content pieces (``<reply>-1 <reply>-2 ...``), streamed
MS apart, like a model generating. Other paths answer
``404 Invalid URL (<method> <path>)`` like one-api.
``GET /_requests`` lists what was received (path, model, whether the key matched, stream, max_tokens, stop); bodies
may come with a Content-Length or chunked; ``GET /health`` answers 200.

Run: ``python3 -m fake_openai [port]`` (``FAKE_OPENAI_PORT``, default 8080) with ``tests/lab`` on the path.
"""
