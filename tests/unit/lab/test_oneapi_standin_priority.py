# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which channel the one-api v0.6.6 stand-in picks among several for one model: the enabled ones of the highest
priority, at random among equals (model/ability.go), and with the memory cache only when that priority is above 0
(model/cache.go). The same sequence was run against the upstream v0.6.6 binary, built from its source, with SQLite and
with MEMORY_CACHE_ENABLED: every step picked the same channels."""

from __future__ import annotations

import json
import time

import pytest

from test_oneapi_standin import Standin, add_channel, add_token, chat, upstream  # noqa: F401  pylint: disable=unused-import


def picks(client, key, n=24):
    seen = set()
    for _unused in range(n):
        status, _headers, body = chat(client, key, "alias")
        seen.add(json.loads(body)["model"] if status == 200 else status)
    return seen


def put(client, channel, **fields):
    status, answer = client.json("PUT", "/api/channel/", dict(id=channel["id"], **fields))
    assert status == 200 and answer["success"], answer


def channel(client, upstream_url, name, **fields):
    body = dict(
        name=name,
        type=8,
        key="k-" + name,
        base_url=upstream_url,
        models="alias",
        model_mapping=json.dumps({"alias": "model-" + name}),
    )
    body.update(fields)
    return add_channel(client, **body)


@pytest.mark.parametrize("cache", [False, True], ids=["sqlite", "memory-cache"])
def test_priority_and_status_decide_the_channel(tmp_path, upstream, cache):  # noqa: F811
    env = {"MEMORY_CACHE_ENABLED": "true", "SYNC_FREQUENCY": "1"} if cache else {}
    standin = Standin(tmp_path, env)
    try:
        client = standin.client()
        client.login()
        key = "sk-" + add_token(client, "picks")["key"]
        sync = (lambda: time.sleep(2.2)) if cache else (lambda: None)
        a = channel(client, upstream.url, "A")
        b = channel(client, upstream.url, "B")
        sync()
        assert picks(client, key) == {"model-A", "model-B"}  # equal priorities: at random
        put(client, b, priority=5)
        sync()
        assert picks(client, key) == {"model-B"}  # the highest priority only
        put(client, b, status=2)
        sync()
        assert picks(client, key) == {"model-A"}  # a disabled channel gets nothing
        _status, test = client.json("GET", f"/api/channel/test/{b['id']}")
        assert test["success"] is True  # but it can be tested
        put(client, b, status=1)
        put(client, b, status=0)  # a zero status is not written (GORM skips zero values)
        sync()
        assert picks(client, key) == {"model-B"}
        put(client, a, priority=-1)
        put(client, b, priority=-5)
        sync()
        # Priorities of 0 and less: the database query still ranks them; the cache picks among every enabled channel.
        assert picks(client, key) == ({"model-A", "model-B"} if cache else {"model-A"})
        c = channel(client, upstream.url, "C", priority=3, status=2)  # created disabled
        sync()
        assert picks(client, key) == ({"model-A", "model-B"} if cache else {"model-A"})
        status, _headers, body = chat(client, f"{key}-{c['id']}", "alias")  # a token pinned to a disabled channel
        assert status == 403 and "该渠道已被禁用" in json.loads(body)["error"]["message"]
        put(client, c, status=1)
        sync()
        assert picks(client, key) == {"model-C"}
        for row in (a, b, c):
            put(client, row, status=2)
        sync()
        assert picks(client, key, 3) == {503}
        _status, models = client.json("GET", "/v1/models", headers={"Authorization": key})
        assert "alias" not in [m["id"] for m in models["data"]]
    finally:
        standin.stop()
