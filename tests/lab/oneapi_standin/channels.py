# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Channel management (controller/channel.go, model/channel.go, model/ability.go)."""

from __future__ import annotations

import sqlite3

from .catalog import ITEMS_PER_PAGE, catalogue
from .gojson import BindError, go_bind, go_json
from .models import CHANNEL_DEFAULTS, CHANNEL_FIELDS, channel_json, now_ts
from .store import NotFound
from .web import Ctx, Response, atoi_error, fail, ok


def list_channels(app, ctx: Ctx) -> Response:
    rows = app.store.channels_page(ctx.query_int("p") * ITEMS_PER_PAGE, ITEMS_PER_PAGE)
    return ok([channel_json(row, with_key=False) for row in rows])


def search_channels(app, ctx: Ctx) -> Response:
    return ok([channel_json(row, with_key=False) for row in app.store.search_channels(ctx.query.get("keyword", ""))])


def list_all_models(_app, _ctx: Ctx) -> Response:
    return Response(200, go_json({"object": "list", "data": catalogue()}))


def get_channel(app, ctx: Ctx) -> Response:
    channel_id = ctx.param_id()
    if channel_id is None:
        return fail(atoi_error(ctx.params["id"]))
    try:
        return ok(channel_json(app.store.channel(channel_id), with_key=False))
    except NotFound as exc:
        return fail(str(exc))


def add_channel(app, ctx: Ctx) -> Response:
    """AddChannel: one channel per non-empty line of key; the answer has no data (no id)."""
    try:
        doc = go_bind(ctx.body, CHANNEL_FIELDS, "model.Channel")
    except BindError as exc:
        return fail(str(exc))
    base = {}
    for (
        name,
        go_type,
    ) in CHANNEL_FIELDS.items():  # GORM Create: zero values of fields with a default tag get the default
        value = doc.get(name)
        if name in ("id", "key"):
            continue
        if go_type.startswith("*"):
            base[name] = CHANNEL_DEFAULTS[name] if value is None else value
        elif value in (None, 0, "", False):
            base[name] = CHANNEL_DEFAULTS.get(name, "" if go_type == "string" else 0)
        else:
            base[name] = value
    base["created_time"] = now_ts()
    rows = []
    for key in doc.get("key", "").split("\n"):
        if key:
            row = dict(base, key=key)
            if doc.get("id"):
                row["id"] = doc["id"]
            rows.append(row)
    try:
        app.store.insert_channels(rows)
    except sqlite3.Error as exc:
        return fail(str(exc))
    return ok(with_data=False)


def update_channel(app, ctx: Ctx) -> Response:
    """UpdateChannel: GORM Updates(struct) skips zero non-pointer fields; abilities are rebuilt; the answer echoes the key."""
    try:
        doc = go_bind(ctx.body, CHANNEL_FIELDS, "model.Channel")
    except BindError as exc:
        return fail(str(exc))
    channel_id = doc.get("id", 0)
    if not channel_id:
        return fail("WHERE conditions required")
    changes = {
        name: value
        for name, value in doc.items()
        if name != "id" and (CHANNEL_FIELDS[name].startswith("*") or value not in (0, "", False))
    }
    try:
        app.store.update_channel(channel_id, changes)
        channel = app.store.channel(channel_id)
    except NotFound:
        # upstream ignores the failed re-read and echoes the request body with success:true
        echo = {name: doc.get(name) for name in CHANNEL_FIELDS}
        return ok(channel_json(echo, with_key=True))
    except sqlite3.Error as exc:
        return fail(str(exc))
    try:
        app.store.replace_abilities(channel)
    except sqlite3.Error as exc:
        return fail(str(exc))
    return ok(channel_json(channel, with_key=True))


def delete_channel(app, ctx: Ctx) -> Response:
    """DeleteChannel: the id is strconv.Atoi'd with the error ignored; GORM refuses to delete with a zero key."""
    channel_id = ctx.param_id() or 0
    if channel_id == 0:
        return fail("WHERE conditions required")
    app.store.delete_channel(channel_id)
    return ok(with_data=False)


def delete_disabled_channels(app, _ctx: Ctx) -> Response:
    return ok(app.store.delete_disabled_channels())
