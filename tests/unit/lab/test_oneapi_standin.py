# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Behaviour of the one-api v0.6.6 lab stand-in (tests/lab/oneapi_standin/), checked against upstream v0.6.6.

The stand-in runs as a subprocess (``python3 -m oneapi_standin``) on 127.0.0.1 (free port, temporary data dir); a tiny
OpenAI-compatible fake upstream runs in a thread and records what one-api forwards to it. Pure helpers (Go-compatible
JSON errors) are imported from the package directly.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"
SERVED = "DeepSeek-R1-Distill-Qwen-1.5B"
ENCODER_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"

sys.path.insert(0, str(LAB))
from oneapi_standin import gojson  # noqa: E402  pylint: disable=wrong-import-position


# ---------------------------------------------------------------------------------------------------------------------
# fake upstream (EAS / vLLM-like)


class FakeUpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _body(self):
        if "chunked" not in self.headers.get("Transfer-Encoding", ""):
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = []
        while True:
            size = int(self.rfile.readline().strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": None, "method": "GET"})
        answer = {
            "model": "redirected",
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        self._send(200, "application/json", json.dumps(answer).encode())

    def do_POST(self):  # noqa: N802  pylint: disable=invalid-name
        body = self._body()
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"null")}
        )
        if self.path == "/v1/redirected":
            self._send(200, "application/json", json.dumps({"model": "redirected-post", "choices": []}).encode())
            return
        if self.path != "/v1/chat/completions":
            self._send(
                404,
                "application/json",
                json.dumps({"error": {"message": f"no route {self.path}", "type": "not_found"}}).encode(),
            )
            return
        request = json.loads(body)
        if self.headers.get("Authorization") == "Bearer bad-key":
            self._send(
                401,
                "application/json",
                b'{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}',
            )
            return
        if request["model"] == "plain-503":
            self._send(503, "text/plain", b"no healthy upstream")
            return
        if request["model"] == "json-502":
            self._send(502, "application/json", b'{"detail":"x"}')
            return
        if request["model"] in ("redirect-302", "redirect-307"):
            self.send_response(302 if request["model"] == "redirect-302" else 307)
            self.send_header("Location", "/v1/redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if request["model"] == "fail-500":
            self._send(500, "application/json", b'{"error":{"message":"boom","type":"server_error"}}')
            return
        if request["model"] == "gzipped":
            usage = {"total_tokens": 2, "prompt_tokens": 1, "completion_tokens": 1}
            payload = gzip.compress(json.dumps({"model": "gzipped", "choices": [], "usage": usage}).encode())
            self._send(200, "application/json", payload, [("Content-Encoding", "gzip")])
            return
        if request.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for item in (
                {
                    "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "think"}}],
                    "model": request["model"],
                },
                {
                    "choices": [{"index": 0, "delta": {"content": "PONG"}, "finish_reason": "stop"}],
                    "model": request["model"],
                },
                {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
            ):
                self.wfile.write(b"data: " + json.dumps(item).encode() + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            return
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "PONG", "reasoning_content": "think"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }
        self._send(200, "application/json", json.dumps(answer).encode(), [("X-Upstream", "fake")])

    def _send(self, status, content_type, payload, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeUpstreamHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------------------------------
# stand-in process and a small client


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Client:
    """urllib client keeping the `session` cookie; never follows redirects; returns (status, headers, body)."""

    def __init__(self, base):
        self.base = base
        self.cookie = None
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def call(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=dict(headers or {}))
        if self.cookie and "Cookie" not in request.headers:
            request.add_header("Cookie", f"session={self.cookie}")
        try:
            resp = self.opener.open(request, timeout=10)
        except urllib.error.HTTPError as exc:
            resp = exc
        with resp:
            payload = resp.read()
            for value in resp.headers.get_all("Set-Cookie") or []:
                match = re.match(r"session=([^;]*)", value)
                if match:
                    self.cookie = match.group(1)
            return resp.status, resp.headers, payload

    def json(self, method, path, body=None, headers=None, raw=None):
        status, _status, payload = self.call(method, path, body, headers, raw)
        return status, json.loads(payload)

    def login(self, password="123456", username="root"):
        return self.json("POST", "/api/user/login", {"username": username, "password": password})


def encoder_cache(directory):
    """A tiktoken-go cache holding cl100k_base (a placeholder: the stand-in checks that it is there, not what it says)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(ENCODER_URL.encode()).hexdigest()).write_text("placeholder")
    return directory


def standin_env(data_dir, env=None):
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PORT",
            "SESSION_SECRET",
            "SQLITE_PATH",
            "INITIAL_ROOT_TOKEN",
            "SQL_DSN",
            "REDIS_CONN_STRING",
            "SYNC_FREQUENCY",
            "DATA_GYM_CACHE_DIR",
        )
    }
    full_env.update(
        {
            "GLOBAL_API_RATE_LIMIT": "100000",
            "GLOBAL_WEB_RATE_LIMIT": "100000",
            "PYTHONPATH": str(LAB),
            "TIKTOKEN_CACHE_DIR": str(encoder_cache(Path(data_dir) / "tiktoken")),
        }
    )
    full_env.update(env or {})
    return full_env


def run_standin(data_dir, env=None, args=(), timeout=30):
    """Run the stand-in to its end (a start that fails, --version); returns the CompletedProcess."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "oneapi_standin",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *args,
        ],
        env=standin_env(data_dir, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Standin:
    def __init__(self, data_dir, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "oneapi_standin", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=standin_env(data_dir, env),
            text=True,
        )
        self.log = []
        for line in self.proc.stdout:
            self.log.append(line)
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                self.url = f"http://127.0.0.1:{match.group(1)}"
                break
        else:
            raise RuntimeError("stand-in did not start: " + "".join(self.log))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def client(self):
        return Client(self.url)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(name="start")
def start_fixture():
    started = []

    def _start(data_dir, env=None):
        standin = Standin(data_dir, env)
        started.append(standin)
        return standin

    yield _start
    for standin in started:
        if standin.proc.poll() is None:
            standin.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    standin = Standin(tmp_path_factory.mktemp("oneapi"))
    yield standin
    standin.stop()


@pytest.fixture(name="root", scope="module")
def root_fixture(shared):  # one login for the module: the login limit (20 / 20 min / IP) is upstream's default here
    client = shared.client()
    status, answer = client.login()
    assert status == 200 and answer["success"], answer
    return client


def find_channel(client, name):
    _status, answer = client.json("GET", f"/api/channel/search?keyword={name}")
    return [c for c in answer["data"] if c["name"] == name]


def add_channel(client, **fields):
    status, answer = client.json("POST", "/api/channel/", fields)
    assert status == 200 and answer == {"message": "", "success": True}, answer
    return find_channel(client, fields["name"])[-1]


def add_token(client, name, **fields):
    body = {"name": name, "expired_time": -1, "remain_quota": 0, "unlimited_quota": True}
    body.update(fields)
    _status, answer = client.json("POST", "/api/token/", body)
    assert answer["success"], answer
    return answer["data"]


def chat(client, key, model, stream=False, content_type="application/json", **extra):
    body = dict({"model": model, "messages": [{"role": "user", "content": "ping"}], "stream": stream}, **extra)
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    return client.call("POST", "/v1/chat/completions", raw=json.dumps(body).encode(), headers=headers)


# ---------------------------------------------------------------------------------------------------------------------
# management API


def test_empty_database_gets_root_123456_and_login_sets_session_cookie(shared):
    client = shared.client()
    status, answer = client.json("GET", "/api/status")
    assert status == 200 and answer["success"] is True and answer["data"]["version"] == "v0.6.6"
    status, answer = client.json("GET", "/api/user/self")
    assert status == 401 and answer["success"] is False
    status, answer = client.login("wrong-password")
    assert status == 200 and answer["success"] is False and client.cookie is None
    status, answer = client.login()
    assert answer["success"] is True and answer["data"]["id"] == 1 and answer["data"]["role"] == 100
    assert answer["data"]["access_token"] == "" and client.cookie
    _status, answer = client.json("GET", "/api/user/self")
    assert answer["data"]["username"] == "root" and answer["data"]["password"] == ""
    assert re.fullmatch(r"[0-9a-f]{32}", answer["data"]["access_token"])


def test_access_token_rotates_and_authorizes_with_or_without_bearer(root, shared):
    _status, first = root.json("GET", "/api/user/token")
    _status, second = root.json("GET", "/api/user/token")
    assert re.fullmatch(r"[0-9a-f]{32}", second["data"]) and first["data"] != second["data"]
    anonymous = shared.client()
    status, answer = anonymous.json("GET", "/api/channel/?p=0", headers={"Authorization": first["data"]})
    assert status == 200 and answer["success"] is False  # rotated away
    for header in (second["data"], "Bearer " + second["data"]):
        status, answer = anonymous.json("GET", "/api/option/", headers={"Authorization": header})
        assert status == 200 and answer["success"] is True
    _status, answer = root.json("GET", "/api/user/self")
    assert answer["data"]["access_token"] == second["data"]  # v0.6.6 reads it without rotating


def test_password_change_rules(start, tmp_path):
    client = start(tmp_path).client()
    client.login()
    old_cookie = client.cookie
    for bad in ("7chars!", "x" * 21, "123456"):
        status, answer = client.json("PUT", "/api/user/self", {"password": bad})
        assert status == 200 and answer["success"] is False and "Password" in answer["message"]
    status, answer = client.json("PUT", "/api/user/self", {"password": "x" * 20})
    assert answer == {"message": "", "success": True}
    assert client.login()[1]["success"] is False
    assert client.login("x" * 20)[1]["success"] is True
    client.cookie = old_cookie  # cookies survive a password change
    assert client.json("GET", "/api/user/self")[1]["success"] is True


def test_options_are_root_only_string_values(root, shared):
    status, answer = root.json("PUT", "/api/option/", {"key": "RegisterEnabled", "value": False})
    assert status == 400 and answer["success"] is False
    for key in ("RegisterEnabled", "PasswordRegisterEnabled"):
        assert root.json("PUT", "/api/option/", {"key": key, "value": "false"})[1]["success"] is True
    _status, answer = root.json("GET", "/api/option/")
    options = {o["key"]: o["value"] for o in answer["data"]}
    assert options["RegisterEnabled"] == "false" and options["PasswordRegisterEnabled"] == "false"
    assert not [k for k in options if k.endswith(("Token", "Secret"))]
    _status, answer = shared.client().json("POST", "/api/user/register", {"username": "eve", "password": "12345678"})
    assert answer["success"] is False


def test_trailing_slash_redirects(root):
    status, headers, _body = root.call("GET", "/api/channel?p=0")
    assert status == 301 and headers["Location"] == "/api/channel/?p=0"
    status, headers, _body = root.call("POST", "/api/token", {"name": "x"})
    assert status == 307 and headers["Location"] == "/api/token/"
    status, answer = root.json("GET", "/api/nope")
    assert status == 404 and answer["error"]["type"] == "invalid_request_error"


def test_channel_create_without_id_key_write_only_and_partial_update(root):
    channel = add_channel(
        root,
        name="eas-partial",
        type=36,
        key="secret-eas-token",
        base_url="http://old",
        models="gpt-4,deepseek-chat",
        model_mapping=json.dumps({"gpt-4": SERVED}),
    )
    assert channel["key"] == "" and channel["group"] == "default" and channel["status"] == 1
    _status, prefix = root.json(
        "GET", "/api/channel/search?keyword=EAS-part"
    )  # prefix LIKE, case-insensitive on SQLite
    assert channel["id"] in [c["id"] for c in prefix["data"]]
    assert root.json("GET", f"/api/channel/{channel['id']}")[1]["data"]["key"] == ""
    _status, page = root.json("GET", "/api/channel/?p=0")
    assert all(c["key"] == "" for c in page["data"])
    _status, answer = root.json(
        "PUT", "/api/channel/", {"id": channel["id"], "base_url": "http://new", "models": "", "status": 0}
    )
    assert answer["success"] and answer["data"]["key"] == "secret-eas-token"  # only the PUT echo shows the key
    stored = root.json("GET", f"/api/channel/{channel['id']}")[1]["data"]
    assert (
        stored["base_url"] == "http://new"
        and stored["models"] == "gpt-4,deepseek-chat"
        and stored["name"] == "eas-partial"
    )
    assert stored["model_mapping"] == json.dumps({"gpt-4": SERVED}) and stored["status"] == 1
    assert root.json("DELETE", f"/api/channel/{channel['id']}")[1]["success"] is True
    assert root.json("DELETE", "/api/channel/999999")[1]["success"] is True  # even when missing
    assert root.json("GET", f"/api/channel/{channel['id']}")[1] == {"message": "record not found", "success": False}


def test_channel_pages_of_ten_newest_first(start, tmp_path):
    client = start(tmp_path).client()
    client.login()
    add_channel(
        client, name="batch", type=8, key="\n".join(f"k{i}" for i in range(23)), models="m", base_url="http://x"
    )
    pages = [client.json("GET", f"/api/channel/?p={p}")[1]["data"] for p in range(4)]
    assert [len(page) for page in pages] == [10, 10, 3, 0] and pages[3] == []
    ids = [c["id"] for page in pages for c in page]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 23


def test_duplicated_model_name_breaks_creation_and_leaves_orphan(root, upstream):
    status, answer = root.json(
        "POST",
        "/api/channel/",
        {"name": "dup-models", "type": 8, "key": "k", "models": "dup-m,dup-m", "base_url": upstream.url},
    )
    assert status == 200 and answer["success"] is False and "UNIQUE" in answer["message"]
    assert len(find_channel(root, "dup-models")) == 1  # the channel row was committed anyway
    token = add_token(root, "dup-tok")
    status, _status, body = chat(root, "sk-" + token["key"], "dup-m")
    assert status == 503 and "无可用渠道" in json.loads(body)["error"]["message"]


def test_token_create_list_and_full_overwrite_update(root, shared):
    _status, created = root.json(
        "POST", "/api/token/", {"name": "tok-a", "remain_quota": 500000, "unlimited_quota": False}
    )
    token = created["data"]
    assert (
        created["success"]
        and re.fullmatch(r"[0-9A-Za-z]{48}", token["key"])
        and token["expired_time"] == -1
        and token["status"] == 1
    )
    _status, listed = root.json("GET", "/api/token/?p=0")
    assert listed["data"][0]["id"] == token["id"] and listed["data"][0]["key"] == token["key"]
    _status, found = root.json("GET", "/api/token/search?keyword=tok-")
    assert [t["key"] for t in found["data"] if t["id"] == token["id"]] == [token["key"]]
    _status, updated = root.json(
        "PUT", "/api/token/", {"id": token["id"], "name": "tok-b"}
    )  # everything else becomes zero
    assert updated["success"] and updated["data"]["expired_time"] == 0 and updated["data"]["remain_quota"] == 0
    status, _status, body = root.call("GET", "/v1/models", headers={"Authorization": "Bearer sk-" + token["key"]})
    assert status == 401 and "该令牌已过期" in json.loads(body)["error"]["message"]
    _status, fixed = root.json(
        "PUT", "/api/token/", {"id": token["id"], "name": "tok-b", "expired_time": -1, "unlimited_quota": True}
    )
    assert fixed["data"]["status"] == 3  # a full update does not touch status
    _status, enabled = root.json("PUT", "/api/token/?status_only=1", {"id": token["id"], "status": 1})
    assert enabled["success"] and enabled["data"]["status"] == 1 and enabled["data"]["name"] == "tok-b"
    for key in (token["key"], "sk-" + token["key"]):
        assert root.call("GET", "/v1/models", headers={"Authorization": key})[0] == 200
    other = shared.client()
    assert other.json("GET", f"/api/token/{token['id']}")[0] == 401
    assert root.json("DELETE", f"/api/token/{token['id']}")[1]["success"] is True
    assert root.json("DELETE", f"/api/token/{token['id']}")[1] == {"message": "record not found", "success": False}


def test_login_rate_limit_is_per_ip_with_empty_429(start, tmp_path):
    client = start(tmp_path, {"LAB_CRITICAL_RATE_LIMIT": "3"}).client()
    for _attempt in range(3):
        assert client.login("bad-password")[1]["success"] is False
    status, _status, body = client.call("POST", "/api/user/login", {"username": "root", "password": "123456"})
    assert status == 429 and body == b""
    status, _headers, _body = client.call("POST", "/api/user/login", {"username": "root", "password": "123456"})
    assert status == 429 and client.cookie is None  # still blocked, even with the right password
    status, answer = client.json(
        "POST", "/api/user/login", {"username": "root", "password": "123456"}, headers={"X-Forwarded-For": "10.9.8.7"}
    )
    assert status == 200 and answer["success"] is True


def test_data_survives_restart_but_sessions_need_session_secret(start, tmp_path):
    first = start(tmp_path)
    client = first.client()
    client.login()
    client.json("PUT", "/api/user/self", {"password": "new-password-1"})
    channel = add_channel(client, name="persist", type=8, key="k", models="m1", base_url="http://x")
    token = add_token(client, "persist-tok")
    client.json("PUT", "/api/option/", {"key": "RegisterEnabled", "value": "false"})
    first.stop()
    second = start(tmp_path)
    again = second.client()
    again.cookie = client.cookie
    assert again.json("GET", "/api/user/self")[0] == 401  # new random session secret
    assert again.login()[1]["success"] is False and again.login("new-password-1")[1]["success"] is True
    assert find_channel(again, "persist")[0]["id"] == channel["id"]
    assert again.json("GET", f"/api/token/{token['id']}")[1]["data"]["key"] == token["key"]
    options = {o["key"]: o["value"] for o in again.json("GET", "/api/option/")[1]["data"]}
    assert options["RegisterEnabled"] == "false"
    second.stop()
    third = start(tmp_path, {"SESSION_SECRET": "lab-secret"})
    kept = third.client()
    kept.login("new-password-1")
    third.stop()
    fourth = start(tmp_path, {"SESSION_SECRET": "lab-secret"})
    client_four = fourth.client()
    client_four.cookie = kept.cookie
    assert client_four.json("GET", "/api/user/self")[1]["success"] is True


# ---------------------------------------------------------------------------------------------------------------------
# relay


@pytest.fixture(name="routed")
def routed_fixture(root, upstream):
    channel = add_channel(
        root,
        name="eas-relay",
        type=8,
        key="eas-service-token",
        base_url=upstream.url,
        models="gpt-4",
        model_mapping=json.dumps({"gpt-4": SERVED}),
    )
    token = add_token(root, "relay-tok")
    upstream.requests.clear()
    yield channel, token
    root.json("DELETE", f"/api/channel/{channel['id']}")


def test_relay_applies_model_mapping_and_channel_key(root, upstream, routed):
    _status, token = routed
    status, headers, body = chat(root, "sk-" + token["key"], "gpt-4", temperature=0, stop=["x"])
    assert status == 200 and headers["X-Upstream"] == "fake" and headers["X-Oneapi-Request-Id"]
    answer = json.loads(body)
    assert (
        answer["model"] == SERVED and answer["choices"][0]["message"]["reasoning_content"] == "think"
    )  # verbatim body
    seen = upstream.requests[-1]
    assert seen["path"] == "/v1/chat/completions" and seen["headers"]["Authorization"] == "Bearer eas-service-token"
    assert seen["body"]["model"] == SERVED
    assert "temperature" not in seen["body"] and "stop" not in seen["body"]  # v0.6.6 re-marshals a mapped request
    _status, models = root.json("GET", "/v1/models", headers={"Authorization": token["key"]})
    assert "gpt-4" in [m["id"] for m in models["data"]]


def test_relay_streaming_passthrough(root, upstream, routed):
    _status, token = routed
    status, headers, body = chat(root, "sk-" + token["key"], "gpt-4", stream=True)
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = [line for line in body.decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]" and len(events) == 3  # the choices-less usage chunk is dropped in v0.6.6
    assert json.loads(events[0][6:])["choices"][0]["delta"]["reasoning_content"] == "think"
    assert upstream.requests[-1]["headers"]["Accept"] == "text/event-stream"


def test_relay_unknown_model_and_missing_content_type_give_503(root, routed):
    _status, token = routed
    status, _status, body = chat(root, "sk-" + token["key"], "no-such-model")
    error = json.loads(body)["error"]
    assert (
        status == 503
        and error["type"] == "one_api_error"
        and "当前分组 default 下对于模型 no-such-model 无可用渠道" in error["message"]
    )
    status, _status, body = chat(root, "sk-" + token["key"], "gpt-4", content_type=None)
    assert status == 503 and "对于模型  无可用渠道" in json.loads(body)["error"]["message"]
    status, _status, body = chat(root, "sk-invalid", "gpt-4")
    assert status == 401 and "无效的令牌" in json.loads(body)["error"]["message"]


def test_deepseek_base_url_with_v1_doubles_the_path(root, upstream):
    channel = add_channel(root, name="ds-v1", type=36, key="k", base_url=upstream.url + "/v1", models="ds-v1-model")
    token = add_token(root, "ds-tok")
    status, _status, body = chat(root, token["key"], "ds-v1-model")
    assert upstream.requests[-1]["path"] == "/v1/v1/chat/completions"
    error = json.loads(body)["error"]
    assert status == 404 and error["message"].startswith("no route") and "(request id: " in error["message"]
    root.json("DELETE", f"/api/channel/{channel['id']}")


def test_channel_test_endpoint_calls_upstream(root, upstream, routed):
    channel = routed[0]
    _status, answer = root.json("GET", f"/api/channel/test/{channel['id']}")
    assert answer["success"] is True and answer["message"] == "" and isinstance(answer["time"], (int, float))
    seen = upstream.requests[-1]["body"]
    assert seen == {"messages": [{"role": "user", "content": "hi"}], "model": SERVED, "max_tokens": 2}
    assert root.json("GET", f"/api/channel/{channel['id']}")[1]["data"]["test_time"] > 0
    broken = add_channel(root, name="broken", type=8, key="k", base_url="http://127.0.0.1:1", models="m")
    _status, answer = root.json("GET", f"/api/channel/test/{broken['id']}")
    assert answer["success"] is False and "do request failed" in answer["message"]
    root.json("DELETE", f"/api/channel/{broken['id']}")


def test_memory_cache_delays_new_channels_and_initial_root_token(start, tmp_path, upstream):
    standin = start(
        tmp_path, {"MEMORY_CACHE_ENABLED": "true", "SYNC_FREQUENCY": "1", "INITIAL_ROOT_TOKEN": "labRootToken0123"}
    )
    client = standin.client()
    client.login()
    _status, initial = client.json("GET", "/api/token/1")
    assert initial["data"]["key"] == "labRootToken0123" and initial["data"]["unlimited_quota"] is True
    add_channel(client, name="cached", type=8, key="k", base_url=upstream.url, models="cached-model")
    status, _headers, _body = chat(client, "sk-labRootToken0123", "cached-model")
    assert status == 503  # routing uses the snapshot taken before the channel existed
    deadline = time.monotonic() + 5
    while status == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
        status, _headers, _body = chat(client, "sk-labRootToken0123", "cached-model")
    assert status == 200


# ---------------------------------------------------------------------------------------------------------------------
# differences found against the upstream v0.6.6 binary, now reproduced


@pytest.mark.parametrize(
    "raw, mode, message",
    [
        (b'{"name": x}', "decoder", "invalid character 'x' looking for beginning of value"),
        (b'{bad', "unmarshal", "invalid character 'b' looking for beginning of object key string"),
        (b'{"name":"a",}', "decoder", "invalid character '}' looking for beginning of object key string"),
        (b'{"name" "a"}', "decoder", "invalid character '\"' after object key"),
        (b'{"a":1 "b":2}', "decoder", "invalid character '\"' after object key:value pair"),
        (b'[1 2]', "decoder", "invalid character '2' after array element"),
        (b'{"name":tru}', "decoder", "invalid character '}' in literal true (expecting 'e')"),
        (b'{"type":-}', "decoder", "invalid character '}' in numeric literal"),
        (b'{"type":1e}', "decoder", "invalid character '}' in exponent of numeric literal"),
        (b'{"a":"\\q"}', "decoder", "invalid character 'q' in string escape code"),
        (b'{"a":"x\ny"}', "decoder", "invalid character '\\n' in string literal"),
        (b'{"name":"a"', "decoder", "unexpected EOF"),
        (b'{"name":"a"', "unmarshal", "unexpected end of JSON input"),
        (b'  ', "decoder", "EOF"),
        (b'{"a":1} zz', "unmarshal", "invalid character 'z' after top-level value"),
    ],
)
def test_go_json_syntax_errors(raw, mode, message):
    with pytest.raises(gojson.BindError) as caught:
        gojson.go_decode(raw, mode)
    assert str(caught.value) == message


def test_go_json_decoder_ignores_trailing_data_and_reports_type_errors():
    assert gojson.go_decode(b'{"a":1} zz', "decoder") == {"a": 1}
    with pytest.raises(gojson.BindError) as caught:
        gojson.go_bind(b'{"type":1.5}', {"type": "int"}, "model.Channel")
    assert str(caught.value) == "json: cannot unmarshal number 1.5 into Go struct field Channel.type of type int"
    with pytest.raises(gojson.BindError) as caught:
        gojson.go_bind(b'[1]', {"type": "int"}, "model.Channel")
    assert str(caught.value) == "json: cannot unmarshal array into Go value of type model.Channel"


def test_channel_json_errors_and_trailing_garbage_like_gin(root):
    status, answer = root.json(
        "POST", "/api/channel/", raw=b'{"name":"a",}', headers={"Content-Type": "application/json"}
    )
    assert status == 200 and answer == {
        "message": "invalid character '}' looking for beginning of object key string",
        "success": False,
    }
    raw = b'{"name":"trailing-ok","type":8,"key":"k","models":"trailing-m"} garbage'
    assert (
        root.json("POST", "/api/channel/", raw=raw, headers={"Content-Type": "application/json"})[1]["success"] is True
    )
    channel = find_channel(root, "trailing-ok")[0]
    assert root.json("DELETE", "/api/channel/abc")[1] == {"message": "WHERE conditions required", "success": False}
    assert root.json("DELETE", "/api/channel/0")[1] == {"message": "WHERE conditions required", "success": False}
    root.json("DELETE", f"/api/channel/{channel['id']}")


def test_options_in_map_order_with_upstream_ratios_and_bad_ratio_kept(start, tmp_path):
    client = start(tmp_path).client()
    client.login()
    firsts = {client.json("GET", "/api/option/")[1]["data"][0]["key"] for _attempt in range(8)}
    assert len(firsts) > 1  # Go map iteration order
    options = {o["key"]: o["value"] for o in client.json("GET", "/api/option/")[1]["data"]}
    assert options["GroupRatio"] == '{"default":1,"svip":1,"vip":1}' and len(json.loads(options["ModelRatio"])) == 143
    assert "TurnstileSecretKey" in options and "SMTPToken" not in options
    _status, answer = client.json("PUT", "/api/option/", {"key": "ModelRatio", "value": "{bad"})
    assert answer == {"message": "invalid character 'b' looking for beginning of object key string", "success": False}
    options = {o["key"]: o["value"] for o in client.json("GET", "/api/option/")[1]["data"]}
    assert options["ModelRatio"] == "{bad"  # saved and shown although refused
    assert client.json("GET", "/api/status")[1]["data"]["server_address"] == "http://localhost:3000"
    assert client.json("PUT", "/api/option/", {"key": "ServerAddress", "value": ""})[1]["success"] is True
    assert client.json("GET", "/api/status")[1]["data"]["server_address"] == ""
    assert client.json("PUT", "/api/option/", {"key": "EmailDomainWhitelist", "value": ""})[1]["success"] is True
    assert (
        client.json("PUT", "/api/option/", {"key": "EmailDomainRestrictionEnabled", "value": "true"})[1]["success"]
        is True
    )


def test_cors_on_relay_routes_and_no_route(root):
    origin = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    status, headers, body = root.call("OPTIONS", "/v1/chat/completions", headers=origin)
    assert status == 204 and body == b"" and headers["Access-Control-Allow-Origin"] == "*"
    assert (
        headers["Access-Control-Max-Age"] == "43200"
        and headers["Access-Control-Allow-Methods"] == "GET,POST,PUT,DELETE,OPTIONS"
    )
    assert root.call("OPTIONS", "/api/status", headers=origin)[0] == 204  # no OPTIONS route: NoRoute runs CORS first
    status, headers, _body = root.call("GET", "/v1/models", headers={"Origin": "http://elsewhere.example"})
    assert (
        status == 401
        and headers["Access-Control-Allow-Credentials"] == "true"
        and headers["Access-Control-Allow-Origin"] == "*"
    )
    status, headers, _body = root.call("GET", "/api/status", headers={"Origin": "http://elsewhere.example"})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers  # /api routes are registered before CORS
    assert root.call("OPTIONS", "/api/status")[0] == 404


def test_no_route_cache_header_gzip_and_connection_close(root):
    status, headers, body = root.call("GET", "/api/nope", headers={"Accept-Encoding": "gzip"})
    assert status == 404 and headers["Cache-Control"] == "max-age=604800" and headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["error"]["message"] == "Invalid URL (GET /api/nope)"
    assert root.call("GET", "/")[1]["Cache-Control"] == "no-cache"
    status, headers, body = root.call("GET", "/api/user/self", headers={"Accept-Encoding": "gzip", "Cookie": ""})
    assert (
        status == 401
        and headers["Content-Encoding"] == "gzip"
        and json.loads(gzip.decompress(body))["success"] is False
    )
    headers = root.call("GET", "/api/status", headers={"Accept-Encoding": "gzip", "Accept": "text/event-stream"})[1]
    assert "Content-Encoding" not in headers
    assert root.call("GET", "/api/status", headers={"Connection": "close"})[1]["Connection"] == "close"


def test_every_upstream_relay_route_exists(root, routed):
    _channel, token = routed
    assert root.call("POST", "/v1/images/generations", {})[0] == 401  # TokenAuth first, like every /v1 route
    status, _headers, body = root.call("GET", "/v1/files", headers={"Authorization": "sk-" + token["key"]})
    assert status == 503  # Distribute runs before RelayNotImplemented: no channel serves model ""
    status, answer = root.json(
        "GET", "/v1/dashboard/billing/subscription", headers={"Authorization": "sk-" + token["key"]}
    )
    assert status == 200 and answer["object"] == "billing_subscription" and answer["hard_limit_usd"] == 100000000
    status, answer = root.json("GET", "/dashboard/billing/usage", headers={"Authorization": "sk-" + token["key"]})
    assert status == 200 and answer == {"object": "list", "total_usage": 0}
    assert json.loads(body)["error"]["type"] == "one_api_error"


def test_models_list_uses_the_whole_catalogue_and_map_order(root, routed, upstream):
    _channel, token = routed
    extra = add_channel(
        root,
        name="many-models",
        type=8,
        key="k",
        base_url=upstream.url,
        models="qwen-turbo,deepseek-chat," + ",".join(f"custom-{i}" for i in range(12)),
    )
    orders = set()
    for _attempt in range(6):
        data = root.json("GET", "/v1/models", headers={"Authorization": "sk-" + token["key"]})[1]["data"]
        owners = [m["owned_by"] for m in data]
        known = owners.index("custom")
        assert "custom" not in owners[:known] and set(owners[known:]) == {
            "custom"
        }  # catalogue entries first, in catalogue order
        assert [(m["id"], m["owned_by"]) for m in data[:known] if m["id"] in ("qwen-turbo", "deepseek-chat")] == [
            ("qwen-turbo", "ali"),
            ("deepseek-chat", "deepseek"),
        ]
        orders.add(tuple(m["id"] for m in data[known:]))
    assert len(orders) > 1  # custom names come out of a Go map
    assert len(root.json("GET", "/api/channel/models")[1]["data"]) == 192
    root.json("DELETE", f"/api/channel/{extra['id']}")


def test_upstream_request_is_sent_like_go_and_gzip_answers_are_decoded(root, upstream):
    channel = add_channel(root, name="go-client", type=8, key="k", base_url=upstream.url, models="plain,gzipped")
    token = add_token(root, "go-client-tok")
    upstream.requests.clear()
    status, _headers, _body = chat(root, token["key"], "plain")
    seen = upstream.requests[-1]["headers"]
    assert status == 200 and seen["Transfer-Encoding"] == "chunked" and "Content-Length" not in seen  # passthrough body
    assert seen["Accept-Encoding"] == "gzip" and seen["User-Agent"] == "Go-http-client/1.1"
    status, headers, body = chat(root, token["key"], "gzipped")
    assert status == 200 and "Content-Encoding" not in headers and json.loads(body)["model"] == "gzipped"
    root.json("DELETE", f"/api/channel/{channel['id']}")


def test_connection_errors_read_like_go(root):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = add_channel(
        root, name="refused", type=8, key="k", base_url=f"http://127.0.0.1:{port}", models="refused-m"
    )
    _status, answer = root.json("GET", f"/api/channel/test/{channel['id']}")
    assert answer["message"] == (
        f'do request failed: Post "http://127.0.0.1:{port}/v1/chat/completions": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )
    root.json("DELETE", f"/api/channel/{channel['id']}")


def test_text_validation_like_v066(root, routed, upstream):
    _channel, token = routed
    add_channel(root, name="completions", type=8, key="k", base_url=upstream.url, models="comp-m")
    headers = {"Authorization": "sk-" + token["key"], "Content-Type": "application/json"}
    upstream.requests.clear()
    status, _headers, _body = root.call("POST", "/v1/completions", raw=b'{"model":"comp-m"}', headers=headers)
    assert upstream.requests and upstream.requests[-1]["path"] == "/v1/completions"  # a missing prompt is not "" in Go
    status, answer = root.json("POST", "/v1/completions", raw=b'{"model":"comp-m","prompt":""}', headers=headers)
    assert status == 400 and answer["error"]["message"].startswith("field prompt is required")
    status, answer = root.json(
        "POST", "/v1/chat/completions", raw=b'{"model":"gpt-4","messages":[]} x', headers=headers
    )
    assert status == 400 and "invalid character 'x' after top-level value" in answer["error"]["message"]
    for channel in find_channel(root, "completions"):
        root.json("DELETE", f"/api/channel/{channel['id']}")


def test_retry_and_automatic_channel_disable(start, tmp_path, upstream):
    client = start(tmp_path).client()
    client.login()
    bad = add_channel(
        client, name="bad-key", type=8, key="bad-key", base_url=upstream.url, models="shared-m", priority=5
    )
    add_channel(client, name="good-key", type=8, key="k", base_url=upstream.url, models="shared-m")
    token = add_token(client, "retry-tok")
    status, _headers, _body = chat(client, token["key"], "shared-m")
    assert status == 401  # RetryTimes is 0 by default
    client.json("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    assert (
        chat(client, token["key"], "shared-m")[0] == 401
    )  # the first retry stays at the first priority: same channel, skipped
    client.json("PUT", "/api/option/", {"key": "RetryTimes", "value": "30"})
    assert chat(client, token["key"], "shared-m")[0] == 200  # later retries pick among all priorities
    client.json("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    client.json("PUT", "/api/option/", {"key": "RetryTimes", "value": "0"})
    assert chat(client, token["key"], "shared-m")[0] == 401
    assert client.json("GET", f"/api/channel/{bad['id']}")[1]["data"]["status"] == 3
    assert chat(client, token["key"], "shared-m")[0] == 200


def test_admin_user_reads(root):
    _status, answer = root.json("GET", "/api/user/?p=0")
    assert answer["success"] and answer["data"][0]["username"] == "root" and answer["data"][0]["password"] == ""
    assert root.json("GET", "/api/user/search?keyword=ro")[1]["data"][0]["id"] == 1
    assert root.json("GET", "/api/user/1")[1]["data"]["role"] == 100
    assert root.json("GET", "/api/user/abc")[1] == {
        "message": 'strconv.Atoi: parsing "abc": invalid syntax',
        "success": False,
    }
    assert root.json("DELETE", "/api/user/self")[1] == {"message": "不能删除超级管理员账户", "success": False}


# ---------------------------------------------------------------------------------------------------------------------
# start-up


def test_start_needs_the_token_encoder_like_upstream(tmp_path):
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    result = run_standin(
        tmp_path / "data",
        {"TIKTOKEN_CACHE_DIR": str(empty), "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"},
    )
    assert result.returncode == 1
    assert re.search(
        r"\[FATAL\] .* \| \[failed to get gpt-3\.5-turbo token encoder: Get \"" + re.escape(ENCODER_URL), result.stderr
    )
    assert (tmp_path / "data" / "one-api.db").exists()  # the database and root user come first


def test_start_fails_when_sql_dsn_or_redis_cannot_be_reached(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_standin(tmp_path, {"SQL_DSN": f"oneapi:pw@tcp(127.0.0.1:{port})/oneapi"})
    assert result.returncode == 1 and f"| [dial tcp 127.0.0.1:{port}: connect: connection refused] " in result.stderr
    result = run_standin(tmp_path, {"SQL_DSN": f"postgres://u:p@127.0.0.1:{port}/db"})
    assert (
        result.returncode == 1
        and (
            f"[failed to initialize database: failed to connect to `host=127.0.0.1 user=u database=db`: "
            f"dial error (dial tcp 127.0.0.1:{port}: connect: connection refused)] "
        )
        in result.stderr
    )
    result = run_standin(tmp_path, {"REDIS_CONN_STRING": f"redis://127.0.0.1:{port}", "SYNC_FREQUENCY": "60"})
    assert result.returncode == 1 and "Redis ping test failed: dial tcp" in result.stderr
    result = run_standin(tmp_path, args=["--version"])
    assert result.returncode == 0 and result.stdout.strip() == "v0.6.6"


def test_upstream_error_bodies_go_cannot_read_leave_the_message_empty(root, upstream):
    channel = add_channel(
        root, name="error-bodies", type=8, key="k", base_url=upstream.url, models="plain-503,json-502"
    )
    token = add_token(root, "error-bodies-tok")
    status, _headers, body = chat(root, token["key"], "plain-503")
    error = json.loads(body)["error"]
    assert (
        status == 503 and error["message"].startswith(" (request id: ") and error["code"] == "bad_response_status_code"
    )
    status, _headers, body = chat(root, token["key"], "json-502")
    assert status == 502 and json.loads(body)["error"]["message"].startswith(
        "bad response status code 502 (request id: "
    )
    root.json("PUT", "/api/channel/", {"id": channel["id"], "models": "plain-503"})
    assert root.json("GET", f"/api/channel/test/{channel['id']}")[1]["message"] == "status code 503: "
    root.json("DELETE", f"/api/channel/{channel['id']}")


def test_upstream_redirects_follow_go_rules(root, upstream):
    channel = add_channel(
        root,
        name="redirects",
        type=8,
        key="k",
        base_url=upstream.url,
        models="redirect-302,redirect-307,mapped-307",
        model_mapping=json.dumps({"mapped-307": "redirect-307"}),
    )
    token = add_token(root, "redirects-tok")
    status, _headers, body = chat(root, token["key"], "redirect-302")
    assert status == 200 and json.loads(body)["model"] == "redirected"  # 302 to a POST: followed as a GET
    status, _headers, body = chat(root, token["key"], "redirect-307")
    assert status == 307  # a forwarded (streamed) body cannot be replayed: the 307 is the answer
    status, _headers, body = chat(root, token["key"], "mapped-307")
    assert status == 200 and json.loads(body)["model"] == "redirected-post"  # a re-marshalled body is sent again
    root.json("DELETE", f"/api/channel/{channel['id']}")
