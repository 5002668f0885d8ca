# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's fake OpenAI upstream reads request bodies as one-api sends them: with a Content-Length or chunked; its
answers stay as they were without the slow-stream marker, and `chunks:N every:MS` streams N pieces spread over time."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
from fake_openai import __main__ as fake  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    del fake.LOG[:]
    yield server.server_address[1]
    server.shutdown()


def post(port, body, chunked):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = json.dumps(body).encode()
    if chunked:
        conn.putrequest("POST", "/v1/chat/completions")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "application/json")
        conn.endheaders()
        for piece in (data[:7], data[7:]):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
    else:
        conn.request("POST", "/v1/chat/completions", body=data, headers={"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_body_is_read_either_way(port, chunked):
    body = dict(model="served-model", messages=[dict(role="user", content="ping")], stop=["</s>"], max_tokens=7)
    answer = post(port, body, chunked)
    assert answer["model"] == "served-model" and answer["choices"][0]["message"]["content"] == "pong"
    assert fake.LOG[-1] == dict(
        path="/v1/chat/completions", model="served-model", key_ok=True, stream=False, max_tokens=7, stop=["</s>"]
    )


@pytest.fixture(name="upstream")
def fixture_upstream(monkeypatch):
    for name in (
        "FAKE_OPENAI_KEY",
        "FAKE_OPENAI_MODEL",
        "FAKE_OPENAI_REPLY",
        "FAKE_OPENAI_REPORT",
        "FAKE_OPENAI_CHUNK_MS",
    ):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def chat(port, content, stream=True):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": content}]}
    start = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    reads = []
    while True:
        piece = resp.read1(65536)
        if not piece:
            break
        reads.append((time.monotonic() - start, piece))
    conn.close()
    return resp.status, reads


def events(reads):
    text = b"".join(piece for _t, piece in reads).decode()
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def test_without_marker_two_chunks_as_before(upstream):
    status, reads = chat(upstream, "hello")
    data = events(reads)
    assert status == 200
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert [c["choices"][0]["delta"] for c in chunks] == [{"role": "assistant", "content": "pong"}, {}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_slow_stream_spreads_pieces_over_time(upstream):
    status, reads = chat(upstream, "Stream slowly. chunks:10 every:30")
    data = events(reads)
    assert status == 200
    chunks = [json.loads(d) for d in data[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == " ".join("pong-%d" % i for i in range(1, 11))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # 10 pieces and the stop chunk, 30 ms apart: the first arrives at once, the last about 300 ms later.
    assert len(reads) >= 8
    assert reads[-1][0] - reads[0][0] >= 0.25


def test_slow_marker_without_stream_answers_whole(upstream):
    conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=10)
    body = {"model": "m", "messages": [{"role": "user", "content": "chunks:3"}]}
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    conn.close()
    assert answer["choices"][0]["message"]["content"] == "pong-1 pong-2 pong-3"


@pytest.mark.parametrize(
    "content, expected",
    [("no marker", None), ("chunks:0", None), ("chunks:5", (5, 0.05)), ("chunks:5 every:10", (5, 0.01))],
)
def test_marker_parsing(content, expected):
    assert fake.slow_stream([{"role": "user", "content": content}], 50) == expected
