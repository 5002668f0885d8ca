# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application: route table and the middleware chain (rate limits, trailing-slash redirects, CORS, auth, NoRoute)."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Optional

from . import channels, relay, tokens, users
from .catalog import ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, USER_DISABLED
from .config import Config
from .gojson import GoStruct, go_json
from .security import RateLimiter, SessionCodec
from .sqlstore import open_store
from .models import now_ts
from .web import Ctx, Response, Route, fail, ok

LOG = logging.getLogger("one-api")
CORS_PREFLIGHT = [
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Allow-Headers", "*"),
    ("Access-Control-Allow-Methods", "GET,POST,PUT,DELETE,OPTIONS"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Max-Age", "43200"),
]
CORS_NORMAL = [("Access-Control-Allow-Credentials", "true"), ("Access-Control-Allow-Origin", "*")]
# router/relay.go: routes that answer controller.RelayNotImplemented after TokenAuth and Distribute
NOT_IMPLEMENTED = (
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/images/variations"),
    ("GET", "/v1/files"),
    ("POST", "/v1/files"),
    ("DELETE", "/v1/files/:id"),
    ("GET", "/v1/files/:id"),
    ("GET", "/v1/files/:id/content"),
    ("POST", "/v1/fine_tuning/jobs"),
    ("GET", "/v1/fine_tuning/jobs"),
    ("GET", "/v1/fine_tuning/jobs/:id"),
    ("POST", "/v1/fine_tuning/jobs/:id/cancel"),
    ("GET", "/v1/fine_tuning/jobs/:id/events"),
    ("DELETE", "/v1/models/:model"),
    ("POST", "/v1/assistants"),
    ("GET", "/v1/assistants/:id"),
    ("POST", "/v1/assistants/:id"),
    ("DELETE", "/v1/assistants/:id"),
    ("GET", "/v1/assistants"),
    ("POST", "/v1/assistants/:id/files"),
    ("GET", "/v1/assistants/:id/files/:fileId"),
    ("DELETE", "/v1/assistants/:id/files/:fileId"),
    ("GET", "/v1/assistants/:id/files"),
    ("POST", "/v1/threads"),
    ("GET", "/v1/threads/:id"),
    ("POST", "/v1/threads/:id"),
    ("DELETE", "/v1/threads/:id"),
    ("POST", "/v1/threads/:id/messages"),
    ("GET", "/v1/threads/:id/messages/:messageId"),
    ("POST", "/v1/threads/:id/messages/:messageId"),
    ("GET", "/v1/threads/:id/messages/:messageId/files/:filesId"),
    ("GET", "/v1/threads/:id/messages/:messageId/files"),
    ("POST", "/v1/threads/:id/runs"),
    ("GET", "/v1/threads/:id/runs/:runsId"),
    ("POST", "/v1/threads/:id/runs/:runsId"),
    ("GET", "/v1/threads/:id/runs"),
    ("POST", "/v1/threads/:id/runs/:runsId/submit_tool_outputs"),
    ("POST", "/v1/threads/:id/runs/:runsId/cancel"),
    ("GET", "/v1/threads/:id/runs/:runsId/steps/:stepId"),
    ("GET", "/v1/threads/:id/runs/:runsId/steps"),
)
# router/api.go routes the stand-in does not implement: they keep their auth, then answer success:false
UNIMPLEMENTED_API = (
    ("GET", "/api/models", "user"),
    ("GET", "/api/verification", ""),
    ("GET", "/api/reset_password", ""),
    ("POST", "/api/user/reset", ""),
    ("GET", "/api/oauth/github", ""),
    ("GET", "/api/oauth/lark", ""),
    ("GET", "/api/oauth/state", ""),
    ("GET", "/api/oauth/wechat", ""),
    ("GET", "/api/oauth/wechat/bind", "user"),
    ("GET", "/api/oauth/email/bind", "user"),
    ("POST", "/api/topup", "admin"),
    ("GET", "/api/user/dashboard", "user"),
    ("GET", "/api/user/aff", "user"),
    ("POST", "/api/user/topup", "user"),
    ("POST", "/api/user/", "admin"),
    ("POST", "/api/user/manage", "admin"),
    ("PUT", "/api/user/", "admin"),
    ("DELETE", "/api/user/:id", "admin"),
    ("GET", "/api/channel/update_balance", "admin"),
    ("GET", "/api/channel/update_balance/:id", "admin"),
    ("GET", "/api/redemption/", "admin"),
    ("GET", "/api/redemption/search", "admin"),
    ("GET", "/api/redemption/:id", "admin"),
    ("POST", "/api/redemption/", "admin"),
    ("PUT", "/api/redemption/", "admin"),
    ("DELETE", "/api/redemption/:id", "admin"),
    ("GET", "/api/log/", "admin"),
    ("DELETE", "/api/log/", "admin"),
    ("GET", "/api/log/stat", "admin"),
    ("GET", "/api/log/self/stat", "user"),
    ("GET", "/api/log/search", "admin"),
    ("GET", "/api/log/self", "user"),
    ("GET", "/api/log/self/search", "user"),
)
CRITICAL_PATHS = ("/api/verification", "/api/reset_password", "/api/user/reset", "/api/oauth/")


def _not_implemented(_app: "OneAPI", _ctx: Ctx) -> Response:
    return fail("lab stand-in: this route is not implemented")


class OneAPI:
    """Routes, middleware and the shared state (store, sessions, limiter, options)."""

    def __init__(self, config: Config):
        self.config = config
        os.makedirs(config.data_dir, exist_ok=True)
        self.store = open_store(config.sqlite_path)
        self.sessions = SessionCodec(config.session_secret)
        self.limiter = RateLimiter()
        self.start_time = now_ts()
        if not self.store.has_users():
            LOG.info("no user exists, creating a root user for you: username is root, password is 123456")
            if config.initial_root_token:
                LOG.info("creating initial root token as requested")
            self.store.create_root(config.initial_root_token)
        self.options = users.Options(self.store)
        if config.memory_cache:  # model.SyncOptions: other nodes' option changes arrive every SYNC_FREQUENCY seconds
            threading.Thread(target=self._sync_options, args=(config.sync_frequency,), daemon=True).start()
        self.relay = relay.Relay(self)
        self.routes = self._routes()

    def _sync_options(self, frequency: int) -> None:
        while True:
            time.sleep(max(frequency, 1))
            try:
                self.options.reload()
            except Exception:  # pylint: disable=broad-exception-caught  # like upstream: log and keep syncing
                LOG.exception("failed to sync options")

    def _routes(self) -> list:
        r = self.relay
        table = [
            Route("GET", "/api/status", users.get_status),
            Route("GET", "/api/notice", lambda app, ctx: ok(app.options.get("Notice"))),
            Route("GET", "/api/about", lambda app, ctx: ok(app.options.get("About"))),
            Route("GET", "/api/home_page_content", lambda app, ctx: ok(app.options.get("HomePageContent"))),
            Route("POST", "/api/user/register", users.register, critical=True),
            Route("POST", "/api/user/login", users.login, critical=True),
            Route("GET", "/api/user/logout", users.logout),
            Route("GET", "/api/user/self", users.get_self, auth="user"),
            Route("PUT", "/api/user/self", users.update_self, auth="user"),
            Route("DELETE", "/api/user/self", users.delete_self, auth="user"),
            Route("GET", "/api/user/token", users.generate_access_token, auth="user"),
            Route("GET", "/api/user/available_models", users.available_models, auth="user"),
            Route("GET", "/api/user/", users.list_users, auth="admin"),
            Route("GET", "/api/user/search", users.search_users, auth="admin"),
            Route("GET", "/api/user/:id", users.get_user, auth="admin"),
            Route("GET", "/api/option/", users.get_options, auth="root"),
            Route("PUT", "/api/option/", users.update_option, auth="root"),
            Route("GET", "/api/channel/", channels.list_channels, auth="admin"),
            Route("GET", "/api/channel/search", channels.search_channels, auth="admin"),
            Route("GET", "/api/channel/models", channels.list_all_models, auth="admin"),
            Route("GET", "/api/channel/:id", channels.get_channel, auth="admin"),
            Route("GET", "/api/channel/test", r.test_all_channels, auth="admin"),
            Route("GET", "/api/channel/test/:id", r.test_channel, auth="admin"),
            Route("POST", "/api/channel/", channels.add_channel, auth="admin"),
            Route("PUT", "/api/channel/", channels.update_channel, auth="admin"),
            Route("DELETE", "/api/channel/disabled", channels.delete_disabled_channels, auth="admin"),
            Route("DELETE", "/api/channel/:id", channels.delete_channel, auth="admin"),
            Route("GET", "/api/token/", tokens.list_tokens, auth="user"),
            Route("GET", "/api/token/search", tokens.search_tokens, auth="user"),
            Route("GET", "/api/token/:id", tokens.get_token, auth="user"),
            Route("POST", "/api/token/", tokens.add_token, auth="user"),
            Route("PUT", "/api/token/", tokens.update_token, auth="user"),
            Route("DELETE", "/api/token/:id", tokens.delete_token, auth="user"),
            Route("GET", "/api/group/", lambda app, ctx: ok(["default", "svip", "vip"]), auth="admin"),
        ]
        table += [
            Route(m, p, _not_implemented, auth=a, critical=p.startswith(CRITICAL_PATHS))
            for m, p, a in UNIMPLEMENTED_API
        ]
        for path in ("/dashboard/billing/subscription", "/v1/dashboard/billing/subscription"):
            table.append(Route("GET", path, r.subscription, auth="token", cors=True))
        for path in ("/dashboard/billing/usage", "/v1/dashboard/billing/usage"):
            table.append(Route("GET", path, r.usage, auth="token", cors=True))
        table += [
            Route("GET", "/v1/models", r.list_models, auth="token", cors=True),
            Route("GET", "/v1/models/:model", r.retrieve_model, auth="token", cors=True),
        ]
        for path in (
            "/v1/completions",
            "/v1/chat/completions",
            "/v1/edits",
            "/v1/embeddings",
            "/v1/engines/:model/embeddings",
            "/v1/moderations",
            "/v1/images/generations",
            "/v1/audio/transcriptions",
            "/v1/audio/translations",
            "/v1/audio/speech",
        ):
            table.append(Route("POST", path, r.relay, auth="token", distribute=True, cors=True))
        table += [Route(m, p, r.not_implemented, auth="token", distribute=True, cors=True) for m, p in NOT_IMPLEMENTED]
        return table

    # --- routing and middleware ---------------------------------------------------------------------------------------
    def find_route(self, method: str, path: str) -> tuple:
        candidates = []
        for route in self.routes:
            if route.method != method:
                continue
            params = route.match(path)
            if params is not None:
                candidates.append((len(params), route, params))
        if candidates:  # static segments win over parameters, like gin's tree
            candidates.sort(key=lambda item: item[0])
            return candidates[0][1], candidates[0][2]
        return None, None

    def dispatch(self, ctx: Ctx) -> Optional[Response]:
        route, params = self.find_route(ctx.method, ctx.path)
        if route is None:
            toggled = ctx.path[:-1] if ctx.path.endswith("/") else ctx.path + "/"
            if ctx.path != "/" and self.find_route(ctx.method, toggled)[0] is not None:
                return self.redirect_trailing_slash(ctx, toggled)
            return self.no_route(ctx)
        ctx.params = params
        if route.cors:
            preflight = self.cors(ctx)
            if preflight is not None:
                return preflight
        api = route.pattern.startswith("/api/") or "/dashboard/" in route.pattern
        if api:
            ctx.gzip = self.wants_gzip(ctx)
            if not self.limiter.request(
                "GA" + ctx.client_ip, self.config.global_api_limit, self.config.global_api_duration
            ):
                return Response(429, b"", content_type="")
            if route.critical and not self.limiter.request(
                "CT" + ctx.client_ip, self.config.critical_limit, self.config.critical_duration
            ):
                return Response(429, b"", content_type="")
        if route.auth == "token":
            denied = self.relay.token_auth(ctx)
            if denied is None and route.distribute:
                denied = self.relay.distribute(ctx)
            if denied is not None:
                return denied
        elif route.auth:
            denied = self.auth(ctx, {"user": ROLE_COMMON, "admin": ROLE_ADMIN, "root": ROLE_ROOT}[route.auth])
            if denied is not None:
                return denied
        return route.handler(self, ctx)

    @staticmethod
    def wants_gzip(ctx: Ctx) -> bool:
        """gin-contrib/gzip shouldCompress."""
        return (
            "gzip" in ctx.headers.get("Accept-Encoding", "")
            and "Upgrade" not in ctx.headers.get("Connection", "")
            and "text/event-stream" not in ctx.headers.get("Accept", "")
            and os.path.splitext(ctx.path)[1] not in (".png", ".gif", ".jpeg", ".jpg")
        )

    @staticmethod
    def cors(ctx: Ctx) -> Optional[Response]:
        """gin-contrib/cors (AllowAllOrigins, AllowCredentials): a preflight ends here with 204."""
        origin = ctx.headers.get("Origin", "")
        host = ctx.headers.get("Host", "")
        if not origin or origin in (f"http://{host}", f"https://{host}"):
            return None
        if ctx.method == "OPTIONS":
            return Response(204, b"", content_type="", headers=list(CORS_PREFLIGHT))
        ctx.extra_headers += CORS_NORMAL
        return None

    @staticmethod
    def redirect_trailing_slash(ctx: Ctx, target: str) -> Response:
        query = ctx.uri.partition("?")[2]
        location = target + ("?" + query if query else "")
        ctx.send_request_id = False
        if ctx.method == "GET":
            body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
            return Response(301, body, "text/html; charset=utf-8", [("Location", location)])
        return Response(307, b"", "", [("Location", location)])

    def no_route(self, ctx: Ctx) -> Response:
        """NoRoute: CORS, gzip, GlobalWebRateLimit, Cache, then RelayNotFound for /api and /v1, else the web page."""
        preflight = self.cors(ctx)
        if preflight is not None:
            return preflight
        ctx.gzip = self.wants_gzip(ctx)
        if not self.limiter.request(
            "GW" + ctx.client_ip, self.config.global_web_limit, self.config.global_web_duration
        ):
            return Response(429, b"", content_type="")
        if ctx.uri.startswith("/v1") or ctx.uri.startswith("/api"):  # middleware.Cache: a week for anything but "/"
            ctx.extra_headers.append(("Cache-Control", "max-age=604800"))
            error = GoStruct(
                message=f"Invalid URL ({ctx.method} {ctx.path})", type="invalid_request_error", param="", code=""
            )
            return Response(404, go_json({"error": error}))
        ctx.extra_headers.append(("Cache-Control", "no-cache"))  # the NoRoute handler overrides it for the web page
        page = (
            b"<!doctype html><html><head><title>One API</title></head><body>one-api v0.6.6 lab stand-in</body></html>"
        )
        return Response(200, page, "text/html; charset=utf-8")

    def auth(self, ctx: Ctx, min_role: int) -> Optional[Response]:
        """middleware/auth.go authHelper: the session cookie first, then the Authorization header as an access token."""
        session = ctx.session or {}
        if session.get("username") is not None:
            user_id, role, status = session.get("id", 0), session.get("role", 0), session.get("status", 0)
            username = session["username"]
        else:
            header = ctx.headers.get("Authorization", "")
            if not header:
                return fail("无权进行此操作，未登录且未提供 access token", 401)
            user = self.store.user_by_access_token(header.replace("Bearer ", "", 1))
            if user is None or not user["username"]:
                return fail("无权进行此操作，access token 无效")
            user_id, role, status, username = user["id"], user["role"], user["status"], user["username"]
        if status == USER_DISABLED:
            ctx.set_cookies.append(self.sessions.encode({}))
            return fail("用户已被封禁")
        if role < min_role:
            return fail("无权进行此操作，权限不足")
        ctx.user_id, ctx.role, ctx.username = user_id, role, username
        return None
