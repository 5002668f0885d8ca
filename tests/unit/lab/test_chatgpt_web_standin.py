# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Behaviour of the chatgpt-web lab stand-in (tests/lab/chatgpt_web_standin.py) against a fake OpenAI upstream."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

STANDIN_PATH = Path(__file__).resolve().parents[2] / "lab" / "chatgpt_web_standin.py"
_SPEC = importlib.util.spec_from_file_location("chatgpt_web_standin", STANDIN_PATH)
standin = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(standin)

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
    return {"id": "chatcmpl-lab1", "object": "chat.completion.chunk", "created": 1700000000, "model": SERVED,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class FakeUpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _record(self, body):
        # the raw request-target: http.server itself collapses a leading "//" in self.path
        raw_path = self.requestline.split(" ")[1]
        self.server.requests.append({"method": self.command, "path": raw_path, "headers": dict(self.headers), "body": body})

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

    def _start(**env):
        environ = {"OPENAI_API_KEY": TOKEN, "OPENAI_API_BASE_URL": upstream.url, "AUTH_SECRET_KEY": KEY,
                   "OPENAI_API_DISABLE_DEBUG": "true"}
        environ.update(env)
        environ = {k: v for k, v in environ.items() if v is not None}
        server = standin.build_server("127.0.0.1", 0, environ=environ)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Client(server.server_address[1])

    yield _start
    for server in servers:
        server.shutdown()
        server.server_close()


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
    assert client.json("/api/verify", {"token": KEY}) == {"status": "Success", "message": "Verify successfully", "data": None}
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
    assert reply["data"] == {"apiModel": "ChatGPTAPI", "reverseProxy": "-", "timeoutMs": 600000,
                             "socksProxy": "-", "httpsProxy": "-", "usage": "$1.23"}
    usage_call = [r for r in upstream.requests if r["method"] == "GET"][-1]
    assert usage_call["path"].startswith("/v1/dashboard/billing/usage?start_date=")
    assert usage_call["headers"]["Authorization"] == "Bearer " + TOKEN


@pytest.mark.parametrize("raw, expected", [(None, 100000), ("", 0), ("0", 0), ("abc", 100000), ("600000", 600000)])
def test_timeout_ms_parsing(start, raw, expected):
    client = start(TIMEOUT_MS=raw, AUTH_SECRET_KEY=None)
    assert client.json("/config")["data"]["timeoutMs"] == expected


def test_missing_upstream_key_stops_the_process():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_ACCESS_TOKEN")}
    proc = subprocess.run([sys.executable, str(STANDIN_PATH), "--host", "127.0.0.1", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode == 1
    assert "Missing OPENAI_API_KEY or OPENAI_ACCESS_TOKEN environment variable" in proc.stderr


def test_cors_headers_and_routes_without_api_prefix(start):
    client = start()
    status, headers, _text = client.post("/session")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Headers"] == "authorization, Content-Type"


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
    assert request["headers"]["Authorization"] == "Bearer " + TOKEN
    assert request["body"] == {"max_tokens": 8192, "model": "gpt-4-32k", "temperature": 0.5, "top_p": 1,
                               "presence_penalty": 1, "stream": True,
                               "messages": [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "Reply with the single word PONG"}]}


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
        ("user", "first question"), ("assistant", "PONG"), ("user", "second question")]


def test_over_long_prompt_is_silently_dropped(start, upstream):
    start().chat("x" * 20000)  # > (4000 - 1000) tokens for an unknown model name
    messages = upstream.chat_requests()[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system"]


@pytest.mark.parametrize("flavor, base, expected_path", [
    ("v2.11.1", "", "/v1/chat/completions"),
    ("v2.11.1", "/v1", "/v1/v1/chat/completions"),
    ("v2.11.1", "/", "//v1/chat/completions"),
    ("main", "", "/v1/chat/completions"),
    ("main", "/v1", "/v1/chat/completions"),
    ("main", "/", "//v1/chat/completions"),
])
def test_base_url_v1_handling(start, upstream, flavor, base, expected_path):
    client = start(CHATGPT_WEB_STANDIN_FLAVOR=flavor, OPENAI_API_BASE_URL=upstream.url + base)
    _headers, text = client.chat()
    assert upstream.chat_requests()[-1]["path"] == expected_path
    if expected_path == "/v1/chat/completions":
        assert lines_of(text)[-1]["text"] == "PONG"
    else:
        assert json.loads(text) == {"message": "ChatGPT error 404: Invalid URL (POST %s)" % expected_path, "data": None, "status": "Fail"}


@pytest.mark.parametrize("flavor, model, max_tokens", [
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
])
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
    upstream.behaviour = {"chunks": [chunk(role="assistant", reasoning="Let me think"), chunk(reasoning=" hard."),
                                     chunk("PONG"), chunk(finish="stop")]}
    lines = lines_of(start().chat()[1])
    assert [line["text"] for line in lines] == ["", "", "PONG", "PONG"]
    assert "Let me think" not in json.dumps([line["text"] for line in lines])
    assert "delta" not in lines[0]  # reasoning chunks still produce a line, with no delta
    assert lines[-1]["detail"]["choices"][0]["finish_reason"] == "stop"


def test_inline_think_tags_are_kept_literally(start, upstream):
    upstream.behaviour = {"chunks": [chunk("<think>\nhmm\n", role="assistant"), chunk("</think>\n\nPONG"), chunk(finish="stop")]}
    assert lines_of(start().chat()[1])[-1]["text"] == "<think>\nhmm\n</think>\n\nPONG"
    upstream.behaviour = {"chunks": [chunk("hmm\n</think>\n\nPONG", role="assistant"), chunk(finish="stop")]}
    assert "</think>" in lines_of(start().chat()[1])[-1]["text"]


def test_timeout_is_total_and_appends_the_error_without_newline(start, upstream):
    upstream.behaviour = {"chunks": [chunk("PO", role="assistant"), chunk("NG")], "delay": 0.3, "done": False, "hang": 5}
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


@pytest.mark.parametrize("status, message", [
    (401, "[OpenAI] 提供错误的API密钥 | Incorrect API key provided"),
    (503, "[OpenAI] 服务器繁忙，请稍后再试 | Server is busy, please try again later"),
    (400, "ChatGPT error 400: bad request"),
])
def test_upstream_errors(start, upstream, status, message):
    upstream.behaviour = {"status": status, "error_body": "bad request"}
    assert json.loads(start().chat()[1]) == {"message": message, "data": None, "status": "Fail"}


def test_unreachable_upstream(start):
    text = start(OPENAI_API_BASE_URL="http://127.0.0.1:9").chat()[1]
    reply = json.loads(text)
    assert reply["status"] == "Fail"
    assert reply["message"].startswith("request to http://127.0.0.1:9/v1/chat/completions failed, reason:")


def test_rate_limit_per_ip_after_auth(start, upstream):
    client = start(MAX_REQUEST_PER_HOUR="2")
    client.chat(key="wrong")  # refused by auth before the limiter: not counted
    assert lines_of(client.chat()[1])[-1]["text"] == "PONG"
    headers, text = client.chat()
    assert headers["X-RateLimit-Remaining"] == "0"
    headers, text = client.chat()
    assert json.loads(text) == {"status": "Fail", "message": "Too many request from this IP in 1 hour", "data": None}
    assert len(upstream.chat_requests()) == 2
    # trust proxy = 1: the rightmost X-Forwarded-For entry is the client
    _headers, text = client.chat(headers={"X-Forwarded-For": "10.9.9.9, 192.0.2.7"})
    assert lines_of(text)[-1]["text"] == "PONG"


@pytest.mark.parametrize("value", ["0", "", "ten"])
def test_rate_limit_unlimited_values(start, value):
    client = start(MAX_REQUEST_PER_HOUR=value)
    for attempt in range(3):
        assert lines_of(client.chat()[1])[-1]["text"] == "PONG", "request %d was limited" % (attempt + 1)


def test_chat_without_json_content_type_writes_empty_object(start, upstream):
    status, _headers, text = start().post("/api/chat-process", raw=b"prompt=hi",
                                          headers={"Content-Type": "text/plain", "Authorization": "Bearer " + KEY})
    assert (status, text) == (200, "{}")
    assert upstream.chat_requests() == []


def test_debug_log_prints_prompts_unless_disabled(start, capsys):
    start(OPENAI_API_DISABLE_DEBUG=None).chat("secret question")
    assert "secret question" in capsys.readouterr().out
    start(OPENAI_API_DISABLE_DEBUG="true").chat("other question")
    assert "other question" not in capsys.readouterr().out
