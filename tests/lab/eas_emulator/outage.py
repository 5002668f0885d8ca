# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An API outage that keeps state: ``POST /_lab/outage {"seconds": N, "mode": ..., "data_plane": false}``.

For N seconds every control-plane request (and data-plane request with ``data_plane``) is answered like a gateway
in trouble, while the emulated cloud keeps its state and its clocks:

- ``html503``: HTTP 503 with the HTML page of an nginx/Tengine gateway (``Content-Type: text/html``);
- ``reset``: the request is read, then the connection is reset (TCP RST) without an answer;
- ``refuse``: the listening socket is closed, so new connections are refused (``ECONNREFUSED``), and requests on
  connections that are already open are reset; it reopens by itself after N seconds. Nothing answers meanwhile, not
  even ``/_lab``.

``/_lab`` endpoints are never affected by ``html503`` and ``reset``.
"""

from __future__ import annotations

import threading
import time

from .common import ApiError, Request, Response, as_bool

MODES = ('html503', 'reset', 'refuse')
MAX_SECONDS = 3600

GATEWAY_503_PAGE = (
    '<html>\r\n'
    '<head><title>503 Service Temporarily Unavailable</title></head>\r\n'
    '<body>\r\n'
    '<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n'
    '<hr><center>Tengine</center>\r\n'
    '</body>\r\n'
    '</html>\r\n'
)


class Outage:
    """The outage window. ``socket_synced`` is set by the server loop once the listening socket matches ``refuse``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = ''
        self.until = 0.0
        self.seconds = 0.0
        self.data_plane = False
        self.socket_synced = threading.Event()
        self.socket_synced.set()

    def set(self, data: dict, now: float) -> dict:
        unknown = sorted(set(data) - {'seconds', 'mode', 'data_plane'})
        if unknown:
            raise ApiError(400, 'InvalidParameter', f'Unknown outage fields: {", ".join(unknown)}.')
        seconds = data.get('seconds')
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= MAX_SECONDS:
            raise ApiError(400, 'InvalidParameter', f'seconds must be a number in (0, {MAX_SECONDS}].')
        mode = data.get('mode', 'html503')
        if mode not in MODES:
            raise ApiError(400, 'InvalidParameter', f'mode must be one of {", ".join(MODES)}.')
        with self.lock:
            self.mode, self.seconds, self.until = mode, float(seconds), now + float(seconds)
            self.data_plane = as_bool(data.get('data_plane'))
            if mode == 'refuse':
                self.socket_synced.clear()
        return self.view(now)

    def clear(self) -> None:
        with self.lock:
            self.mode, self.until = '', 0.0

    def current(self, now: float) -> str:
        with self.lock:
            return self.mode if self.mode and now < self.until else ''

    def applies(self, now: float, data_plane: bool) -> str:
        """The mode that answers this request ('' when none); ``refuse`` takes the whole port down, both planes."""
        mode = self.current(now)
        if mode and data_plane and not self.data_plane and mode != 'refuse':
            return ''
        return mode

    def refusing(self, now: float) -> bool:
        return self.current(now) == 'refuse'

    def view(self, now: float) -> dict:
        mode = self.current(now)
        with self.lock:
            return {
                'active': bool(mode),
                'mode': mode,
                'seconds': self.seconds if mode else 0,
                'remaining_seconds': round(max(self.until - now, 0.0), 3) if mode else 0,
                'data_plane': self.data_plane if mode else False,
            }


def outage_response(mode: str) -> Response:
    if mode == 'html503':
        return Response(503, GATEWAY_503_PAGE.encode(), 'text/html', code='')
    return Response(0, drop=True)


def lab_get_outage(outage: Outage, _req: Request) -> Response:
    return Response.json(200, outage.view(time.time()))


def lab_set_outage(outage: Outage, req: Request) -> Response:
    view = outage.set(req.json_body(required=True), time.time())
    if view['mode'] == 'refuse':
        outage.socket_synced.wait(2.0)  # the server loop closes the listening socket before this answer goes out
    return Response.json(200, view)


def lab_clear_outage(outage: Outage, _req: Request) -> Response:
    outage.clear()
    return Response.json(200, outage.view(time.time()))
