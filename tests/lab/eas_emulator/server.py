# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP server (ThreadingHTTPServer) and command line of the PAI-EAS lab emulator."""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .common import DEFAULT_REGION, Request, as_bool
from .lab import Emulator
from .persist import StateFileError
from .state import Settings


class EmulatorHandler(BaseHTTPRequestHandler):
    """Thin HTTP adapter: parse, call ``Emulator.dispatch``, write JSON / text / chunked SSE."""

    protocol_version = 'HTTP/1.1'
    server_version = 'EASLabEmulator/1.0'

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self._read_body(headers)
        req = Request(self.command, parts.path, query, headers, body)
        response = self.server.emulator.dispatch(req)
        if response.drop:
            self._reset_connection()
            return
        self.send_response(response.status)
        self.send_header('Content-Type', response.content_type)
        for key, value in response.headers.items():
            self.send_header(key, value)
        try:
            if response.stream is None:
                self.send_header('Content-Length', str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
                return
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for chunk in response.stream:
                self.wfile.write(f'{len(chunk):x}\r\n'.encode() + chunk + b'\r\n')
                self.wfile.flush()
            self.wfile.write(b'0\r\n\r\n')
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _reset_connection(self) -> None:
        """No answer: close with SO_LINGER 0, so the client gets a TCP RST (connection reset by peer)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
        self.connection.close()

    def _read_body(self, headers: dict) -> bytes:
        if 'chunked' in headers.get('transfer-encoding', '').lower():
            body = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        try:
            length = int(headers.get('content-length') or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b''

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.emulator.settings.verbose:
            sys.stderr.write(f'{self.address_string()} - {format % args}\n')


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, settings: Settings):
        super().__init__(address, EmulatorHandler)
        if not settings.public_url:
            settings.public_url = f'http://127.0.0.1:{self.server_address[1]}'
        self.emulator = Emulator(settings)
        self.listening = True
        self.running = False
        self.connections: set = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def _sync_listening(self) -> None:
        """Close the listening socket while an outage refuses connections; reopen it on the same address after."""
        outage = self.emulator.outage
        refusing = outage.refusing(time.time())
        if refusing and self.listening:
            self.socket.close()
            self.listening = False
            # the process is "gone": open keep-alive connections end (their next read sees EOF), so a client's pool
            # opens new connections, which are refused
            with self.connections_lock:
                for conn in list(self.connections):
                    try:
                        conn.shutdown(socket.SHUT_RD)
                    except OSError:
                        pass
        elif not refusing and not self.listening:
            self.socket = socket.socket(self.address_family, self.socket_type)
            try:
                self.server_bind()
                self.server_activate()
            except OSError as exc:  # the port is taken meanwhile: try again on the next turn
                self.socket.close()
                sys.stderr.write(f'eas-emulator: cannot listen again on {self.server_address}: {exc}\n')
                return
            self.listening = True
        outage.socket_synced.set()

    def serve(self, poll_interval: float = 0.1) -> None:
        """``serve_forever`` that can stop listening for a ``refuse`` outage (``POST /_lab/outage``)."""
        self.running = True
        while self.running:
            self._sync_listening()
            if not self.listening:
                time.sleep(poll_interval)
                continue
            ready, _unused, _unused = select.select([self.socket], [], [], poll_interval)
            if ready:
                self._handle_request_noblock()
            self.service_actions()


def _env(name: str, default):
    return os.environ.get(f'EAS_EMULATOR_{name}', default)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='PAI-EAS 2021-07-01 emulator for the llmops.eas_stack lab.')
    parser.add_argument(
        '--host', default=_env('HOST', '127.0.0.1'), help='bind address (EAS_EMULATOR_HOST, default 127.0.0.1)'
    )
    parser.add_argument(
        '--port',
        type=int,
        default=int(_env('PORT', '8080')),
        help='port, 0 = any free port (EAS_EMULATOR_PORT, default 8080)',
    )
    parser.add_argument(
        '--region',
        default=_env('REGION', DEFAULT_REGION),
        help='region = the only accepted ClusterId (EAS_EMULATOR_REGION)',
    )
    parser.add_argument(
        '--public-url',
        default=_env('PUBLIC_URL', ''),
        help='base URL of service endpoints (EAS_EMULATOR_PUBLIC_URL, default http://127.0.0.1:PORT)',
    )
    parser.add_argument(
        '--service-ready-seconds',
        type=float,
        default=float(_env('SERVICE_READY_SECONDS', '6')),
        help='create/start/update time of a service (EAS_EMULATOR_SERVICE_READY_SECONDS)',
    )
    parser.add_argument(
        '--resource-ready-seconds',
        type=float,
        default=float(_env('RESOURCE_READY_SECONDS', '4')),
        help='time for a node to become Ready (EAS_EMULATOR_RESOURCE_READY_SECONDS)',
    )
    parser.add_argument(
        '--gateway-warmup-seconds',
        type=float,
        default=float(_env('GATEWAY_WARMUP_SECONDS', '2')),
        help='503 no healthy upstream this long after Running (EAS_EMULATOR_GATEWAY_WARMUP_SECONDS)',
    )
    parser.add_argument(
        '--seed', type=int, default=int(_env('SEED', '0')), help='seed for fault ratios below 1 (EAS_EMULATOR_SEED)'
    )
    parser.add_argument(
        '--state-file',
        default=_env('STATE_FILE', ''),
        help='load the state from this file at start and save it after every change (EAS_EMULATOR_STATE_FILE)',
    )
    parser.add_argument(
        '--verbose', action='store_true', default=as_bool(_env('VERBOSE', '')), help='log every HTTP request to stderr'
    )
    return parser


def main(argv: list | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    settings = Settings(
        region=args.region,
        public_url=args.public_url.rstrip('/'),
        service_ready_seconds=args.service_ready_seconds,
        resource_ready_seconds=args.resource_ready_seconds,
        gateway_warmup_seconds=args.gateway_warmup_seconds,
        seed=args.seed,
        verbose=args.verbose,
        state_file=args.state_file,
    )
    try:
        server = EmulatorServer((args.host, args.port), settings)
    except StateFileError as exc:
        print(f'eas-emulator: {exc}', file=sys.stderr, flush=True)
        return 2

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    state = ''
    if settings.state_file:
        restored = 'restored' if server.emulator.restored else 'new'
        state = f' state_file={server.emulator.state_file.path} ({restored})'
    print(
        f'eas-emulator listening on http://{args.host}:{server.server_address[1]} region={settings.region} '
        f'public_url={settings.public_url}{state}',
        flush=True,
    )
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
