# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy one-api's SQLite rows into MySQL: write the SQL that fills the MySQL tables, print the row counts as JSON.

    sqlite_to_mysql.py SQLITE_DB MYSQL_COLUMNS OUTPUT_SQL

one-api has no migration tool. Its master node creates the same tables on MySQL (GORM AutoMigrate of the same
models), so the rows copy column by column: for each table present in both, the columns present in both
(MYSQL_COLUMNS: ``table<TAB>column`` lines, as ``mariadb -N -B`` prints information_schema.COLUMNS). The SQL empties
those tables first (the role runs it only on a database holding nothing but the root user one-api creates on a first
start) and inserts the rows with their ids in one transaction. Standard library only; runs on the gateway host.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys

TABLES = ('users', 'options', 'channels', 'abilities', 'tokens', 'redemptions', 'logs')
BATCH = 200


def literal(value) -> str:
    if value is None:
        return 'NULL'
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'"
    text = str(value)
    for raw, escaped in (
        ('\\', '\\\\'),
        ('\0', '\\0'),
        ('\n', '\\n'),
        ('\r', '\\r'),
        ("'", "\\'"),
        ('"', '\\"'),
        ('\x1a', '\\Z'),
    ):
        text = text.replace(raw, escaped)
    return "'" + text + "'"


def quote(name: str) -> str:
    return '`' + name.replace('`', '``') + '`'


def main(argv) -> int:
    database, columns_file, output = argv
    mysql_columns: dict = {}
    with open(columns_file, encoding='utf-8') as handle:
        for line in handle:
            table, _tab, column = line.rstrip('\n').partition('\t')
            if table and column:
                mysql_columns.setdefault(table, []).append(column)
    source = sqlite3.connect('file:%s?mode=ro' % database, uri=True)
    counts, skipped = {}, {}
    lines = ['SET NAMES utf8mb4;', 'START TRANSACTION;']
    for table in TABLES:
        found = source.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if not found or table not in mysql_columns:
            continue
        sqlite_columns = [row[1] for row in source.execute('PRAGMA table_info(%s)' % quote(table))]
        common = [c for c in sqlite_columns if c in mysql_columns[table]]
        skipped[table] = [c for c in sqlite_columns if c not in mysql_columns[table]]
        lines.append('DELETE FROM %s;' % quote(table))
        rows = source.execute('SELECT %s FROM %s' % (', '.join(quote(c) for c in common), quote(table))).fetchall()
        counts[table] = len(rows)
        head = 'INSERT INTO %s (%s) VALUES ' % (quote(table), ', '.join(quote(c) for c in common))
        for start in range(0, len(rows), BATCH):
            values = ', '.join('(' + ', '.join(literal(v) for v in row) + ')' for row in rows[start : start + BATCH])
            lines.append(head + values + ';')
    lines.append('COMMIT;')
    source.close()
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    # the query that counts the same tables in MySQL afterwards (table name, rows), for the role's check
    count_sql = ' UNION ALL '.join("SELECT '%s', COUNT(*) FROM %s" % (t, quote(t)) for t in counts)
    print(
        json.dumps(
            {'counts': counts, 'count_sql': count_sql, 'skipped_columns': {k: v for k, v in skipped.items() if v}}
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
