# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The text relay (controller/relay.go, relay/controller/text.go): retries, billing, the upstream call, validation."""

from __future__ import annotations

import math
from typing import Optional

from . import adaptor, upstream
from .adaptor import UpstreamError
from .catalog import NON_OPENAI_TYPES, TYPE_BAICHUAN, completion_ratio
from .gojson import BindError, go_bind, go_json
from .models import CHAT_REQUEST_FIELDS, CHAT_REQUEST_GO_TYPES
from .web import Ctx, Response, relay_error

CHANNEL_DISABLED_AUTO = 3


def relay_mode(path: str) -> str:
    """relaymode.GetByPath."""
    for prefix, mode in (
        ("/v1/chat/completions", "chat"),
        ("/v1/completions", "completions"),
        ("/v1/embeddings", "embeddings"),
    ):
        if path.startswith(prefix):
            return mode
    if path.endswith("embeddings"):
        return "embeddings"
    for prefix, mode in (
        ("/v1/moderations", "moderations"),
        ("/v1/images/generations", "images"),
        ("/v1/edits", "edits"),
        ("/v1/audio/", "audio"),
    ):
        if path.startswith(prefix):
            return mode
    return "unknown"


def should_disable_channel(error: UpstreamError) -> bool:
    """monitor.ShouldDisableChannel (when AutomaticDisableChannelEnabled is on)."""
    if error.status == 401 or error.error_type in (
        "insufficient_quota",
        "authentication_error",
        "permission_error",
        "forbidden",
    ):
        return True
    if error.code in ("invalid_api_key", "account_deactivated"):
        return True
    message = error.message
    return (
        message.startswith(("Your credit balance is too low", "This organization has been disabled."))
        or "credit" in message
        or "balance" in message
    )


def should_retry(ctx: Ctx, status: int) -> bool:
    """controller/relay.go shouldRetry."""
    if ctx.specific_channel is not None:
        return False
    return status == 429 or status // 100 == 5 or (status != 400 and status // 100 != 2)


class TextRelay:
    """controller.Relay for the text modes (chat, completions, embeddings, moderations, edits) of the OpenAI adaptor."""

    def __init__(self, relay):
        self.relay_ = relay
        self.app = relay.app
        self.store = relay.store

    @property
    def timeout(self) -> Optional[float]:
        return self.app.config.relay_timeout or None

    def relay(self, ctx: Ctx) -> Optional[Response]:
        """controller.Relay: one attempt; after a retryable failure RetryTimes more on other channels; then the error answer."""
        original_model = ctx.request_model if ctx.specific_channel is None else ""
        error = self._attempt(ctx)
        if error is not None:
            self._after_failure(ctx.channel, error)
            retry_times = self.app.options.int_value("RetryTimes") if should_retry(ctx, error.status) else 0
            last_failed = ctx.channel["id"]
            for remaining in range(retry_times, 0, -1):
                channel, _seen = self.relay_.pick(ctx.group, original_model, remaining != retry_times)
                if channel is None:
                    break
                if channel["id"] == last_failed:
                    continue
                ctx.channel = channel
                error = self._attempt(ctx)
                if error is None:
                    break
                last_failed = channel["id"]
                self._after_failure(channel, error)
        if error is None:
            return None if ctx.streamed else ctx.relay_response
        message = "当前分组上游负载已饱和，请稍后再试" if error.status == 429 else error.message
        return relay_error(error.status, message, ctx.request_id, error.error_type, error.code, error.param)

    def _after_failure(self, channel: dict, error: UpstreamError) -> None:
        if self.app.options.enabled("AutomaticDisableChannelEnabled") and should_disable_channel(error):
            self.store.update_channel(channel["id"], {"status": CHANNEL_DISABLED_AUTO})
            self.store.replace_abilities(self.store.channel(channel["id"]))

    def _attempt(self, ctx: Ctx) -> Optional[UpstreamError]:
        try:
            self._relay_text(ctx)
        except UpstreamError as exc:
            return exc
        return None

    def _relay_text(self, ctx: Ctx) -> None:  # pylint: disable=too-many-locals
        mode = relay_mode(ctx.path)
        if mode in ("images", "audio"):
            raise UpstreamError(501, f"lab stand-in: the {mode} relay is not implemented", code="api_not_implemented")
        request = self._text_request(ctx, mode)
        channel = ctx.channel
        mapped = (adaptor.model_mapping(channel) or {}).get(request["model"], "")
        actual = mapped or request["model"]
        opts = self.app.options
        model_ratio, group_ratio = opts.model_ratio_of(actual), opts.group_ratio.get(ctx.group, 1)
        ratio = model_ratio * group_ratio
        approximate = opts.enabled("ApproximateTokenEnabled")
        prompt_tokens = {
            "chat": lambda: adaptor.count_message_tokens(request.get("messages"), actual, approximate),
            "completions": lambda: adaptor.count_input_tokens(request.get("prompt"), approximate),
            "moderations": lambda: adaptor.count_input_tokens(request.get("input"), approximate),
        }.get(mode, lambda: 0)()
        pre_consumed = self._pre_consume(
            ctx, int((opts.int_value("PreConsumedQuota") + prompt_tokens + (request.get("max_tokens") or 0)) * ratio)
        )
        try:
            usage = self._call_upstream(ctx, request, mode, channel, mapped, actual, prompt_tokens, approximate)
        except UpstreamError:
            if pre_consumed:
                self._post_consume(ctx.token, -pre_consumed)
            raise
        quota = math.ceil(
            (usage["prompt_tokens"] + usage["completion_tokens"] * completion_ratio(actual, opts.completion_ratio))
            * ratio
        )
        if ratio != 0 and quota <= 0:
            quota = 1
        if usage["prompt_tokens"] + usage["completion_tokens"] == 0:
            quota = 0
        self._post_consume(ctx.token, quota - pre_consumed)
        self.store.add_user_used_quota(ctx.user_id, quota)
        self.store.add_channel_used_quota(channel["id"], quota)

    def _pre_consume(self, ctx: Ctx, pre_consumed: int) -> int:
        """preConsumeQuota: refuse when the user cannot pay; trusted users (quota > 100x) pre-consume nothing."""
        user_quota = self.store.user(ctx.user_id)["quota"]
        if user_quota - pre_consumed < 0:
            raise UpstreamError(403, "user quota is not enough", code="insufficient_user_quota")
        if user_quota > 100 * pre_consumed:
            return 0
        if pre_consumed > 0:
            token = self.store.token(ctx.token["id"])
            if not token["unlimited_quota"] and token["remain_quota"] < pre_consumed:
                raise UpstreamError(403, "令牌额度不足", code="pre_consume_token_quota_failed")
            self._post_consume(token, pre_consumed)
        return pre_consumed

    def _post_consume(self, token: dict, quota: int) -> None:
        """PostConsumeTokenQuota: the user's quota always moves, the token's only when it is limited."""
        self.store.change_user_quota(token["user_id"], quota)
        if not token["unlimited_quota"]:
            self.store.change_token_quota(token["id"], quota)

    def _call_upstream(
        self,
        ctx: Ctx,
        request: dict,
        mode: str,
        channel: dict,
        mapped: str,
        actual: str,
        prompt_tokens: int,
        approximate: bool,
    ) -> dict:
        if channel["type"] in NON_OPENAI_TYPES:
            raise UpstreamError(
                500,
                f"lab stand-in: channel type {channel['type']} ({NON_OPENAI_TYPES[channel['type']]}) needs a "
                "non-OpenAI adaptor, which this stand-in does not implement",
                code="invalid_api_type",
            )
        if mapped or channel["type"] == TYPE_BAICHUAN:
            body = go_json(adaptor.remarshal_request(dict(request, model=actual)))
        else:
            body = upstream.chunked(ctx.body)  # c.Request.Body as it came: Go sends it chunked
        stream = bool(request.get("stream"))
        headers = {
            "Content-Type": ctx.headers.get("Content-Type", ""),
            "Accept": ctx.headers.get("Accept", "") or ("text/event-stream" if stream else ""),
            "Authorization": f"Bearer {channel['key']}",
        }
        if channel["type"] == 20:  # OpenRouter
            headers.update({"HTTP-Referer": "https://github.com/songquanpeng/one-api", "X-Title": "One API"})
        try:
            answer = upstream.send(ctx.method, adaptor.upstream_url(channel, ctx.uri), body, headers, self.timeout)
        except upstream.RequestFailed as exc:
            raise UpstreamError(500, f"do request failed: {exc}", code="do_request_failed") from None
        if answer.status != 200 or (stream and answer.content_type().startswith("application/json")):
            raise adaptor.relay_error_from_upstream(answer.status, answer.read_all())
        if stream:
            lines, state = adaptor.stream_lines(answer, mode == "chat")
            ctx.handler.start_stream(
                ctx,
                [
                    ("Content-Type", "text/event-stream"),
                    ("Cache-Control", "no-cache"),
                    ("Connection", "keep-alive"),
                    ("X-Accel-Buffering", "no"),
                ],
            )
            ctx.streamed = True
            for line in lines:
                if not ctx.handler.write_chunk(adaptor.sse_event(line)):
                    break
            ctx.handler.end_stream()
            usage = state["usage"] or {}
            if not usage.get("total_tokens"):
                return {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": adaptor.count_text_tokens(state["text"], approximate),
                }
            if not usage.get("prompt_tokens"):
                return {"prompt_tokens": prompt_tokens, "completion_tokens": int(usage["total_tokens"]) - prompt_tokens}
            return {
                "prompt_tokens": int(usage["prompt_tokens"]),
                "completion_tokens": int(usage.get("completion_tokens") or 0),
            }
        raw, doc = adaptor.read_answer(answer)
        ctx.relay_response = Response(
            answer.status,
            raw,
            answer.headers.get("Content-Type", ""),
            [(k, v) for k, v in answer.headers.items() if k not in ("Content-Type", "Content-Length", "Date")],
        )
        return adaptor.answer_usage(doc, prompt_tokens, approximate)

    @staticmethod
    def _text_request(ctx: Ctx, mode: str) -> dict:
        """getAndValidateTextRequest: json.Unmarshal into GeneralOpenAIRequest (JSON Content-Type only), then validation."""
        request: dict = {}
        if ctx.headers.get("Content-Type", "").startswith("application/json"):
            try:
                request = go_bind(
                    ctx.body, CHAT_REQUEST_FIELDS, "model.GeneralOpenAIRequest", "unmarshal", CHAT_REQUEST_GO_TYPES
                )
            except BindError as exc:
                raise UpstreamError(400, str(exc), code="invalid_text_request") from None
        if mode == "moderations" and not request.get("model"):
            request["model"] = "text-moderation-latest"
        if mode == "embeddings" and not request.get("model"):
            request["model"] = ctx.params.get("model", "")
        max_tokens = request.get("max_tokens", 0)
        checks = (
            (max_tokens < 0 or max_tokens > 2147483647 // 2, "max_tokens is invalid"),
            (not request.get("model"), "model is required"),
            (mode == "completions" and request.get("prompt") == "", "field prompt is required"),
            (mode == "chat" and not request.get("messages"), "field messages is required"),
            (mode == "moderations" and request.get("input") == "", "field input is required"),
            (mode == "edits" and not request.get("instruction"), "field instruction is required"),
        )
        for failed, message in checks:
            if failed:
                raise UpstreamError(400, message, code="invalid_text_request")
        return request
