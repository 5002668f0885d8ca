# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JavaScript and Node.js behaviour the real service shows through: number parsing, JSON.parse errors, log
formatting, express's ETag."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re

_JS_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def js_number(value):
    """JavaScript ``Number(value)`` / unary ``+value`` for a string or None; NaN is returned as None."""
    if value is None:
        return None
    text = value.strip()
    if text == "":
        return 0
    lowered = text.lower()
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if lowered.startswith(prefix):
            try:
                return int(text[2:], base)
            except ValueError:
                return None
    if text in ("Infinity", "+Infinity"):
        return math.inf
    if text == "-Infinity":
        return -math.inf
    if not _JS_NUMBER_RE.match(text):
        return None
    number = float(text)
    return int(number) if number.is_integer() else number


def js_parse_int(value):
    """JavaScript ``parseInt(value)`` (base 10); NaN is returned as None."""
    match = re.match(r"^\s*([+-]?\d+)", value or "")
    return int(match.group(1)) if match else None


def not_empty(value):
    """chatgpt-web ``isNotEmptyString``."""
    return isinstance(value, str) and len(value) > 0


def _reject_constant(name):
    raise ValueError(name)


def json_parse(text):
    """``JSON.parse`` with Node 18's error messages (raised as ValueError carrying the V8 message)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(v8_json_error(text, exc.pos, exc.msg)) from None
    except ValueError as exc:  # NaN / Infinity, which JSON.parse does not know
        position = text.find(str(exc))
        raise ValueError(v8_json_error(text, max(position, 0), "")) from None


def v8_json_error(text, position, python_message):
    """V8 10.x (Node 18) JSON.parse message for an error at ``position``."""
    if position >= len(text) or python_message.startswith("Unterminated string"):
        return "Unexpected end of JSON input"
    if python_message.startswith("Unterminated string") or python_message.startswith("Invalid \\escape"):
        return "Unexpected end of JSON input"
    char = text[position]
    if python_message.startswith(("Expecting ',' delimiter", "Expecting ':' delimiter", "Extra data", "Expecting property name")):
        if char.isdigit() or char == "-":
            return "Unexpected number in JSON at position %d" % position
        if char == '"':
            return "Unexpected string in JSON at position %d" % position
    return "Unexpected token %s in JSON at position %d" % (char, position)


def etag(body):
    """express's weak ETag of a response body."""
    if not body:
        return 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"'
    digest = base64.b64encode(hashlib.sha1(body).digest()).decode("ascii")[:27]
    return 'W/"%x-%s"' % (len(body), digest)


def _inspect_key(key):
    return key if re.match(r"^[A-Za-z_$][\w$]*$", key) else "'%s'" % key


def _inspect_string(value):
    return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def inspect(value, indent=0):
    """A rough ``util.inspect`` of a request body for the debug log (the real layout breaks lines at 80
    columns and splits long strings; this one puts one property per line)."""
    pad = "  " * (indent + 1)
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return _inspect_string(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n%s\n%s]" % (",\n".join(pad + inspect(item, indent + 1) for item in value), "  " * indent)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ["%s%s: %s" % (pad, _inspect_key(key), inspect(item, indent + 1)) for key, item in value.items()]
        return "{\n%s\n%s}" % (",\n".join(items), "  " * indent)
    return str(value)


class _Undefined:
    """A JavaScript ``undefined`` property: kept in place, left out by JSON.stringify."""

    def __repr__(self):
        return "undefined"


UNDEFINED = _Undefined()


def js_truthy(value):
    return value not in (None, UNDEFINED, "", 0, False) and not (isinstance(value, float) and value != value)


def js_string(value):
    """``String(value)`` for JSON values."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return "undefined" if value is UNDEFINED else ("null" if value is None else str(value))


def js_stringify(value):
    """``JSON.stringify``: compact, non-ASCII kept, undefined properties dropped."""
    def strip(item):
        if isinstance(item, dict):
            return {key: strip(val) for key, val in item.items() if val is not UNDEFINED}
        if isinstance(item, list):
            return [None if val is UNDEFINED else strip(val) for val in item]
        return item
    return json.dumps(strip(value), ensure_ascii=False, separators=(",", ":"))
