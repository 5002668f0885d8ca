# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token (relay API key) management (controller/token.go, model/token.go)."""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import Optional

from .catalog import ITEMS_PER_PAGE, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED
from .gojson import BindError, go_bind
from .models import TOKEN_DEFAULTS, TOKEN_FIELDS, generate_key, now_ts, token_json
from .store import NotFound
from .web import Ctx, Response, atoi_error, fail, ok


def list_tokens(app, ctx: Ctx) -> Response:
    rows = app.store.tokens_page(
        ctx.user_id, ctx.query_int("p") * ITEMS_PER_PAGE, ITEMS_PER_PAGE, ctx.query.get("order", "")
    )
    return ok([token_json(row) for row in rows])


def search_tokens(app, ctx: Ctx) -> Response:
    return ok([token_json(row) for row in app.store.search_tokens(ctx.user_id, ctx.query.get("keyword", ""))])


def get_token(app, ctx: Ctx) -> Response:
    token_id = ctx.param_id()
    if token_id is None:
        return fail(atoi_error(ctx.params["id"]))
    if token_id == 0:
        return fail("id 或 userId 为空！")
    try:
        return ok(token_json(app.store.token(token_id, ctx.user_id)))
    except NotFound as exc:
        return fail(str(exc))


def validate_token(doc: dict) -> Optional[str]:
    """controller/token.go validateToken: name at most 30 bytes, subnets must parse as CIDRs."""
    if len(doc.get("name", "").encode()) > 30:
        return "参数错误：令牌名称过长"
    for subnet in (doc.get("subnet") or "").split(",") if doc.get("subnet") else []:
        try:
            ipaddress.ip_network(subnet.strip(), strict=False)
            if "/" not in subnet:
                raise ValueError(subnet)
        except ValueError:
            return f"参数错误：无效的网段：failed to parse subnet: invalid CIDR address: {subnet.strip()}"
    return None


def add_token(app, ctx: Ctx) -> Response:
    try:
        doc = go_bind(ctx.body, TOKEN_FIELDS, "model.Token")
    except BindError as exc:
        return fail(str(exc))
    problem = validate_token(doc)
    if problem:
        return fail(problem)
    ts = now_ts()
    row = {
        "user_id": ctx.user_id,
        "name": doc.get("name", ""),
        "key": generate_key(),
        "created_time": ts,
        "accessed_time": ts,
        "expired_time": doc.get("expired_time", 0),
        "remain_quota": doc.get("remain_quota", 0),
        "unlimited_quota": doc.get("unlimited_quota", False),
        "models": doc.get("models"),
        "subnet": doc.get("subnet"),
        "status": 0,
        "used_quota": 0,
    }
    for (
        name,
        default,
    ) in TOKEN_DEFAULTS.items():  # GORM fills zero fields that have a default, in the row and the struct
        if row.get(name) in (None, 0, False) and not (name in ("models", "subnet") and row.get(name) is not None):
            row[name] = default
    try:
        row["id"] = app.store.insert_token(row)
    except sqlite3.Error as exc:
        return fail(str(exc))
    return ok(token_json(row))


def update_token(app, ctx: Ctx) -> Response:
    try:
        doc = go_bind(ctx.body, TOKEN_FIELDS, "model.Token")
    except BindError as exc:
        return fail(str(exc))
    problem = validate_token(doc)
    if problem:
        return fail(problem)
    token_id = doc.get("id", 0)
    if not token_id:
        return fail("id 或 userId 为空！")
    try:
        current = app.store.token(token_id, ctx.user_id)
    except NotFound as exc:
        return fail(str(exc))
    if doc.get("status") == TOKEN_ENABLED:
        if current["status"] == TOKEN_EXPIRED and current["expired_time"] != -1 and current["expired_time"] <= now_ts():
            return fail("令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期")
        if current["status"] == TOKEN_EXHAUSTED and current["remain_quota"] <= 0 and not current["unlimited_quota"]:
            return fail("令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度")
    if ctx.query.get("status_only", ""):
        current["status"] = doc.get("status", 0)
    else:  # full overwrite: omitted fields become zero values (expired_time 0 = already expired)
        current.update(
            name=doc.get("name", ""),
            expired_time=doc.get("expired_time", 0),
            remain_quota=doc.get("remain_quota", 0),
            unlimited_quota=doc.get("unlimited_quota", False),
            models=doc.get("models"),
            subnet=doc.get("subnet"),
        )
    changes = {
        name: current[name]
        for name in ("name", "status", "expired_time", "remain_quota", "unlimited_quota", "models", "subnet")
    }
    app.store.update_token(token_id, changes)
    return ok(token_json(current))


def delete_token(app, ctx: Ctx) -> Response:
    token_id = ctx.param_id() or 0
    if token_id == 0:
        return fail("id 或 userId 为空！")
    try:
        app.store.token(token_id, ctx.user_id)
    except NotFound as exc:
        return fail(str(exc))
    app.store.delete_token(token_id)
    return ok(with_data=False)
