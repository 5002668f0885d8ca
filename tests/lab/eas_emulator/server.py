# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP server (ThreadingHTTPServer) and command line of the PAI-EAS lab emulator."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .common import DEFAULT_REGION, Request, as_bool
from .lab import Emulator
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
    )
    server = EmulatorServer((args.host, args.port), settings)

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(
        f'eas-emulator listening on http://{args.host}:{server.server_address[1]} region={settings.region} public_url={settings.public_url}',
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
