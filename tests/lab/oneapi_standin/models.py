# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GORM models of one-api v0.6.6 (field order = Go struct order), their JSON, and the small helpers around them."""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import string
import time
import uuid
from typing import Optional

from .gojson import GoStruct

CHANNEL_FIELDS = {
    "id": "int",
    "type": "int",
    "key": "string",
    "status": "int",
    "name": "string",
    "weight": "*uint",
    "created_time": "int64",
    "test_time": "int64",
    "response_time": "int",
    "base_url": "*string",
    "other": "string",
    "balance": "float64",
    "balance_updated_time": "int64",
    "models": "string",
    "group": "string",
    "used_quota": "int64",
    "model_mapping": "*string",
    "priority": "*int64",
    "config": "string",
}
CHANNEL_DEFAULTS = {
    "type": 0,
    "status": 1,
    "weight": 0,
    "base_url": "",
    "group": "default",
    "used_quota": 0,
    "model_mapping": "",
    "priority": 0,
}
TOKEN_FIELDS = {
    "id": "int",
    "user_id": "int",
    "key": "string",
    "status": "int",
    "name": "string",
    "created_time": "int64",
    "accessed_time": "int64",
    "expired_time": "int64",
    "remain_quota": "int64",
    "unlimited_quota": "bool",
    "used_quota": "int64",
    "models": "*string",
    "subnet": "*string",
}
TOKEN_DEFAULTS = {
    "status": 1,
    "expired_time": -1,
    "remain_quota": 0,
    "unlimited_quota": False,
    "used_quota": 0,
    "models": "",
    "subnet": "",
}
USER_FIELDS = {
    "id": "int",
    "username": "string",
    "password": "string",
    "display_name": "string",
    "role": "int",
    "status": "int",
    "email": "string",
    "github_id": "string",
    "wechat_id": "string",
    "lark_id": "string",
    "verification_code": "string",
    "access_token": "string",
    "quota": "int64",
    "used_quota": "int64",
    "request_count": "int",
    "group": "string",
    "aff_code": "string",
    "inviter_id": "int",
}
USER_VALIDATION = (
    ("username", "Username", "max", 12),
    ("password", "Password", "min", 8),
    ("password", "Password", "max", 20),
    ("display_name", "DisplayName", "max", 20),
    ("email", "Email", "max", 50),
)
LOGIN_FIELDS = {"username": "string", "password": "string"}
OPTION_FIELDS = {"key": "string", "value": "string"}
# relay/model GeneralOpenAIRequest (v0.6.6), in field order; array/object fields name their Go type for errors
CHAT_REQUEST_FIELDS = {
    "messages": "array",
    "model": "string",
    "frequency_penalty": "float64",
    "max_tokens": "int",
    "n": "int",
    "presence_penalty": "float64",
    "response_format": "object",
    "seed": "float64",
    "stream": "bool",
    "temperature": "float64",
    "top_p": "float64",
    "top_k": "int",
    "tools": "array",
    "tool_choice": "any",
    "function_call": "any",
    "functions": "any",
    "user": "string",
    "prompt": "any",
    "input": "any",
    "encoding_format": "string",
    "dimensions": "int",
    "instruction": "string",
    "size": "string",
}
CHAT_REQUEST_GO_TYPES = {
    "messages": "[]model.Message",
    "response_format": "model.ResponseFormat",
    "tools": "[]model.Tool",
}


def now_ts() -> int:
    return int(time.time())


def hash_password(password: str) -> str:
    """Upstream stores bcrypt; PBKDF2 here (the hash is never shown by the API)."""
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
