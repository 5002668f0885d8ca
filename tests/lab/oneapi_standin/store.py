# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQLite storage laid out like one-api's GORM tables (users, channels, abilities, tokens, options)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Optional

from .catalog import CHANNEL_ENABLED, ROLE_ROOT, TOKEN_ENABLED, USER_ENABLED
from .models import hash_password, new_uuid, now_ts


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
        root_id = self._insert(
            "users",
            {
                "username": "root",
                "password": hash_password("123456"),
                "display_name": "Root User",
                "role": ROLE_ROOT,
                "status": USER_ENABLED,
                "access_token": new_uuid(),
                "quota": 500000000000000,
                "aff_code": None,
            },
        )
        if initial_root_token:
            ts = now_ts()
            self._insert(
                "tokens",
                {
                    "id": 1,
                    "user_id": root_id,
                    "key": initial_root_token,
                    "status": TOKEN_ENABLED,
                    "name": "Initial Root Token",
                    "created_time": ts,
                    "accessed_time": ts,
                    "expired_time": -1,
                    "remain_quota": 500000000000000,
                    "unlimited_quota": True,
                },
            )

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

    def users_page(self, offset: int, limit: int, order: str) -> list:
        order_by = {"quota": "quota DESC", "used_quota": "used_quota DESC", "request_count": "request_count DESC"}.get(
            order, "id DESC"
        )
        return self._rows(
            f"SELECT * FROM users WHERE status != 3 ORDER BY {order_by} LIMIT ? OFFSET ?", (limit, offset)
        )

    def search_users(self, keyword: str) -> list:
        prefix = keyword + "%"
        return self._rows(
            "SELECT * FROM users WHERE id = ? OR username LIKE ? OR email LIKE ? OR display_name LIKE ?",
            (keyword, prefix, prefix, prefix),
        )

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
        rows = [
            (group, model, channel["id"], channel["status"] == CHANNEL_ENABLED, channel["priority"])
            for model in (channel["models"] or "").split(",")
            for group in (channel["group"] or "").split(",")
        ]
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.executemany(
                    'INSERT INTO abilities ("group", model, channel_id, enabled, priority) VALUES (?, ?, ?, ?, ?)', rows
                )
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

    def satisfied_channel(self, group: str, model: str, ignore_first_priority: bool = False) -> Optional[int]:
        """GetRandomSatisfiedChannel: an enabled ability at the highest priority (any priority on retries), random."""
        where = '"group" = ? AND model = ? AND enabled = 1'
        if ignore_first_priority:
            rows = self._rows(
                f"SELECT channel_id FROM abilities WHERE {where} ORDER BY RANDOM() LIMIT 1", (group, model)
            )
        else:
            rows = self._rows(
                f"SELECT channel_id FROM abilities WHERE {where} AND priority = (SELECT MAX(priority) FROM abilities "
                f"WHERE {where}) ORDER BY RANDOM() LIMIT 1",
                (group, model, group, model),
            )
        return rows[0]["channel_id"] if rows else None

    def enabled_channels(self) -> list:
        return self._rows("SELECT * FROM channels WHERE status = ?", (CHANNEL_ENABLED,))

    def ability_groups(self) -> set:
        return {r["group"] for r in self._rows('SELECT DISTINCT "group" FROM abilities')}

    def group_models(self, group: str) -> list:
        return sorted(
            r["model"]
            for r in self._rows('SELECT DISTINCT model FROM abilities WHERE "group" = ? AND enabled = 1', (group,))
        )

    def add_channel_used_quota(self, channel_id: int, quota: int) -> None:
        self._exec("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?", (quota, channel_id))

    # tokens ----------------------------------------------------------------------------------------------------------
    def insert_token(self, doc: dict) -> int:
        return self._insert("tokens", doc)

    def tokens_page(self, user_id: int, offset: int, limit: int, order: str) -> list:
        order_by = {"remain_quota": "unlimited_quota DESC, remain_quota DESC", "used_quota": "used_quota DESC"}.get(
            order, "id DESC"
        )
        return self._rows(
            f"SELECT * FROM tokens WHERE user_id = ? ORDER BY {order_by} LIMIT ? OFFSET ?", (user_id, limit, offset)
        )

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

    def change_token_quota(self, token_id: int, quota: int) -> None:
        """decreaseTokenQuota (quota > 0) / increaseTokenQuota (quota < 0)."""
        self._exec(
            "UPDATE tokens SET remain_quota = remain_quota - ?, used_quota = used_quota + ?, accessed_time = ? WHERE id = ?",
            (quota, quota, now_ts(), token_id),
        )

    def change_user_quota(self, user_id: int, quota: int) -> None:
        self._exec("UPDATE users SET quota = quota - ? WHERE id = ?", (quota, user_id))

    def add_user_used_quota(self, user_id: int, quota: int) -> None:
        self._exec(
            "UPDATE users SET used_quota = used_quota + ?, request_count = request_count + 1 WHERE id = ?",
            (quota, user_id),
        )

    # options ---------------------------------------------------------------------------------------------------------
    def options(self) -> dict:
        return {r["key"]: r["value"] for r in self._rows("SELECT key, value FROM options")}

    def save_option(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO options (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
