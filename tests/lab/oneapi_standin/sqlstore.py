# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""one-api's tables in MySQL/MariaDB (``SQL_DSN``), for several stand-in nodes sharing one database.

``MySQLStore`` is the SQLite ``Store`` with another connection: the same queries, sent through ``mysql.Connection``
with ``ANSI_QUOTES`` (so ``"group"`` stays an identifier), ``RAND()`` for SQLite's ``RANDOM()``, and the three queries
whose SQLite form MySQL does not take (the ``key`` column, the option upsert). The tables are those upstream v0.6.6's
GORM AutoMigrate creates on MySQL (``SHOW CREATE TABLE`` of the real binary against MariaDB 10.11), created on a
master node only, as upstream (``NODE_TYPE=slave`` skips the migration).
"""

from __future__ import annotations

import logging
import os
import threading

from . import mysql
from .config import Fatal
from .store import Store

LOG = logging.getLogger("one-api")

# SHOW CREATE TABLE of the tables one-api v0.6.6 migrates on MySQL (users, channels, abilities, tokens, options,
# redemptions, logs).
SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS `users` (
      `id` bigint(20) NOT NULL AUTO_INCREMENT,
      `username` varchar(191) DEFAULT NULL,
      `password` longtext NOT NULL,
      `display_name` varchar(191) DEFAULT NULL,
      `role` bigint(20) DEFAULT 1,
      `status` bigint(20) DEFAULT 1,
      `email` varchar(191) DEFAULT NULL,
      `github_id` varchar(191) DEFAULT NULL,
      `wechat_id` varchar(191) DEFAULT NULL,
      `lark_id` varchar(191) DEFAULT NULL,
      `access_token` char(32) DEFAULT NULL,
      `quota` bigint(20) DEFAULT 0,
      `used_quota` bigint(20) DEFAULT 0,
      `request_count` bigint(20) DEFAULT 0,
      `group` varchar(32) DEFAULT 'default',
      `aff_code` varchar(32) DEFAULT NULL,
      `inviter_id` bigint(20) DEFAULT NULL,
      PRIMARY KEY (`id`),
      UNIQUE KEY `idx_users_aff_code` (`aff_code`),
      UNIQUE KEY `idx_users_access_token` (`access_token`),
      UNIQUE KEY `uni_users_username` (`username`),
      KEY `idx_users_display_name` (`display_name`),
      KEY `idx_users_lark_id` (`lark_id`),
      KEY `idx_users_inviter_id` (`inviter_id`),
      KEY `idx_users_username` (`username`),
      KEY `idx_users_email` (`email`),
      KEY `idx_users_git_hub_id` (`github_id`),
      KEY `idx_users_we_chat_id` (`wechat_id`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
    """
    CREATE TABLE IF NOT EXISTS `channels` (
      `id` bigint(20) NOT NULL AUTO_INCREMENT,
      `type` bigint(20) DEFAULT 0,
      `key` text DEFAULT NULL,
      `status` bigint(20) DEFAULT 1,
      `name` varchar(191) DEFAULT NULL,
      `weight` bigint(20) unsigned DEFAULT 0,
      `created_time` bigint(20) DEFAULT NULL,
      `test_time` bigint(20) DEFAULT NULL,
      `response_time` bigint(20) DEFAULT NULL,
      `base_url` varchar(191) DEFAULT '',
      `other` longtext DEFAULT NULL,
      `balance` double DEFAULT NULL,
      `balance_updated_time` bigint(20) DEFAULT NULL,
      `models` longtext DEFAULT NULL,
      `group` varchar(32) DEFAULT 'default',
      `used_quota` bigint(20) DEFAULT 0,
      `model_mapping` varchar(1024) DEFAULT '',
      `priority` bigint(20) DEFAULT 0,
      `config` longtext DEFAULT NULL,
      PRIMARY KEY (`id`),
      KEY `idx_channels_name` (`name`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
    """
    CREATE TABLE IF NOT EXISTS `abilities` (
      `group` varchar(32) NOT NULL,
      `model` varchar(191) NOT NULL,
      `channel_id` bigint(20) NOT NULL,
      `enabled` tinyint(1) DEFAULT NULL,
      `priority` bigint(20) DEFAULT 0,
      PRIMARY KEY (`group`,`model`,`channel_id`),
      KEY `idx_abilities_channel_id` (`channel_id`),
      KEY `idx_abilities_priority` (`priority`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
    """
    CREATE TABLE IF NOT EXISTS `tokens` (
      `id` bigint(20) NOT NULL AUTO_INCREMENT,
      `user_id` bigint(20) DEFAULT NULL,
      `key` char(48) DEFAULT NULL,
      `status` bigint(20) DEFAULT 1,
      `name` varchar(191) DEFAULT NULL,
      `created_time` bigint(20) DEFAULT NULL,
      `accessed_time` bigint(20) DEFAULT NULL,
      `expired_time` bigint(20) DEFAULT -1,
      `remain_quota` bigint(20) DEFAULT 0,
      `unlimited_quota` tinyint(1) DEFAULT 0,
      `used_quota` bigint(20) DEFAULT 0,
      `models` varchar(191) DEFAULT '',
      `subnet` varchar(191) DEFAULT '',
      PRIMARY KEY (`id`),
      UNIQUE KEY `idx_tokens_key` (`key`),
      KEY `idx_tokens_name` (`name`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
    """
    CREATE TABLE IF NOT EXISTS `options` (
      `key` varchar(191) NOT NULL,
      `value` longtext DEFAULT NULL,
      PRIMARY KEY (`key`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
    """
    CREATE TABLE IF NOT EXISTS `redemptions` (
      `id` bigint(20) NOT NULL AUTO_INCREMENT,
      `user_id` bigint(20) DEFAULT NULL,
      `key` char(32) DEFAULT NULL,
      `status` bigint(20) DEFAULT 1,
      `name` varchar(191) DEFAULT NULL,
      `quota` bigint(20) DEFAULT 100,
      `created_time` bigint(20) DEFAULT NULL,
      `redeemed_time` bigint(20) DEFAULT NULL,
      PRIMARY KEY (`id`),
      UNIQUE KEY `idx_redemptions_key` (`key`),
      KEY `idx_redemptions_name` (`name`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
    """
    CREATE TABLE IF NOT EXISTS `logs` (
      `id` bigint(20) NOT NULL AUTO_INCREMENT,
      `user_id` bigint(20) DEFAULT NULL,
      `created_at` bigint(20) DEFAULT NULL,
      `type` bigint(20) DEFAULT NULL,
      `content` longtext DEFAULT NULL,
      `username` varchar(191) DEFAULT '',
      `token_name` varchar(191) DEFAULT '',
      `model_name` varchar(191) DEFAULT '',
      `quota` bigint(20) DEFAULT 0,
      `prompt_tokens` bigint(20) DEFAULT 0,
      `completion_tokens` bigint(20) DEFAULT 0,
      `channel_id` bigint(20) DEFAULT NULL,
      PRIMARY KEY (`id`),
      KEY `index_username_model_name` (`model_name`,`username`),
      KEY `idx_logs_token_name` (`token_name`),
      KEY `idx_logs_model_name` (`model_name`),
      KEY `idx_logs_channel_id` (`channel_id`),
      KEY `idx_logs_user_id` (`user_id`),
      KEY `idx_created_at_type` (`created_at`,`type`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
    """,
)


class _Database:
    """The sqlite3 connection calls Store makes (execute, executemany, close), on a MySQL connection."""

    def __init__(self, dsn: str):
        self.connection = mysql.Connection(
            dsn, init_sql=("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES')",)
        )

    def execute(self, sql: str, args: tuple = ()) -> mysql.Result:
        return self.connection.execute(sql.replace("RANDOM()", "RAND()"), tuple(args))

    def executemany(self, sql: str, rows) -> None:
        for row in rows:
            self.execute(sql, tuple(row))

    def close(self) -> None:
        self.connection.close()


class MySQLStore(Store):
    """Store on MySQL/MariaDB; ``migrate`` creates the tables (a master node)."""

    def __init__(self, dsn: str, migrate: bool = True):  # pylint: disable=super-init-not-called
        settings = mysql.parse_dsn(dsn)
        self.path = f"mysql://{settings['user']}@{settings['host']}:{settings['port']}/{settings['database']}"
        self.lock = threading.RLock()
        self.db = _Database(dsn)
        if migrate:
            LOG.info("database migration started")
            for statement in SCHEMA:
                self.db.execute(" ".join(statement.split()))
            LOG.info("database migrated")

    def token_by_key(self, key: str) -> dict:
        return self._one('SELECT * FROM tokens WHERE "key" = ?', (key,))

    def options(self) -> dict:
        return {r["key"]: r["value"] for r in self._rows('SELECT "key", value FROM options')}

    def save_option(self, key: str, value: str) -> None:
        self._exec(
            'INSERT INTO options ("key", value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)',
            (key, value),
        )


def open_store(sqlite_path: str) -> Store:
    """model.InitDB: MySQL when SQL_DSN is a MySQL DSN (tables made unless NODE_TYPE=slave), else SQLite."""
    dsn = os.environ.get("SQL_DSN", "")
    if not dsn or dsn.startswith("postgres://"):
        return Store(sqlite_path)
    master = os.environ.get("NODE_TYPE", "") != "slave"
    try:
        return MySQLStore(dsn, migrate=master)
    except (OSError, ValueError, mysql.MySQLError) as exc:
        raise Fatal(str(exc)) from None
