# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's fake OpenAI upstream reads request bodies as one-api sends them: with a Content-Length or chunked."""

from __future__ import annotations

import http.client
import json
import sys
import threading
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
