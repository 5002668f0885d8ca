# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON the way one-api's Go code reads and writes it.

* Encoding (``go_json``): structs (``GoStruct``) keep their field order, maps (plain dicts, gin.H) are sorted,
  ``<``, ``>``, ``&``, U+2028 and U+2029 are escaped, integral floats print without a fraction.
* Syntax errors carry encoding/json's texts (``invalid character 'x' looking for beginning of object key string``).
  ``json.Unmarshal`` (mode ``unmarshal``) rejects data after the value and says ``unexpected end of JSON input``;
  ``json.NewDecoder(...).Decode`` and gin's ``ShouldBindJSON`` (mode ``decoder``) read one value, ignore what
  follows, and say ``EOF`` / ``unexpected EOF``.
* Binding (``go_bind``) into a struct: unknown keys ignored, case-insensitive names, ``null`` = unset, and the
  first type mismatch reported as ``json: cannot unmarshal <kind> into Go struct field <Struct>.<field> of type <t>``.
"""

from __future__ import annotations

import json
from typing import Any, Optional


class GoStruct(dict):
    """A dict serialised in insertion order (a Go struct); plain dicts are serialised sorted (a Go map)."""


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
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


class BindError(ValueError):
    """An encoding/json error, with Go's message."""


# ---- syntax: a port of encoding/json's scanner, for its error messages -------------------------------------------------

_SPACE = b" \t\r\n"


def _quote_char(byte: int) -> str:
    """encoding/json quoteChar."""
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    char = chr(byte)
    if char.isprintable():
        return f"'{char}'"
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    return "'" + escapes.get(char, f"\\x{byte:02x}") + "'"


class _Syntax(Exception):
    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message, self.offset = message, offset


class _Scanner:
    """Recursive-descent equivalent of encoding/json's state machine; returns the end offset of one value."""

    def __init__(self, data: bytes):
        self.data = data

    def _at(self, i: int) -> int:
        if i >= len(self.data):
            raise _Syntax("eof", i)
        return self.data[i]

    def _bad(self, i: int, context: str) -> _Syntax:
        return _Syntax(f"invalid character {_quote_char(self.data[i])} {context}", i)

    def skip(self, i: int) -> int:
        while i < len(self.data) and self.data[i] in _SPACE:
            i += 1
        return i

    def value(self, i: int) -> int:
        i = self.skip(i)
        c = self._at(i)
        if c == 0x7B:  # {
            return self._object(i + 1)
        if c == 0x5B:  # [
            return self._array(i + 1)
        if c == 0x22:
            return self._string(i + 1)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return self._number(i)
        for word in (b"true", b"false", b"null"):
            if c == word[0]:
                for k in range(1, len(word)):
                    if self._at(i + k) != word[k]:
                        raise self._bad(i + k, f"in literal {word.decode()} (expecting {_quote_char(word[k])})")
                return i + len(word)
        raise self._bad(i, "looking for beginning of value")

    def _object(self, i: int) -> int:
        i = self.skip(i)
        if self._at(i) == 0x7D:
            return i + 1
        while True:
            i = self.skip(i)
            if self._at(i) != 0x22:
                raise self._bad(i, "looking for beginning of object key string")
            i = self.skip(self._string(i + 1))
            if self._at(i) != 0x3A:
                raise self._bad(i, "after object key")
            i = self.skip(self.value(i + 1))
            c = self._at(i)
            if c == 0x7D:
                return i + 1
            if c != 0x2C:
                raise self._bad(i, "after object key:value pair")
            i += 1

    def _array(self, i: int) -> int:
        i = self.skip(i)
        if self._at(i) == 0x5D:
            return i + 1
        while True:
            i = self.skip(self.value(i))
            c = self._at(i)
            if c == 0x5D:
                return i + 1
            if c != 0x2C:
                raise self._bad(i, "after array element")
            i += 1

    def _string(self, i: int) -> int:
        while True:
            c = self._at(i)
            if c == 0x22:
                return i + 1
            if c < 0x20:
                raise self._bad(i, "in string literal")
            if c == 0x5C:
                e = self._at(i + 1)
                if e == 0x75:  # \u
                    for k in range(2, 6):
                        h = self._at(i + k)
                        if not (0x30 <= h <= 0x39 or 0x41 <= h <= 0x46 or 0x61 <= h <= 0x66):
                            raise self._bad(i + k, "in \\u hexadecimal character escape")
                    i += 6
                    continue
                if e not in b'bfnrt\\/"':
                    raise self._bad(i + 1, "in string escape code")
                i += 2
                continue
            i += 1

    def _digits(self, i: int) -> int:
        while i < len(self.data) and 0x30 <= self.data[i] <= 0x39:
            i += 1
        return i

    def _number(self, i: int) -> int:
        if self.data[i] == 0x2D:
            i += 1
            c = self._at(i)
            if not 0x30 <= c <= 0x39:
                raise self._bad(i, "in numeric literal")
        i = i + 1 if self.data[i] == 0x30 else self._digits(i)
        if i < len(self.data) and self.data[i] == 0x2E:
            c = self._at(i + 1)
            if not 0x30 <= c <= 0x39:
                raise self._bad(i + 1, "after decimal point in numeric literal")
            i = self._digits(i + 1)
        if i < len(self.data) and self.data[i] in b"eE":
            i += 1
            if self._at(i) in b"+-":
                i += 1
            if not 0x30 <= self._at(i) <= 0x39:
                raise self._bad(i, "in exponent of numeric literal")
            i = self._digits(i)
        return i


def go_decode(raw: bytes, mode: str = "unmarshal") -> Any:
    """Parse raw like json.Unmarshal (mode 'unmarshal') or one Decoder.Decode call (mode 'decoder')."""
    scanner = _Scanner(raw)
    start = scanner.skip(0)
    if start >= len(raw):
        raise BindError("EOF" if mode == "decoder" else "unexpected end of JSON input")
    try:
        end = scanner.value(start)
        if mode == "unmarshal":
            rest = scanner.skip(end)
            if rest < len(raw):
                raise scanner._bad(rest, "after top-level value")  # pylint: disable=protected-access
    except _Syntax as exc:
        if exc.message == "eof":
            raise BindError("unexpected EOF" if mode == "decoder" else "unexpected end of JSON input") from None
        raise BindError(exc.message) from None
    try:
        return json.loads(raw[start:end].decode("utf-8", "replace"))
    except (json.JSONDecodeError, RecursionError) as exc:  # the scanner accepted it; should not happen
        raise BindError(str(exc)) from None


# ---- binding into a struct ---------------------------------------------------------------------------------------------

_GO_KINDS = {str: "string", bool: "bool", list: "array", dict: "object"}


def go_kind(value: Any) -> str:
    """The JSON kind encoding/json names in an UnmarshalTypeError."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return _GO_KINDS.get(type(value), "value")


def _number_text(value: Any) -> str:
    return json.dumps(value)


def check_go_type(value: Any, go_type: str) -> Optional[str]:
    """Return the kind text of an UnmarshalTypeError when value cannot be decoded into go_type, else None."""
    base = go_type.lstrip("*")
    if base in ("int", "int64", "uint"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return go_kind(value)
        if isinstance(value, float) or (base == "uint" and value < 0):
            return f"number {_number_text(value)}"
        return None
    if base == "float64":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else go_kind(value)
    if base == "string":
        return None if isinstance(value, str) else go_kind(value)
    if base == "bool":
        return None if isinstance(value, bool) else go_kind(value)
    if base == "array":
        return None if isinstance(value, list) else go_kind(value)
    if base == "object":
        return None if isinstance(value, dict) else go_kind(value)
    return None  # any


def go_bind(raw: bytes, schema: dict, struct_name: str, mode: str = "decoder", go_types: Optional[dict] = None) -> dict:
    """Decode raw into a Go struct described by schema {json name: type}; return {name: value} of the keys present.

    ``go_types`` names the Go type of array/object fields in messages (e.g. ``[]model.Message``). The struct package
    prefix is part of ``struct_name`` (``model.Channel``); field errors use the bare struct name like Go does.
    """
    doc = go_decode(raw, mode)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise BindError(f"json: cannot unmarshal {go_kind(doc)} into Go value of type {struct_name}")
    bare = struct_name.rsplit(".", 1)[-1]
    lower = {name.lower(): name for name in schema}
    result: dict = {}
    first_error: Optional[str] = None
    for key, value in doc.items():
        name = key if key in schema else lower.get(key.lower())
        if name is None or value is None:
            continue
        kind = check_go_type(value, schema[name])
        if kind is not None:
            if first_error is None:
                go_type = (go_types or {}).get(name, schema[name].lstrip("*"))
                first_error = f"json: cannot unmarshal {kind} into Go struct field {bare}.{name} of type {go_type}"
            continue
        result[name] = int(value) if schema[name].lstrip("*") in ("int", "int64", "uint") else value
    if first_error:
        raise BindError(first_error)
    return result
