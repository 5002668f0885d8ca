# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small HTTP(S) client for the front door's test: what curl --resolve and --tlsv1.x would show, as JSON.

    python3 probe.py [--connect ADDRESS] [--ca FILE] tls URL
    python3 probe.py [--connect ADDRESS] [--ca FILE] request URL [--method M] [--header 'Name: value'] [--json BODY]
                     [--basic USER:PASSWORD]
    python3 probe.py [--connect ADDRESS] [--ca FILE] repeat N URL [same options as request]

--connect ADDRESS sends the connection to ADDRESS (the URL's port is kept) while the URL's host name is used for the
TLS server name, the certificate check and the Host header, so names that do not resolve (api.localhost on glibc) can
be tested. `tls` tries each TLS version alone and says which the server accepts, and whether its certificate
verifies against --ca. `request` reads the answer as it arrives and reports every read with its time, so a
buffered stream (one burst at the end) and a streamed one (reads spread over time) can be told apart. `repeat`
sends the same request N times and reports the status and the last line of each body. Standard library only (the
lab's base image runs it too).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.parse
import warnings

# TLS 1.0 and 1.1 are deprecated in Python's ssl module; offering them is the point of the `tls` command.
warnings.filterwarnings('ignore', category=DeprecationWarning)

VERSIONS = {
    'tls1.0': ssl.TLSVersion.TLSv1,
    'tls1.1': ssl.TLSVersion.TLSv1_1,
    'tls1.2': ssl.TLSVersion.TLSv1_2,
    'tls1.3': ssl.TLSVersion.TLSv1_3,
}


def context(ca, version=None):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if version is not None:
        # Old versions need the lowest security level to be offered at all (OpenSSL 3 refuses them otherwise).
        ctx.set_ciphers('ALL:@SECLEVEL=0')
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


class Connection(http.client.HTTPSConnection):
    """HTTPS to --connect's address, with the URL's host name for SNI, the certificate and Host."""

    def __init__(self, host, port, address, ctx, timeout):
        super().__init__(host, port, context=ctx, timeout=timeout)
        self._address = address
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((self._address or self.host, self.port), self.timeout)
        # No Nagle delay on small writes (the request after the handshake), as browsers and curl.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


class PlainConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address or self.host, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def open_connection(url, args, ctx=None):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == 'https':
        port = parts.port or 443
        return Connection(parts.hostname, port, args.connect, ctx or context(args.ca), args.timeout), parts
    return PlainConnection(parts.hostname, parts.port or 80, args.connect, args.timeout), parts


def tls(args):
    result = {}
    for name, version in VERSIONS.items():
        try:
            ctx = context(args.ca, version)
        except (ValueError, ssl.SSLError) as err:
            result[name] = {'accepted': None, 'error': 'this client cannot offer it: %s' % err}
            continue
        conn, _parts = open_connection(args.url, args, ctx)
        try:
            conn.connect()
            result[name] = {'accepted': True, 'version': conn.sock.version(), 'cipher': conn.sock.cipher()[0]}
        except ssl.SSLCertVerificationError as err:
            result[name] = {'accepted': True, 'verified': False, 'error': str(err)}
        except ssl.SSLError as err:
            text = str(err)
            # NO_PROTOCOLS_AVAILABLE: refused by this client's own library, not by the server.
            local = 'no protocols available' in text.lower() or 'NO_PROTOCOLS_AVAILABLE' in text
            result[name] = {'accepted': None if local else False, 'error': text}
        except OSError as err:
            result[name] = {'accepted': None, 'error': str(err)}
        finally:
            conn.close()
    conn, _parts = open_connection(args.url, args)
    try:
        conn.connect()
        cert = conn.sock.getpeercert()
        result['certificate'] = {
            'verified': True,
            'subject_alt_names': [value for _kind, value in cert.get('subjectAltName', ())],
            'issuer': dict(item[0] for item in cert.get('issuer', ())),
            'not_after': cert.get('notAfter'),
        }
    except ssl.SSLCertVerificationError as err:
        result['certificate'] = {'verified': False, 'error': str(err)}
    finally:
        conn.close()
    return result


def send(args, url):
    conn, parts = open_connection(url, args)
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    headers = dict(h.split(':', 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    if args.basic:
        headers['Authorization'] = 'Basic ' + base64.b64encode(args.basic.encode('utf-8')).decode('ascii')
    body = None
    if args.json is not None:
        body = args.json.encode('utf-8')
        headers.setdefault('Content-Type', 'application/json')
    start = time.monotonic()
    conn.request(args.method or ('POST' if body is not None else 'GET'), path, body=body, headers=headers)
    resp = conn.getresponse()
    reads = []
    data = b''
    while True:
        piece = resp.read1(65536)
        if not piece:
            break
        reads.append([round((time.monotonic() - start) * 1000, 1), len(piece)])
        data += piece
    conn.close()
    text = data.decode('utf-8', 'replace')
    return {
        'status': resp.status,
        'headers': {k.lower(): v for k, v in resp.getheaders()},
        'reads': reads,
        'first_read_ms': reads[0][0] if reads else None,
        'last_read_ms': reads[-1][0] if reads else None,
        'bytes': len(data),
        'body': text
        if len(text) <= args.max_body
        else text[: args.max_body // 2] + ' ... ' + text[-args.max_body // 2 :],
        'last_line': text.rstrip('\n').rsplit('\n', 1)[-1],
        'version': resp.version,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--connect', help='address to connect to instead of resolving the URL host')
    parser.add_argument('--ca', help='CA certificate (PEM) to verify the server against')
    parser.add_argument('--timeout', type=float, default=30.0)
    parser.add_argument('--max-body', type=int, default=4000)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('tls').add_argument('url')
    for name in ('request', 'repeat'):
        cmd = sub.add_parser(name)
        if name == 'repeat':
            cmd.add_argument('count', type=int)
        cmd.add_argument('url')
        cmd.add_argument('--method')
        cmd.add_argument('--header', action='append', default=[])
        cmd.add_argument('--json')
        cmd.add_argument('--basic', help='USER:PASSWORD for HTTP basic authentication')
    args = parser.parse_args(argv)
    if args.command == 'tls':
        result = tls(args)
    elif args.command == 'request':
        result = send(args, args.url)
    else:
        result = []
        for _i in range(min(args.count, 100)):
            answer = send(args, args.url)
            result.append({'status': answer['status'], 'last_line': answer['last_line']})
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
