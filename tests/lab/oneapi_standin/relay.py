# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay middleware and small handlers: TokenAuth, Distribute (with the memory cache), model lists, billing dashboards,
the channel test. The text relay itself is in textrelay.py."""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from typing import Optional

from . import adaptor
from .catalog import CHANNEL_ENABLED, ROLE_ADMIN, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, USER_ENABLED, catalogue
from .gojson import BindError, GoStruct, check_go_type, go_decode, go_json
from .models import now_ts
from .store import NotFound
from .textrelay import TextRelay
from .web import Ctx, Response, atoi_error, envelope, fail, ok, relay_error

TEXT_PATHS = ("/v1/completions", "/v1/chat/completions", "/v1/images", "/v1/audio")


def ip_in_subnets(ip: str, subnets: str) -> bool:
    for subnet in subnets.split(","):
        try:
            if ipaddress.ip_address(ip) in ipaddress.ip_network(subnet.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


class ChannelCache:
    """MEMORY_CACHE_ENABLED (or Redis): routing from a snapshot rebuilt every SYNC_FREQUENCY seconds (model/cache.go)."""

    def __init__(self, store, frequency: int):
        self.store = store
        self.lock = threading.Lock()
        self.group2model2channels: dict = {}
        self.sync()
        threading.Thread(target=self._loop, args=(frequency,), daemon=True).start()

    def _loop(self, frequency: int) -> None:
        while True:
            time.sleep(max(frequency, 1))
            self.sync()

    def sync(self) -> None:
        groups: dict = {group: {} for group in self.store.ability_groups()}
        for channel in self.store.enabled_channels():
            for group in (channel["group"] or "").split(","):
                for model in (channel["models"] or "").split(",") if group in groups else []:
                    groups[group].setdefault(model, []).append(channel)
        for model2channels in groups.values():
            for channels in model2channels.values():
                channels.sort(key=lambda c: -(c["priority"] or 0))
        with self.lock:
            self.group2model2channels = groups

    def pick(self, group: str, model: str, ignore_first_priority: bool) -> Optional[dict]:
        with self.lock:
            channels = self.group2model2channels.get(group, {}).get(model, [])
        if not channels:
            return None
        end = len(channels)
        first = channels[0]["priority"] or 0
        if first > 0:
            end = next((i for i, c in enumerate(channels) if (c["priority"] or 0) != first), end)
        if ignore_first_priority and end < len(channels):
            return channels[random.randrange(end, len(channels))]
        return channels[random.randrange(end)]


class Relay:
    """TokenAuth + Distribute + the OpenAI adaptor, the channel test and the billing dashboards."""

    def __init__(self, app):
        self.app = app
        self.store = app.store
        self.cache = ChannelCache(app.store, app.config.sync_frequency) if app.config.memory_cache else None
        self.text = TextRelay(self)

    @property
    def timeout(self) -> Optional[float]:
        return self.app.config.relay_timeout or None

    # --- middleware ---------------------------------------------------------------------------------------------------
    def token_auth(self, ctx: Ctx) -> Optional[Response]:
        key = ctx.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("sk-")
        parts = key.split("-")
        token, message = self._validate_token(parts[0])
        if token is None:
            return relay_error(401, message, ctx.request_id, full=False)
        if token["subnet"] and not ip_in_subnets(ctx.client_ip, token["subnet"]):
            return relay_error(
                403,
                f"该令牌只能在指定网段使用：{token['subnet']}，当前 ip：{ctx.client_ip}",
                ctx.request_id,
                full=False,
            )
        try:
            user = self.store.user(token["user_id"])
        except NotFound:
            return relay_error(500, "record not found", ctx.request_id, full=False)
        if user["status"] != USER_ENABLED:
            return relay_error(403, "用户已被封禁", ctx.request_id, full=False)
        model, error = self._request_model(ctx)
        if error and ctx.path.startswith(TEXT_PATHS):
            return relay_error(400, f"common.UnmarshalBodyReusable failed: {error}", ctx.request_id, full=False)
        ctx.request_model = model
        ctx.available_models = token["models"] or ""
        if token["models"] and model and model not in token["models"].split(","):
            return relay_error(403, f"该令牌无权使用模型：{model}", ctx.request_id, full=False)
        ctx.user_id, ctx.token = token["user_id"], token
        ctx.specific_channel = None
        if len(parts) > 1:
            if user["role"] < ROLE_ADMIN:
                return relay_error(403, "普通用户不支持指定渠道", ctx.request_id, full=False)
            ctx.specific_channel = parts[1]
        return None

    def _validate_token(self, key: str) -> tuple:
        """model.ValidateUserToken."""
        if not key:
            return None, "未提供令牌"
        try:
            token = self.store.token_by_key(key)
        except NotFound:
            return None, "无效的令牌"
        if token["status"] == TOKEN_EXHAUSTED:
            return None, f"令牌 {token['name']}（#{token['id']}）额度已用尽"
        if token["status"] == TOKEN_EXPIRED:
            return None, "该令牌已过期"
        if token["status"] != TOKEN_ENABLED:
            return None, "该令牌状态不可用"
        if token["expired_time"] != -1 and token["expired_time"] < now_ts():
            self.store.update_token(token["id"], {"status": TOKEN_EXPIRED})
            return None, "该令牌已过期"
        if not token["unlimited_quota"] and token["remain_quota"] <= 0:
            self.store.update_token(token["id"], {"status": TOKEN_EXHAUSTED})
            return None, "该令牌额度已用尽"
        return token, ""

    @staticmethod
    def _request_model(ctx: Ctx) -> tuple:
        """getRequestModel: json.Unmarshal of the body (only with a JSON Content-Type), then the per-route defaults."""
        model = ""
        if ctx.headers.get("Content-Type", "").startswith("application/json"):
            try:
                doc = go_decode(ctx.body, "unmarshal")
            except BindError as exc:
                return "", str(exc)
            value = doc.get("model") if isinstance(doc, dict) else None
            if value is not None and not isinstance(value, str):
                return (
                    "",
                    f"json: cannot unmarshal {check_go_type(value, 'string')} into Go struct field ModelRequest.model of type string",
                )
            model = value or ""
        defaults = (
            ("/v1/moderations", "text-moderation-stable"),
            ("/v1/images/generations", "dall-e-2"),
            ("/v1/audio/transcriptions", "whisper-1"),
            ("/v1/audio/translations", "whisper-1"),
        )
        for prefix, default in defaults:
            if ctx.path.startswith(prefix) and not model:
                model = default
        if ctx.path.endswith("embeddings") and not model:
            model = ctx.params.get("model", "")
        return model, None

    def pick(self, group: str, model: str, ignore_first_priority: bool = False) -> tuple:
        """CacheGetRandomSatisfiedChannel: (channel or None, channel id seen in an ability)."""
        if self.cache is not None:
            channel = self.cache.pick(group, model, ignore_first_priority)
            return channel, channel["id"] if channel else None
        channel_id = self.store.satisfied_channel(group, model, ignore_first_priority)
        if channel_id is None:
            return None, None
        try:
            return self.store.channel(channel_id), channel_id
        except NotFound:
            return None, channel_id

    def distribute(self, ctx: Ctx) -> Optional[Response]:
        group = self.store.user(ctx.user_id)["group"]
        ctx.group = group
        if ctx.specific_channel is not None:
            channel_id = ctx.specific_channel
            channel = None
            if channel_id.lstrip("+-").isdigit():
                try:
                    channel = self.store.channel(int(channel_id))
                except NotFound:
                    pass
            if channel is None:
                return relay_error(400, "无效的渠道 Id", ctx.request_id, full=False)
            if channel["status"] != CHANNEL_ENABLED:
                return relay_error(403, "该渠道已被禁用", ctx.request_id, full=False)
        else:
            channel, seen = self.pick(group, ctx.request_model)
            if channel is None:
                message = (
                    f"当前分组 {group} 下对于模型 {ctx.request_model} 无可用渠道"
                    if seen is None
                    else "数据库一致性已被破坏，请联系管理员"
                )
                return relay_error(503, message, ctx.request_id, full=False)
        ctx.channel = channel
        return None

    # --- /v1/models and the billing dashboards ------------------------------------------------------------------------
    def list_models(self, _app, ctx: Ctx) -> Response:
        """controller.ListModels: catalogue entries first (in catalogue order), then the rest in Go map order (random)."""
        names = (
            ctx.available_models.split(",")
            if ctx.available_models
            else self.store.group_models(self.store.user(ctx.user_id)["group"])
        )
        wanted = dict.fromkeys(names, True)
        data = []
        for entry in catalogue():
            if wanted.get(entry["id"]):
                wanted[entry["id"]] = False
                data.append(entry)
        rest = [name for name, left in wanted.items() if left]
        random.shuffle(rest)
        data += [
            GoStruct(
                id=name, object="model", created=1626777600, owned_by="custom", permission=None, root=name, parent=None
            )
            for name in rest
        ]
        return Response(200, go_json({"object": "list", "data": data}))

    @staticmethod
    def retrieve_model(_app, ctx: Ctx) -> Response:
        model = ctx.params["model"]
        found = [entry for entry in catalogue() if entry["id"] == model]
        if found:
            return Response(200, go_json(found[-1]))  # modelsMap: the last entry of an id wins
        error = GoStruct(
            message=f"The model '{model}' does not exist",
            type="invalid_request_error",
            param="model",
            code="model_not_found",
        )
        return Response(200, go_json({"error": error}))

    def _display_amount(self, quota: int) -> float:
        amount = float(quota)
        if self.app.options.enabled("DisplayInCurrencyEnabled"):
            amount /= float(self.app.options.get("QuotaPerUnit") or 500000)
        return amount

    def subscription(self, _app, ctx: Ctx) -> Response:
        """controller.GetSubscription (DisplayTokenStatEnabled: the token's numbers, else the user's)."""
        token = ctx.token or {}
        if self.app.options.enabled("DisplayTokenStatEnabled"):
            expired, quota = (
                token.get("expired_time", 0),
                (token.get("remain_quota") or 0) + (token.get("used_quota") or 0),
            )
        else:
            expired, quota = 0, self.store.user(ctx.user_id)["quota"]
        amount = (
            100000000.0
            if token.get("unlimited_quota") and self.app.options.enabled("DisplayTokenStatEnabled")
            else self._display_amount(quota)
        )
        body = GoStruct(
            object="billing_subscription",
            has_payment_method=True,
            soft_limit_usd=amount,
            hard_limit_usd=amount,
            system_hard_limit_usd=amount,
            access_until=max(expired, 0),
        )
        return Response(200, go_json(body))

    def usage(self, _app, ctx: Ctx) -> Response:
        token = ctx.token or {}
        quota = (
            token.get("used_quota") or 0
            if self.app.options.enabled("DisplayTokenStatEnabled")
            else self.store.user(ctx.user_id)["used_quota"]
        )
        return Response(200, go_json(GoStruct(object="list", total_usage=self._display_amount(quota) * 100)))

    @staticmethod
    def not_implemented(_app, _ctx: Ctx) -> Response:
        error = GoStruct(message="API not implemented", type="one_api_error", param="", code="api_not_implemented")
        return Response(501, go_json({"error": error}))

    def relay(self, _app, ctx: Ctx) -> Optional[Response]:
        return self.text.relay(ctx)

    # --- channel test -------------------------------------------------------------------------------------------------
    def test_channel(self, _app, ctx: Ctx) -> Response:
        channel_id = ctx.param_id()
        if channel_id is None:
            return fail(atoi_error(ctx.params["id"]))
        try:
            channel = self.store.channel(channel_id)
        except NotFound as exc:
            return fail(str(exc))
        started = time.monotonic()
        error = adaptor.test_channel(channel, self.timeout)
        milliseconds = int((time.monotonic() - started) * 1000)
        self.store.update_channel(channel["id"], {"test_time": now_ts(), "response_time": milliseconds})
        return envelope(success=not error, message=error, time=milliseconds / 1000.0)

    def test_all_channels(self, _app, _ctx: Ctx) -> Response:
        """GET /api/channel/test: tests every channel in the background and answers at once."""

        def run() -> None:
            for row in self.store.search_channels(""):
                started = time.monotonic()
                adaptor.test_channel(row, self.timeout)
                self.store.update_channel(
                    row["id"], {"test_time": now_ts(), "response_time": int((time.monotonic() - started) * 1000)}
                )

        threading.Thread(target=run, daemon=True).start()
        return ok(with_data=False)
