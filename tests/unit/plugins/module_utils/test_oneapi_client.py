# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the one-api client: envelope, login, 429, exact lookup, fingerprints."""

from __future__ import annotations

import email.message
import io
import json
from unittest import mock
from urllib.error import HTTPError

import pytest

from ansible_collections.llmops.eas_stack.plugins.module_utils import oneapi_client as oneapi
from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import (
    OneApiClient,
    OneApiError,
    fingerprint_matches,
    join_list,
    key_fingerprint,
    parse_json_object,
    split_list,
)


class Resp:
    def __init__(self, status=200, body=b"", cookies=()):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = email.message.Message()
        for c in cookies:
            self.headers["Set-Cookie"] = c

    def getcode(self):
        return self.status

    def read(self):
        return self.body


class Script:
    """Answers requests from a list of (method, path prefix, Resp); records what was sent."""

    def __init__(self, routes):
        self.routes = routes
        self.calls = []

    def __call__(self, url, data=None, headers=None, method=None, **kwargs):
        path = url.split("://", 1)[1].split("/", 1)[1]
        path = "/" + path
        self.calls.append(
            dict(
                method=method,
                path=path,
                headers=dict(headers or {}),
                body=json.loads(data) if data else None,
                kwargs=kwargs,
            )
        )
        for i, (m, prefix, resp) in enumerate(self.routes):
            if m == method and path.startswith(prefix):
                if isinstance(resp, list):
                    r = resp.pop(0)
                    if not resp:
                        self.routes.pop(i)
                else:
                    r = resp
                if r.status >= 400:
                    raise HTTPError(url, r.status, "err", r.headers, io.BytesIO(r.body))
                return r
        raise AssertionError("unexpected request %s %s" % (method, path))


LOGIN_OK = Resp(
    200,
    {"success": True, "message": "", "data": {"id": 1, "username": "root"}},
    cookies=["session=MTcx; Path=/; Expires=Mon, 28 Dec 2026 00:00:00 GMT; Max-Age=2592000"],
)


def client(**kw):
    return OneApiClient("http://127.0.0.1:15001/", username="root", password="s3cret-pass", **kw)


def run(routes):
    script = Script(routes)
    return script, mock.patch.object(oneapi, "open_url", script)


def test_envelope_success_false_with_http_200_is_an_error_with_the_message():
    script, patch = run(
        [
            ("POST", "/api/user/login", LOGIN_OK),
            ("GET", "/api/channel/3", Resp(200, {"success": False, "message": "record not found"})),
        ]
    )
    with patch, pytest.raises(OneApiError) as err:
        client().get_channel(3)
    assert "record not found" in str(err.value)
    assert script.calls[1]["headers"]["Cookie"] == "session=MTcx"


def test_one_login_per_run_cookie_reused():
    script, patch = run(
        [
            ("POST", "/api/user/login", LOGIN_OK),
            ("GET", "/api/channel/search", Resp(200, {"success": True, "data": []})),
            ("GET", "/api/token/search", Resp(200, {"success": True, "data": []})),
        ]
    )
    with patch:
        c = client()
        c.find_by_name("channel", "a")
        c.find_by_name("token", "a")
        c.find_by_name("channel", "b")
    logins = [call for call in script.calls if call["path"] == "/api/user/login"]
    assert len(logins) == 1
    assert logins[0]["body"] == {"username": "root", "password": "s3cret-pass"}
    assert all(call["headers"].get("Cookie") == "session=MTcx" for call in script.calls[1:])


def test_wrong_password_gives_clear_message_and_is_not_retried():
    script, patch = run(
        [("POST", "/api/user/login", Resp(200, {"success": False, "message": "用户名或密码错误，或用户已被封禁"}))]
    )
    c = client()
    with patch:
        with pytest.raises(OneApiError) as err:
            c.get_options()
        assert "login as root failed" in str(err.value)
        assert "oneapi_root_password" in str(err.value)
        with pytest.raises(OneApiError):
            c.get_options()
    assert len(script.calls) == 1


def test_login_429_fails_at_once_with_how_long_to_wait():
    script, patch = run([("POST", "/api/user/login", Resp(429, b""))])
    with patch, pytest.raises(OneApiError) as err:
        client().get_options()
    assert "20 minutes" in str(err.value)
    assert len(script.calls) == 1


def test_api_429_and_401_are_explained():
    script, patch = run([("POST", "/api/user/login", LOGIN_OK), ("GET", "/api/option/", Resp(429, b""))])
    with patch, pytest.raises(OneApiError) as err:
        client().get_options()
    assert "3 minutes" in str(err.value)
    script, patch = run([("GET", "/api/option/", Resp(401, {"success": False, "message": "未登录"}))])
    with patch, pytest.raises(OneApiError) as err:
        client(access_token="abc").get_options()
    assert "HTTP 401" in str(err.value)
    assert script.calls[0]["headers"]["Authorization"] == "abc"


def test_access_token_avoids_login():
    script, patch = run(
        [("GET", "/api/option/", Resp(200, {"success": True, "data": [{"key": "RegisterEnabled", "value": "true"}]}))]
    )
    with patch:
        assert client(access_token="tok").get_options() == {"RegisterEnabled": "true"}
    assert [c["path"] for c in script.calls] == ["/api/option/"]


def test_redirect_is_reported_not_followed():
    script, patch = run([("POST", "/api/user/login", LOGIN_OK), ("GET", "/api/option/", Resp(301, b""))])
    with patch, pytest.raises(OneApiError) as err:
        client().get_options()
    assert "exact path" in str(err.value)
    assert script.calls[1]["kwargs"]["follow_redirects"] == "none"


def test_exact_lookup_ignores_prefix_matches_and_fails_on_duplicates():
    found = [{"id": 4, "name": "eas-2"}, {"id": 3, "name": "eas"}, {"id": 9, "name": "EAS"}]
    script, patch = run(
        [
            ("POST", "/api/user/login", LOGIN_OK),
            ("GET", "/api/channel/search?keyword=eas", Resp(200, {"success": True, "data": found})),
        ]
    )
    with patch:
        assert client().find_by_name("channel", "eas")["id"] == 3
    dupes = [{"id": 7, "name": "eas"}, {"id": 5, "name": "eas"}, {"id": 6, "name": "eas x"}]
    script, patch = run(
        [
            ("POST", "/api/user/login", LOGIN_OK),
            ("GET", "/api/token/search?keyword=eas", Resp(200, {"success": True, "data": dupes})),
        ]
    )
    with patch, pytest.raises(OneApiError) as err:
        client().find_by_name("token", "eas")
    assert "ids 5, 7" in str(err.value)


def test_search_keyword_is_url_encoded():
    script, patch = run(
        [
            ("POST", "/api/user/login", LOGIN_OK),
            ("GET", "/api/channel/search", Resp(200, {"success": True, "data": None})),
        ]
    )
    with patch:
        assert client().find_by_name("channel", "a b&c") is None
    assert script.calls[1]["path"] == "/api/channel/search?keyword=a%20b%26c"


def test_collection_writes_use_trailing_slash_routes():
    script, patch = run(
        [
            ("POST", "/api/user/login", LOGIN_OK),
            ("POST", "/api/channel/", Resp(200, {"success": True, "message": ""})),
            ("PUT", "/api/token/", Resp(200, {"success": True, "data": {"id": 1}})),
            ("PUT", "/api/option/", Resp(200, {"success": True})),
        ]
    )
    with patch:
        c = client()
        c.create_channel({"name": "x"})
        c.update_token({"id": 1})
        c.set_option("RegisterEnabled", "false")
    assert [(x["method"], x["path"]) for x in script.calls[1:]] == [
        ("POST", "/api/channel/"),
        ("PUT", "/api/token/"),
        ("PUT", "/api/option/"),
    ]
    assert script.calls[1]["headers"]["Content-Type"] == "application/json"


def test_unreachable_gives_clear_message():
    def boom(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    with mock.patch.object(oneapi, "open_url", boom), pytest.raises(OneApiError) as err:
        client().get_options()
    assert "cannot reach one-api at http://127.0.0.1:15001" in str(err.value)


def test_list_and_json_helpers():
    assert split_list(" gpt-4, gpt-4 ,,b ") == ["gpt-4", "b"]
    assert split_list(["b", "a", "b"]) == ["b", "a"]
    assert join_list(["gpt-4", " x ", "gpt-4"]) == "gpt-4,x"
    assert (
        parse_json_object("", "m") == {} and parse_json_object("{}", "m") == {} and parse_json_object(None, "m") == {}
    )
    assert parse_json_object('{"a":"b"}', "m") == {"a": "b"}
    with pytest.raises(OneApiError):
        parse_json_object("[1]", "m")


def test_fingerprint_is_salted_and_never_contains_the_key():
    key = "eas-token-value-123"
    fp1, fp2 = key_fingerprint(key), key_fingerprint(key)
    assert fp1 != fp2
    assert key not in fp1
    assert fingerprint_matches(fp1, key) and fingerprint_matches(fp2, key)
    assert not fingerprint_matches(fp1, key + "x")
    assert not fingerprint_matches(None, key)
    assert not fingerprint_matches("garbage", key)
    assert not fingerprint_matches("hmac-sha256::abc", key)
