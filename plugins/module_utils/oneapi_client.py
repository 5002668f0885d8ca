# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTP client for the one-api (songquanpeng/one-api v0.6.6) management API.

Written against the v0.6.6 behaviour: HTTP 200 with ``success: false`` on failure, a ``session``
cookie from ``POST /api/user/login``, a login rate limit of 20 per 20 minutes per client IP
(HTTP 429 with an empty body), prefix search (no paging), collection routes with a trailing slash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from http.cookies import CookieError, SimpleCookie
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError
from ansible_collections.llmops.eas_stack.plugins.module_utils.module_base import ModuleRunner

INITIAL_ROOT_PASSWORD = "123456"
LOGIN_LIMIT_TEXT = (
    "one-api allows 20 logins per 20 minutes per client IP (shared with the register and password-reset routes). "
    "Wait up to 20 minutes before the next run; the limiter is in memory unless Redis is used, so restarting "
    "one-api also resets it. The module does not retry the login, to avoid extending the lock-out."
)
FINGERPRINT_CONFIG_KEY = "llmops_key_fingerprint"
FINGERPRINT_PREFIX = "hmac-sha256"


def oneapi_argument_spec():
    """Connection options shared by every one-api module (documented in doc_fragments/oneapi.py)."""
    return dict(
        url=dict(type="str", required=True, fallback=(env_fallback, ["ONEAPI_URL"])),
        username=dict(type="str", default="root", fallback=(env_fallback, ["ONEAPI_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["ONEAPI_PASSWORD"])),
        access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["ONEAPI_ACCESS_TOKEN"])),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="int", default=30),
    )


class OneApiError(ModuleError):
    """An error talking to one-api; ``str(exc)`` is a message fit for ``fail_json``."""


def _short(text, limit=300):
    text = to_text(text or "", errors="surrogate_or_replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


class OneApiClient:
    """One client per module run: it logs in at most once and keeps the ``session`` cookie."""

    def __init__(
        self, url, username="root", password=None, access_token=None, validate_certs=True, timeout=30, check_mode=False
    ):
        if not url:
            raise OneApiError("no one-api URL: set the url option or the ONEAPI_URL environment variable")
        self.base_url = url.rstrip("/")
        self.username = username or "root"
        self.password = password
        self.access_token = access_token or None
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.session_cookie = None
        self.login_attempts = 0
        self.check_mode = check_mode

    @classmethod
    def from_params(cls, params, check_mode=False):
        return cls(
            params["url"],
            username=params["username"],
            password=params["password"],
            access_token=params.get("access_token"),
            validate_certs=params["validate_certs"],
            timeout=params["timeout"],
            check_mode=check_mode,
        )

    # ---- transport -------------------------------------------------------------------------

    def _open(self, method, path, body=None, auth=True):
        """Send one request; return ``(status, headers, text)``. HTTP errors are returned, not raised."""
        if self.check_mode and method != "GET" and path != "/api/user/login":
            # A safety net behind the modules' own checks: check mode never writes.
            raise OneApiError("internal error: %s %s attempted in check mode" % (method, path))
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if auth:
            if self.access_token and not self.session_cookie:
                headers["Authorization"] = self.access_token
            else:
                self.ensure_login()
                headers["Cookie"] = "session=%s" % self.session_cookie
        url = self.base_url + path
        try:
            resp = open_url(
                url,
                data=data,
                headers=headers,
                method=method,
                validate_certs=self.validate_certs,
                timeout=self.timeout,
                follow_redirects="none",
                use_proxy=False,
            )
            return resp.getcode(), resp.headers, resp.read()
        except HTTPError as exc:
            try:
                text = exc.read()
            except (OSError, AttributeError):
                text = b""
            return exc.code, exc.headers, text
        except (URLError, UrlsConnectionError, OSError) as exc:
            raise OneApiError("cannot reach one-api at %s (%s %s): %s" % (self.base_url, method, path, to_native(exc)))

    def request(self, method, path, body=None, auth=True, envelope=True):
        """Call the API; return ``data`` of a ``success: true`` envelope (or the parsed body if ``envelope`` is False)."""
        status, headers, raw = self._open(method, path, body=body, auth=auth)
        text = to_text(raw or b"", errors="surrogate_or_replace")
        what = "%s %s" % (method, path)
        if status == 429:
            raise OneApiError(
                "one-api rate-limited %s (HTTP 429). The /api limit of v0.6.6 is 180 requests per 3 minutes per "
                "client IP: wait up to 3 minutes and run again." % what
            )
        if status in (301, 302, 307, 308):
            location = headers.get("Location") if headers is not None else None
            raise OneApiError(
                "one-api redirected %s to %s (HTTP %s): the route needs its exact path "
                "(collection routes end with a slash)" % (what, location, status)
            )
        if status in (401, 403):
            raise OneApiError(
                "one-api refused %s (HTTP %s, not logged in or not allowed): %s. Check username/password "
                "(or access_token) and that the user is root or admin." % (what, status, _short(text))
            )
        if status >= 400:
            raise OneApiError("one-api answered %s with HTTP %s: %s" % (what, status, _short(text)))
        try:
            payload = json.loads(text) if text.strip() else None
        except ValueError:
            raise OneApiError(
                "one-api answered %s with a body that is not JSON (HTTP %s): %s" % (what, status, _short(text))
            )
        if not envelope:
            return payload
        if not isinstance(payload, dict) or "success" not in payload:
            raise OneApiError(
                "one-api answered %s without the {success, message, data} envelope (HTTP %s): %s"
                % (what, status, _short(text))
            )
        if payload.get("success") is not True:
            raise OneApiError(
                "one-api refused %s: %s" % (what, payload.get("message") or "success is false, no message")
            )
        return payload.get("data")

    # ---- login ------------------------------------------------------------------------------

    def try_login(self, password):
        """One login attempt. Return ``None`` on success (cookie kept), the server's message on a refused password.

        Raises OneApiError on anything else (HTTP 429 included).
        """
        self.login_attempts += 1
        status, headers, raw = self._open(
            "POST", "/api/user/login", body={"username": self.username, "password": password}, auth=False
        )
        if status == 429:
            raise OneApiError(
                "login as %s was rate-limited by one-api (HTTP 429). %s" % (self.username, LOGIN_LIMIT_TEXT)
            )
        text = to_text(raw or b"", errors="surrogate_or_replace")
        if status != 200:
            raise OneApiError("login as %s failed: HTTP %s %s" % (self.username, status, _short(text)))
        try:
            payload = json.loads(text)
        except ValueError:
            raise OneApiError("login as %s failed: the answer is not JSON: %s" % (self.username, _short(text)))
        if not isinstance(payload, dict) or payload.get("success") is not True:
            message = payload.get("message") if isinstance(payload, dict) else None
            return message or "login refused"
        cookie = self._session_from_headers(headers)
        if not cookie:
            raise OneApiError("login as %s succeeded but one-api set no 'session' cookie" % self.username)
        self.session_cookie = cookie
        return None

    @staticmethod
    def _session_from_headers(headers):
        if headers is None:
            return None
        values = headers.get_all("Set-Cookie") if hasattr(headers, "get_all") else headers.get("Set-Cookie")
        if isinstance(values, str):
            values = [values]
        for value in values or []:
            jar = SimpleCookie()
            try:
                jar.load(value)
            except CookieError:
                continue
            if "session" in jar and jar["session"].value:
                return jar["session"].value
        return None

    def ensure_login(self):
        """Log in once per client (module run); later calls reuse the cookie."""
        if self.session_cookie:
            return
        if self.login_attempts:
            raise OneApiError("login as %s already failed in this run; not trying again" % self.username)
        if not self.password:
            raise OneApiError("no one-api password: set the password option (or ONEAPI_PASSWORD), or access_token")
        refused = self.try_login(self.password)
        if refused is not None:
            raise OneApiError(
                "login as %s failed: %s - if the password was already changed, set the password option "
                "(role variable oneapi_root_password) to the current one" % (self.username, refused)
            )

    # ---- misc ---------------------------------------------------------------------------------

    def get_self(self):
        return self.request("GET", "/api/user/self")

    def set_own_password(self, password):
        return self.request("PUT", "/api/user/self", body={"password": password})

    def get_options(self):
        """Return the options as a dict of strings (keys ending in Token/Secret are hidden by one-api)."""
        data = self.request("GET", "/api/option/") or []
        return dict(
            (to_text(o.get("key")), to_text(o.get("value") if o.get("value") is not None else "")) for o in data
        )

    def set_option(self, key, value):
        return self.request("PUT", "/api/option/", body={"key": key, "value": value})

    # ---- generic collections -------------------------------------------------------------

    def search(self, collection, keyword):
        return self.request("GET", "/api/%s/search?keyword=%s" % (collection, quote(keyword, safe=""))) or []

    def find_by_name(self, collection, name):
        """Exact-name lookup. Search is a prefix (LIKE) match, so filter; fail on duplicates naming the ids."""
        matches = [item for item in self.search(collection, name) if item.get("name") == name]
        if len(matches) > 1:
            ids = sorted(item.get("id") for item in matches)
            raise OneApiError(
                "one-api has %d %ss named %r (ids %s); names are not unique in one-api. Delete or rename the extra ones "
                "so exactly one is left." % (len(matches), collection, name, ", ".join(str(i) for i in ids))
            )
        return matches[0] if matches else None

    # ---- channels ---------------------------------------------------------------------------

    def get_channel(self, channel_id):
        return self.request("GET", "/api/channel/%d" % int(channel_id))

    def create_channel(self, body):
        return self.request("POST", "/api/channel/", body=body)

    def update_channel(self, body):
        return self.request("PUT", "/api/channel/", body=body)

    def delete_channel(self, channel_id):
        return self.request("DELETE", "/api/channel/%d" % int(channel_id))

    def test_channel(self, channel_id):
        """``GET /api/channel/test/:id``: return the whole answer (success, message, time); never raises on success false."""
        payload = self.request("GET", "/api/channel/test/%d" % int(channel_id), envelope=False)
        if not isinstance(payload, dict):
            raise OneApiError(
                "one-api answered the channel test with an unexpected body: %s" % _short(json.dumps(payload))
            )
        return payload

    # ---- tokens ------------------------------------------------------------------------------

    def create_token(self, body):
        return self.request("POST", "/api/token/", body=body)

    def update_token(self, body):
        return self.request("PUT", "/api/token/", body=body)

    def delete_token(self, token_id):
        return self.request("DELETE", "/api/token/%d" % int(token_id))


# ---- the base of every one-api module ----------------------------------------------------------


class OneApiRunner(ModuleRunner):
    """Base of the one-api modules: the connection options and a ``OneApiClient`` built from them."""

    @classmethod
    def connection_options(cls):
        return oneapi_argument_spec()

    def make_client(self):
        return OneApiClient.from_params(self.params, check_mode=self.check_mode)


# ---- helpers shared by the modules (pure functions, unit-tested) -----------------------------


def split_list(value):
    """One-api comma string (or a list) -> list of non-empty names, de-duplicated, order kept. No trimming of
    inner spaces is done by one-api, so only surrounding whitespace is removed here."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    out = []
    for item in value:
        item = to_text(item).strip()
        if item and item not in out:
            out.append(item)
    return out


def join_list(items):
    return ",".join(split_list(items))


def parse_json_object(value, what):
    """A JSON-object string as one-api stores it ("" / null / "{}" = empty) -> dict."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        raise OneApiError("one-api returned a %s that is not JSON: %s" % (what, _short(value)))
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise OneApiError("one-api returned a %s that is not a JSON object: %s" % (what, _short(value)))
    return parsed


def dump_json_object(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if value else ""


def key_fingerprint(key, salt=None):
    """Salted HMAC-SHA256 of a channel key: ``hmac-sha256:<salt hex>:<digest hex>``. Never contains the key."""
    if salt is None:
        salt = os.urandom(16).hex()
    digest = hmac.new(salt.encode("ascii"), to_text(key).encode("utf-8"), hashlib.sha256).hexdigest()
    return "%s:%s:%s" % (FINGERPRINT_PREFIX, salt, digest)


def fingerprint_matches(fingerprint, key):
    """True if ``fingerprint`` (as stored by key_fingerprint) was made from ``key``."""
    if not isinstance(fingerprint, str):
        return False
    parts = fingerprint.split(":")
    if len(parts) != 3 or parts[0] != FINGERPRINT_PREFIX or not parts[1]:
        return False
    try:
        parts[1].encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(key_fingerprint(key, parts[1]), fingerprint)
