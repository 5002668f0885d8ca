# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Status, users (login, self, access token, register) and options (controller/misc.go, user.go, option.go)."""

from __future__ import annotations

import random
import sqlite3
import threading

from .catalog import (
    DEFAULT_OPTIONS,
    ITEMS_PER_PAGE,
    MODEL_RATIO_JSON,
    PASSWORD_SENTINEL,
    RATIO_OPTIONS,
    ROLE_COMMON,
    ROLE_ROOT,
    USER_ENABLED,
    VERSION,
    parse_ratio,
)
from .gojson import BindError, GoStruct, go_bind, go_decode
from .models import (
    LOGIN_FIELDS,
    OPTION_FIELDS,
    USER_FIELDS,
    check_password,
    generate_key,
    hash_password,
    new_uuid,
    user_json,
    validate_user,
)
from .store import NotFound
from .web import Ctx, Response, atoi_error, fail, ok

VALID_THEMES = ("default", "berry", "air")


class Options:
    """config.OptionMap and the config variables it drives (model/option.go updateOptionMap)."""

    def __init__(self, store):
        self.store = store
        self.lock = threading.Lock()
        self.values = dict(DEFAULT_OPTIONS)
        self.values["ServerAddress"] = ""
        self.server_address = "http://localhost:3000"  # config.ServerAddress until the option is written
        self.model_ratio, _error = parse_ratio(MODEL_RATIO_JSON)
        self.default_model_ratio = dict(self.model_ratio)
        self.group_ratio = {"default": 1, "vip": 1, "svip": 1}
        self.completion_ratio: dict = {}
        for key, value in store.options().items():
            self._apply(key, value)

    def get(self, key: str) -> str:
        with self.lock:
            return self.values.get(key, "")

    def enabled(self, key: str) -> bool:
        return self.get(key) == "true"

    def _apply(self, key: str, value: str):
        with self.lock:
            self.values[key] = value
            if key == "ServerAddress":
                self.server_address = value
            if key in RATIO_OPTIONS:
                parsed, error = parse_ratio(value)
                setattr(
                    self,
                    {"ModelRatio": "model_ratio", "GroupRatio": "group_ratio", "CompletionRatio": "completion_ratio"}[
                        key
                    ],
                    parsed,
                )
                return error
        return None

    def reload(self) -> None:
        """model.loadOptionsFromDatabase (SyncOptions): the stored options applied again."""
        for key, value in self.store.options().items():
            self._apply(key, value)

    def update(self, key: str, value: str):
        """model.UpdateOption: saved first, then applied; a bad ratio JSON is kept and reported."""
        self.store.save_option(key, value)
        return self._apply(key, value)

    def listing(self) -> list:
        """GET /api/option/: Go map order (random), keys ending in Token or Secret left out."""
        with self.lock:
            items = [
                GoStruct(key=k, value=v)
                for k, v in self.values.items()
                if not (k.endswith("Token") or k.endswith("Secret"))
            ]
        random.shuffle(items)
        return items

    def model_ratio_of(self, name: str) -> float:
        """GetModelRatio: the option's map, then the built-in defaults, else 30."""
        if name.startswith(("qwen-", "command-")) and name.endswith("-internet"):
            name = name[: -len("-internet")]
        with self.lock:
            if name in self.model_ratio:
                return self.model_ratio[name]
            return self.default_model_ratio.get(name, 30)

    def int_value(self, key: str) -> int:
        try:
            return int(self.get(key))
        except ValueError:
            return 0


# ---- misc --------------------------------------------------------------------------------------------------------------


def get_status(app, _ctx: Ctx) -> Response:
    opt = app.options
    try:
        quota_per_unit = float(opt.get("QuotaPerUnit") or 0)
    except ValueError:
        quota_per_unit = 0.0
    data = {
        "version": VERSION,
        "start_time": app.start_time,
        "email_verification": opt.enabled("EmailVerificationEnabled"),
        "github_oauth": opt.enabled("GitHubOAuthEnabled"),
        "github_client_id": opt.get("GitHubClientId"),
        "lark_client_id": opt.get("LarkClientId"),
        "system_name": opt.get("SystemName"),
        "logo": opt.get("Logo"),
        "footer_html": opt.get("Footer"),
        "wechat_qrcode": opt.get("WeChatAccountQRCodeImageURL"),
        "wechat_login": opt.enabled("WeChatAuthEnabled"),
        "server_address": opt.server_address,
        "turnstile_check": opt.enabled("TurnstileCheckEnabled"),
        "turnstile_site_key": opt.get("TurnstileSiteKey"),
        "top_up_link": opt.get("TopUpLink"),
        "chat_link": opt.get("ChatLink"),
        "quota_per_unit": quota_per_unit,
        "display_in_currency": opt.enabled("DisplayInCurrencyEnabled"),
    }
    return ok(data)


# ---- users -------------------------------------------------------------------------------------------------------------


def login(app, ctx: Ctx) -> Response:
    if not app.options.enabled("PasswordLoginEnabled"):
        return fail("管理员关闭了密码登录")
    try:
        doc = go_bind(ctx.body, LOGIN_FIELDS, "controller.LoginRequest")
    except BindError:
        return fail("无效的参数")
    username, password = doc.get("username", ""), doc.get("password", "")
    if not username or not password:
        return fail("无效的参数")
    try:
        user = app.store.user_for_login(username)
    except NotFound:
        return fail("用户名或密码错误，或用户已被封禁")
    if not check_password(password, user["password"]) or user["status"] != USER_ENABLED:
        return fail("用户名或密码错误，或用户已被封禁")
    ctx.set_cookies.append(
        app.sessions.encode(
            {"id": user["id"], "username": user["username"], "role": user["role"], "status": user["status"]}
        )
    )
    clean = user_json(
        {
            "id": user["id"],
            "username": user["username"],
            "display_name": user["display_name"],
            "role": user["role"],
            "status": user["status"],
        }
    )
    return ok(clean)


def logout(app, ctx: Ctx) -> Response:
    ctx.set_cookies.append(app.sessions.encode({}))
    return ok(with_data=False)


def register(app, ctx: Ctx) -> Response:
    if not app.options.enabled("RegisterEnabled"):
        return fail("管理员关闭了新用户注册")
    if not app.options.enabled("PasswordRegisterEnabled"):
        return fail("管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册")
    try:
        doc = go_bind(ctx.body, USER_FIELDS, "model.User")
    except BindError:
        return fail("无效的参数")
    problem = validate_user(doc)
    if problem:
        return fail("输入不合法 " + problem)
    try:
        app.store.insert_user(
            {
                "username": doc.get("username", ""),
                "password": hash_password(doc.get("password", "")),
                "display_name": doc.get("username", ""),
                "role": ROLE_COMMON,
                "status": USER_ENABLED,
                "quota": app.options.int_value("QuotaForNewUser"),
                "access_token": new_uuid(),
                "aff_code": generate_key()[:4],
            }
        )
    except sqlite3.IntegrityError as exc:
        return fail(str(exc))
    return ok(with_data=False)


def get_self(app, ctx: Ctx) -> Response:
    try:
        return ok(user_json(app.store.user(ctx.user_id)))
    except NotFound as exc:
        return fail(str(exc))


def update_self(app, ctx: Ctx) -> Response:
    try:
        doc = go_bind(ctx.body, USER_FIELDS, "model.User")
    except BindError:
        return fail("无效的参数")
    if not doc.get("password"):
        doc["password"] = PASSWORD_SENTINEL
    problem = validate_user(doc)
    if problem:
        return fail("输入不合法 " + problem)
    changes = {name: doc[name] for name in ("username", "display_name") if doc.get(name)}
    if doc["password"] != PASSWORD_SENTINEL:
        changes["password"] = hash_password(doc["password"])
    try:
        app.store.update_user(ctx.user_id, changes)
    except sqlite3.IntegrityError as exc:
        return fail(str(exc))
    return ok(with_data=False)


def delete_self(app, ctx: Ctx) -> Response:
    try:
        user = app.store.user(ctx.user_id)
    except NotFound:
        user = {"role": 0}
    if user["role"] == ROLE_ROOT:
        return fail("不能删除超级管理员账户")
    return fail("lab stand-in: deleting users is not implemented")


def list_users(app, ctx: Ctx) -> Response:
    """GetAllUsers: 10 per page, without passwords, ordered by id (or quota, used_quota, request_count) descending."""
    rows = app.store.users_page(ctx.query_int("p") * ITEMS_PER_PAGE, ITEMS_PER_PAGE, ctx.query.get("order", ""))
    return ok([user_json(row) for row in rows])


def search_users(app, ctx: Ctx) -> Response:
    return ok([user_json(row) for row in app.store.search_users(ctx.query.get("keyword", ""))])


def get_user(app, ctx: Ctx) -> Response:
    user_id = ctx.param_id()
    if user_id is None:
        return fail(atoi_error(ctx.params["id"]))
    if user_id == 0:
        return fail("id 为空！")
    try:
        user = app.store.user(user_id)
    except NotFound as exc:
        return fail(str(exc))
    if ctx.role <= user["role"] and ctx.role != ROLE_ROOT:
        return fail("无权获取同级或更高等级用户的信息")
    return ok(user_json(user))


def generate_access_token(app, ctx: Ctx) -> Response:
    access_token = new_uuid()
    app.store.update_user(ctx.user_id, {"access_token": access_token})
    return ok(access_token)


def available_models(app, ctx: Ctx) -> Response:
    return ok(app.store.group_models(app.store.user(ctx.user_id)["group"]))


# ---- options -----------------------------------------------------------------------------------------------------------


def get_options(app, _ctx: Ctx) -> Response:
    return ok(app.options.listing())


def update_option(app, ctx: Ctx) -> Response:
    try:
        doc = go_bind(ctx.body, OPTION_FIELDS, "model.Option")
    except BindError:
        return fail("无效的参数", 400)
    key, value = doc.get("key", ""), doc.get("value", "")
    opt = app.options
    checks = {
        "Theme": (value not in VALID_THEMES, "无效的主题"),
        "GitHubOAuthEnabled": (
            value == "true" and not opt.get("GitHubClientId"),
            "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！",
        ),
        # config.EmailDomainWhitelist is strings.Split(value, ","): never empty, so this check never refuses
        "WeChatAuthEnabled": (
            value == "true" and not opt.get("WeChatServerAddress"),
            "无法启用微信登录，请先填入微信登录相关配置信息！",
        ),
        "TurnstileCheckEnabled": (
            value == "true" and not opt.get("TurnstileSiteKey"),
            "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！",
        ),
    }
    refused, message = checks.get(key, (False, ""))
    if refused:
        return fail(message)
    error = opt.update(key, value)
    if error is not None:
        return fail(go_ratio_error(value, error))
    return ok(with_data=False)


def go_ratio_error(value: str, error: Exception) -> str:
    """The json.Unmarshal error for a ratio option, in Go's words."""
    try:
        go_decode(value.encode(), "unmarshal")
    except BindError as exc:
        return str(exc)
    return str(error)
