# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The environment of the real service (``service/src/chatgpt/index.ts`` and the middlewares), read once at
start-up like the Node module, with the same defaults and the same treatment of empty strings."""

from __future__ import annotations

import datetime
import math
import re
import urllib.parse

from .jsutil import js_number, js_parse_int, not_empty

DEFAULT_MODEL = "gpt-3.5-turbo"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_USAGE_BASE_URL = "https://api.openai.com"
DEFAULT_TIMEOUT_MS = 100 * 1000
# setTimeout's limit: a longer delay is replaced by 1 ms (Node prints a TimeoutOverflowWarning)
MAX_TIMER_MS = 2**31 - 1
FLAVORS = ("v2.11.1", "main")


def model_budget(model, flavor):
    """(maxModelTokens, maxResponseTokens) chosen from the model name."""
    name = model.lower()
    if "gpt-4" in name:
        if "32k" in name:
            return 32768, 8192
        if flavor == "main":
            if "-4o-mini" in name:
                return 128000, 16384
            if re.search(r"-preview|-turbo|o", name):
                return 128000, 4096
        return 8192, 2048
    if "gpt-3.5" in name:
        if "16k" in name or (flavor == "main" and ("1106" in name or "0125" in name)):
            return 16384, 4096
    return 4000, 1000


def api_base_url(env_value, flavor):
    """``apiBaseUrl`` of the chatgpt client: how ``OPENAI_API_BASE_URL`` becomes the request prefix."""
    if not not_empty(env_value):
        return DEFAULT_BASE_URL
    if flavor == "main" and "/v1" in env_value:
        return env_value
    return env_value + "/v1"


def default_system_message():
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return (
        "You are ChatGPT, a large language model trained by OpenAI. Answer as concisely as possible.\n"
        "Knowledge cutoff: 2021-09-01\nCurrent date: " + today
    )


class ProxyConfig:
    """``setupProxy``: SOCKS (host and port both non-empty) first, else ``HTTPS_PROXY || ALL_PROXY`` through
    https-proxy-agent v5 (CONNECT for every target, plain http ones too), else a direct connection.
    Lowercase variants, ``HTTP_PROXY`` and ``NO_PROXY`` are not read."""

    def __init__(self, kind, host=None, port=None, secure=False, auth=None, path=None, raw=None):
        self.kind = kind  # "direct", "http" or "socks"
        self.host = host
        self.port = port
        self.secure = secure  # https:// proxy: TLS to the proxy itself
        self.auth = auth  # (user, password) for SOCKS5, "user:pass" for the HTTP proxy
        self.path = path  # url.parse left no host: node connects to a local socket of that name
        self.raw = raw

    @classmethod
    def from_environ(cls, environ):
        socks_host, socks_port = environ.get("SOCKS_PROXY_HOST"), environ.get("SOCKS_PROXY_PORT")
        if not_empty(socks_host) and not_empty(socks_port):
            user, password = environ.get("SOCKS_PROXY_USERNAME"), environ.get("SOCKS_PROXY_PASSWORD")
            auth = None
            if not_empty(user) or not_empty(password):
                auth = (user if not_empty(user) else None, password if not_empty(password) else None)
            return cls(
                "socks", socks_host, js_parse_int(socks_port) or 0, auth=auth, raw="%s:%s" % (socks_host, socks_port)
            )
        if not_empty(environ.get("HTTPS_PROXY")) or not_empty(environ.get("ALL_PROXY")):
            value = environ.get("HTTPS_PROXY") or environ.get("ALL_PROXY")
            return cls.parse_http_proxy(value)
        return cls("direct")

    @classmethod
    def parse_http_proxy(cls, value):
        """Node's legacy ``url.parse`` as https-proxy-agent v5 applies it to the proxy string."""
        match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*:)?(//)?(.*)$", value.strip())
        protocol, slashes, rest = match.group(1), match.group(2), match.group(3)
        if protocol and not slashes and protocol.lower() not in ("http:", "https:"):
            # "host:port" parses as protocol "host:" and host "port" (a number that inet_aton may accept)
            slashes = "//"
        if not protocol or not slashes:
            return cls("http", None, None, path=value, raw=value)
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        auth = None
        if "@" in authority:
            auth, authority = authority.rsplit("@", 1)
            auth = urllib.parse.unquote(auth)
        host, port = authority, None
        bracketed = re.match(r"^\[([^\]]*)\](?::(\d*))?$", authority)
        if bracketed:
            host, port = bracketed.group(1), bracketed.group(2)
        elif authority.count(":") == 1:
            host, port = authority.split(":")
        secure = protocol.lower() == "https:"
        port_number = int(port) if port else (443 if secure else 80)
        return cls("http", host.lower(), port_number, secure=secure, auth=auth, raw=value)


class Settings:
    """Environment of the real service, read once at start-up like the Node module."""

    def __init__(self, environ):
        self.flavor = environ.get("CHATGPT_WEB_STANDIN_FLAVOR") or "v2.11.1"
        if self.flavor not in FLAVORS:
            raise ValueError("CHATGPT_WEB_STANDIN_FLAVOR must be one of %s" % ", ".join(FLAVORS))
        self.api_key = environ.get("OPENAI_API_KEY")
        self.access_token = environ.get("OPENAI_ACCESS_TOKEN")
        if not not_empty(self.api_key) and not not_empty(self.access_token):
            raise ValueError("Missing OPENAI_API_KEY or OPENAI_ACCESS_TOKEN environment variable")
        self.api_mode = "ChatGPTAPI" if not_empty(self.api_key) else "ChatGPTUnofficialProxyAPI"
        self.base_url_env = environ.get("OPENAI_API_BASE_URL")
        self.api_base_url = api_base_url(self.base_url_env, self.flavor)
        model = environ.get("OPENAI_API_MODEL")
        self.model = model if not_empty(model) else DEFAULT_MODEL
        self.max_model_tokens, self.max_response_tokens = model_budget(self.model, self.flavor)
        self.debug = environ.get("OPENAI_API_DISABLE_DEBUG") != "true"
        timeout = js_number(environ.get("TIMEOUT_MS"))
        self.timeout_ms = DEFAULT_TIMEOUT_MS if timeout is None else timeout
        self.reverse_proxy = environ.get("API_REVERSE_PROXY")
        self.proxy = ProxyConfig.from_environ(environ)
        # /config shows (HTTPS_PROXY || ALL_PROXY) ?? '-': an empty ALL_PROXY shows as "", an unset one as "-"
        https_proxy = environ.get("HTTPS_PROXY") or environ.get("ALL_PROXY")
        self.https_proxy_shown = "-" if https_proxy is None else https_proxy
        socks_host, socks_port = environ.get("SOCKS_PROXY_HOST"), environ.get("SOCKS_PROXY_PORT")
        self.socks_proxy_shown = "%s:%s" % (socks_host, socks_port) if socks_host and socks_port else "-"
        raw_max = environ.get("MAX_REQUEST_PER_HOUR")
        self.max_request_per_hour = 0
        if not_empty(raw_max) and js_number(raw_max) is not None:
            self.max_request_per_hour = js_parse_int(raw_max) or 0
        self.environ = environ

    def auth_secret_key(self):
        # Read per request, like the middleware (process.env.AUTH_SECRET_KEY).
        return self.environ.get("AUTH_SECRET_KEY")

    def timeout_plan(self):
        """How ``sendMessage`` + p-timeout treat TIMEOUT_MS: ("none"|"error"|"limit", seconds or message)."""
        value = self.timeout_ms
        if not value or (isinstance(value, float) and math.isnan(value)):
            return "none", None  # 0 or "": no timeout at all
        if value < 0:
            shown = int(value) if float(value).is_integer() else value
            if math.isinf(value):
                shown = "-Infinity"
            return "error", "Expected `milliseconds` to be a positive number, got `%s`" % shown
        if math.isinf(value):
            return "none", None
        delay = value if value <= MAX_TIMER_MS else 1
        return "limit", max(delay, 1) / 1000.0
