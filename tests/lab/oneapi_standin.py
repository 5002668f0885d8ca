# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab stand-in for the one-api v0.6.6 server (songquanpeng/one-api, tag v0.6.6).

Written from the documented behaviour of one-api v0.6.6 (docs/lab-oneapi-standin.md). It answers the
management API (/api/*) and the OpenAI-compatible relay (/v1/*) the way upstream v0.6.6 does,
including the quirks automation has to survive (HTTP 200 with success:false, channel create without
id, write-only channel keys, partial channel updates, full-overwrite token updates, rotating access
token, login rate limit, trailing-slash redirects, Content-Type-dependent relay routing).

Python standard library only. Run:  python3 oneapi_standin.py --port 3000 [--host 0.0.0.0] [--data-dir /data]
See docs/lab-oneapi-standin.md for the implemented surface and the known deviations.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import random
import secrets
import signal
import sqlite3
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

VERSION = "v0.6.6"
LOG = logging.getLogger("one-api")

ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT = 1, 10, 100
USER_ENABLED, USER_DISABLED = 1, 2
CHANNEL_ENABLED = 1
TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4
ITEMS_PER_PAGE = 10
SESSION_MAX_AGE = 86400 * 30
REQUEST_ID_HEADER = "X-Oneapi-Request-Id"
PASSWORD_SENTINEL = "$I_LOVE_U"

# relay/channeltype/url.go (v0.6.6 ends at 39 TogetherAI; Dummy = 40)
CHANNEL_BASE_URLS = [
    "", "https://api.openai.com", "https://oa.api2d.net", "", "https://api.closeai-proxy.xyz",
    "https://api.openai-sb.com", "https://api.openaimax.com", "https://api.ohmygpt.com", "", "https://api.caipacity.com",
    "https://api.aiproxy.io", "https://generativelanguage.googleapis.com", "https://api.api2gpt.com", "https://api.aigc2d.com",
    "https://api.anthropic.com", "https://aip.baidubce.com", "https://open.bigmodel.cn", "https://dashscope.aliyuncs.com", "",
    "https://ai.360.cn", "https://openrouter.ai/api", "https://api.aiproxy.io", "https://fastgpt.run/api/openapi",
    "https://hunyuan.cloud.tencent.com", "https://generativelanguage.googleapis.com", "https://api.moonshot.cn",
    "https://api.baichuan-ai.com", "https://api.minimax.chat", "https://api.mistral.ai", "https://api.groq.com/openai",
    "http://localhost:11434", "https://api.lingyiwanwu.com", "https://api.stepfun.com", "", "https://api.coze.com",
    "https://api.cohere.ai", "https://api.deepseek.com", "https://api.cloudflare.com", "https://api-free.deepl.com",
    "https://api.together.xyz",
]
# channel types that do NOT use the OpenAI adaptor (relay/channeltype/helper.go: ToAPIType)
NON_OPENAI_TYPES = {14: "Anthropic", 15: "Baidu", 11: "PaLM", 16: "Zhipu", 17: "Ali", 18: "Xunfei", 21: "AIProxyLibrary",
                    23: "Tencent", 24: "Gemini", 30: "Ollama", 33: "AwsClaude", 34: "Coze", 35: "Cohere", 37: "Cloudflare", 38: "DeepL"}
TYPE_AZURE, TYPE_BAICHUAN, TYPE_DEEPSEEK = 3, 26, 36
OPENAI_MODELS = [
    "gpt-3.5-turbo", "gpt-3.5-turbo-0301", "gpt-3.5-turbo-0613", "gpt-3.5-turbo-1106", "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-16k", "gpt-3.5-turbo-16k-0613", "gpt-3.5-turbo-instruct",
    "gpt-4", "gpt-4-0314", "gpt-4-0613", "gpt-4-1106-preview", "gpt-4-0125-preview", "gpt-4-32k", "gpt-4-32k-0314", "gpt-4-32k-0613",
    "gpt-4-turbo-preview", "gpt-4-turbo", "gpt-4-turbo-2024-04-09", "gpt-4-vision-preview",
    "text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large",
    "text-curie-001", "text-babbage-001", "text-ada-001", "text-davinci-002", "text-davinci-003",
    "text-moderation-latest", "text-moderation-stable", "text-davinci-edit-001", "davinci-002", "babbage-002",
    "dall-e-2", "dall-e-3", "whisper-1", "tts-1", "tts-1-1106", "tts-1-hd", "tts-1-hd-1106",
]
DEEPSEEK_MODELS = ["deepseek-chat", "deepseek-coder"]
# a small excerpt of relay/billing/ratio/model.go; any other model costs the fallback ratio 30
MODEL_RATIO = {"gpt-4": 15, "gpt-3.5-turbo": 0.25, "deepseek-chat": 500 / 7 / 1000, "deepseek-coder": 500 / 7 / 1000}
GROUP_RATIO = {"default": 1, "vip": 1, "svip": 1}


# ----------------------------------------------------------------------------------------------------------------------
# Go-compatible JSON: structs keep field order, maps (gin.H) are sorted, HTML characters escaped like encoding/json.

class GoStruct(dict):
    """A dict that is serialised in insertion order (a Go struct); plain dicts are serialised sorted (a Go map)."""


def _go_prepare(obj: Any) -> Any:
    if isinstance(obj, GoStruct):
        return {k: _go_prepare(v) for k, v in obj.items()}
    if isinstance(obj, dict):
        return {k: _go_prepare(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [_go_prepare(v) for v in obj]
    if isinstance(obj, float) and obj.is_integer() and abs(obj) < 1e21:
        return int(obj)
    return obj


def go_json(obj: Any) -> bytes:
    text = json.dumps(_go_prepare(obj), ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


class BindError(ValueError):
    """A Go encoding/json decoding error, with Go's message."""


_GO_KINDS = {str: "string", bool: "bool", list: "array", dict: "object"}


def _json_syntax_error(raw: bytes) -> BindError:
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return BindError("EOF")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            return BindError("unexpected EOF")
        return BindError(f"invalid character '{text[exc.pos]}' looking for beginning of value")
    return BindError("invalid JSON")


def _check_go_type(value: Any, go_type: str) -> Optional[str]:
    """Return the Go 'kind' description when value cannot be decoded into go_type, else None."""
    base = go_type.lstrip("*")
    if base in ("int", "int64", "uint"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _GO_KINDS.get(type(value), "value")
        if isinstance(value, float) or (base == "uint" and value < 0):
            return f"number {value}"
        return None
    if base == "float64":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _GO_KINDS.get(type(value), "value")
        return None
    kind = "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else _GO_KINDS.get(type(value), "value")
    if base == "string":
        return None if isinstance(value, str) else kind
    if base == "bool":
        return None if isinstance(value, bool) else kind
    return None  # "any"


def go_bind(raw: bytes, schema: dict, struct_name: str) -> dict:
    """Decode raw like json.Unmarshal into a Go struct: unknown keys ignored, case-insensitive names, null = unset.

    Returns {json_name: value} for the keys present with a non-null value. Raises BindError with Go's message.
    """
    try:
        doc = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _json_syntax_error(raw) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        kind = "number" if isinstance(doc, (int, float)) and not isinstance(doc, bool) else _GO_KINDS.get(type(doc), "value")
        raise BindError(f"json: cannot unmarshal {kind} into Go value of type model.{struct_name}")
    lower = {name.lower(): name for name in schema}
    result: dict = {}
    first_error: Optional[str] = None
    for key, value in doc.items():
        name = key if key in schema else lower.get(key.lower())
        if name is None or value is None:
            continue
        kind = _check_go_type(value, schema[name])
        if kind is not None:
            if first_error is None:
                first_error = f"json: cannot unmarshal {kind} into Go struct field {struct_name}.{name} of type {schema[name].lstrip('*')}"
            continue
        result[name] = int(value) if schema[name].lstrip("*") in ("int", "int64", "uint") else value
    if first_error:
        raise BindError(first_error)
    return result


# ----------------------------------------------------------------------------------------------------------------------
# Models (field order = Go struct order)

CHANNEL_FIELDS = {
    "id": "int", "type": "int", "key": "string", "status": "int", "name": "string", "weight": "*uint", "created_time": "int64",
    "test_time": "int64", "response_time": "int", "base_url": "*string", "other": "string", "balance": "float64",
    "balance_updated_time": "int64", "models": "string", "group": "string", "used_quota": "int64", "model_mapping": "*string",
    "priority": "*int64", "config": "string",
}
CHANNEL_DEFAULTS = {"type": 0, "status": 1, "weight": 0, "base_url": "", "group": "default", "used_quota": 0, "model_mapping": "", "priority": 0}
TOKEN_FIELDS = {
    "id": "int", "user_id": "int", "key": "string", "status": "int", "name": "string", "created_time": "int64", "accessed_time": "int64",
    "expired_time": "int64", "remain_quota": "int64", "unlimited_quota": "bool", "used_quota": "int64", "models": "*string",
    "subnet": "*string",
}
TOKEN_DEFAULTS = {"status": 1, "expired_time": -1, "remain_quota": 0, "unlimited_quota": False, "used_quota": 0, "models": "", "subnet": ""}
USER_FIELDS = {
    "id": "int", "username": "string", "password": "string", "display_name": "string", "role": "int", "status": "int", "email": "string",
    "github_id": "string", "wechat_id": "string", "lark_id": "string", "verification_code": "string", "access_token": "string",
    "quota": "int64", "used_quota": "int64", "request_count": "int", "group": "string", "aff_code": "string", "inviter_id": "int",
}
USER_VALIDATION = (("username", "Username", "max", 12), ("password", "Password", "min", 8), ("password", "Password", "max", 20),
                   ("display_name", "DisplayName", "max", 20), ("email", "Email", "max", 50))
LOGIN_FIELDS = {"username": "string", "password": "string"}
OPTION_FIELDS = {"key": "string", "value": "string"}
CHAT_REQUEST_FIELDS = {
    "messages": "array", "model": "string", "frequency_penalty": "float64", "max_tokens": "int", "n": "int", "presence_penalty": "float64",
    "response_format": "object", "seed": "float64", "stream": "bool", "temperature": "float64", "top_p": "float64", "top_k": "int",
    "tools": "array", "tool_choice": "any", "function_call": "any", "functions": "any", "user": "string", "prompt": "any", "input": "any",
    "encoding_format": "string", "dimensions": "int", "instruction": "string", "size": "string",
}

DEFAULT_OPTIONS = {
    "PasswordLoginEnabled": "true", "PasswordRegisterEnabled": "true", "EmailVerificationEnabled": "false", "GitHubOAuthEnabled": "false",
    "WeChatAuthEnabled": "false", "TurnstileCheckEnabled": "false", "RegisterEnabled": "true", "AutomaticDisableChannelEnabled": "false",
    "AutomaticEnableChannelEnabled": "false", "ApproximateTokenEnabled": "false", "LogConsumeEnabled": "true",
    "DisplayInCurrencyEnabled": "true", "DisplayTokenStatEnabled": "true", "ChannelDisableThreshold": "5",
    "EmailDomainRestrictionEnabled": "false",
    "EmailDomainWhitelist": "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,yahoo.com,foxmail.com",
    "SMTPServer": "", "SMTPFrom": "", "SMTPPort": "587", "SMTPAccount": "", "SMTPToken": "", "Notice": "", "About": "", "HomePageContent": "",
    "Footer": "", "SystemName": "One API", "Logo": "", "ServerAddress": "", "GitHubClientId": "", "GitHubClientSecret": "",
    "WeChatServerAddress": "", "WeChatServerToken": "", "WeChatAccountQRCodeImageURL": "", "MessagePusherAddress": "",
    "MessagePusherToken": "", "TurnstileSiteKey": "", "TurnstileSecretKey": "", "QuotaForNewUser": "0", "QuotaForInviter": "0",
    "QuotaForInvitee": "0", "QuotaRemindThreshold": "1000", "PreConsumedQuota": "500", "ModelRatio": json.dumps(MODEL_RATIO),
    "GroupRatio": json.dumps(GROUP_RATIO), "CompletionRatio": "{}", "TopUpLink": "", "ChatLink": "", "QuotaPerUnit": "500000",
    "RetryTimes": "0", "Theme": "default",
}


def now_ts() -> int:
    return int(time.time())


def hash_password(password: str) -> str:
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20000).hex()
    return f"pbkdf2_sha256$20000${salt}${digest}"


def check_password(password: str, stored: str) -> bool:
    try:
        _scheme, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds)).hex()
    return hmac.compare_digest(candidate, digest)


def new_uuid() -> str:
    return uuid.uuid4().hex


def generate_key() -> str:
    """random.GenerateKey(): 16 random alphanumerics + a dash-less UUID with every even position upper-cased."""
    chars = string.digits + string.ascii_letters
    head = "".join(random.choices(chars, k=16))
    tail = "".join(c.upper() if i % 2 == 0 else c for i, c in enumerate(new_uuid()))
    return head + tail


def validate_user(doc: dict) -> Optional[str]:
    """go-playground/validator on model.User; returns the joined error text or None."""
    errors = []
    for name, go_name, tag, limit in USER_VALIDATION:
        length = len(doc.get(name, ""))
        if (tag == "min" and length < limit) or (tag == "max" and length > limit):
            errors.append(f"Key: 'User.{go_name}' Error:Field validation for '{go_name}' failed on the '{tag}' tag")
    return "\n".join(errors) or None


# ----------------------------------------------------------------------------------------------------------------------
# Storage

class NotFound(LookupError):
    """GORM's ErrRecordNotFound."""

    def __str__(self) -> str:
        return "record not found"


class Store:
    """SQLite storage laid out like one-api's GORM tables (users, channels, abilities, tokens, options)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT UNIQUE, password TEXT NOT NULL,
        display_name TEXT, role INTEGER DEFAULT 1, status INTEGER DEFAULT 1, email TEXT DEFAULT '', github_id TEXT DEFAULT '',
        wechat_id TEXT DEFAULT '', lark_id TEXT DEFAULT '', access_token TEXT UNIQUE, quota INTEGER DEFAULT 0,
        used_quota INTEGER DEFAULT 0, request_count INTEGER DEFAULT 0, "group" TEXT DEFAULT 'default', aff_code TEXT UNIQUE,
        inviter_id INTEGER DEFAULT 0);
    CREATE TABLE IF NOT EXISTS channels (id INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER DEFAULT 0, key TEXT, status INTEGER DEFAULT 1,
        name TEXT, weight INTEGER DEFAULT 0, created_time INTEGER, test_time INTEGER, response_time INTEGER, base_url TEXT DEFAULT '',
        other TEXT, balance REAL, balance_updated_time INTEGER, models TEXT, "group" TEXT DEFAULT 'default', used_quota INTEGER DEFAULT 0,
        model_mapping TEXT DEFAULT '', priority INTEGER DEFAULT 0, config TEXT);
    CREATE INDEX IF NOT EXISTS idx_channels_name ON channels(name);
    CREATE TABLE IF NOT EXISTS abilities ("group" TEXT, model TEXT, channel_id INTEGER, enabled NUMERIC, priority INTEGER DEFAULT 0,
        PRIMARY KEY ("group", model, channel_id));
    CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER, key TEXT UNIQUE, status INTEGER DEFAULT 1,
        name TEXT, created_time INTEGER, accessed_time INTEGER, expired_time INTEGER DEFAULT -1, remain_quota INTEGER DEFAULT 0,
        unlimited_quota NUMERIC DEFAULT false, used_quota INTEGER DEFAULT 0, models TEXT DEFAULT '', subnet TEXT DEFAULT '');
    CREATE INDEX IF NOT EXISTS idx_tokens_name ON tokens(name);
    CREATE TABLE IF NOT EXISTS options (key TEXT PRIMARY KEY, value TEXT);
    """

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA busy_timeout = 3000")
        self.db.executescript(self.SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.db.execute(sql, args)

    def _rows(self, sql: str, args: tuple = ()) -> list:
        with self.lock:
            return [dict(row) for row in self.db.execute(sql, args).fetchall()]

    def _one(self, sql: str, args: tuple = ()) -> dict:
        rows = self._rows(sql + " LIMIT 1", args)
        if not rows:
            raise NotFound()
        return rows[0]

    def _insert(self, table: str, doc: dict) -> int:
        columns = ", ".join(f'"{c}"' for c in doc)
        marks = ", ".join(["?"] * len(doc))
        return self._exec(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(doc.values())).lastrowid

    def _update(self, table: str, row_id: int, doc: dict) -> None:
        if doc:
            sets = ", ".join(f'"{c}" = ?' for c in doc)
            self._exec(f"UPDATE {table} SET {sets} WHERE id = ?", tuple(doc.values()) + (row_id,))

    # users -----------------------------------------------------------------------------------------------------------
    def has_users(self) -> bool:
        return bool(self._rows("SELECT id FROM users LIMIT 1"))

    def create_root(self, initial_root_token: str) -> None:
        root_id = self._insert("users", {"username": "root", "password": hash_password("123456"), "display_name": "Root User",
                                         "role": ROLE_ROOT, "status": USER_ENABLED, "access_token": new_uuid(), "quota": 500000000000000,
                                         "aff_code": None})
        if initial_root_token:
            ts = now_ts()
            self._insert("tokens", {"id": 1, "user_id": root_id, "key": initial_root_token, "status": TOKEN_ENABLED,
                                    "name": "Initial Root Token", "created_time": ts, "accessed_time": ts, "expired_time": -1,
                                    "remain_quota": 500000000000000, "unlimited_quota": True})

    def user(self, user_id: int) -> dict:
        return self._one("SELECT * FROM users WHERE id = ?", (user_id,))

    def user_for_login(self, username: str) -> dict:
        try:
            return self._one("SELECT * FROM users WHERE username = ?", (username,))
        except NotFound:
            return self._one("SELECT * FROM users WHERE email = ?", (username,))

    def user_by_access_token(self, access_token: str) -> Optional[dict]:
        rows = self._rows("SELECT * FROM users WHERE access_token = ? LIMIT 1", (access_token,))
        return rows[0] if rows else None

    def update_user(self, user_id: int, doc: dict) -> None:
        self._update("users", user_id, doc)

    def insert_user(self, doc: dict) -> int:
        return self._insert("users", doc)

    # channels --------------------------------------------------------------------------------------------------------
    def insert_channels(self, channels: list) -> None:
        """BatchInsertChannels: one INSERT for all rows, then the abilities channel by channel (not atomic, like GORM)."""
        if not channels:
            raise sqlite3.OperationalError("empty slice found")
        with self.lock:
            self.db.execute("BEGIN")
            try:
                for channel in channels:
                    channel["id"] = self._insert("channels", channel)
                self.db.execute("COMMIT")
            except sqlite3.Error:
                self.db.execute("ROLLBACK")
                raise
        for channel in channels:
            self.add_abilities(self.channel(channel["id"]))

    def add_abilities(self, channel: dict) -> None:
        rows = [(group, model, channel["id"], channel["status"] == CHANNEL_ENABLED, channel["priority"])
                for model in (channel["models"] or "").split(",") for group in (channel["group"] or "").split(",")]
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany('INSERT INTO abilities ("group", model, channel_id, enabled, priority) VALUES (?, ?, ?, ?, ?)', rows)
                self.db.execute("COMMIT")
            except sqlite3.Error:
                self.db.execute("ROLLBACK")
                raise

    def channels_page(self, offset: int, limit: int) -> list:
        return self._rows("SELECT * FROM channels ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))

    def search_channels(self, keyword: str) -> list:
        try:
            as_id = int(keyword)
        except ValueError:
            as_id = 0
        return self._rows("SELECT * FROM channels WHERE id = ? OR name LIKE ?", (as_id, keyword + "%"))

    def channel(self, channel_id: int) -> dict:
        return self._one("SELECT * FROM channels WHERE id = ?", (channel_id,))

    def update_channel(self, channel_id: int, doc: dict) -> None:
        self._update("channels", channel_id, doc)

    def replace_abilities(self, channel: dict) -> None:
        self._exec("DELETE FROM abilities WHERE channel_id = ?", (channel["id"],))
        self.add_abilities(channel)

    def delete_channel(self, channel_id: int) -> None:
        self._exec("DELETE FROM channels WHERE id = ?", (channel_id,))
        self._exec("DELETE FROM abilities WHERE channel_id = ?", (channel_id,))

    def delete_disabled_channels(self) -> int:
        return self._exec("DELETE FROM channels WHERE status = 3 OR status = 2").rowcount

    def satisfied_channel(self, group: str, model: str) -> Optional[int]:
        """GetRandomSatisfiedChannel: an enabled ability at the highest priority, random among equals."""
        rows = self._rows('SELECT channel_id FROM abilities WHERE "group" = ? AND model = ? AND enabled = 1 AND priority = '
                          '(SELECT MAX(priority) FROM abilities WHERE "group" = ? AND model = ? AND enabled = 1) ORDER BY RANDOM() LIMIT 1',
                          (group, model, group, model))
        return rows[0]["channel_id"] if rows else None

    def enabled_channels(self) -> list:
        return self._rows("SELECT * FROM channels WHERE status = ?", (CHANNEL_ENABLED,))

    def ability_groups(self) -> set:
        return {r["group"] for r in self._rows('SELECT DISTINCT "group" FROM abilities')}

    def group_models(self, group: str) -> list:
        return sorted(r["model"] for r in self._rows('SELECT DISTINCT model FROM abilities WHERE "group" = ? AND enabled = 1', (group,)))

    def add_channel_used_quota(self, channel_id: int, quota: int) -> None:
        self._exec("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?", (quota, channel_id))

    # tokens ----------------------------------------------------------------------------------------------------------
    def insert_token(self, doc: dict) -> int:
        return self._insert("tokens", doc)

    def tokens_page(self, user_id: int, offset: int, limit: int, order: str) -> list:
        order_by = {"remain_quota": "unlimited_quota DESC, remain_quota DESC", "used_quota": "used_quota DESC"}.get(order, "id DESC")
        return self._rows(f"SELECT * FROM tokens WHERE user_id = ? ORDER BY {order_by} LIMIT ? OFFSET ?", (user_id, limit, offset))

    def search_tokens(self, user_id: int, keyword: str) -> list:
        return self._rows("SELECT * FROM tokens WHERE user_id = ? AND name LIKE ?", (user_id, keyword + "%"))

    def token(self, token_id: int, user_id: Optional[int] = None) -> dict:
        if user_id is None:
            return self._one("SELECT * FROM tokens WHERE id = ?", (token_id,))
        return self._one("SELECT * FROM tokens WHERE id = ? AND user_id = ?", (token_id, user_id))

    def token_by_key(self, key: str) -> dict:
        return self._one("SELECT * FROM tokens WHERE key = ?", (key,))

    def update_token(self, token_id: int, doc: dict) -> None:
        self._update("tokens", token_id, doc)

    def delete_token(self, token_id: int) -> None:
        self._exec("DELETE FROM tokens WHERE id = ?", (token_id,))

    def consume_quota(self, token: dict, quota: int) -> None:
        ts = now_ts()
        if not token["unlimited_quota"]:
            self._exec("UPDATE tokens SET remain_quota = remain_quota - ?, used_quota = used_quota + ?, accessed_time = ? WHERE id = ?",
                       (quota, quota, ts, token["id"]))
        self._exec("UPDATE users SET quota = quota - ?, used_quota = used_quota + ?, request_count = request_count + 1 WHERE id = ?",
                   (quota, quota, token["user_id"]))

    # options ---------------------------------------------------------------------------------------------------------
    def options(self) -> dict:
        return {r["key"]: r["value"] for r in self._rows("SELECT key, value FROM options")}

    def save_option(self, key: str, value: str) -> None:
        self._exec("INSERT INTO options (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def channel_json(row: dict, with_key: bool) -> GoStruct:
    doc = GoStruct((name, row.get(name)) for name in CHANNEL_FIELDS)
    for name, go_type in CHANNEL_FIELDS.items():
        if doc[name] is None and not go_type.startswith("*"):
            doc[name] = "" if go_type == "string" else 0
    if not with_key:
        doc["key"] = ""
    return doc


def token_json(row: dict) -> GoStruct:
    doc = GoStruct((name, row.get(name)) for name in TOKEN_FIELDS)
    doc["unlimited_quota"] = bool(doc["unlimited_quota"])
    return doc


def user_json(row: dict) -> GoStruct:
    doc = GoStruct((name, "" if go_type == "string" else 0) for name, go_type in USER_FIELDS.items())
    for name, value in row.items():
        if name in doc and value is not None and name not in ("password", "verification_code"):
            doc[name] = value
    return doc


# ----------------------------------------------------------------------------------------------------------------------
# Rate limiting, sessions, configuration

class RateLimiter:
    """common.InMemoryRateLimiter: per key, the last N request times; refused while the oldest is younger than the window."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: dict = {}

    def request(self, key: str, max_requests: int, duration: int) -> bool:
        with self.lock:
            now = int(time.time())
            queue = self.store.setdefault(key, [])
            if len(queue) < max_requests:
                queue.append(now)
                return True
            if now - queue[0] >= duration:
                queue.pop(0)
                queue.append(now)
                return True
            return False


class SessionCodec:
    """A signed, stateless cookie like gorilla's CookieStore (the secret decides whether cookies survive a restart)."""

    def __init__(self, secret: str):
        self.secret = secret.encode()

    def _mac(self, payload: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest()).decode().rstrip("=")

    def encode(self, values: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")
        payload = f"{now_ts()}|{body}"
        return base64.urlsafe_b64encode(f"{payload}|{self._mac('session|' + payload)}".encode()).decode().rstrip("=")

    def decode(self, cookie: str) -> Optional[dict]:
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)).decode()
            stamp, body, mac = raw.split("|")
            if not hmac.compare_digest(mac, self._mac(f"session|{stamp}|{body}")) or now_ts() - int(stamp) > SESSION_MAX_AGE:
                return None
            values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        return values if isinstance(values, dict) else None


def _to_int(text: str) -> int:
    """strconv.ParseInt with the error ignored: anything unparsable is 0."""
    try:
        return int(text)
    except ValueError:
        return 0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass
class Config:
    """Process configuration from flags and the environment, as upstream reads them (plus LAB_* test knobs)."""

    host: str = "0.0.0.0"
    port: int = 3000
    data_dir: str = "."
    log_dir: str = "./logs"
    session_secret: str = ""
    sqlite_path: str = "one-api.db"
    initial_root_token: str = ""
    global_api_limit: int = 180
    global_api_duration: int = 180
    global_web_limit: int = 60
    global_web_duration: int = 180
    critical_limit: int = 20
    critical_duration: int = 1200
    relay_timeout: int = 0
    memory_cache: bool = False
    sync_frequency: int = 600

    @classmethod
    def from_env(cls, args: argparse.Namespace) -> "Config":
        env = os.environ
        port = int(env["PORT"]) if env.get("PORT", "").isdigit() else args.port
        data_dir = os.path.abspath(args.data_dir)
        secret = env.get("SESSION_SECRET", "")
        if secret == "random_string":
            LOG.error("SESSION_SECRET is set to an example value, please change it to a random string.")
        if secret in ("", "random_string"):
            secret = str(uuid.uuid4())
        return cls(host=args.host, port=port, data_dir=data_dir, log_dir=os.path.join(data_dir, args.log_dir),
                   session_secret=secret, sqlite_path=os.path.join(data_dir, env.get("SQLITE_PATH") or "one-api.db"),
                   initial_root_token=env.get("INITIAL_ROOT_TOKEN", ""),
                   global_api_limit=_env_int("GLOBAL_API_RATE_LIMIT", 180), global_web_limit=_env_int("GLOBAL_WEB_RATE_LIMIT", 60),
                   critical_limit=_env_int("LAB_CRITICAL_RATE_LIMIT", 20), critical_duration=_env_int("LAB_CRITICAL_RATE_LIMIT_DURATION", 1200),
                   relay_timeout=_env_int("RELAY_TIMEOUT", 0),
                   memory_cache=env.get("MEMORY_CACHE_ENABLED", "").lower() == "true" or bool(env.get("REDIS_CONN_STRING") and env.get("SYNC_FREQUENCY")),
                   sync_frequency=_env_int("SYNC_FREQUENCY", 600))


# ----------------------------------------------------------------------------------------------------------------------
# Request context and responses

@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list = field(default_factory=list)


def envelope(status: int = 200, **fields_: Any) -> Response:
    return Response(status, go_json(fields_))


def ok(data: Any = None, with_data: bool = True) -> Response:
    return envelope(success=True, message="", data=data) if with_data else envelope(success=True, message="")


def fail(message: str, status: int = 200) -> Response:
    return envelope(status, success=False, message=message)


def relay_error(status: int, message: str, request_id: str, error_type: str = "one_api_error", code: Any = None, param: str = "",
                full: bool = True) -> Response:
    """full=True: a relay/model.Error struct (message, type, param, code); False: middleware abortWithMessage (message, type)."""
    text = f"{message} (request id: {request_id})"
    error = GoStruct(message=text, type=error_type, param=param, code=code) if full else {"message": text, "type": error_type}
    return Response(status, go_json({"error": error}))


@dataclass
class Ctx:
    """One request: what handlers read, plus the identity filled in by auth."""

    handler: BaseHTTPRequestHandler
    method: str
    path: str
    uri: str
    query: dict
    headers: Any
    body: bytes
    client_ip: str
    request_id: str
    params: dict = field(default_factory=dict)
    session: Optional[dict] = None
    user_id: int = 0
    role: int = 0
    username: str = ""
    set_cookies: list = field(default_factory=list)
    streamed: bool = False
    # filled by TokenAuth / Distribute on relay routes
    token: Optional[dict] = None
    request_model: str = ""
    available_models: str = ""
    specific_channel: Optional[str] = None
    group: str = "default"
    channel: Optional[dict] = None

    def param_int(self, name: str) -> int:
        return int(self.params[name])

    def query_int(self, name: str) -> int:
        try:
            return max(int(self.query.get(name, "")), 0)
        except ValueError:
            return 0


@dataclass
class Route:
    method: str
    pattern: str
    handler: Callable[[Ctx], Optional[Response]]
    auth: str = ""          # "", "user", "admin", "root" (management) or "token" (relay)
    critical: bool = False  # CriticalRateLimit
    distribute: bool = False

    @property
    def segments(self) -> list:
        return self.pattern.split("/")

    def match(self, path: str) -> Optional[dict]:
        parts = path.split("/")
        if len(parts) != len(self.segments):
            return None
        params = {}
        for want, got in zip(self.segments, parts):
            if want.startswith(":"):
                if not got:
                    return None
                params[want[1:]] = got
            elif want != got:
                return None
        return params


# ----------------------------------------------------------------------------------------------------------------------
# The application: management API

class OneAPI:  # pylint: disable=too-many-public-methods
    """Routes, middleware (rate limits, auth) and management handlers; relaying lives in Relay."""

    def __init__(self, config: Config):
        self.config = config
        os.makedirs(config.data_dir, exist_ok=True)
        self.store = Store(config.sqlite_path)
        self.sessions = SessionCodec(config.session_secret)
        self.limiter = RateLimiter()
        self.start_time = now_ts()
        if not self.store.has_users():
            LOG.info("no user exists, creating a root user for you: username is root, password is 123456")
            if config.initial_root_token:
                LOG.info("creating initial root token as requested")
            self.store.create_root(config.initial_root_token)
        self.options = dict(DEFAULT_OPTIONS)
        self.options.update(self.store.options())
        self.relay = Relay(self)
        self.routes = self._routes()

    def _routes(self) -> list:
        r = self.relay
        return [
            Route("GET", "/api/status", self.get_status),
            Route("GET", "/api/notice", lambda ctx: ok(self.options.get("Notice", ""))),
            Route("GET", "/api/about", lambda ctx: ok(self.options.get("About", ""))),
            Route("GET", "/api/home_page_content", lambda ctx: ok(self.options.get("HomePageContent", ""))),
            Route("POST", "/api/user/register", self.register, critical=True),
            Route("POST", "/api/user/login", self.login, critical=True),
            Route("GET", "/api/user/logout", self.logout),
            Route("GET", "/api/user/self", self.get_self, auth="user"),
            Route("PUT", "/api/user/self", self.update_self, auth="user"),
            Route("GET", "/api/user/token", self.generate_access_token, auth="user"),
            Route("GET", "/api/user/available_models", self.available_models, auth="user"),
            Route("GET", "/api/option/", self.get_options, auth="root"),
            Route("PUT", "/api/option/", self.update_option, auth="root"),
            Route("GET", "/api/channel/", self.list_channels, auth="admin"),
            Route("GET", "/api/channel/search", self.search_channels, auth="admin"),
            Route("GET", "/api/channel/models", lambda ctx: Response(200, go_json({"object": "list", "data": catalogue()})), auth="admin"),
            Route("GET", "/api/channel/:id", self.get_channel, auth="admin"),
            Route("GET", "/api/channel/test", r.test_all_channels, auth="admin"),
            Route("GET", "/api/channel/test/:id", r.test_channel, auth="admin"),
            Route("POST", "/api/channel/", self.add_channel, auth="admin"),
            Route("PUT", "/api/channel/", self.update_channel, auth="admin"),
            Route("DELETE", "/api/channel/disabled", self.delete_disabled_channels, auth="admin"),
            Route("DELETE", "/api/channel/:id", self.delete_channel, auth="admin"),
            Route("GET", "/api/token/", self.list_tokens, auth="user"),
            Route("GET", "/api/token/search", self.search_tokens, auth="user"),
            Route("GET", "/api/token/:id", self.get_token, auth="user"),
            Route("POST", "/api/token/", self.add_token, auth="user"),
            Route("PUT", "/api/token/", self.update_token, auth="user"),
            Route("DELETE", "/api/token/:id", self.delete_token, auth="user"),
            Route("GET", "/api/group/", lambda ctx: ok(list(GROUP_RATIO)), auth="admin"),
            Route("GET", "/v1/models", r.list_models, auth="token"),
            Route("GET", "/v1/models/:model", r.retrieve_model, auth="token"),
            Route("POST", "/v1/chat/completions", r.relay_text, auth="token", distribute=True),
            Route("POST", "/v1/completions", r.relay_text, auth="token", distribute=True),
            Route("POST", "/v1/embeddings", r.relay_text, auth="token", distribute=True),
        ]

    # --- routing and middleware ---------------------------------------------------------------------------------------
    def find_route(self, method: str, path: str) -> tuple:
        candidates = []
        for route in self.routes:
            if route.method != method:
                continue
            params = route.match(path)
            if params is not None:
                candidates.append((len(params), route, params))
        if candidates:  # static segments win over parameters, like gin's tree
            candidates.sort(key=lambda item: item[0])
            return candidates[0][1], candidates[0][2]
        return None, None

    def dispatch(self, ctx: Ctx) -> Optional[Response]:
        route, params = self.find_route(ctx.method, ctx.path)
        if route is None:
            toggled = ctx.path[:-1] if ctx.path.endswith("/") else ctx.path + "/"
            if ctx.path != "/" and self.find_route(ctx.method, toggled)[0] is not None:
                return self.redirect_trailing_slash(ctx, toggled)
            return self.no_route(ctx)
        ctx.params = params
        ctx.handler.send_request_id = True
        if route.pattern.startswith("/api/"):
            if not self.limiter.request("GA" + ctx.client_ip, self.config.global_api_limit, self.config.global_api_duration):
                return Response(429, b"", content_type="")
            if route.critical and not self.limiter.request("CT" + ctx.client_ip, self.config.critical_limit, self.config.critical_duration):
                return Response(429, b"", content_type="")
        if route.auth == "token":
            denied = self.relay.token_auth(ctx)
            if denied is not None:
                return denied
            if route.distribute:
                denied = self.relay.distribute(ctx)
                if denied is not None:
                    return denied
        elif route.auth:
            denied = self.auth(ctx, {"user": ROLE_COMMON, "admin": ROLE_ADMIN, "root": ROLE_ROOT}[route.auth])
            if denied is not None:
                return denied
        return route.handler(ctx)

    @staticmethod
    def redirect_trailing_slash(ctx: Ctx, target: str) -> Response:
        query = ctx.uri.partition("?")[2]
        location = target + ("?" + query if query else "")
        ctx.handler.send_request_id = False
        if ctx.method == "GET":
            body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
            return Response(301, body, "text/html; charset=utf-8", [("Location", location)])
        return Response(307, b"", "", [("Location", location)])

    def no_route(self, ctx: Ctx) -> Response:
        ctx.handler.send_request_id = True
        if not self.limiter.request("GW" + ctx.client_ip, self.config.global_web_limit, self.config.global_web_duration):
            return Response(429, b"", content_type="")
        if ctx.uri.startswith("/v1") or ctx.uri.startswith("/api"):
            error = GoStruct(message=f"Invalid URL ({ctx.method} {ctx.path})", type="invalid_request_error", param="", code="")
            return Response(404, go_json({"error": error}))
        page = b"<!doctype html><html><head><title>One API</title></head><body>one-api v0.6.6 lab stand-in</body></html>"
        return Response(200, page, "text/html; charset=utf-8", [("Cache-Control", "no-cache")])

    def auth(self, ctx: Ctx, min_role: int) -> Optional[Response]:
        """middleware/auth.go authHelper: the session cookie first, then the Authorization header as an access token."""
        session = ctx.session or {}
        if session.get("username") is not None:
            user_id, role, status = session.get("id", 0), session.get("role", 0), session.get("status", 0)
            username = session["username"]
        else:
            header = ctx.headers.get("Authorization", "")
            if not header:
                return fail("无权进行此操作，未登录且未提供 access token", 401)
            user = self.store.user_by_access_token(header.replace("Bearer ", "", 1))
            if user is None or not user["username"]:
                return fail("无权进行此操作，access token 无效")
            user_id, role, status, username = user["id"], user["role"], user["status"], user["username"]
        if status == USER_DISABLED:
            ctx.set_cookies.append(self.sessions.encode({}))
            return fail("用户已被封禁")
        if role < min_role:
            return fail("无权进行此操作，权限不足")
        ctx.user_id, ctx.role, ctx.username = user_id, role, username
        return None

    # --- misc ---------------------------------------------------------------------------------------------------------
    def get_status(self, _ctx: Ctx) -> Response:
        opt = self.options
        data = {
            "version": VERSION, "start_time": self.start_time, "email_verification": opt["EmailVerificationEnabled"] == "true",
            "github_oauth": opt["GitHubOAuthEnabled"] == "true", "github_client_id": opt["GitHubClientId"],
            "lark_client_id": opt.get("LarkClientId", ""), "system_name": opt["SystemName"], "logo": opt["Logo"],
            "footer_html": opt["Footer"], "wechat_qrcode": opt["WeChatAccountQRCodeImageURL"], "wechat_login": opt["WeChatAuthEnabled"] == "true",
            "server_address": opt["ServerAddress"] or "http://localhost:3000", "turnstile_check": opt["TurnstileCheckEnabled"] == "true",
            "turnstile_site_key": opt["TurnstileSiteKey"], "top_up_link": opt["TopUpLink"], "chat_link": opt["ChatLink"],
            "quota_per_unit": float(opt["QuotaPerUnit"] or 0), "display_in_currency": opt["DisplayInCurrencyEnabled"] == "true",
        }
        return ok(data)

    # --- users --------------------------------------------------------------------------------------------------------
    def login(self, ctx: Ctx) -> Response:
        if self.options["PasswordLoginEnabled"] != "true":
            return fail("管理员关闭了密码登录")
        try:
            doc = go_bind(ctx.body, LOGIN_FIELDS, "LoginRequest")
        except BindError:
            return fail("无效的参数")
        username, password = doc.get("username", ""), doc.get("password", "")
        if not username or not password:
            return fail("无效的参数")
        try:
            user = self.store.user_for_login(username)
        except NotFound:
            return fail("用户名或密码错误，或用户已被封禁")
        if not check_password(password, user["password"]) or user["status"] != USER_ENABLED:
            return fail("用户名或密码错误，或用户已被封禁")
        ctx.set_cookies.append(self.sessions.encode({"id": user["id"], "username": user["username"], "role": user["role"],
                                                     "status": user["status"]}))
        clean = user_json({"id": user["id"], "username": user["username"], "display_name": user["display_name"],
                           "role": user["role"], "status": user["status"]})
        return ok(clean)

    def logout(self, ctx: Ctx) -> Response:
        ctx.set_cookies.append(self.sessions.encode({}))
        return ok(with_data=False)

    def register(self, ctx: Ctx) -> Response:
        if self.options["RegisterEnabled"] != "true":
            return fail("管理员关闭了新用户注册")
        if self.options["PasswordRegisterEnabled"] != "true":
            return fail("管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册")
        try:
            doc = go_bind(ctx.body, USER_FIELDS, "User")
        except BindError:
            return fail("无效的参数")
        problem = validate_user(doc)
        if problem:
            return fail("输入不合法 " + problem)
        try:
            self.store.insert_user({"username": doc.get("username", ""), "password": hash_password(doc.get("password", "")),
                                    "display_name": doc.get("username", ""), "role": ROLE_COMMON, "status": USER_ENABLED,
                                    "quota": _to_int(self.options["QuotaForNewUser"]), "access_token": new_uuid(),
                                    "aff_code": generate_key()[:4]})
        except sqlite3.IntegrityError as exc:
            return fail(str(exc))
        return ok(with_data=False)

    def get_self(self, ctx: Ctx) -> Response:
        try:
            return ok(user_json(self.store.user(ctx.user_id)))
        except NotFound as exc:
            return fail(str(exc))

    def update_self(self, ctx: Ctx) -> Response:
        try:
            doc = go_bind(ctx.body, USER_FIELDS, "User")
        except BindError:
            return fail("无效的参数")
        if not doc.get("password"):
            doc["password"] = PASSWORD_SENTINEL
        problem = validate_user(doc)
        if problem:
            return fail("输入不合法 " + problem)
        changes = {name: doc[name] for name in ("username", "display_name") if doc.get(name)}
        if doc["password"] != PASSWORD_SENTINEL:
            changes["password"] = hash_password(doc["password"])
        try:
            self.store.update_user(ctx.user_id, changes)
        except sqlite3.IntegrityError as exc:
            return fail(str(exc))
        return ok(with_data=False)

    def generate_access_token(self, ctx: Ctx) -> Response:
        access_token = new_uuid()
        self.store.update_user(ctx.user_id, {"access_token": access_token})
        return ok(access_token)

    def available_models(self, ctx: Ctx) -> Response:
        return ok(self.store.group_models(self.store.user(ctx.user_id)["group"]))

    # --- options ------------------------------------------------------------------------------------------------------
    def get_options(self, _ctx: Ctx) -> Response:
        data = [GoStruct(key=k, value=v) for k, v in self.options.items() if not (k.endswith("Token") or k.endswith("Secret"))]
        return ok(data)

    def update_option(self, ctx: Ctx) -> Response:
        try:
            doc = go_bind(ctx.body, OPTION_FIELDS, "Option")
        except BindError:
            return fail("无效的参数", 400)
        key, value = doc.get("key", ""), doc.get("value", "")
        checks = {
            "Theme": (value not in ("default", "berry", "air"), "无效的主题"),
            "GitHubOAuthEnabled": (value == "true" and not self.options["GitHubClientId"],
                                   "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！"),
            "EmailDomainRestrictionEnabled": (value == "true" and not self.options["EmailDomainWhitelist"], "无法启用邮箱域名限制，请先填入限制的邮箱域名！"),
            "WeChatAuthEnabled": (value == "true" and not self.options["WeChatServerAddress"], "无法启用微信登录，请先填入微信登录相关配置信息！"),
            "TurnstileCheckEnabled": (value == "true" and not self.options["TurnstileSiteKey"], "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！"),
        }
        refused, message = checks.get(key, (False, ""))
        if refused:
            return fail(message)
        if key in ("ModelRatio", "GroupRatio", "CompletionRatio"):
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                self.store.save_option(key, value)
                return fail(str(exc))
        self.store.save_option(key, value)
        self.options[key] = value
        return ok(with_data=False)

    # --- channels -----------------------------------------------------------------------------------------------------
    def list_channels(self, ctx: Ctx) -> Response:
        rows = self.store.channels_page(ctx.query_int("p") * ITEMS_PER_PAGE, ITEMS_PER_PAGE)
        return ok([channel_json(row, with_key=False) for row in rows])

    def search_channels(self, ctx: Ctx) -> Response:
        return ok([channel_json(row, with_key=False) for row in self.store.search_channels(ctx.query.get("keyword", ""))])

    def get_channel(self, ctx: Ctx) -> Response:
        try:
            return ok(channel_json(self.store.channel(ctx.param_int("id")), with_key=False))
        except ValueError as exc:
            return fail(go_atoi_error(ctx.params["id"], exc))
        except NotFound as exc:
            return fail(str(exc))

    def add_channel(self, ctx: Ctx) -> Response:
        try:
            doc = go_bind(ctx.body, CHANNEL_FIELDS, "Channel")
        except BindError as exc:
            return fail(str(exc))
        base = {}
        for name, go_type in CHANNEL_FIELDS.items():  # GORM Create: zero values of fields with a default tag get the default
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
        channels = []
        for key in doc.get("key", "").split("\n"):
            if key:
                row = dict(base, key=key)
                if doc.get("id"):
                    row["id"] = doc["id"]
                channels.append(row)
        try:
            self.store.insert_channels(channels)
        except sqlite3.Error as exc:
            return fail(str(exc))
        return ok(with_data=False)

    def update_channel(self, ctx: Ctx) -> Response:
        try:
            doc = go_bind(ctx.body, CHANNEL_FIELDS, "Channel")
        except BindError as exc:
            return fail(str(exc))
        channel_id = doc.get("id", 0)
        if not channel_id:
            return fail("WHERE conditions required")
        # GORM Updates(struct): zero non-pointer fields are skipped, pointer fields are written when present
        changes = {name: value for name, value in doc.items()
                   if name != "id" and (CHANNEL_FIELDS[name].startswith("*") or value not in (0, "", False))}
        try:
            self.store.update_channel(channel_id, changes)
            channel = self.store.channel(channel_id)
        except NotFound:
            # upstream ignores the failed re-read and echoes the request body with success:true
            echo = {name: doc.get(name) for name in CHANNEL_FIELDS}
            return ok(channel_json(echo, with_key=True))
        except sqlite3.Error as exc:
            return fail(str(exc))
        try:
            self.store.replace_abilities(channel)
        except sqlite3.Error as exc:
            return fail(str(exc))
        return ok(channel_json(channel, with_key=True))

    def delete_channel(self, ctx: Ctx) -> Response:
        try:
            channel_id = ctx.param_int("id")
        except ValueError:
            channel_id = 0
        self.store.delete_channel(channel_id)
        return ok(with_data=False)

    def delete_disabled_channels(self, _ctx: Ctx) -> Response:
        return ok(self.store.delete_disabled_channels())

    # --- tokens -------------------------------------------------------------------------------------------------------
    def list_tokens(self, ctx: Ctx) -> Response:
        rows = self.store.tokens_page(ctx.user_id, ctx.query_int("p") * ITEMS_PER_PAGE, ITEMS_PER_PAGE, ctx.query.get("order", ""))
        return ok([token_json(row) for row in rows])

    def search_tokens(self, ctx: Ctx) -> Response:
        return ok([token_json(row) for row in self.store.search_tokens(ctx.user_id, ctx.query.get("keyword", ""))])

    def get_token(self, ctx: Ctx) -> Response:
        try:
            token_id = ctx.param_int("id")
        except ValueError as exc:
            return fail(go_atoi_error(ctx.params["id"], exc))
        if token_id == 0:
            return fail("id 或 userId 为空！")
        try:
            return ok(token_json(self.store.token(token_id, ctx.user_id)))
        except NotFound as exc:
            return fail(str(exc))

    @staticmethod
    def _validate_token(doc: dict) -> Optional[str]:
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

    def add_token(self, ctx: Ctx) -> Response:
        try:
            doc = go_bind(ctx.body, TOKEN_FIELDS, "Token")
        except BindError as exc:
            return fail(str(exc))
        problem = self._validate_token(doc)
        if problem:
            return fail(problem)
        ts = now_ts()
        row = {"user_id": ctx.user_id, "name": doc.get("name", ""), "key": generate_key(), "created_time": ts, "accessed_time": ts,
               "expired_time": doc.get("expired_time", 0), "remain_quota": doc.get("remain_quota", 0),
               "unlimited_quota": doc.get("unlimited_quota", False), "models": doc.get("models"), "subnet": doc.get("subnet"),
               "status": 0, "used_quota": 0}
        for name, default in TOKEN_DEFAULTS.items():  # GORM fills zero fields that have a default, in the row and the struct
            if row.get(name) in (None, 0, False) and not (name in ("models", "subnet") and row.get(name) is not None):
                row[name] = default
        try:
            row["id"] = self.store.insert_token(row)
        except sqlite3.Error as exc:
            return fail(str(exc))
        return ok(token_json(row))

    def update_token(self, ctx: Ctx) -> Response:
        try:
            doc = go_bind(ctx.body, TOKEN_FIELDS, "Token")
        except BindError as exc:
            return fail(str(exc))
        problem = self._validate_token(doc)
        if problem:
            return fail(problem)
        token_id = doc.get("id", 0)
        if not token_id:
            return fail("id 或 userId 为空！")
        try:
            current = self.store.token(token_id, ctx.user_id)
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
            current.update(name=doc.get("name", ""), expired_time=doc.get("expired_time", 0), remain_quota=doc.get("remain_quota", 0),
                           unlimited_quota=doc.get("unlimited_quota", False), models=doc.get("models"), subnet=doc.get("subnet"))
        changes = {name: current[name] for name in ("name", "status", "expired_time", "remain_quota", "unlimited_quota", "models", "subnet")}
        self.store.update_token(token_id, changes)
        return ok(token_json(current))

    def delete_token(self, ctx: Ctx) -> Response:
        try:
            token_id = ctx.param_int("id")
        except ValueError:
            token_id = 0
        if token_id == 0:
            return fail("id 或 userId 为空！")
        try:
            self.store.token(token_id, ctx.user_id)
        except NotFound as exc:
            return fail(str(exc))
        self.store.delete_token(token_id)
        return ok(with_data=False)


def go_atoi_error(text: str, _exc: Exception) -> str:
    return f'strconv.Atoi: parsing "{text}": invalid syntax'


def catalogue() -> list:
    """The built-in model list (controller/model.go) for the OpenAI and DeepSeek adaptors."""
    permission = [GoStruct(id="modelperm-LwHkVFn8AcMItP432fKKDIKJ", object="model_permission", created=1626777600, allow_create_engine=True,
                           allow_sampling=True, allow_logprobs=True, allow_search_indices=False, allow_view=True, allow_fine_tuning=False,
                           organization="*", group=None, is_blocking=False)]
    return [GoStruct(id=name, object="model", created=1626777600, owned_by=owner, permission=permission, root=name, parent=None)
            for owner, names in (("openai", OPENAI_MODELS), ("deepseek", DEEPSEEK_MODELS)) for name in names]


# ----------------------------------------------------------------------------------------------------------------------
# Relay (/v1/*) and channel test

class UpstreamError(Exception):
    """A relay failure carrying the relay/model.ErrorWithStatusCode fields."""

    def __init__(self, status: int, message: str, error_type: str = "one_api_error", code: Any = "", param: str = ""):
        super().__init__(message)
        self.status, self.message, self.error_type, self.code, self.param = status, message, error_type, code, param


class ChannelCache:
    """MEMORY_CACHE_ENABLED (or Redis): routing from a snapshot rebuilt every SYNC_FREQUENCY seconds (model/cache.go).

    Built from the enabled channels' models/group strings (not from the abilities rows), so edits, new channels and
    new keys take effect only at the next sync, exactly the staleness reference section 8.7 warns about.
    """

    def __init__(self, store: Store, frequency: int):
        self.store = store
        self.lock = threading.Lock()
        self.group2model2channels: dict = {}
        self.sync()
        threading.Thread(target=self._loop, args=(frequency,), daemon=True).start()

    def _loop(self, frequency: int) -> None:
        while True:
            time.sleep(max(frequency, 1))
            LOG.info("syncing channels from database")
            self.sync()

    def sync(self) -> None:
        groups = {group: {} for group in self.store.ability_groups()}
        for channel in self.store.enabled_channels():
            for group in (channel["group"] or "").split(","):
                if group not in groups:
                    continue
                for model in (channel["models"] or "").split(","):
                    groups[group].setdefault(model, []).append(channel)
        for model2channels in groups.values():
            for channels in model2channels.values():
                channels.sort(key=lambda c: -(c["priority"] or 0))
        with self.lock:
            self.group2model2channels = groups
        LOG.info("channels synced from database")

    def pick(self, group: str, model: str) -> Optional[dict]:
        with self.lock:
            channels = self.group2model2channels.get(group, {}).get(model, [])
        if not channels:
            return None
        end = len(channels)
        first = channels[0]["priority"] or 0
        if first > 0:
            end = next((i for i, c in enumerate(channels) if (c["priority"] or 0) != first), end)
        return channels[random.randrange(end)]


class Relay:
    """TokenAuth + Distribute + the OpenAI adaptor (passthrough, model mapping, streaming), and the channel test."""

    def __init__(self, app: OneAPI):
        self.app = app
        self.store = app.store
        self.cache = ChannelCache(app.store, app.config.sync_frequency) if app.config.memory_cache else None

    # --- middleware ---------------------------------------------------------------------------------------------------
    def token_auth(self, ctx: Ctx) -> Optional[Response]:
        key = ctx.headers.get("Authorization", "")
        key = key[len("Bearer "):] if key.startswith("Bearer ") else key
        key = key[len("sk-"):] if key.startswith("sk-") else key
        parts = key.split("-")
        token, message = self._validate_token(parts[0])
        if token is None:
            return relay_error(401, message, ctx.request_id, full=False)
        if token["subnet"] and not ip_in_subnets(ctx.client_ip, token["subnet"]):
            return relay_error(403, f"该令牌只能在指定网段使用：{token['subnet']}，当前 ip：{ctx.client_ip}", ctx.request_id, full=False)
        try:
            user = self.store.user(token["user_id"])
        except NotFound:
            return relay_error(500, "user id is empty", ctx.request_id, full=False)
        if user["status"] != USER_ENABLED:
            return relay_error(403, "用户已被封禁", ctx.request_id, full=False)
        model, error = self._request_model(ctx)
        if error and ctx.path.startswith(("/v1/completions", "/v1/chat/completions", "/v1/images", "/v1/audio")):
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
        """common.UnmarshalBodyReusable: the body is parsed only when Content-Type starts with application/json."""
        if not ctx.headers.get("Content-Type", "").startswith("application/json"):
            return "", None
        try:
            doc = json.loads(ctx.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "", "unexpected end of JSON input" if not ctx.body.strip() else str(_json_syntax_error(ctx.body))
        model = doc.get("model", "") if isinstance(doc, dict) else ""
        if model is None:
            model = ""
        if not isinstance(model, str):
            return "", f"json: cannot unmarshal {_check_go_type(model, 'string')} into Go struct field ModelRequest.model of type string"
        return model, None

    def distribute(self, ctx: Ctx) -> Optional[Response]:
        group = self.store.user(ctx.user_id)["group"]
        ctx.group = group
        if ctx.specific_channel is not None:
            try:
                channel = self.store.channel(int(ctx.specific_channel))
            except (ValueError, NotFound):
                return relay_error(400, "无效的渠道 Id", ctx.request_id, full=False)
            if channel["status"] != CHANNEL_ENABLED:
                return relay_error(403, "该渠道已被禁用", ctx.request_id, full=False)
        elif self.cache is not None:
            channel = self.cache.pick(group, ctx.request_model)
            if channel is None:
                return relay_error(503, f"当前分组 {group} 下对于模型 {ctx.request_model} 无可用渠道", ctx.request_id, full=False)
        else:
            channel_id = self.store.satisfied_channel(group, ctx.request_model)
            if channel_id is None:
                return relay_error(503, f"当前分组 {group} 下对于模型 {ctx.request_model} 无可用渠道", ctx.request_id, full=False)
            try:
                channel = self.store.channel(channel_id)
            except NotFound:
                return relay_error(503, "数据库一致性已被破坏，请联系管理员", ctx.request_id, full=False)
        ctx.channel = channel
        return None

    # --- /v1/models ---------------------------------------------------------------------------------------------------
    def list_models(self, ctx: Ctx) -> Response:
        if ctx.available_models:
            names = ctx.available_models.split(",")
        else:
            names = self.store.group_models(self.store.user(ctx.user_id)["group"])
        known = {m["id"]: m for m in catalogue()}
        data = [known[name] for name in known if name in names]
        data += [GoStruct(id=name, object="model", created=1626777600, owned_by="custom", permission=None, root=name, parent=None)
                 for name in dict.fromkeys(names) if name not in known]
        return Response(200, go_json({"object": "list", "data": data}))

    @staticmethod
    def retrieve_model(ctx: Ctx) -> Response:
        model = ctx.params["model"]
        for entry in catalogue():
            if entry["id"] == model:
                return Response(200, go_json(entry))
        error = GoStruct(message=f"The model '{model}' does not exist", type="invalid_request_error", param="model", code="model_not_found")
        return Response(200, go_json({"error": error}))

    # --- text relay ---------------------------------------------------------------------------------------------------
    def relay_text(self, ctx: Ctx) -> Optional[Response]:
        try:
            return self._relay_text(ctx)
        except UpstreamError as exc:
            message = "当前分组上游负载已饱和，请稍后再试" if exc.status == 429 else exc.message
            return relay_error(exc.status, message, ctx.request_id, exc.error_type, exc.code, exc.param)

    def _relay_text(self, ctx: Ctx) -> Optional[Response]:
        request = self._text_request(ctx)
        channel = ctx.channel
        mapping = model_mapping(channel)
        origin = request["model"]
        mapped = mapping.get(origin, "") if mapping else ""
        actual = mapped or origin
        ratio = MODEL_RATIO.get(actual, 30) * GROUP_RATIO.get(ctx.group, 1)
        prompt_tokens = count_prompt_tokens(request)
        user_quota = self.store.user(ctx.user_id)["quota"]
        if user_quota - int((500 + prompt_tokens + (request.get("max_tokens") or 0)) * ratio) < 0:
            raise UpstreamError(403, "user quota is not enough", code="insufficient_user_quota")
        if channel["type"] in NON_OPENAI_TYPES:
            raise UpstreamError(500, f"lab stand-in: channel type {channel['type']} ({NON_OPENAI_TYPES[channel['type']]}) needs a "
                                     "non-OpenAI adaptor, which this stand-in does not implement", code="invalid_api_type")
        if mapped or channel["type"] == TYPE_BAICHUAN:
            request["model"] = actual
            body = go_json(remarshal_request(request))
        else:
            body = ctx.body
        stream = bool(request.get("stream"))
        accept = ctx.headers.get("Accept", "") or ("text/event-stream" if stream else "")
        url = upstream_url(channel, ctx.uri)
        resp = self.open_upstream(ctx.method, url, body, channel["key"], ctx.headers.get("Content-Type", ""), accept)
        status, headers = resp.status, resp.headers
        if status != 200 or (stream and headers.get("Content-Type", "").startswith("application/json")):
            raise relay_error_from_upstream(status, read_all(resp))
        if stream:
            completion = self.stream(ctx, resp, ctx.path == "/v1/chat/completions")
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion}
            response = None
        else:
            raw = read_all(resp)
            usage = non_stream_usage(status, raw, prompt_tokens)
            out_headers = [(k, v) for k, v in headers.items() if k.lower() not in ("transfer-encoding", "connection", "keep-alive",
                                                                                   "content-length", "content-type", "date", "server")]
            response = Response(status, raw, headers.get("Content-Type", ""), out_headers)
        quota = math.ceil((usage["prompt_tokens"] + usage["completion_tokens"]) * ratio)
        if quota > 0:
            self.store.consume_quota(ctx.token, quota)
            self.store.add_channel_used_quota(channel["id"], quota)
        return response

    def _text_request(self, ctx: Ctx) -> dict:
        request: dict = {}
        if ctx.headers.get("Content-Type", "").startswith("application/json"):
            try:
                request = go_bind(ctx.body, CHAT_REQUEST_FIELDS, "GeneralOpenAIRequest")
            except BindError as exc:
                raise UpstreamError(400, str(exc), code="invalid_text_request") from None
            for name, go_type in CHAT_REQUEST_FIELDS.items():
                if go_type in ("array", "object") and name in request and not isinstance(request[name], list if go_type == "array" else dict):
                    kind = _check_go_type(request[name], "string") or "string"
                    raise UpstreamError(400, f"json: cannot unmarshal {kind} into Go struct field GeneralOpenAIRequest.{name} of type "
                                             f"{'[]model.Message' if name == 'messages' else 'model.ResponseFormat'}", code="invalid_text_request")
        if ctx.path == "/v1/embeddings" and not request.get("model"):
            request["model"] = ""
        max_tokens = request.get("max_tokens", 0)
        if max_tokens < 0 or max_tokens > 2147483647 // 2:
            raise UpstreamError(400, "max_tokens is invalid", code="invalid_text_request")
        if not request.get("model"):
            raise UpstreamError(400, "model is required", code="invalid_text_request")
        if ctx.path == "/v1/completions" and not request.get("prompt"):
            raise UpstreamError(400, "field prompt is required", code="invalid_text_request")
        if ctx.path == "/v1/chat/completions" and not request.get("messages"):
            raise UpstreamError(400, "field messages is required", code="invalid_text_request")
        return request

    def open_upstream(self, method: str, url: str, body: bytes, key: str, content_type: str, accept: str) -> Any:
        request = urllib.request.Request(url, data=body, method=method)
        request.add_header("Content-Type", content_type)
        request.add_header("Accept", accept)
        request.add_header("Authorization", f"Bearer {key}")
        request.add_header("User-Agent", "Go-http-client/1.1")
        timeout = self.app.config.relay_timeout or None
        try:
            return opener_for(url).open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            return exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UpstreamError(500, f'do request failed: {method.capitalize()} "{url}": {reason}', code="do_request_failed") from None

    @staticmethod
    def stream(ctx: Ctx, resp: Any, chat: bool) -> int:
        """openai.StreamHandler: forward 'data: ' lines verbatim; v0.6.6 drops chat chunks whose choices list is empty."""
        writer = ctx.handler
        writer.start_stream(ctx, [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("Connection", "keep-alive"),
                                  ("X-Accel-Buffering", "no")])
        ctx.streamed = True
        completion_chars = 0
        while True:
            line = resp.readline()
            if not line:
                break
            data = line.decode("utf-8", "replace").rstrip("\n")
            if len(data) < 6 or (data[:6] != "data: " and data[:6] != "[DONE]"):
                continue
            if data[6:].startswith("[DONE]"):
                data = data[:12]
            elif chat:
                try:
                    chunk = json.loads(data[6:])
                except json.JSONDecodeError:
                    chunk = None
                if isinstance(chunk, dict):
                    if not chunk.get("choices"):
                        continue
                    for choice in chunk["choices"]:
                        content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
                        completion_chars += len(content) if isinstance(content, str) else 0
            data = data.removesuffix("\r")
            out = data.replace("\r", "\\r").replace("\n", "\ndata:") + ("\n\n" if data.startswith("data") else "")
            if not writer.write_chunk(out.encode("utf-8")):
                break
        resp.close()
        writer.end_stream()
        return (completion_chars + 3) // 4

    # --- channel test -------------------------------------------------------------------------------------------------
    def test_channel(self, ctx: Ctx) -> Response:
        try:
            channel = self.store.channel(ctx.param_int("id"))
        except ValueError as exc:
            return fail(go_atoi_error(ctx.params["id"], exc))
        except NotFound as exc:
            return fail(str(exc))
        started = time.monotonic()
        error = self._test(channel)
        milliseconds = int((time.monotonic() - started) * 1000)
        self.store.update_channel(channel["id"], {"test_time": now_ts(), "response_time": milliseconds})
        if error:
            return envelope(success=False, message=error, time=milliseconds / 1000.0)
        return envelope(success=True, message="", time=milliseconds / 1000.0)

    def test_all_channels(self, _ctx: Ctx) -> Response:
        """GET /api/channel/test: tests every channel in the background and answers at once."""
        def run() -> None:
            for row in self.store.search_channels(""):
                started = time.monotonic()
                self._test(row)
                self.store.update_channel(row["id"], {"test_time": now_ts(), "response_time": int((time.monotonic() - started) * 1000)})
        threading.Thread(target=run, daemon=True).start()
        return ok(with_data=False)

    def _test(self, channel: dict) -> str:
        """controller/channel-test.go (v0.6.6): adaptor's first model if contained in models, else first of models after mapping."""
        if channel["type"] in NON_OPENAI_TYPES:
            return f"lab stand-in: channel type {channel['type']} ({NON_OPENAI_TYPES[channel['type']]}) is not implemented"
        model = DEEPSEEK_MODELS[0] if channel["type"] == TYPE_DEEPSEEK else OPENAI_MODELS[0]
        if model not in (channel["models"] or ""):
            model = (channel["models"] or "").split(",")[0]
            model = (model_mapping(channel) or {}).get(model) or model
        body = go_json(GoStruct(messages=[GoStruct(role="user", content="hi")], model=model, max_tokens=2))
        url = upstream_url(channel, "/v1/chat/completions")
        try:
            resp = self.open_upstream("POST", url, body, channel["key"], "application/json", "")
        except UpstreamError as exc:
            return exc.message
        raw = read_all(resp)
        if resp.status != 200:
            return f"status code {resp.status}: {relay_error_from_upstream(resp.status, raw).message}"
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return str(exc)
        error = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(error, dict) and error.get("type"):
            return str(error.get("message", ""))
        return ""


def ip_in_subnets(ip: str, subnets: str) -> bool:
    for subnet in subnets.split(","):
        try:
            if ipaddress.ip_address(ip) in ipaddress.ip_network(subnet.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def model_mapping(channel: dict) -> Optional[dict]:
    raw = channel.get("model_mapping") or ""
    if raw in ("", "{}"):
        return None
    try:
        mapping = json.loads(raw)
    except json.JSONDecodeError:
        LOG.error("failed to unmarshal model mapping for channel %s", channel.get("id"))
        return None
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
            value = [GoStruct((k, m[k]) for k in ("role", "content", "name", "tool_calls")
                              if isinstance(m, dict) and m.get(k) is not None and not (k in ("role", "tool_calls") and not m[k]))
                     for m in value]
        out[name] = value
    return out


def count_prompt_tokens(request: dict) -> int:
    text = json.dumps(request.get("messages") or request.get("prompt") or request.get("input") or "", ensure_ascii=False)
    return max(1, len(text) // 4)


def non_stream_usage(status: int, raw: bytes, prompt_tokens: int) -> dict:
    """openai.Handler: the body must be JSON; an error object with a type is an error; usage is counted when missing."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UpstreamError(500, str(_json_syntax_error(raw)), code="unmarshal_response_body_failed") from None
    if not isinstance(doc, dict):
        raise UpstreamError(500, "json: cannot unmarshal into Go value of type openai.SlimTextResponse", code="unmarshal_response_body_failed")
    error = doc.get("error")
    if isinstance(error, dict) and error.get("type"):
        raise UpstreamError(status, str(error.get("message", "")), str(error.get("type")), error.get("code"), str(error.get("param") or ""))
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
    if usage.get("total_tokens"):
        return {"prompt_tokens": int(usage.get("prompt_tokens") or 0), "completion_tokens": int(usage.get("completion_tokens") or 0)}
    choices = doc.get("choices") if isinstance(doc.get("choices"), list) else []
    text = "".join(str((c.get("message") or {}).get("content") or "") for c in choices if isinstance(c, dict))
    return {"prompt_tokens": prompt_tokens, "completion_tokens": (len(text) + 3) // 4}


def relay_error_from_upstream(status: int, raw: bytes) -> UpstreamError:
    """relay/controller/error.go RelayErrorHandler."""
    error = UpstreamError(status, "", "upstream_error", "bad_response_status_code", str(status))
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        doc = None
    if isinstance(doc, dict):
        upstream = doc.get("error") if isinstance(doc.get("error"), dict) else {}
        if upstream.get("message"):
            error = UpstreamError(status, str(upstream["message"]), str(upstream.get("type") or ""), upstream.get("code"),
                                  str(upstream.get("param") or ""))
        else:
            for candidate in (doc.get("message"), doc.get("msg"), doc.get("err"), doc.get("error_msg"),
                              (doc.get("header") or {}).get("message") if isinstance(doc.get("header"), dict) else None):
                if isinstance(candidate, str) and candidate:
                    error.message = candidate
                    break
    if not error.message:
        error.message = f"bad response status code {status}"
    return error


def read_all(resp: Any) -> bytes:
    try:
        return resp.read()
    except OSError:
        return b""
    finally:
        resp.close()


_OPENERS: dict = {}


def opener_for(url: str) -> urllib.request.OpenerDirector:
    """Go's ProxyFromEnvironment never proxies loopback; urllib would, so loopback gets a proxy-less opener."""
    host = urllib.parse.urlsplit(url).hostname or ""
    loopback = host == "localhost" or host.startswith("127.") or host == "::1"
    if loopback not in _OPENERS:
        handlers = [urllib.request.ProxyHandler({})] if loopback else []
        _OPENERS[loopback] = urllib.request.build_opener(*handlers)
    return _OPENERS[loopback]


# ----------------------------------------------------------------------------------------------------------------------
# HTTP plumbing

class Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into Ctx, runs OneAPI.dispatch and writes the Response (gzip on /api like gin-contrib/gzip)."""

    protocol_version = "HTTP/1.1"
    server: "StandinServer"
    send_request_id = True

    def send_response(self, code: int, message: Optional[str] = None) -> None:  # no Server header, like Go
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        LOG.info("[GIN] %s | %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def client_ip(self) -> str:
        """gin ClientIP() with every proxy trusted: X-Forwarded-For (leftmost), X-Real-IP, then the peer address."""
        forwarded = [item.strip() for item in self.headers.get("X-Forwarded-For", "").split(",") if item.strip()]
        try:
            if forwarded and all(ipaddress.ip_address(item) for item in forwarded):
                return forwarded[0]
        except ValueError:
            pass
        real = self.headers.get("X-Real-IP", "").strip()
        try:
            if real and ipaddress.ip_address(real):
                return real
        except ValueError:
            pass
        return self.client_address[0]

    def _session(self) -> Optional[dict]:
        for part in self.headers.get("Cookie", "").split(";"):
            name, _sep, value = part.strip().partition("=")
            if name == "session":
                return self.server.app.sessions.decode(value.strip('"'))
        return None

    def handle_any(self) -> None:
        app = self.server.app
        uri = self.path
        split = urllib.parse.urlsplit(uri)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        ctx = Ctx(handler=self, method=self.command, path=urllib.parse.unquote(split.path), uri=uri, query=query, headers=self.headers,
                  body=self._read_body(), client_ip=self.client_ip(), request_id=time.strftime("%Y%m%d%H%M%S") +
                  str(time.time_ns() % 1_000_000_000) + "".join(random.choices(string.digits, k=8)))
        ctx.session = self._session()
        self.send_request_id = True
        try:
            response = app.dispatch(ctx)
        except (sqlite3.Error, LookupError) as exc:
            LOG.exception("request failed")
            response = Response(500, go_json({"success": False, "message": str(exc)}))
        if ctx.streamed or response is None:
            return
        self.write_response(ctx, response)

    def _common_headers(self, ctx: Ctx) -> None:
        if self.send_request_id:
            self.send_header(REQUEST_ID_HEADER, ctx.request_id)
        for cookie in ctx.set_cookies:
            expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + SESSION_MAX_AGE))
            self.send_header("Set-Cookie", f"session={cookie}; Path=/; Expires={expires}; Max-Age={SESSION_MAX_AGE}")

    def write_response(self, ctx: Ctx, response: Response) -> None:
        body = response.body
        headers = list(response.headers)
        if ctx.path.startswith("/api/") and response.status not in (301, 307) and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        self.send_response(response.status)
        self._common_headers(ctx)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def start_stream(self, ctx: Ctx, headers: list) -> None:
        self.send_response(200)
        self._common_headers(ctx)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> bool:
        if not data:
            return True
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except OSError:
            return False
        return True

    def end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


class StandinServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the OneAPI application."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple, app: OneAPI):
        super().__init__(address, Handler)
        self.app = app


def build_server(config: Config) -> StandinServer:
    app = OneAPI(config)
    return StandinServer((config.host, config.port), app)


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="one-api v0.6.6 lab stand-in")
    parser.add_argument("--port", type=int, default=3000, help="the listening port (env PORT wins, like upstream)")
    parser.add_argument("--host", default="0.0.0.0", help="bind address (lab addition; upstream binds all interfaces)")
    parser.add_argument("--data-dir", default=".", help="working directory holding one-api.db (upstream: WORKDIR /data)")
    parser.add_argument("--log-dir", default="./logs", help="log directory, relative to the data dir")
    parser.add_argument("--version", action="store_true", help="print version and exit")
    return parser.parse_args(argv)


def log_environment(config: Config) -> None:
    env = os.environ
    for name in ("SQL_DSN", "LOG_SQL_DSN", "REDIS_CONN_STRING", "NODE_TYPE", "BATCH_UPDATE_ENABLED", "CHANNEL_TEST_FREQUENCY", "FRONTEND_BASE_URL"):
        if env.get(name):
            LOG.warning("lab stand-in: %s is set but ignored (SQLite in %s, no Redis, single node)", name, config.sqlite_path)
    if config.memory_cache:
        LOG.info("memory cache enabled")
        LOG.info("sync frequency: %d seconds", config.sync_frequency)
    if env.get("INITIAL_ROOT_ACCESS_TOKEN"):
        LOG.warning("lab stand-in: INITIAL_ROOT_ACCESS_TOKEN is ignored: it does not exist in v0.6.6 (v0.6.8+)")
    LOG.info("TZ=%s SESSION_SECRET %s", env.get("TZ", ""), "set" if env.get("SESSION_SECRET") not in (None, "", "random_string") else
             "not set: sessions do not survive a restart")


def _terminate(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def wget_main(argv: list) -> int:
    """`wget [-q] [-O file|-] [-T secs] [--spider] URL`: the busybox wget that the upstream image ships (compose healthcheck)."""
    quiet, spider, output, timeout, url = False, False, None, 30.0, ""
    items = iter(argv)
    for item in items:
        if item in ("-q", "--quiet"):
            quiet = True
        elif item == "--spider":
            spider = True
        elif item in ("-O", "-T"):
            value = next(items, "")
            output, timeout = (value, timeout) if item == "-O" else (output, float(value or timeout))
        elif item.startswith("-O"):
            output = item[2:]
        elif item.startswith("--timeout="):
            timeout = float(item.split("=", 1)[1])
        elif not item.startswith("-"):
            url = item
    if not url:
        print("wget: missing URL", file=sys.stderr)
        return 1
    try:
        with opener_for(url).open(urllib.request.Request(url, headers={"User-Agent": "Wget"}), timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        print(f"wget: server returned error: HTTP/1.1 {exc.code} {exc.reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"wget: can't connect to remote host: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    if not quiet:
        print(f"Connecting to {urllib.parse.urlsplit(url).netloc}", file=sys.stderr)
    if spider:
        return 0
    if output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        with open(output or os.path.basename(urllib.parse.urlsplit(url).path) or "index.html", "wb") as handle:
            handle.write(body)
    return 0


def main(argv: Optional[list] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--wget"]:
        return wget_main(argv[1:])
    args = parse_args(argv)
    if args.version:
        print(VERSION)
        return 0
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="[SYS] %(asctime)s | %(message)s", datefmt="%Y/%m/%d - %H:%M:%S")
    config = Config.from_env(args)
    os.makedirs(config.data_dir, exist_ok=True)
    os.makedirs(config.log_dir, exist_ok=True)
    log_file = logging.FileHandler(os.path.join(config.log_dir, f"oneapi-{time.strftime('%Y%m%d%H%M%S')}.log"))
    log_file.setFormatter(logging.Formatter("[SYS] %(asctime)s | %(message)s", "%Y/%m/%d - %H:%M:%S"))
    logging.getLogger().addHandler(log_file)
    LOG.info("One API %s started (lab stand-in)", VERSION)
    log_environment(config)
    server = build_server(config)
    signal.signal(signal.SIGTERM, _terminate)  # PID 1 in a container ignores SIGTERM without a handler; Go exits on it
    LOG.info("listening on %s:%d", config.host, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
