# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Databases of the gateway roles: one-api's SQL_DSN read the way one-api reads it (go-sql-driver/mysql, or a postgres:// URL)."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit


def sql_dsn(dsn):
    """``{driver, user, password, host, port, database, params}``; driver ``sqlite`` for an empty DSN, ``invalid``
    for a text that is neither form (it never raises: the roles name the variable in their own message).

    MySQL (go-sql-driver): ``[user[:password]@][net[(addr)]]/dbname[?param=value...]``; the password may contain
    ``@`` and ``:`` (the last ``@`` ends it). PostgreSQL: ``postgres://user:password@host:port/dbname?...``.
    """
    text = str(dsn or '').strip()
    if not text:
        return dict(driver='sqlite', user='', password='', host='', port=0, database='', params={})
    if text.startswith('postgres://') or text.startswith('postgresql://'):
        parts = urlsplit(text)
        return dict(
            driver='postgres',
            user=unquote(parts.username or ''),
            password=unquote(parts.password or ''),
            host=parts.hostname or 'localhost',
            port=parts.port or 5432,
            database=parts.path.lstrip('/'),
            params=dict(parse_qsl(parts.query)),
        )
    rest, _sep, query = text.partition('?')
    head, slash, database = rest.rpartition('/')
    if not slash:
        return dict(driver='invalid', user='', password='', host='', port=0, database='', params={})
    credentials, at, address = head.rpartition('@')
    if not at:
        credentials, address = '', head
    user, _colon, password = credentials.partition(':')
    host, port = '127.0.0.1', 3306
    if '(' in address and address.endswith(')'):
        inner = address[address.index('(') + 1 : -1]
        if inner:
            name, _c, number = inner.rpartition(':')
            host, port = (name or '127.0.0.1', int(number)) if number.isdigit() else (inner, 3306)
    return dict(
        driver='mysql',
        user=user,
        password=password,
        host=host,
        port=port,
        database=database,
        params=dict(parse_qsl(query)),
    )


class FilterModule:
    def filters(self):
        return dict(sql_dsn=sql_dsn)
