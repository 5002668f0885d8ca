# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``chatReplyProcess`` (chatgpt-web) around ``ChatGPTAPI.sendMessage`` (the chatgpt client), and the
``/config`` usage call.

TIMEOUT_MS is p-timeout around the whole answer (a total limit, not an idle one): at expiry the upstream
request is aborted and the chat fails with ``OpenAI timed out waiting for response``; what was streamed stays
with the client, and the partial answer is not stored (a follow-up's parentMessageId finds nothing). The
answer resolves only on ``data: [DONE]``: an upstream stream that ends, breaks off or is reset without it
leaves the client waiting for the timeout (for ever with TIMEOUT_MS 0 or "").
"""

from __future__ import annotations

import calendar
import datetime
import json
import threading
import time
import uuid

from . import history, tokens, upstream
from .jsutil import UNDEFINED, inspect, js_string, js_stringify, js_truthy, json_parse, not_empty
from .settings import DEFAULT_USAGE_BASE_URL

TIMEOUT_MESSAGE = "OpenAI timed out waiting for response"
ERROR_CODE_MESSAGE = {
    401: "[OpenAI] 提供错误的API密钥 | Incorrect API key provided",
    403: "[OpenAI] 服务器拒绝访问，请稍后再试 | Server refused to access, please try again later",
    502: "[OpenAI] 错误的网关 |  Bad Gateway",
    503: "[OpenAI] 服务器繁忙，请稍后再试 | Server is busy, please try again later",
    504: "[OpenAI] 网关超时 | Gateway Time-out",
    500: "[OpenAI] 服务器繁忙，请稍后再试 | Internal Server Error",
}


class ChatError(Exception):
    """An error of ``sendMessage``: ``name`` is the JavaScript error class shown in the log."""

    def __init__(self, message, status_code=None, name="Error"):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.name = name

    def client_message(self):
        return ERROR_CODE_MESSAGE.get(self.status_code, self.message)


def log(*parts):
    print(*parts, flush=True)


class ChatClient:
    """The server-side chat state: message store, tokenizer, settings."""

    def __init__(self, settings, tokenizer):
        self.settings = settings
        self.tokenizer = tokenizer
        self.store = history.MessageStore()
        # the library's default system message is built once, when the client is created at start-up
        self.default_system_message = (
            "You are ChatGPT, a large language model trained by OpenAI. Answer as concisely as possible.\n"
            "Knowledge cutoff: 2021-09-01\nCurrent date: %s"
            % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        )

    # -- chatReplyProcess -------------------------------------------------------------------------
    def reply(self, body, on_progress):
        """Stream one answer through on_progress(message); raises ChatError. The error is logged like
        ``console.log(error)``."""
        try:
            self._send(body, on_progress)
        except ChatError as exc:
            log("%s: %s" % (exc.name, exc.message))
            raise

    def _send(self, body, on_progress):
        settings = self.settings
        if settings.api_mode != "ChatGPTAPI":
            raise ChatError("The lab stand-in does not emulate OPENAI_ACCESS_TOKEN (ChatGPTUnofficialProxyAPI) mode")
        text = body.get("prompt", UNDEFINED)
        options = body.get("options", {})
        system_message = body.get("systemMessage", UNDEFINED)
        if not not_empty(system_message):
            system_message = self.default_system_message
        parent_message_id = UNDEFINED
        if options is not None and options is not UNDEFINED:
            parent_message_id = options.get("parentMessageId", UNDEFINED) if isinstance(options, dict) else UNDEFINED
        user_message = {"role": "user", "id": str(uuid.uuid4()), "parentMessageId": parent_message_id, "text": text}
        self.store.put(user_message)
        try:
            messages, max_tokens, num_tokens = history.build_messages(
                settings,
                self.store,
                self.tokenizer,
                text if js_truthy(text) else "",
                system_message,
                parent_message_id if js_truthy(parent_message_id) else None,
            )
        except tokens.SpecialTokenError as exc:
            raise ChatError(str(exc)) from None
        request_body = {
            "max_tokens": max_tokens,
            "model": settings.model,
            "temperature": 0.8,
            "top_p": 1,
            "presence_penalty": 1,
        }
        # completionParams {model, temperature, top_p} from the request override the defaults; an omitted
        # value is undefined and JSON.stringify leaves it out, an explicit null is sent as null.
        for key in ("temperature", "top_p"):
            request_body[key] = body.get(key, UNDEFINED)
        request_body["messages"] = messages
        request_body["stream"] = True
        result = {"role": "assistant", "id": str(uuid.uuid4()), "parentMessageId": user_message["id"], "text": ""}
        plan, value = settings.timeout_plan()
        if plan == "error":
            # p-timeout throws at once, but the request already went out; its answer is still stored.
            threading.Thread(target=self._quietly, args=(request_body, dict(result), num_tokens), daemon=True).start()
            raise ChatError(value, name="TypeError")
        if plan == "limit" and value <= 0.001:
            # a 1 ms timer (TIMEOUT_MS 1, or past setTimeout's limit) fires before the connection is even up
            raise ChatError(TIMEOUT_MESSAGE, name="TimeoutError")
        self._stream(
            request_body, result, num_tokens, on_progress, None if plan == "none" else time.monotonic() + value
        )
        result["text"] = result["text"].strip()
        self.store.put({key: val for key, val in result.items() if val is not UNDEFINED})

    def _quietly(self, request_body, result, num_tokens):
        try:
            self._stream(request_body, result, num_tokens, lambda _message: None, None)
            result["text"] = result["text"].strip()
            self.store.put({key: val for key, val in result.items() if val is not UNDEFINED})
        except ChatError:
            pass

    # -- sendMessage + fetchSSE -------------------------------------------------------------------
    def _stream(self, request_body, result, num_tokens, on_progress, deadline):
        settings = self.settings
        if settings.debug:
            log("sendMessage (%d tokens) %s" % (num_tokens, inspect(request_body)))
        connection = upstream.Connection()
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), connection.abort)
            timer.daemon = True
            timer.start()
        payload = js_stringify(request_body).encode("utf-8", "backslashreplace")
        headers = {"Authorization": "Bearer %s" % settings.api_key, "Content-Type": "application/json"}
        try:
            try:
                response = upstream.fetch(
                    settings.api_base_url + "/chat/completions", "POST", headers, payload, settings.proxy, connection
                )
            except upstream.FetchFailed as exc:
                raise ChatError(str(exc), name="FetchError") from None
            except upstream.Hang:
                self._wait_for(deadline, connection)
            if not response.ok:
                reason = response.text()
                raise ChatError(
                    "ChatGPT error %d: %s" % (response.status, response.reason if reason is None else reason),
                    status_code=response.status,
                    name="ChatGPTError",
                )
            state = {"done": False, "errors": []}
            parser = upstream.SSEParser(lambda data: self._on_message(data, result, on_progress, state, connection))
            for piece in response.iter_text():
                parser.feed(piece)
                if state["done"] or state["errors"]:
                    break
            if state["errors"]:
                raise state["errors"][0]
            if not state["done"]:
                self._wait_for(deadline, connection)
        except upstream.FetchFailed as exc:
            raise ChatError(str(exc), name="FetchError") from None
        finally:
            if timer is not None:
                timer.cancel()
            connection.close()

    @staticmethod
    def _wait_for(deadline, connection):
        """No [DONE] will come: wait for the timeout (abort fires at the deadline), or for ever without one."""
        if deadline is None:
            threading.Event().wait()
        remaining = deadline - time.monotonic()
        if remaining > 0 and not connection.aborted:
            time.sleep(remaining)
        raise ChatError(TIMEOUT_MESSAGE, name="TimeoutError")

    @staticmethod
    def _on_message(data, result, on_progress, state, connection):
        if state["done"] or state["errors"] or connection.aborted:
            return  # after the timeout the route has ended the response: later lines go nowhere
        if data == "[DONE]":
            state["done"] = True
            return
        try:
            chunk = json_parse(data)
            if chunk is None:
                raise ValueError("Cannot read properties of null (reading 'id')")
            if not isinstance(chunk, dict):
                return
            if js_truthy(chunk.get("id")):
                result["id"] = chunk["id"]
            choices = chunk.get("choices")
            if not (isinstance(choices, list) and choices):
                return
            delta = choices[0].get("delta", UNDEFINED) if isinstance(choices[0], dict) else UNDEFINED
            if delta is None or delta is UNDEFINED:
                raise ValueError(
                    "Cannot read properties of %s (reading 'content')" % ("null" if delta is None else "undefined")
                )
            content = delta.get("content", UNDEFINED) if isinstance(delta, dict) else UNDEFINED
            result["delta"] = content
            if js_truthy(content):
                result["text"] += content if isinstance(content, str) else js_string(content)
            result["detail"] = chunk
            role = delta.get("role") if isinstance(delta, dict) else None
            if js_truthy(role):
                result["role"] = role
            on_progress(result)
        except ValueError as exc:
            log("OpenAI stream SEE event unexpected error %s" % exc)
            state["errors"].append(ChatError(str(exc), name="SyntaxError"))

    # -- /config --------------------------------------------------------------------------------
    def fetch_usage(self):
        """``GET ${base or https://api.openai.com}/v1/dashboard/billing/usage`` through the same proxy, no timeout."""
        settings = self.settings
        if not not_empty(settings.api_key):
            return "-"
        base = settings.base_url_env if not_empty(settings.base_url_env) else DEFAULT_USAGE_BASE_URL
        today = datetime.date.today()
        last_day = calendar.monthrange(today.year, today.month)[1]
        url = "%s/v1/dashboard/billing/usage?start_date=%d-%02d-01&end_date=%d-%02d-%02d" % (
            base,
            today.year,
            today.month,
            today.year,
            today.month,
            last_day,
        )
        headers = {"Authorization": "Bearer %s" % settings.api_key, "Content-Type": "application/json"}
        connection = upstream.Connection()
        try:
            try:
                response = upstream.fetch(url, "GET", headers, None, settings.proxy, connection)
            except upstream.Hang:
                threading.Event().wait()
            if not response.ok:
                raise ValueError("获取使用量失败")
            usage = round(float(json.loads(response.text() or "")["total_usage"])) / 100
        except (upstream.FetchFailed, ValueError, KeyError, TypeError) as exc:
            log("%s: %s" % ("FetchError" if isinstance(exc, upstream.FetchFailed) else "Error", exc))
            return "-"
        finally:
            connection.close()
        if not usage:
            return "-"
        return "$%s" % (int(usage) if float(usage).is_integer() else usage)
