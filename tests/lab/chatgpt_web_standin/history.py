# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chatgpt client's message store and ``_buildMessages`` (history walk and token budget)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .jsutil import UNDEFINED, js_string

MESSAGE_STORE_MAX = 10000
USER_LABEL = "User"
ASSISTANT_LABEL = "ChatGPT"


class MessageStore:
    """Keyv on QuickLRU (maxSize 10000). QuickLRU keeps up to twice maxSize across its two generations; an
    exact LRU of 10000 is close enough for the lab."""

    def __init__(self, max_size=MESSAGE_STORE_MAX):
        self._data = OrderedDict()
        self._max = max_size
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, message):
        with self._lock:
            self._data[message["id"]] = message
            self._data.move_to_end(message["id"])
            while len(self._data) > self._max:
                self._data.popitem(last=False)


def _prompt_of(messages):
    parts = []
    for message in messages:
        if message["role"] == "system":
            parts.append("Instructions:\n%s" % js_string(message["content"]))
        elif message["role"] == "user":
            parts.append("%s:\n%s" % (USER_LABEL, js_string(message["content"])))
        else:
            parts.append("%s:\n%s" % (ASSISTANT_LABEL, js_string(message["content"])))
    return "\n\n".join(parts)


def build_messages(settings, store, tokenizer, text, system_message, parent_message_id):
    """``ChatGPTAPI._buildMessages``: (messages, max_tokens, num_tokens).

    Messages are added newest first while the whole prompt (labelled and joined as below) stays within
    maxModelTokens - maxResponseTokens, counted with cl100k_base. A new user message that alone is over the
    budget is dropped: only the system message is sent. A special token in the text raises
    tokens.SpecialTokenError, as @dqbd/tiktoken throws.
    """
    max_num_tokens = settings.max_model_tokens - settings.max_response_tokens
    messages = [{"role": "system", "content": system_message}] if system_message else []
    offset = len(messages)
    next_messages = messages + [{"role": "user", "content": text, "name": UNDEFINED}] if text else list(messages)
    num_tokens = 0
    while True:
        prompt = _prompt_of(next_messages)
        estimate = tokenizer.count(prompt)
        valid = estimate <= max_num_tokens
        if prompt and not valid:
            break
        messages = next_messages
        num_tokens = estimate
        if not valid or not parent_message_id:
            break
        parent = store.get(parent_message_id)
        if parent is None:
            break
        entry = {"role": parent.get("role") or "user", "content": parent["text"], "name": parent.get("name", UNDEFINED)}
        next_messages = next_messages[:offset] + [entry] + next_messages[offset:]
        parent_message_id = parent.get("parentMessageId")
    max_tokens = max(1, min(settings.max_model_tokens - num_tokens, settings.max_response_tokens))
    return messages, max_tokens, num_tokens
