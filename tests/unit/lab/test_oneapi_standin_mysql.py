# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one-api stand-in's MySQL client (tests/lab/oneapi_standin/mysql.py) against a scripted server on loopback."""

from __future__ import annotations

import hashlib
import pathlib
import socket
import sqlite3
import struct
import sys
import threading

import pytest

LAB = pathlib.Path(__file__).resolve().parents[2] / 'lab'
sys.path.insert(0, str(LAB))
from oneapi_standin import mysql  # noqa: E402  pylint: disable=wrong-import-position
from oneapi_standin.sqlstore import MySQLStore  # noqa: E402  pylint: disable=wrong-import-position

SCRAMBLE = b'abcdefghijklmnopqrst'


def test_dsn_as_go_sql_driver_reads_it():
    assert mysql.parse_dsn('oneapi:p@ss:w@tcp(db.internal:3307)/oneapi?charset=utf8mb4&parseTime=True') == {
        'user': 'oneapi',
        'password': 'p@ss:w',
        'host': 'db.internal',
        'port': 3307,
        'database': 'oneapi',
        'params': {'charset': 'utf8mb4', 'parseTime': 'True'},
    }
    assert mysql.parse_dsn('root@/db')['host'] == '127.0.0.1'
    assert mysql.parse_dsn('u:p@tcp(db)/x')['port'] == 3306
    with pytest.raises(ValueError):
        mysql.parse_dsn('no-database')


def test_literals_and_placeholders():
    assert mysql.literal(None) == 'NULL' and mysql.literal(True) == '1' and mysql.literal(3) == '3'
    assert mysql.literal("it's\\ \n") == "'it\\'s\\\\ \\n'"
    assert mysql.literal(b'\x00\xff') == "X'00ff'"
    assert (
        mysql.interpolate('SELECT * FROM t WHERE a = ? AND b = ?', (1, 'x'))
        == "SELECT * FROM t WHERE a = 1 AND b = 'x'"
    )
    with pytest.raises(sqlite3.ProgrammingError):
        mysql.interpolate('SELECT ?', ())


def test_native_password_matches_the_server_check():
    token = mysql.native_password('secret', SCRAMBLE)
    stage2 = hashlib.sha1(hashlib.sha1(b'secret').digest()).digest()
    # what the server does: SHA1(token XOR SHA1(scramble + stage2)) == stage2
    stage1 = bytes(a ^ b for a, b in zip(token, hashlib.sha1(SCRAMBLE + stage2).digest()))
    assert hashlib.sha1(stage1).digest() == stage2
    assert mysql.native_password('', SCRAMBLE) == b''


def _packet(seq, payload):
    return len(payload).to_bytes(3, 'little') + bytes([seq]) + payload


def _lenenc(data):
    return bytes([len(data)]) + data


def _column(name, kind):
    return (
        b''.join(_lenenc(x) for x in (b'def', b'db', b't', b't', name, name))
        + b'\x0c'
        + struct.pack('<HIBHB', 45, 20, kind, 0, 0)
        + b'\0\0'
    )


class ScriptedServer:
    """A MySQL server on loopback that checks the native password and answers a few statements."""

    def __init__(self, password='pw'):
        self.password = password
        self.queries = []
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    @staticmethod
    def read(conn):
        header = conn.recv(4)
        if len(header) < 4:
            return None, None
        length = int.from_bytes(header[:3], 'little')
        data = b''
        while len(data) < length:
            data += conn.recv(length - len(data))
        return header[3], data

    def session(self, conn):
        greeting = b'\x0a' + b'10.11.0-MariaDB-lab\0' + struct.pack('<I', 7) + SCRAMBLE[:8] + b'\0'
        greeting += struct.pack('<H', 0xF7FF) + bytes([45]) + struct.pack('<H', 2) + struct.pack('<H', 0x81BF)
        greeting += bytes([21]) + b'\0' * 10 + SCRAMBLE[8:] + b'\0' + b'mysql_native_password\0'
        conn.sendall(_packet(0, greeting))
        seq, response = self.read(conn)
        user_end = response.index(b'\0', 32)
        token = response[user_end + 2 : user_end + 2 + response[user_end + 1]]
        if token != mysql.native_password(self.password, SCRAMBLE):
            conn.sendall(_packet(seq + 1, b'\xff' + struct.pack('<H', 1045) + b'#28000Access denied for user'))
            conn.close()
            return
        conn.sendall(_packet(seq + 1, b'\x00\x00\x00\x02\x00\x00\x00'))
        while True:
            seq, data = self.read(conn)
            if data is None or data[:1] == b'\x01':
                conn.close()
                return
            sql = data[1:].decode()
            self.queries.append(sql)
            if sql.startswith('SELECT channel_id'):
                out = [_packet(1, b'\x01'), _packet(2, _column(b'channel_id', 8)), _packet(3, b'\xfe\0\0\x02\0')]
                conn.sendall(b''.join(out + [_packet(4, b'\xfe\0\0\x02\0')]))
            elif sql.startswith('SELECT'):
                out = [_packet(1, b'\x03'), _packet(2, _column(b'n', 8)), _packet(3, _column(b's', 252))]
                out += [_packet(4, _column(b'f', 5)), _packet(5, b'\xfe\0\0\x02\0')]
                out += [_packet(6, _lenenc(b'42') + _lenenc('é'.encode()) + _lenenc(b'1.5'))]
                out += [_packet(7, b'\xfb\xfb\xfb'), _packet(8, b'\xfe\0\0\x02\0')]
                conn.sendall(b''.join(out))
            elif 'dup' in sql:
                conn.sendall(
                    _packet(1, b'\xff' + struct.pack('<H', 1062) + b"#23000Duplicate entry 'x' for key 'PRIMARY'")
                )
            elif sql.startswith('DROP'):
                conn.close()
                return
            else:
                conn.sendall(_packet(1, b'\x00\x01\x07\x02\x00\x00\x00'))

    def close(self):
        self.sock.close()


@pytest.fixture(name='server')
def server_fixture():
    server = ScriptedServer()
    yield server
    server.close()


def test_queries_rows_and_errors(server):
    conn = mysql.Connection('u:pw@tcp(127.0.0.1:%d)/db' % server.port)
    assert conn.server_version == '10.11.0-MariaDB-lab' and server.queries == ['SET NAMES utf8mb4']
    rows = conn.execute('SELECT n, s, f FROM t WHERE id = ?', (5,)).fetchall()
    assert rows == [{'n': 42, 's': 'é', 'f': 1.5}, {'n': None, 's': None, 'f': None}]
    assert server.queries[-1] == 'SELECT n, s, f FROM t WHERE id = 5'
    result = conn.execute('INSERT INTO t (a) VALUES (?)', ("o'k",))
    assert (result.lastrowid, result.rowcount) == (7, 1)
    with pytest.raises(sqlite3.IntegrityError) as err:
        conn.execute('INSERT dup')
    assert str(err.value) == "Error 1062 (23000): Duplicate entry 'x' for key 'PRIMARY'"
    # a dropped connection outside a transaction is opened again
    with pytest.raises(sqlite3.OperationalError):
        conn.execute('DROP everything')
    assert conn.execute('SELECT 1').fetchall()[0]['n'] == 42
    conn.close()


def test_wrong_password_is_the_server_error():
    server = ScriptedServer(password='other')
    try:
        with pytest.raises(mysql.MySQLError) as err:
            mysql.Connection('u:pw@tcp(127.0.0.1:%d)/db' % server.port)
        assert str(err.value) == 'Error 1045 (28000): Access denied for user'
    finally:
        server.close()


def test_store_speaks_mysql_with_ansi_quotes(server):
    store = MySQLStore('u:pw@tcp(127.0.0.1:%d)/db' % server.port, migrate=True)
    assert server.queries[1].endswith("',ANSI_QUOTES')")
    assert sum(q.startswith('CREATE TABLE IF NOT EXISTS') for q in server.queries) == 7
    store.save_option('RegisterEnabled', 'false')
    assert server.queries[-1] == (
        'INSERT INTO options ("key", value) VALUES (\'RegisterEnabled\', \'false\') '
        'ON DUPLICATE KEY UPDATE value = VALUES(value)'
    )
    assert store.satisfied_channel('default', 'gpt-4', ignore_first_priority=True) is None
    assert 'ORDER BY RAND()' in server.queries[-1]
    slave = MySQLStore('u:pw@tcp(127.0.0.1:%d)/db' % server.port, migrate=False)
    assert slave.path.startswith('mysql://u@127.0.0.1:')
