# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request context, responses, routes and the answer shapes one-api uses (gin.H envelopes, relay errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .gojson import GoStruct, go_json

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list = field(default_factory=list)


def envelope(status: int = 200, **fields_: Any) -> Response:
    return Response(status, go_json(fields_))


def ok(data: Any = None, with_data: bool = True) -> Response:
    return envelope(success=True, message="", data=data) if with_data else envelope(success=True, message="")


def fail(message: str, status: int = 200) -> Response:
    return envelope(status, success=False, message=message)


def relay_error(
    status: int,
    message: str,
    request_id: str,
    error_type: str = "one_api_error",
    code: Any = None,
    param: str = "",
    full: bool = True,
) -> Response:
    """full=True: a relay/model.Error struct (message, type, param, code); False: middleware abortWithMessage (message, type)."""
    text = f"{message} (request id: {request_id})"
    error = (
        GoStruct(message=text, type=error_type, param=param, code=code)
        if full
        else {"message": text, "type": error_type}
    )
    return Response(status, go_json({"error": error}))


def atoi_error(text: str) -> str:
    """strconv.Atoi's error text."""
    return f'strconv.Atoi: parsing "{text}": invalid syntax'


def atoi(text: str) -> Optional[int]:
    """strconv.Atoi: an optional sign and decimal digits, else None."""
    digits = text[1:] if text[:1] in "+-" else text
    return int(text) if digits.isdigit() and digits.isascii() else None


@dataclass
class Ctx:  # pylint: disable=too-many-instance-attributes
    """One request: what handlers read, plus the identity filled in by auth."""

    handler: Any
    method: str
    path: str
    uri: str
    query: dict
    headers: Any
    body: bytes
    client_ip: str
    request_id: str
    params: dict = field(default_factory=dict)
    session: Optional[dict] = None
    user_id: int = 0
    role: int = 0
    username: str = ""
    set_cookies: list = field(default_factory=list)
    extra_headers: list = field(default_factory=list)
    send_request_id: bool = True
    gzip: bool = False
    streamed: bool = False
    # filled by TokenAuth / Distribute on relay routes
    token: Optional[dict] = None
    request_model: str = ""
    available_models: str = ""
    specific_channel: Optional[str] = None
    group: str = "default"
    channel: Optional[dict] = None
    relay_response: Optional[Response] = None

    def query_int(self, name: str) -> int:
        """strconv.Atoi with the error ignored, then negative pages become 0 (controller paging)."""
        return max(atoi(self.query.get(name, "")) or 0, 0)

    def param_id(self, name: str = "id") -> Optional[int]:
        return atoi(self.params.get(name, ""))


@dataclass
class Route:
    method: str
    pattern: str
    handler: Callable[[Ctx], Optional[Response]]
    auth: str = ""  # "", "user", "admin", "root" (management) or "token" (relay)
    critical: bool = False  # CriticalRateLimit
    distribute: bool = False
    cors: bool = False  # registered after router.Use(middleware.CORS()): the /v1 routes

    def match(self, path: str) -> Optional[dict]:
        want_parts = self.pattern.split("/")
        parts = path.split("/")
        if len(parts) != len(want_parts):
            return None
        params = {}
        for want, got in zip(want_parts, parts):
            if want.startswith(":"):
                if not got:
                    return None
                params[want[1:]] = got
            elif want != got:
                return None
        return params
