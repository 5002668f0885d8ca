# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the one-api modules, run end to end against an in-memory fake of the v0.6.6 API (open_url patched)."""

from __future__ import annotations

import email.message
import io
import json
from unittest import mock
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.llmops.eas_stack.plugins.module_utils import oneapi_client as oneapi
from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import (
    FINGERPRINT_CONFIG_KEY,
    key_fingerprint,
)
from ansible_collections.llmops.eas_stack.plugins.modules import (
    oneapi_channel,
    oneapi_channel_info,
    oneapi_channel_test,
    oneapi_option,
    oneapi_root_password,
    oneapi_token,
)

URL = "http://127.0.0.1:15001"
PASSWORD = "new-root-pass"


class Resp:
    def __init__(self, status, body, cookie=None):
        self.status = status
        self.body = json.dumps(body).encode() if body is not None else b""
        self.headers = email.message.Message()
        if cookie:
            self.headers["Set-Cookie"] = "session=%s; Path=/; Max-Age=2592000" % cookie

    def getcode(self):
        return self.status

    def read(self):
        return self.body


def ok(data=None, **extra):
    body = dict(success=True, message="")
    if data is not None:
        body["data"] = data
    body.update(extra)
    return Resp(200, body)


def fail(message):
    return Resp(200, dict(success=False, message=message))


class FakeOneApi:
    """The v0.6.6 behaviours the modules rely on (see reference/oneapi-api.md)."""

    def __init__(self, password="123456"):
        self.password = password
        self.access_token = "a" * 32
        self.options = {"RegisterEnabled": "true", "PasswordRegisterEnabled": "true", "GitHubClientSecret": "x"}
        self.channels = {}
        self.tokens = {}
        self.next_id = 1
        self.calls = []
        self.logins = 0

    # -- helpers
    def writes(self):
        return [c for c in self.calls if c[0] in ("POST", "PUT", "DELETE") and c[1] != "/api/user/login"]

    def add_channel(self, **fields):
        cid = self.next_id
        self.next_id += 1
        row = dict(
            id=cid,
            type=36,
            key="k",
            status=1,
            name="",
            base_url="",
            other="",
            models="",
            group="default",
            model_mapping="",
            priority=0,
            config="",
        )
        row.update(fields)
        self.channels[cid] = row
        return row

    def add_token(self, **fields):
        tid = self.next_id
        self.next_id += 1
        row = dict(
            id=tid,
            user_id=1,
            key="K%047d" % tid,
            status=1,
            name="",
            created_time=1,
            accessed_time=1,
            expired_time=-1,
            remain_quota=0,
            unlimited_quota=True,
            used_quota=0,
            models="",
            subnet="",
        )
        row.update(fields)
        self.tokens[tid] = row
        return row

    @staticmethod
    def public_channel(row):
        out = dict(row)
        out["key"] = ""
        return out

    # -- transport
    def __call__(self, url, data=None, headers=None, method=None, **kwargs):
        parts = urlsplit(url)
        path, query = parts.path, parse_qs(parts.query)
        body = json.loads(data) if data else None
        self.calls.append((method, path, body))
        resp = self.route(method, path, query, body, headers or {})
        if resp.status >= 400:
            raise HTTPError(url, resp.status, "err", resp.headers, io.BytesIO(resp.body))
        return resp

    def route(self, method, path, query, body, headers):
        if (method, path) == ("POST", "/api/user/login"):
            self.logins += 1
            if body["username"] == "root" and body["password"] == self.password:
                return Resp(200, dict(success=True, message="", data=dict(id=1, username="root")), cookie="sess")
            return fail("用户名或密码错误，或用户已被封禁")
        if headers.get("Cookie") != "session=sess" and headers.get("Authorization") != self.access_token:
            return Resp(401, dict(success=False, message="无权进行此操作，未登录且未提供 access token"))
        if path == "/api/user/self":
            if method == "GET":
                return ok(dict(id=1, username="root", access_token=self.access_token))
            if not 8 <= len(body["password"]) <= 20:
                return fail("输入不合法")
            self.password = body["password"]
            return ok()
        if path == "/api/option/":
            if method == "GET":
                return ok(
                    [dict(key=k, value=v) for k, v in self.options.items() if not k.endswith(("Token", "Secret"))]
                )
            self.options[body["key"]] = body["value"]
            return ok()
        if path.startswith("/api/channel/"):
            return self.channel_route(method, path, query, body)
        if path.startswith("/api/token/"):
            return self.token_route(method, path, query, body)
        return Resp(404, {"error": {"message": "Invalid URL"}})

    def channel_route(self, method, path, query, body):
        rest = path[len("/api/channel/") :]
        if method == "GET" and rest == "search":
            kw = query.get("keyword", [""])[0]
            return ok(
                [
                    self.public_channel(c)
                    for c in sorted(self.channels.values(), key=lambda c: -c["id"])
                    if c["name"].startswith(kw)
                ]
            )
        if method == "GET" and rest.startswith("test/"):
            return Resp(200, dict(success=True, message="", time=0.5))
        if method == "GET" and rest:
            row = self.channels.get(int(rest))
            return ok(self.public_channel(row)) if row else fail("record not found")
        if method == "POST":
            for k in body["key"].split("\n"):
                if k:
                    self.add_channel(**dict(body, key=k))
            return ok()
        if method == "PUT":
            row = self.channels[body["id"]]
            for k, v in body.items():
                if k in ("base_url", "model_mapping", "priority") or v not in ("", 0, None):
                    row[k] = v
            return ok(dict(row))
        if method == "DELETE":
            self.channels.pop(int(rest), None)
            return ok()
        return Resp(404, None)

    def token_route(self, method, path, query, body):
        rest = path[len("/api/token/") :]
        if method == "GET" and rest == "search":
            kw = query.get("keyword", [""])[0]
            return ok(
                [dict(t) for t in sorted(self.tokens.values(), key=lambda t: -t["id"]) if t["name"].startswith(kw)]
            )
        if method == "POST":
            row = self.add_token(
                name=body["name"],
                expired_time=body.get("expired_time") or -1,
                remain_quota=body.get("remain_quota", 0),
                unlimited_quota=body.get("unlimited_quota", False),
                models=body.get("models", ""),
                subnet=body.get("subnet", ""),
            )
            return ok(dict(row))
        if method == "PUT":
            row = self.tokens[body["id"]]
            # full overwrite: every field, zero values included
            for k in ("name", "status", "expired_time", "remain_quota", "unlimited_quota", "models", "subnet"):
                row[k] = body.get(k, 0 if k not in ("name", "models", "subnet") else "")
            return ok(dict(row))
        if method == "DELETE":
            return ok() if self.tokens.pop(int(rest), None) else fail("record not found")
        return Resp(404, None)


def run_module(module, fake, args, check=False, diff=True):
    args = dict(url=URL, password=PASSWORD, **args)
    if check:
        args["_ansible_check_mode"] = True
    args["_ansible_diff"] = diff
    with patch_module_args(args), mock.patch.object(oneapi, "open_url", fake):
        with pytest.raises(SystemExit):
            module.main()


@pytest.fixture
def fake():
    return FakeOneApi(password=PASSWORD)


def result_of(capsys):
    return json.loads(capsys.readouterr().out)


CHANNEL = dict(
    name="eas",
    type=36,
    base_url="http://eas-emulator:8080/api/predict/svc/",
    key="eas-token-1",
    models=["gpt-4-32k"],
    model_mapping={"gpt-4-32k": "DeepSeek-R1-Distill-Qwen-1.5B"},
)


# ---- oneapi_channel ------------------------------------------------------------------------------


def test_channel_create_then_idempotent(fake, capsys):
    run_module(oneapi_channel, fake, CHANNEL)
    res = result_of(capsys)
    assert res["changed"] is True and res["key_updated"] is True
    row = fake.channels[res["channel"]["id"]]
    assert row["key"] == "eas-token-1"
    assert row["base_url"] == "http://eas-emulator:8080/api/predict/svc"
    assert row["models"] == "gpt-4-32k" and row["group"] == "default"
    assert json.loads(row["model_mapping"]) == {"gpt-4-32k": "DeepSeek-R1-Distill-Qwen-1.5B"}
    assert "key" not in res["channel"]
    assert "eas-token-1" not in json.dumps(res)
    assert fake.logins == 1
    writes = len(fake.writes())
    run_module(oneapi_channel, fake, CHANNEL)
    res = result_of(capsys)
    assert res["changed"] is False and res["key_updated"] is False
    assert len(fake.writes()) == writes


def test_channel_key_change_is_detected_by_fingerprint_and_only_key_sent(fake, capsys):
    run_module(oneapi_channel, fake, CHANNEL)
    cid = result_of(capsys)["channel"]["id"]
    run_module(oneapi_channel, fake, dict(CHANNEL, key="eas-token-2"))
    res = result_of(capsys)
    assert res["changed"] is True and res["key_updated"] is True
    put = fake.writes()[-1]
    assert put[0] == "PUT" and set(put[2]) == {"id", "key", "config"}
    assert fake.channels[cid]["key"] == "eas-token-2"
    assert "eas-token-2" not in json.dumps(res)
    assert res["diff"]["after"]["key"] == "<hidden, replaced>"


def test_channel_on_create_and_always(fake, capsys):
    run_module(oneapi_channel, fake, CHANNEL)
    result_of(capsys)
    run_module(oneapi_channel, fake, dict(CHANNEL, key="other", update_key="on_create"))
    assert result_of(capsys)["changed"] is False
    run_module(oneapi_channel, fake, dict(CHANNEL, update_key="always"))
    assert result_of(capsys)["changed"] is True


def test_channel_without_fingerprint_gets_key_once_keeping_config(fake, capsys):
    row = fake.add_channel(
        name="eas",
        type=36,
        base_url="http://eas-emulator:8080/api/predict/svc",
        models="gpt-4-32k",
        model_mapping='{"gpt-4-32k": "DeepSeek-R1-Distill-Qwen-1.5B"}',
        config='{"region":"x"}',
    )
    run_module(oneapi_channel, fake, CHANNEL)
    assert result_of(capsys)["key_updated"] is True
    config = json.loads(row["config"])
    assert config["region"] == "x" and config[FINGERPRINT_CONFIG_KEY].startswith("hmac-sha256:")
    run_module(oneapi_channel, fake, CHANNEL)
    assert result_of(capsys)["changed"] is False


def test_channel_partial_update_sends_only_changes(fake, capsys):
    fake.add_channel(
        name="eas",
        type=36,
        base_url="http://eas-emulator:8080/api/predict/svc",
        models="gpt-4-32k",
        model_mapping='{"gpt-4-32k":"old"}',
        config=json.dumps({FINGERPRINT_CONFIG_KEY: key_fingerprint("eas-token-1")}),
    )
    run_module(oneapi_channel, fake, dict(CHANNEL, models=["gpt-4-32k", " gpt-4-32k", "x"]))
    res = result_of(capsys)
    body = fake.writes()[-1][2]
    assert set(body) == {"id", "models", "model_mapping"}
    assert body["models"] == "gpt-4-32k,x"
    assert json.loads(body["model_mapping"]) == {"gpt-4-32k": "DeepSeek-R1-Distill-Qwen-1.5B"}
    assert res["diff"]["before"]["model_mapping"] == {"gpt-4-32k": "old"}


def test_channel_model_mapping_compared_as_dict(fake, capsys):
    fake.add_channel(
        name="eas",
        type=36,
        base_url="http://eas-emulator:8080/api/predict/svc",
        models="gpt-4-32k",
        model_mapping='{ "gpt-4-32k" : "DeepSeek-R1-Distill-Qwen-1.5B" }',
        config=json.dumps({FINGERPRINT_CONFIG_KEY: key_fingerprint("eas-token-1")}),
    )
    run_module(oneapi_channel, fake, CHANNEL)
    assert result_of(capsys)["changed"] is False
    assert not fake.writes()


def test_channel_check_mode_sends_no_write(fake, capsys):
    run_module(oneapi_channel, fake, CHANNEL, check=True)
    res = result_of(capsys)
    assert res["changed"] is True and not fake.writes() and not fake.channels
    run_module(oneapi_channel, fake, CHANNEL)
    result_of(capsys)
    before = len(fake.writes())
    run_module(oneapi_channel, fake, dict(CHANNEL, key="new", models=["a"]), check=True)
    assert result_of(capsys)["changed"] is True
    run_module(oneapi_channel, fake, dict(name="eas", state="absent"), check=True)
    assert result_of(capsys)["changed"] is True
    assert len(fake.writes()) == before and len(fake.channels) == 1


def test_channel_duplicates_fail_naming_ids(fake, capsys):
    fake.add_channel(name="eas")
    fake.add_channel(name="eas")
    fake.add_channel(name="eas-other")
    run_module(oneapi_channel, fake, CHANNEL)
    res = result_of(capsys)
    assert res["failed"] is True and "ids 1, 2" in res["msg"]
    assert not fake.writes()


def test_channel_absent(fake, capsys):
    fake.add_channel(name="eas")
    run_module(oneapi_channel, fake, dict(name="eas", state="absent"))
    assert result_of(capsys)["changed"] is True and not fake.channels
    run_module(oneapi_channel, fake, dict(name="eas", state="absent"))
    assert result_of(capsys)["changed"] is False


def test_channel_rejects_multiline_key_and_warns_on_v1(fake, capsys):
    run_module(oneapi_channel, fake, dict(CHANNEL, key="a\nb"))
    assert "single line" in result_of(capsys)["msg"]
    run_module(oneapi_channel, fake, dict(CHANNEL, base_url="http://x/v1"))
    assert "/v1/v1/chat/completions" in json.dumps(result_of(capsys)["warnings"])


# ---- oneapi_token ----------------------------------------------------------------------------


def test_token_create_returns_sk_key_and_is_idempotent(fake, capsys):
    run_module(oneapi_token, fake, dict(name="web"))
    res = result_of(capsys)
    assert res["changed"] is True
    assert res["token"]["key"].startswith("sk-") and len(res["token"]["key"]) == 51
    row = fake.tokens[res["token"]["id"]]
    assert row["unlimited_quota"] is True and row["expired_time"] == -1
    run_module(oneapi_token, fake, dict(name="web"))
    res2 = result_of(capsys)
    assert res2["changed"] is False and res2["token"]["key"] == res["token"]["key"]
    assert len(fake.writes()) == 1


def test_token_update_sends_the_full_object(fake, capsys):
    row = fake.add_token(
        name="web",
        status=1,
        expired_time=-1,
        unlimited_quota=False,
        remain_quota=500000,
        models="gpt-4-32k",
        subnet="10.0.0.0/8",
    )
    run_module(oneapi_token, fake, dict(name="web", remain_quota=1000000, remain_quota_mode="exact"))
    res = result_of(capsys)
    assert res["changed"] is True
    body = fake.writes()[-1][2]
    assert body == dict(
        id=row["id"],
        name="web",
        status=1,
        expired_time=-1,
        remain_quota=1000000,
        unlimited_quota=False,
        models="gpt-4-32k",
        subnet="10.0.0.0/8",
    )
    assert row["expired_time"] == -1 and row["models"] == "gpt-4-32k"
    assert res["diff"]["before"]["remain_quota"] == 500000 and "key" not in res["diff"]["after"]


LIMITED = dict(name="web", unlimited_quota=False, remain_quota=500000)


def use_token(fake, token_id, quota):
    """What one-api does on every relay call with a limited token."""
    fake.tokens[token_id]["remain_quota"] -= quota
    fake.tokens[token_id]["used_quota"] += quota


def test_token_initial_quota_mode_is_idempotent_after_use(fake, capsys):
    run_module(oneapi_token, fake, LIMITED)
    tid = result_of(capsys)["token"]["id"]
    assert fake.tokens[tid]["remain_quota"] == 500000 and fake.tokens[tid]["unlimited_quota"] is False
    use_token(fake, tid, 1234)
    writes = len(fake.writes())
    run_module(oneapi_token, fake, LIMITED)
    res = result_of(capsys)
    assert res["changed"] is False and "diff" not in res
    assert len(fake.writes()) == writes and fake.tokens[tid]["remain_quota"] == 500000 - 1234
    # a raised budget in the task is not applied to the existing token either (that is what exact is for)
    run_module(oneapi_token, fake, dict(LIMITED, remain_quota=900000))
    assert result_of(capsys)["changed"] is False and len(fake.writes()) == writes


def test_token_initial_quota_mode_keeps_the_used_quota_when_other_fields_change(fake, capsys):
    row = fake.add_token(name="web", unlimited_quota=False, remain_quota=0, used_quota=500000, status=4)
    run_module(oneapi_token, fake, dict(LIMITED, models=["gpt-4-32k"]))
    res = result_of(capsys)
    assert res["changed"] is True
    body = fake.writes()[-1][2]
    assert body["remain_quota"] == 0 and body["unlimited_quota"] is False and body["models"] == "gpt-4-32k"
    assert row["remain_quota"] == 0 and row["status"] == 4
    assert res["diff"]["before"]["remain_quota"] == res["diff"]["after"]["remain_quota"] == 0


def test_token_initial_quota_mode_applies_the_quota_when_unlimited_becomes_limited(fake, capsys):
    row = fake.add_token(name="web", unlimited_quota=True, remain_quota=0)
    run_module(oneapi_token, fake, LIMITED)
    res = result_of(capsys)
    assert res["changed"] is True and row["unlimited_quota"] is False and row["remain_quota"] == 500000
    assert res["diff"]["after"]["remain_quota"] == 500000
    use_token(fake, row["id"], 100)
    run_module(oneapi_token, fake, LIMITED)
    assert result_of(capsys)["changed"] is False and row["remain_quota"] == 499900
    # unlimited -> limited without a quota would break the token at its first use
    row2 = fake.add_token(name="other", unlimited_quota=True, remain_quota=0)
    run_module(oneapi_token, fake, dict(name="other", unlimited_quota=False))
    assert "remain_quota" in result_of(capsys)["msg"] and row2["unlimited_quota"] is True


def test_token_exact_quota_mode_tops_up_after_use(fake, capsys):
    run_module(oneapi_token, fake, dict(LIMITED, remain_quota_mode="exact"))
    tid = result_of(capsys)["token"]["id"]
    run_module(oneapi_token, fake, dict(LIMITED, remain_quota_mode="exact"))
    assert result_of(capsys)["changed"] is False
    use_token(fake, tid, 1234)
    run_module(oneapi_token, fake, dict(LIMITED, remain_quota_mode="exact"), diff=False)
    res = result_of(capsys)
    assert res["changed"] is True and "diff" not in res
    assert fake.tokens[tid]["remain_quota"] == 500000


def test_token_check_mode_and_validation(fake, capsys):
    run_module(oneapi_token, fake, dict(name="web"), check=True)
    assert result_of(capsys)["changed"] is True and not fake.tokens and not fake.writes()
    fake.add_token(name="web")
    run_module(oneapi_token, fake, dict(name="web", unlimited_quota=False), check=True)
    assert "remain_quota" in result_of(capsys)["msg"]
    run_module(oneapi_token, fake, dict(name="web", expired_time=-1, models=["m"]), check=True)
    assert result_of(capsys)["changed"] is True and not fake.writes()
    run_module(oneapi_token, fake, dict(name="x" * 31))
    assert "30 bytes" in result_of(capsys)["msg"]


def test_token_absent(fake, capsys):
    fake.add_token(name="web")
    run_module(oneapi_token, fake, dict(name="web", state="absent"))
    assert result_of(capsys)["changed"] is True and not fake.tokens


# ---- oneapi_root_password ------------------------------------------------------------------


def test_root_password_changes_initial_then_idempotent(capsys):
    fake = FakeOneApi(password="123456")
    run_module(oneapi_root_password, fake, dict(return_access_token=True))
    res = result_of(capsys)
    assert res["changed"] is True and fake.password == PASSWORD and fake.logins == 2
    assert res["access_token"] == fake.access_token
    assert PASSWORD not in json.dumps(res)
    run_module(oneapi_root_password, fake, {})
    assert result_of(capsys)["changed"] is False and fake.logins == 3


def test_root_password_check_mode_does_not_change(capsys):
    fake = FakeOneApi(password="123456")
    run_module(oneapi_root_password, fake, {}, check=True)
    assert result_of(capsys)["changed"] is True and fake.password == "123456"
    assert not fake.writes()


def test_root_password_unknown_current_password_is_clear(capsys):
    fake = FakeOneApi(password="something-else")
    run_module(oneapi_root_password, fake, {})
    res = result_of(capsys)
    assert res["failed"] is True and "oneapi_root_password" in res["msg"] and fake.logins == 2


@pytest.mark.parametrize("bad", ["short", "x" * 21, "123456"])
def test_root_password_refuses_bad_passwords_before_any_request(capsys, bad):
    fake = FakeOneApi()
    args = dict(url=URL, password=bad)
    with patch_module_args(args), mock.patch.object(oneapi, "open_url", fake), pytest.raises(SystemExit):
        oneapi_root_password.main()
    assert "8-20" in result_of(capsys)["msg"] and not fake.calls


# ---- oneapi_option / oneapi_channel_test ---------------------------------------------------


def test_option_compares_strings_and_writes_only_differences(fake, capsys):
    fake.options["PasswordRegisterEnabled"] = "false"
    run_module(
        oneapi_option, fake, dict(settings=dict(RegisterEnabled=False, PasswordRegisterEnabled=False)), check=True
    )
    assert result_of(capsys)["changed_settings"] == ["RegisterEnabled"] and not fake.writes()
    run_module(oneapi_option, fake, dict(settings=dict(RegisterEnabled=False, PasswordRegisterEnabled=False)))
    assert result_of(capsys)["changed"] is True and fake.options["RegisterEnabled"] == "false"
    assert fake.writes() == [("PUT", "/api/option/", {"key": "RegisterEnabled", "value": "false"})]
    run_module(oneapi_option, fake, dict(settings=dict(RegisterEnabled=False, PasswordRegisterEnabled=False)))
    assert result_of(capsys)["changed"] is False


def test_channel_priority_and_status_on_create_update_and_check_mode(fake, capsys):
    run_module(oneapi_channel, fake, dict(CHANNEL, name="eas_g2", priority=1, status="disabled"))
    res = result_of(capsys)
    row = fake.channels[res["channel"]["id"]]
    assert row["priority"] == 1 and row["status"] == 2 and res["changed"] is True
    # Unchanged: no write. Not managed (omitted): an existing channel keeps its status and priority.
    writes = len(fake.writes())
    run_module(oneapi_channel, fake, dict(CHANNEL, name="eas_g2", priority=1, status="disabled"))
    assert result_of(capsys)["changed"] is False
    run_module(oneapi_channel, fake, dict(CHANNEL, name="eas_g2"))
    assert result_of(capsys)["changed"] is False and len(fake.writes()) == writes
    # Check mode reports the change and sends nothing.
    run_module(oneapi_channel, fake, dict(name="eas_g2", status="enabled"), check=True)
    res = result_of(capsys)
    assert res["changed"] is True and res["diff"]["after"]["status"] == "enabled" and len(fake.writes()) == writes
    # Enable alone: only the status is sent (one-api rebuilds the abilities from the stored row).
    run_module(oneapi_channel, fake, dict(name="eas_g2", status="enabled"))
    res = result_of(capsys)
    assert fake.writes()[-1] == ("PUT", "/api/channel/", {"id": row["id"], "status": 1})
    assert res["diff"]["before"]["status"] == "disabled" and row["status"] == 1
    # Priority 0 is sent (a pointer field in one-api: zero is written).
    run_module(oneapi_channel, fake, dict(name="eas_g2", priority=0))
    assert fake.writes()[-1] == ("PUT", "/api/channel/", {"id": row["id"], "priority": 0}) and row["priority"] == 0


def test_channel_disabled_by_one_api_counts_as_disabled(fake, capsys):
    fake.add_channel(name="auto", status=3, models="m", key="k")
    run_module(oneapi_channel, fake, dict(name="auto", status="disabled"))
    assert result_of(capsys)["changed"] is False
    run_module(oneapi_channel, fake, dict(name="auto", status="enabled"))
    assert result_of(capsys)["changed"] is True and fake.channels[1]["status"] == 1


def test_channel_info_lists_by_name_or_prefix_without_keys(fake, capsys):
    fake.add_channel(name="small", key="secret-1")
    fake.add_channel(name="small_g2", key="secret-2", status=2, priority=1)
    fake.add_channel(name="big", key="secret-3")
    run_module(oneapi_channel_info, fake, dict(prefixes=["small"]))
    res = result_of(capsys)
    assert [c["name"] for c in res["channels"]] == ["small", "small_g2"] and res["changed"] is False
    assert "secret" not in json.dumps(res) and all("key" not in c for c in res["channels"])
    run_module(oneapi_channel_info, fake, dict(names=["big", "nope"]))
    assert [c["name"] for c in result_of(capsys)["channels"]] == ["big"]
    run_module(oneapi_channel_info, fake, {})
    assert len(result_of(capsys)["channels"]) == 3 and not fake.writes()
    search = [c for c in fake.calls if c[1] == "/api/channel/search"]
    assert len(search) == 3


def test_channel_test_retries_until_success():
    answers = [
        dict(success=False, message="upstream 503"),
        dict(success=False, message="x"),
        dict(success=True, time=1.0),
    ]
    client = mock.Mock()
    client.test_channel.side_effect = answers
    sleeps = []
    out = oneapi_channel_test.run_tests(client, 3, retries=5, delay=7, sleep=sleeps.append)
    assert out["success"] is True and out["attempts"] == 3 and sleeps == [7, 7]
    client.test_channel.side_effect = [dict(success=False, message="down")] * 3
    out = oneapi_channel_test.run_tests(client, 3, retries=2, delay=1, sleep=sleeps.append)
    assert out == dict(success=False, message="down", time=None, attempts=3)


def test_channel_test_module_uses_one_login(fake, capsys):
    fake.add_channel(name="eas")
    run_module(oneapi_channel_test, fake, dict(name="eas"))
    res = result_of(capsys)
    assert res["test"]["success"] is True and res["changed"] is False and fake.logins == 1
    run_module(oneapi_channel_test, fake, dict(name="nope"), check=True)
    assert result_of(capsys)["skipped"] is True
