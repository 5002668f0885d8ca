# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small MySQL/MariaDB client (standard library only): what the stand-in needs to keep one-api's tables in MySQL.

The classic client/server protocol: handshake v10, ``mysql_native_password`` (MariaDB's default for users created
``IDENTIFIED BY``), ``COM_QUERY`` with text result sets. Parameters (``?``) are substituted client-side as escaped
literals, as go-sql-driver does without ``interpolateParams``'s server round trip. Errors are raised as the
``sqlite3`` exception classes the stand-in's handlers already catch, with go-sql-driver's text
(``Error 1062 (23000): Duplicate entry ...``).

DSN: go-sql-driver's form ``user:password@tcp(host:port)/dbname?param=value`` (``parse_dsn``).
"""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import struct
import threading
import urllib.parse
from typing import Optional

# capability flags
CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
UTF8MB4_GENERAL_CI = 45
INTEGER_TYPES = {1, 2, 3, 8, 9, 13}  # TINY, SHORT, LONG, LONGLONG, INT24, YEAR
FLOAT_TYPES = {0, 4, 5, 246}  # DECIMAL, FLOAT, DOUBLE, NEWDECIMAL
DUPLICATE_ENTRY = 1062
CONNECTION_ERRORS = (OSError, EOFError)


class MySQLError(sqlite3.DatabaseError):
    """A server error, printed like go-sql-driver's MySQLError."""

    def __init__(self, code: int, state: str, message: str):
        super().__init__(f"Error {code} ({state}): {message}" if state else f"Error {code}: {message}")
        self.code = code
        self.state = state


class MySQLIntegrityError(MySQLError, sqlite3.IntegrityError):
    """Duplicate keys and other constraint failures (SQLSTATE class 23)."""


def parse_dsn(dsn: str) -> dict:
    """go-sql-driver's DSN ``[user[:password]@][net[(addr)]]/dbname[?params]`` as host, port, user, password, database."""
    rest, _sep, query = dsn.partition("?")
    head, slash, database = rest.rpartition("/")
    if not slash:
        raise ValueError("invalid DSN: missing the slash separating the database name")
    credentials, at, address = head.rpartition("@")
    if not at:
        credentials, address = "", head
    user, _colon, password = credentials.partition(":")
    host, port = "127.0.0.1", 3306
    if "(" in address and address.endswith(")"):
        inner = address[address.index("(") + 1 : -1]
        if inner:
            name, _c, number = inner.rpartition(":")
            host, port = (name or "127.0.0.1", int(number)) if number.isdigit() else (inner, 3306)
    return {
        "user": user,
        "password": password,
        "host": host,
        "port": port,
        "database": database,
        "params": dict(urllib.parse.parse_qsl(query)),
    }


def native_password(password: str, scramble: bytes) -> bytes:
    """mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password)))."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mask = hashlib.sha1(scramble + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mask))


def literal(value) -> str:
    """A value as an SQL literal (MySQL's default escaping, backslashes on)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return "X'" + bytes(value).hex() + "'"
    text = str(value)
    for raw, escaped in (
        ("\\", "\\\\"),
        ("\0", "\\0"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("'", "\\'"),
        ('"', '\\"'),
        ("\x1a", "\\Z"),
    ):
        text = text.replace(raw, escaped)
    return "'" + text + "'"


def interpolate(sql: str, args: tuple) -> str:
    """Replace each ``?`` with the next argument as a literal (the stand-in's SQL has no ``?`` inside strings)."""
    parts = sql.split("?")
    if len(parts) - 1 != len(args):
        raise sqlite3.ProgrammingError(f"{len(parts) - 1} placeholders for {len(args)} arguments: {sql}")
    out = [parts[0]]
    for value, part in zip(args, parts[1:]):
        out.append(literal(value))
        out.append(part)
    return "".join(out)


def _lenenc_int(data: bytes, pos: int) -> tuple:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    if first == 0xFB:
        return None, pos + 1
    if first == 0xFC:
        return struct.unpack_from("<H", data, pos + 1)[0], pos + 3
    if first == 0xFD:
        return int.from_bytes(data[pos + 1 : pos + 4], "little"), pos + 4
    return struct.unpack_from("<Q", data, pos + 1)[0], pos + 9


def _lenenc_bytes(data: bytes, pos: int) -> tuple:
    length, pos = _lenenc_int(data, pos)
    if length is None:
        return None, pos
    return data[pos : pos + length], pos + length


class Result:
    """What a statement returns, shaped like the sqlite3 cursor the stand-in used: rows, lastrowid, rowcount."""

    def __init__(self, rows: Optional[list] = None, lastrowid: int = 0, rowcount: int = -1):
        self.rows = rows or []
        self.lastrowid = lastrowid
        self.rowcount = rowcount

    def fetchall(self) -> list:
        return self.rows


class Connection:
    """One connection; ``execute`` is serialised by a lock. A dropped connection is opened again on the next call."""

    def __init__(self, dsn: str, timeout: float = 10.0, init_sql: tuple = ()):
        self.settings = parse_dsn(dsn)
        self.timeout = timeout
        self.init_sql = init_sql
        self.lock = threading.RLock()
        self.sock: Optional[socket.socket] = None
        self.seq = 0
        self.server_version = ""
        self.in_transaction = False
        self.connect()

    # -- packets -----------------------------------------------------------------------------------------------------
    def _read_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise EOFError("the MySQL server closed the connection")
            data += chunk
        return data

    def _read_packet(self) -> bytes:
        payload = b""
        while True:
            header = self._read_exact(4)
            length = int.from_bytes(header[:3], "little")
            self.seq = (header[3] + 1) % 256
            payload += self._read_exact(length)
            if length < 0xFFFFFF:
                return payload

    def _write_packet(self, payload: bytes) -> None:
        while True:
            chunk, payload = payload[:0xFFFFFF], payload[0xFFFFFF:]
            self.sock.sendall(len(chunk).to_bytes(3, "little") + bytes([self.seq]) + chunk)
            self.seq = (self.seq + 1) % 256
            if len(chunk) < 0xFFFFFF:
                return

    @staticmethod
    def _error(packet: bytes) -> MySQLError:
        code = struct.unpack_from("<H", packet, 1)[0]
        state, message = "", packet[3:]
        if message[:1] == b"#":
            state, message = message[1:6].decode(), message[6:]
        cls = MySQLIntegrityError if state.startswith("23") else MySQLError
        return cls(code, state, message.decode("utf-8", "replace"))

    # -- connection ----------------------------------------------------------------------------------------------------
    def connect(self) -> None:
        self.close()
        settings = self.settings
        self.sock = socket.create_connection((settings["host"], settings["port"]), timeout=self.timeout)
        self.seq = 0
        greeting = self._read_packet()
        if greeting[:1] == b"\xff":
            raise self._error(greeting)
        end = greeting.index(b"\0", 1)
        self.server_version = greeting[1:end].decode()
        pos = end + 1 + 4
        scramble = greeting[pos : pos + 8]
        pos += 9
        capabilities = struct.unpack_from("<H", greeting, pos)[0]
        pos += 2
        plugin = "mysql_native_password"
        if len(greeting) > pos:
            pos += 3
            capabilities |= struct.unpack_from("<H", greeting, pos)[0] << 16
            pos += 2
            data_length = greeting[pos]
            pos += 11
            part2 = greeting[pos : pos + max(13, data_length - 8)]
            scramble += part2.rstrip(b"\0")[:12]
            pos += max(13, data_length - 8)
            if capabilities & CLIENT_PLUGIN_AUTH and pos < len(greeting):
                plugin = greeting[pos:].split(b"\0", 1)[0].decode() or plugin
        flags = (
            CLIENT_LONG_PASSWORD
            | CLIENT_LONG_FLAG
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_MULTI_RESULTS
            | CLIENT_PLUGIN_AUTH
        )
        if settings["database"]:
            flags |= CLIENT_CONNECT_WITH_DB
        token = native_password(settings["password"], scramble) if plugin == "mysql_native_password" else b""
        response = struct.pack("<IIB", flags, 1 << 24, UTF8MB4_GENERAL_CI) + b"\0" * 23
        response += settings["user"].encode() + b"\0" + bytes([len(token)]) + token
        if settings["database"]:
            response += settings["database"].encode() + b"\0"
        response += b"mysql_native_password\0"
        self._write_packet(response)
        answer = self._read_packet()
        if answer[:1] == b"\xfe":  # AuthSwitchRequest
            name, _sep, data = answer[1:].partition(b"\0")
            if name.decode() != "mysql_native_password":
                raise MySQLError(
                    2059, "", f"authentication plugin {name.decode()} is not supported by the lab stand-in"
                )
            self._write_packet(native_password(settings["password"], data.rstrip(b"\0")[:20]))
            answer = self._read_packet()
        if answer[:1] == b"\xff":
            raise self._error(answer)
        self.in_transaction = False
        for statement in ("SET NAMES utf8mb4",) + tuple(self.init_sql):
            self._query(statement)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.seq = 0
                self._write_packet(b"\x01")  # COM_QUIT
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    # -- queries -----------------------------------------------------------------------------------------------------
    def _query(self, sql: str) -> Result:
        self.seq = 0
        self._write_packet(b"\x03" + sql.encode("utf-8"))
        first = self._read_packet()
        if first[:1] == b"\xff":
            raise self._error(first)
        if first[:1] == b"\x00":
            affected, pos = _lenenc_int(first, 1)
            last_id, pos = _lenenc_int(first, pos)
            return Result(lastrowid=last_id or 0, rowcount=affected or 0)
        count, _pos = _lenenc_int(first, 0)
        columns = []
        for _unused in range(count):
            packet = self._read_packet()
            pos = 0
            fields = []
            for _field in range(6):  # catalog, schema, table, org_table, name, org_name
                value, pos = _lenenc_bytes(packet, pos)
                fields.append(value)
            pos += 1 + 2 + 4  # fixed-length fields length, character set, column length
            columns.append((fields[4].decode(), packet[pos]))
        packet = self._read_packet()  # EOF after the column definitions
        rows = []
        while True:
            packet = self._read_packet()
            if packet[:1] == b"\xfe" and len(packet) < 9:
                return Result(rows=rows, rowcount=len(rows))
            if packet[:1] == b"\xff":
                raise self._error(packet)
            pos, row = 0, {}
            for name, kind in columns:
                value, pos = _lenenc_bytes(packet, pos)
                if value is not None:
                    if kind in INTEGER_TYPES:
                        value = int(value)
                    elif kind in FLOAT_TYPES:
                        value = float(value)
                    else:
                        value = value.decode("utf-8", "replace")
                row[name] = value
            rows.append(row)

    def execute(self, sql: str, args: tuple = ()) -> Result:
        """Run one statement; on a dropped connection outside a transaction, connect again and retry once."""
        text = interpolate(sql, tuple(args)) if args else sql
        verb = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
        with self.lock:
            try:
                if self.sock is None:
                    self.connect()
                result = self._query(text)
            except CONNECTION_ERRORS:
                if self.in_transaction:
                    self.in_transaction = False
                    self.sock = None
                    raise sqlite3.OperationalError("the MySQL connection was lost during a transaction") from None
                try:
                    self.connect()
                    result = self._query(text)
                except CONNECTION_ERRORS as exc:
                    self.sock = None
                    raise sqlite3.OperationalError(f"MySQL: {exc}") from None
            if verb in ("BEGIN", "START"):
                self.in_transaction = True
            elif verb in ("COMMIT", "ROLLBACK"):
                self.in_transaction = False
            return result
