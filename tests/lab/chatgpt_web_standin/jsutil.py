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
    if python_message.startswith(
        ("Expecting ',' delimiter", "Expecting ':' delimiter", "Extra data", "Expecting property name")
    ):
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


_META = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}


def _str_escape(text):
    """util.inspect's string quoting: single quotes unless the text has some, then double quotes or backticks."""
    quote = "'"
    if "'" in text:
        if '"' not in text:
            quote = '"'
        elif "`" not in text and "${" not in text:
            quote = "`"
    out = []
    for char in text:
        code = ord(char)
        if char == quote:
            out.append("\\" + char)
        elif char in _META:
            out.append(_META[char])
        elif code < 0x20 or code == 0x7F:
            out.append("\\x%02X" % code)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\u%04x" % code)
        else:
            out.append(char)
    return quote + "".join(out) + quote


class _InspectContext:
    def __init__(self):
        self.indentation = 0
        self.current_depth = 0


def _inspect_string(text, ctx):
    trailer = ""
    if len(text) > 10000:
        trailer = "... %d more character%s" % (len(text) - 10000, "s" if len(text) - 10000 > 1 else "")
        text = text[:10000]
    if len(text) > 16 and len(text) > 80 - ctx.indentation - 4:
        return (" +\n" + " " * (ctx.indentation + 2)).join(_str_escape(line) for line in _split_lf(text)) + trailer
    return _str_escape(text) + trailer


def _split_lf(text):
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _inspect_value(value, ctx, depth):
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_text(value)
    if isinstance(value, str):
        return _inspect_string(value, ctx)
    ctx.current_depth = depth
    if isinstance(value, dict):
        braces = ("{", "}")
        output = []
        for key, item in value.items():
            ctx.indentation += 2
            shown = _inspect_value(item, ctx, depth + 1)
            ctx.indentation -= 2
            name = key if re.match(r"^[a-zA-Z_][a-zA-Z_0-9]*$", key) else _str_escape(key)
            output.append("%s: %s" % (name, shown))
    else:
        braces = ("[", "]")
        output = []
        for item in value:
            ctx.indentation += 2
            output.append(_inspect_value(item, ctx, depth + 1))
            ctx.indentation -= 2
    if not output:
        return braces[0] + braces[1]
    # reduceToSingleString with compact 3 and breakLength 80
    if ctx.current_depth - depth < 3:
        start = len(output) + ctx.indentation + len(braces[0]) + 10
        if len(output) + start + sum(len(entry) for entry in output) <= 80:
            joined = ", ".join(output)
            if "\n" not in joined:
                return "%s %s %s" % (braces[0], joined, braces[1])
    indentation = "\n" + " " * ctx.indentation
    return "%s%s  %s%s%s" % (braces[0], indentation, (",%s  " % indentation).join(output), indentation, braces[1])


def inspect(value):
    """Node 18's ``util.inspect`` of a JSON-like value with the console's defaults (compact 3, breakLength 80,
    strings cut after 10000 characters), as the debug log prints the request body."""
    return _inspect_value(value, _InspectContext(), 0)


class _Undefined:
    """A JavaScript ``undefined`` property: kept in place, left out by JSON.stringify."""

    def __repr__(self):
        return "undefined"


UNDEFINED = _Undefined()


def js_truthy(value):
    return value not in (None, UNDEFINED, "", 0, False) and not (isinstance(value, float) and math.isnan(value))


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


def js_number_text(value):
    """How JavaScript prints a number: no ".0" on integral values."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value)


def js_stringify(value):
    """``JSON.stringify``: compact, non-ASCII kept, undefined properties dropped."""

    def strip(item):
        if isinstance(item, float) and item.is_integer() and abs(item) < 1e21:
            return int(item)
        if isinstance(item, dict):
            return {key: strip(val) for key, val in item.items() if val is not UNDEFINED}
        if isinstance(item, list):
            return [None if val is UNDEFINED else strip(val) for val in item]
        return item

    return json.dumps(strip(value), ensure_ascii=False, separators=(",", ":"))
