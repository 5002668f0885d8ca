# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenAI adaptor of one-api v0.6.6 (relay/adaptor/openai, relay/controller/text.go and error.go, channel test).

Used by every channel type outside ``ToAPIType``'s list (OpenAI 1, Custom 8, DeepSeek 36, ...). Request bodies are
forwarded unchanged unless the model is mapped (or the type is Baichuan), then re-marshalled from v0.6.6's
``GeneralOpenAIRequest``; answers are copied back, streams line by line.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Optional

from . import upstream
from .catalog import CHANNEL_BASE_URLS, NON_OPENAI_TYPES, adaptor_first_model
from .gojson import BindError, GoStruct, go_decode, go_json
from .models import CHAT_REQUEST_FIELDS

LOG = logging.getLogger("one-api")


class UpstreamError(Exception):
    """A relay failure carrying the relay/model.ErrorWithStatusCode fields."""

    def __init__(self, status: int, message: str, error_type: str = "one_api_error", code: Any = "", param: str = ""):
        super().__init__(message)
        self.status, self.message, self.error_type, self.code, self.param = status, message, error_type, code, param


def model_mapping(channel: dict) -> Optional[dict]:
    """Channel.GetModelMapping: "" / "{}" / bad JSON mean none."""
    raw = channel.get("model_mapping") or ""
    if raw in ("", "{}"):
        return None
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        LOG.error("failed to unmarshal model mapping for channel %s", channel.get("id"))
        return None
    return mapping


def upstream_url(channel: dict, request_uri: str) -> str:
    """relay/meta + openai.GetFullRequestURL: base_url (or the type's default) + the client's path and query, no trimming."""
    base = channel.get("base_url") or ""
    if not base and 0 <= channel["type"] < len(CHANNEL_BASE_URLS):
        base = CHANNEL_BASE_URLS[channel["type"]]
    if base.startswith("https://gateway.ai.cloudflare.com") and channel["type"] == 1:
        request_uri = request_uri.removeprefix("/v1")
    return base + request_uri


def remarshal_request(request: dict) -> GoStruct:
    """json.Marshal(GeneralOpenAIRequest) in v0.6.6: struct order, omitempty, unknown fields (stop, logprobs, ...) dropped."""
    out = GoStruct()
    for name in CHAT_REQUEST_FIELDS:
        value = request.get(name)
        if value in (None, "", 0, False, [], {}) and not (isinstance(value, dict) and name == "response_format"):
            continue
        if name == "messages":  # model.Message: role/tool_calls omitempty, content/name omitted only when null
            value = [
                GoStruct(
                    (k, m[k])
                    for k in ("role", "content", "name", "tool_calls")
                    if isinstance(m, dict) and m.get(k) is not None and not (k in ("role", "tool_calls") and not m[k])
                )
                for m in value
            ]
        out[name] = value
    return out


# ---- token counting (tiktoken cl100k_base upstream; an approximation here) ---------------------------------------------

_PIECES = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+", re.UNICODE)


def count_text_tokens(text: str, approximate: bool = False) -> int:
    """getTokenNum: ApproximateTokenEnabled gives int(len*0.38) upstream; otherwise tiktoken, approximated by pieces."""
    if approximate:
        return int(len(text.encode()) * 0.38)
    tokens = 0
    for piece in _PIECES.findall(text):
        word = piece.strip()
        if any(ord(ch) > 0x2E7F for ch in word):  # CJK and the like: about one token per character
            tokens += len(word)
        elif word and not word[0].isalnum():  # punctuation runs: about one token per character
            tokens += len(word)
        else:  # a word (with its leading space) or a whitespace run
            tokens += max(1, math.ceil(len(word) / 5))
    return tokens


def count_message_tokens(messages: Any, model: str, approximate: bool = False) -> int:
    """CountTokenMessages: 3 per message (4 for gpt-3.5-turbo-0301) + role + content (+ name), and 3 to prime the reply."""
    per_message, per_name = (4, -1) if model == "gpt-3.5-turbo-0301" else (3, 1)
    total = 0
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        total += per_message
        content = message.get("content")
        if isinstance(content, str):
            total += count_text_tokens(content, approximate)
        elif isinstance(content, list):
            total += sum(
                count_text_tokens(part.get("text") or "", approximate)
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
        total += count_text_tokens(str(message.get("role") or ""), approximate)
        if message.get("name") is not None:
            total += per_name + count_text_tokens(str(message["name"]), approximate)
    return total + 3


def count_input_tokens(value: Any, approximate: bool = False) -> int:
    """CountTokenInput: a string, or the strings of a list."""
    if isinstance(value, str):
        return count_text_tokens(value, approximate)
    if isinstance(value, list):
        return sum(count_text_tokens(item, approximate) for item in value if isinstance(item, str))
    return 0


# ---- answers -----------------------------------------------------------------------------------------------------------


def _field(doc: dict, name: str):
    """encoding/json field matching: the exact key, else a case-insensitive one."""
    if name in doc:
        return doc[name]
    return next((value for key, value in doc.items() if key.lower() == name), None)


def _general_error(doc: Any) -> Optional[dict]:
    """json.Unmarshal into relay/controller GeneralErrorResponse; None when Go would report an error (any type mismatch)."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        return None
    out: dict = {}
    for name in ("message", "msg", "err", "error_msg"):
        value = _field(doc, name)
        if value is not None and not isinstance(value, str):
            return None
        out[name] = value or ""
    nested = {"error": ("message", "type", "param"), "header": ("message",), "response": ()}
    for name, strings in nested.items():
        value = _field(doc, name)
        if value is None:
            value = {}
        if not isinstance(value, dict) or any(
            _field(value, k) is not None and not isinstance(_field(value, k), str) for k in strings
        ):
            return None
        out[name] = value
    inner = _field(out["response"], "error")
    if inner is not None and (not isinstance(inner, dict) or not isinstance(_field(inner, "message") or "", str)):
        return None
    out["response_message"] = _field(inner or {}, "message") or ""
    return out


def relay_error_from_upstream(status: int, raw: bytes) -> UpstreamError:
    """relay/controller/error.go RelayErrorHandler: a body Go cannot unmarshal leaves the message empty."""
    error = UpstreamError(status, "", "upstream_error", "bad_response_status_code", str(status))
    try:
        parsed = _general_error(go_decode(raw, "unmarshal"))
    except BindError:
        parsed = None
    if parsed is None:
        return error
    found = parsed["error"]
    if _field(found, "message"):  # OpenAI format: the whole error object replaces the default one
        error = UpstreamError(
            status,
            _field(found, "message"),
            _field(found, "type") or "",
            _field(found, "code"),
            _field(found, "param") or "",
        )
    else:
        error.message = (
            next((parsed[k] for k in ("message", "msg", "err", "error_msg") if parsed[k]), "")
            or (_field(parsed["header"], "message") or "")
            or parsed["response_message"]
        )
    if not error.message:
        error.message = f"bad response status code {status}"
    return error


def read_answer(answer: upstream.Answer) -> tuple:
    """openai.Handler's checks on a non-stream answer; returns (raw body, parsed document)."""
    raw = answer.read_all()
    try:
        doc = go_decode(raw, "unmarshal")
    except BindError as exc:
        raise UpstreamError(500, str(exc), code="unmarshal_response_body_failed") from None
    if not isinstance(doc, dict):
        kind = "array" if isinstance(doc, list) else "value"
        raise UpstreamError(
            500,
            f"json: cannot unmarshal {kind} into Go value of type openai.SlimTextResponse",
            code="unmarshal_response_body_failed",
        )
    error = doc.get("error")
    if isinstance(error, dict) and error.get("type"):
        raise UpstreamError(
            answer.status,
            str(error.get("message", "")),
            str(error.get("type")),
            error.get("code"),
            str(error.get("param") or ""),
        )
    return raw, doc


def answer_usage(doc: dict, prompt_tokens: int, approximate: bool) -> dict:
    """The usage of a non-stream answer; counted locally when total_tokens is 0."""
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
    if usage.get("total_tokens"):
        return {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
        }
    choices = doc.get("choices") if isinstance(doc.get("choices"), list) else []
    completion = sum(
        count_text_tokens(str((c.get("message") or {}).get("content") or ""), approximate)
        for c in choices
        if isinstance(c, dict)
    )
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion}


def stream_lines(answer: upstream.Answer, chat: bool):
    """openai.StreamHandler: yields the lines to send and collects the text and usage; v0.6.6 drops chunks without choices."""
    state = {"text": "", "usage": None}

    def generate():
        while True:
            line = answer.body.readline()
            if not line:
                break
            data = line.decode("utf-8", "replace").removesuffix("\n")
            if len(data) < 6 or (data[:6] != "data: " and data[:6] != "[DONE]"):
                continue
            if data[6:].startswith("[DONE]"):
                yield data[:12]
                continue
            try:
                chunk = json.loads(data[6:])
            except json.JSONDecodeError:
                chunk = None
            if chat and isinstance(chunk, dict):
                choices = chunk.get("choices")
                if not choices:
                    continue
                for choice in choices if isinstance(choices, list) else []:
                    content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
                    state["text"] += content if isinstance(content, str) else ""
                if isinstance(chunk.get("usage"), dict):
                    state["usage"] = chunk["usage"]
            elif not chat and isinstance(chunk, dict):
                for choice in chunk.get("choices") or []:
                    state["text"] += str(choice.get("text") or "") if isinstance(choice, dict) else ""
            yield data
        answer.close()

    return generate(), state


def sse_event(data: str) -> bytes:
    """common.CustomEvent rendering of one data line."""
    data = data.removesuffix("\r")
    return (data.replace("\r", "\\r").replace("\n", "\ndata:") + ("\n\n" if data.startswith("data") else "")).encode()


# ---- channel test ------------------------------------------------------------------------------------------------------


def test_channel(channel: dict, timeout: Optional[float]) -> str:
    """controller/channel-test.go (v0.6.6): returns the error text, "" on success."""
    if channel["type"] in NON_OPENAI_TYPES:
        return f"lab stand-in: channel type {channel['type']} ({NON_OPENAI_TYPES[channel['type']]}) is not implemented"
    model = adaptor_first_model(channel["type"])
    if not model or model not in (channel["models"] or ""):
        model = (channel["models"] or "").split(",")[0]
        model = (model_mapping(channel) or {}).get(model) or model
    body = go_json(GoStruct(messages=[GoStruct(role="user", content="hi")], model=model, max_tokens=2))
    url = upstream_url(channel, "/v1/chat/completions")
    headers = {"Authorization": f"Bearer {channel['key']}", "Content-Type": "application/json", "Accept": ""}
    try:
        answer = upstream.send("POST", url, body, headers, timeout)
    except upstream.RequestFailed as exc:
        return f"do request failed: {exc}"
    if answer.status != 200:
        return f"status code {answer.status}: {relay_error_from_upstream(answer.status, answer.read_all()).message}"
    try:
        read_answer(answer)
    except UpstreamError as exc:
        return exc.message
    return ""
