# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rate limiting, the session cookie and the client address: the middleware state of one-api."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import threading
import time
from typing import Optional

from .models import now_ts

SESSION_MAX_AGE = 86400 * 30


class RateLimiter:
    """common.InMemoryRateLimiter: per key, the last N request times; refused while the oldest is younger than the window."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: dict = {}

    def request(self, key: str, max_requests: int, duration: int) -> bool:
        with self.lock:
            now = int(time.time())
            queue = self.store.setdefault(key, [])
            if len(queue) < max_requests:
                queue.append(now)
                return True
            if now - queue[0] >= duration:
                queue.pop(0)
                queue.append(now)
                return True
            return False


class SessionCodec:
    """A signed, stateless cookie like gorilla's CookieStore (the secret decides whether cookies survive a restart)."""

    def __init__(self, secret: str):
        self.secret = secret.encode()

    def _mac(self, payload: str) -> str:
        return (
            base64.urlsafe_b64encode(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())
            .decode()
            .rstrip("=")
        )

    def encode(self, values: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")
        payload = f"{now_ts()}|{body}"
        return base64.urlsafe_b64encode(f"{payload}|{self._mac('session|' + payload)}".encode()).decode().rstrip("=")

    def decode(self, cookie: str) -> Optional[dict]:
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)).decode()
            stamp, body, mac = raw.split("|")
            if (
                not hmac.compare_digest(mac, self._mac(f"session|{stamp}|{body}"))
                or now_ts() - int(stamp) > SESSION_MAX_AGE
            ):
                return None
            values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        return values if isinstance(values, dict) else None


def client_ip(headers, peer: str) -> str:
    """gin ClientIP() with every proxy trusted (gin 1.9.1 default): X-Forwarded-For (leftmost), X-Real-IP, then the peer."""
    forwarded = [item.strip() for item in headers.get("X-Forwarded-For", "").split(",") if item.strip()]
    try:
        if forwarded and all(ipaddress.ip_address(item) for item in forwarded):
            return forwarded[0]
    except ValueError:
        pass
    real = headers.get("X-Real-IP", "").strip()
    try:
        if real and ipaddress.ip_address(real):
            return real
    except ValueError:
        pass
    return peer


def session_cookie_header(value: str) -> str:
    expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + SESSION_MAX_AGE))
    return f"session={value}; Path=/; Expires={expires}; Max-Age={SESSION_MAX_AGE}"
