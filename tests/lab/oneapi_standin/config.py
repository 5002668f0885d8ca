# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line, environment and the start-up steps that can stop one-api (logger.FatalLog: exit status 1)."""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import socket
import tempfile
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Optional

from . import upstream
from .catalog import VERSION

LOG = logging.getLogger("one-api")
# tiktoken-go v0.1.6 (pkoukk/tiktoken-go): EncodingForModel("gpt-3.5-turbo") loads this file, through a cache
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


class Fatal(Exception):
    """logger.FatalLog: the process logs ``[FATAL] <time> | [<message>]`` and exits with status 1."""


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass
class Config:
    """Process configuration from flags and the environment, as upstream reads them (plus LAB_* test knobs)."""

    host: str = "0.0.0.0"
    port: int = 3000
    data_dir: str = "."
    log_dir: str = "./logs"
    session_secret: str = ""
    sqlite_path: str = "one-api.db"
    initial_root_token: str = ""
    global_api_limit: int = 180
    global_api_duration: int = 180
    global_web_limit: int = 60
    global_web_duration: int = 180
    critical_limit: int = 20
    critical_duration: int = 1200
    relay_timeout: int = 0
    memory_cache: bool = False
    sync_frequency: int = 600

    @classmethod
    def from_env(cls, args: argparse.Namespace) -> "Config":
        env = os.environ
        port = int(env["PORT"]) if env.get("PORT", "").isdigit() else args.port
        data_dir = os.path.abspath(args.data_dir)
        secret = env.get("SESSION_SECRET", "")
        if secret == "random_string":
            LOG.error("SESSION_SECRET is set to an example value, please change it to a random string.")
        if secret in ("", "random_string"):
            secret = str(uuid.uuid4())
        redis = bool(env.get("REDIS_CONN_STRING") and env.get("SYNC_FREQUENCY"))
        return cls(
            host=args.host,
            port=port,
            data_dir=data_dir,
            log_dir=os.path.join(data_dir, args.log_dir),
            session_secret=secret,
            sqlite_path=os.path.join(data_dir, env.get("SQLITE_PATH") or "one-api.db"),
            initial_root_token=env.get("INITIAL_ROOT_TOKEN", ""),
            global_api_limit=_env_int("GLOBAL_API_RATE_LIMIT", 180),
            global_web_limit=_env_int("GLOBAL_WEB_RATE_LIMIT", 60),
            critical_limit=_env_int("LAB_CRITICAL_RATE_LIMIT", 20),
            critical_duration=_env_int("LAB_CRITICAL_RATE_LIMIT_DURATION", 1200),
            relay_timeout=_env_int("RELAY_TIMEOUT", 0),
            memory_cache=env.get("MEMORY_CACHE_ENABLED", "").lower() == "true" or redis,
            sync_frequency=_env_int("SYNC_FREQUENCY", 600),
        )


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="one-api", description=f"one-api {VERSION} lab stand-in")
    parser.add_argument("--port", type=int, default=3000, help="the listening port (env PORT wins, like upstream)")
    parser.add_argument("--log-dir", default="./logs", help="log directory, relative to the data dir")
    parser.add_argument("--version", action="store_true", help="print version and exit")
    parser.add_argument("--host", default="0.0.0.0", help="bind address (lab addition; upstream binds all interfaces)")
    parser.add_argument(
        "--data-dir", default=".", help="working directory holding one-api.db (lab addition; upstream: the cwd)"
    )
    return parser.parse_args(argv)


# ---- start-up steps that talk to the outside ---------------------------------------------------------------------------


def _probe(host: str, port: int, timeout: float = 5.0) -> Optional[str]:
    """A TCP connect; None when it works, else Go's dial error text."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return upstream.go_dial_error(host, port, exc)


def _dsn_address(dsn: str) -> tuple:
    if dsn.startswith("postgres://"):
        split = urllib.parse.urlsplit(dsn)
        return split.hostname or "localhost", split.port or 5432
    match = re.search(r"@(?:tcp)?\(([^)]*)\)", dsn)  # go-sql-driver/mysql: user:pass@tcp(host:port)/db
    address = match.group(1) if match else "127.0.0.1:3306"
    host, _sep, port = address.rpartition(":")
    return (host or "127.0.0.1"), int(port) if port.isdigit() else 3306


def check_database() -> None:
    """SQL_DSN: upstream opens MySQL/PostgreSQL and dies when it cannot; the stand-in only checks the server answers.

    MySQL is pinged by gorm.Open (InitDB logs the bare error); PostgreSQL connects lazily, so the error comes from the
    first migration, wrapped by pgx and by main ("failed to initialize database: ").
    """
    dsn = os.environ.get("SQL_DSN", "")
    if not dsn:
        LOG.info("SQL_DSN not set, using SQLite as database")
        return
    postgres = dsn.startswith("postgres://")
    LOG.info("using PostgreSQL as database" if postgres else "using MySQL as database")
    host, port = _dsn_address(dsn)
    problem = _probe(host, port)
    if problem and postgres:
        split = urllib.parse.urlsplit(dsn)
        where = f"failed to connect to `host={host} user={split.username or ''} database={split.path.lstrip('/')}`"
        lookup = problem.startswith("dial tcp: lookup ")
        cause = f"hostname resolving error ({problem[len('dial tcp: ') :]})" if lookup else f"dial error ({problem})"
        raise Fatal(f"failed to initialize database: {where}: {cause}")
    if problem:
        raise Fatal(problem)
    if postgres:
        LOG.warning("lab stand-in: the database server answers, but the stand-in keeps its data in SQLite")


def check_redis() -> None:
    """common.InitRedisClient: Redis needs REDIS_CONN_STRING and SYNC_FREQUENCY; a failed ping is fatal."""
    conn = os.environ.get("REDIS_CONN_STRING", "")
    if not conn:
        LOG.info("REDIS_CONN_STRING not set, Redis is not enabled")
        return
    if not os.environ.get("SYNC_FREQUENCY"):
        LOG.info("SYNC_FREQUENCY not set, Redis is disabled")
        return
    LOG.info("Redis is enabled")
    split = urllib.parse.urlsplit(conn)
    if split.scheme not in ("redis", "rediss"):
        raise Fatal(f"failed to parse Redis connection string: redis: invalid URL scheme: {split.scheme}")
    problem = _probe(split.hostname or "localhost", split.port or 6379)
    if problem:
        raise Fatal("Redis ping test failed: " + problem)
    LOG.warning("lab stand-in: Redis answers, but the stand-in keeps caches in memory")


def token_encoder_cache_path() -> str:
    """tiktoken-go readFileCached: TIKTOKEN_CACHE_DIR, else DATA_GYM_CACHE_DIR, else <tmp>/data-gym-cache; sha1(url)."""
    cache_dir = (
        os.environ.get("TIKTOKEN_CACHE_DIR")
        or os.environ.get("DATA_GYM_CACHE_DIR")
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    )
    return os.path.join(cache_dir, hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest())


def load_token_encoders(timeout: float = 60.0) -> None:
    """openai.InitTokenEncoders: the cl100k_base file comes from the cache or is downloaded (and cached) at every start.

    The stand-in counts tokens approximately and never parses the file; it only needs it to be there, as upstream does.
    """
    LOG.info("initializing token encoders")
    path = token_encoder_cache_path()
    if not os.path.exists(path):
        try:
            answer = upstream.send("GET", TIKTOKEN_URL, None, {}, timeout)
            contents = answer.read_all()
        except upstream.RequestFailed as exc:
            raise Fatal(f"failed to get gpt-3.5-turbo token encoder: {exc}") from None
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{uuid.uuid4()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(contents)
        os.replace(temporary, path)
    LOG.info("token encoders initialized")
