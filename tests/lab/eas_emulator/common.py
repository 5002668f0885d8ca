# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared constants, helpers and the HTTP request/response/error model of the PAI-EAS lab emulator."""

from __future__ import annotations

import calendar
import copy
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field


API_VERSION = '2021-07-01'
DEFAULT_REGION = 'cn-hangzhou'
OWNER_UID = '1234567890123456'
VLLM_DEFAULT_MAX_MODEL_LEN = 131072
VLLM_DEFAULT_GPU_UTIL = 0.9
NODE_RESERVED_CPU = 1
NODE_RESERVED_MEMORY_MB = 2048
DEFAULT_ANSWER_TOKENS = 200
LONG_ANSWER_TOKENS = 4096
SERVICE_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{2,62}$')
PARAMS_RE = re.compile(r'(?<![\d.])(\d+(?:\.\d+)?)[Bb](?![A-Za-z0-9])')
TOKENS_MARKER_RE = re.compile(r'\btokens:(\d+)\b', re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------------------


def iso_time(ts: float) -> str:
    """RFC 3339 UTC as EAS returns it (``2021-01-29T11:13:20Z``)."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts))


def event_time(ts: float) -> str:
    """Event time format of DescribeServiceEvent (``2022-04-09 06:30:00``)."""
    return time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ts))


def parse_time(value: str | None) -> float | None:
    """Parse the time formats the API accepts; None when absent or not parseable."""
    if not value:
        return None
    for fmt in ('%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S'):
        try:
            return float(calendar.timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    return None


def request_id() -> str:
    return str(uuid.uuid4()).upper()


def rand_id(prefix: str, length: int = 16) -> str:
    alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
    return prefix + ''.join(secrets.choice(alphabet) for _unused in range(length))


def as_bool(value, default: bool = False) -> bool:
    """Booleans arrive as Python ``str()`` (``True``/``False``); parse case-insensitively."""
    if value is None or value == '':
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on')


def as_int(
    value, name: str, default: int | None = None, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    if value is None or value == '':
        return default
    if isinstance(value, bool):
        raise ApiError(400, 'InvalidParameter', f'{name} must be an integer, got {value!r}')
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, 'InvalidParameter', f'{name} must be an integer, got {value!r}') from exc
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise ApiError(400, 'InvalidParameter', f'{name} must be between {minimum} and {maximum}, got {number}')
    return number


def deep_merge(base: dict, patch: dict) -> dict:
    """UpdateType=merge: dicts merge recursively, every other value (lists too) replaces."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def labels_map(value, name: str = 'Labels') -> dict:
    """A ``Labels`` map as sent (a JSON object in the body, or a JSON string in the query), as str -> str."""
    if value is None or value == '':
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, 'InvalidParameter', f'{name} must be a map of label keys to values, got {value!r}.')
    return {str(k): str(v) for k, v in value.items()}


def labels_list(labels: dict) -> list:
    return [{'LabelKey': str(k), 'LabelValue': str(v)} for k, v in sorted(labels.items())]


def paginate(items: list, page_number, page_size, default_size: int = 100):
    number = as_int(page_number, 'PageNumber', 1, minimum=1)
    size = as_int(page_size, 'PageSize', default_size, minimum=1, maximum=10000)
    start = (number - 1) * size
    return items[start : start + size], number, size


class ApiError(Exception):
    """An error answered as ``{"RequestId", "Code", "Message"}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    """What a handler returns; ``stream`` (an iterable of bytes) is sent with chunked encoding.

    ``drop``: send nothing and reset the connection (a gateway in trouble, see ``outage``).
    """

    status: int
    body: bytes = b''
    content_type: str = 'application/json'
    headers: dict = field(default_factory=dict)
    stream: object = None
    code: str = ''
    drop: bool = False

    @classmethod
    def json(cls, status: int, payload, headers: dict | None = None, code: str = '') -> Response:
        return cls(status, json.dumps(payload).encode(), 'application/json', dict(headers or {}), code=code)

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), 'text/plain; charset=utf-8')


def error_response(exc: ApiError) -> Response:
    payload = {'RequestId': request_id(), 'Code': exc.code, 'Message': exc.message}
    return Response.json(exc.status, payload, exc.headers, code=exc.code)


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes = b''

    def json_body(self, required: bool = False):
        if not self.body.strip():
            if required:
                raise ApiError(400, 'InvalidParameter', 'The request body is required.')
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, 'InvalidParameter', f'The request body is not valid JSON: {exc}') from exc
        if not isinstance(data, dict):
            raise ApiError(400, 'InvalidParameter', 'The request body must be a JSON object.')
        return data

    def json_query(self, name: str):
        raw = self.query.get(name)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, 'InvalidParameter', f'{name} must be a JSON string, got {raw!r}') from exc
