# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections to the upstream the way chatgpt-web's fetch makes them: directly, through an HTTP(S) proxy
with CONNECT (https-proxy-agent v5 tunnels plain-http targets too), or through SOCKS5 (socks-proxy-agent v7
with the host name resolved by the proxy). Errors carry Node's wording (``connect ECONNREFUSED 1.2.3.4:5``)."""

from __future__ import annotations

import base64
import errno
import ipaddress
import socket
import ssl
import struct


class ConnectFailed(Exception):
    """Node's error message for a failed connection or handshake (``reason`` in node-fetch's FetchError)."""


class NeverAnswers(Exception):
    """The proxy closed the connection before it answered CONNECT: https-proxy-agent waits forever."""


class ProxyReplay(Exception):
    """The HTTP proxy refused CONNECT: its reply is replayed to the client as the upstream's response."""

    def __init__(self, data):
        super().__init__("proxy replied %r" % data[:40])
        self.data = data


SOCKS5_REPLIES = {
    1: "Failure",
    2: "NotAllowed",
    3: "NetworkUnreachable",
    4: "HostUnreachable",
    5: "ConnectionRefused",
    6: "TTLExpired",
    7: "CommandNotSupported",
    8: "AddressNotSupported",
}


def _errno_name(exc):
    code = getattr(exc, "errno", None)
    if isinstance(exc, TimeoutError) or code is None:
        return "ETIMEDOUT"
    return errno.errorcode.get(code, "E%s" % code)


def _address(sockaddr):
    return "%s:%s" % (sockaddr[0], sockaddr[1])


def tcp_connect(host, port, register):
    """net.connect: resolve, then connect to the first address; ``register`` receives the socket (abort)."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        code = "EAI_AGAIN" if exc.errno == socket.EAI_AGAIN else "ENOTFOUND"
        raise ConnectFailed("getaddrinfo %s %s" % (code, host)) from exc
    family, kind, proto, _name, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    register(sock)
    try:
        sock.connect(sockaddr)
    except OSError as exc:
        sock.close()
        raise ConnectFailed("connect %s %s" % (_errno_name(exc), _address(sockaddr))) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _unix_connect(path, register):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    register(sock)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise ConnectFailed("connect %s %s" % (_errno_name(exc), path)) from exc
    return sock


def _recv_exact(sock, size):
    data = b""
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise ConnectFailed("Socket closed")
        data += part
    return data


def _http_connect(proxy, host, port, secure_target, register):
    """https-proxy-agent v5 ``callback``: CONNECT host:port, then use the tunnel (TLS on top for https)."""
    if proxy.host is None:
        sock = _unix_connect(proxy.path, register)
    else:
        sock = tcp_connect(proxy.host, proxy.port, register)
    if proxy.secure:
        context = ssl.create_default_context()
        context.set_alpn_protocols(["http 1.1"])
        sock = context.wrap_socket(sock, server_hostname=proxy.host)
        register(sock)
    headers = []
    if proxy.auth:
        headers.append("Proxy-Authorization: Basic %s" % base64.b64encode(proxy.auth.encode("utf-8")).decode("ascii"))
    default_port = 443 if secure_target else 80
    headers.append("Host: %s" % (host if port == default_port else "%s:%s" % (host, port)))
    headers.append("Connection: close")
    payload = "CONNECT %s:%s HTTP/1.1\r\n%s\r\n\r\n" % (host, port, "\r\n".join(headers))
    try:
        sock.sendall(payload.encode("utf-8"))
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            part = sock.recv(65536)
            if not part:
                raise NeverAnswers()  # 'end' before the headers: the agent's promise never settles
            buffered += part
    except OSError as exc:
        raise ConnectFailed("read %s" % _errno_name(exc)) from exc
    status_line = buffered.split(b"\r\n", 1)[0].decode("ascii", "replace")
    parts = status_line.split(" ")
    if len(parts) > 1 and parts[1] == "200":
        return sock
    sock.close()
    raise ProxyReplay(buffered)


def _socks5_connect(proxy, host, port, register):
    """socks-proxy-agent v7 as chatgpt-web configures it: SOCKS5, the destination name resolved by the proxy."""
    sock = tcp_connect(proxy.host, proxy.port, register)
    user, password = proxy.auth or (None, None)
    try:
        methods = b"\x00\x02" if (user is not None or password is not None) else b"\x00"
        sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
        version, method = _recv_exact(sock, 2)
        if version != 5 or method == 0xFF:
            raise ConnectFailed("Socks5 proxy rejected connection - Failure")
        if method == 2:
            user_bytes, password_bytes = (user or "").encode("utf-8"), (password or "").encode("utf-8")
            sock.sendall(
                b"\x01" + bytes([len(user_bytes)]) + user_bytes + bytes([len(password_bytes)]) + password_bytes
            )
            if _recv_exact(sock, 2)[1] != 0:
                raise ConnectFailed("Socks5 Authentication failed")
        try:
            address = ipaddress.ip_address(host)
            target = (b"\x01" if address.version == 4 else b"\x04") + address.packed
        except ValueError:
            name = host.encode("idna")
            target = b"\x03" + bytes([len(name)]) + name
        sock.sendall(b"\x05\x01\x00" + target + struct.pack("!H", port))
        reply = _recv_exact(sock, 4)
        if reply[1] != 0:
            raise ConnectFailed("Socks5 proxy rejected connection - %s" % SOCKS5_REPLIES.get(reply[1], "Failure"))
        bound = {1: 4, 4: 16}.get(reply[3])
        if bound is None:
            bound = _recv_exact(sock, 1)[0]
        _recv_exact(sock, bound + 2)
    except ConnectFailed:
        sock.close()
        raise
    except OSError as exc:
        sock.close()
        raise ConnectFailed("Socket closed") from exc
    return sock


def open_connection(proxy, host, port, secure, register):
    """A connected (and for https, TLS-wrapped) socket to host:port, through the configured proxy."""
    if proxy.kind == "socks":
        sock = _socks5_connect(proxy, host, port, register)
    elif proxy.kind == "http":
        sock = _http_connect(proxy, host, port, secure, register)
    else:
        sock = tcp_connect(host, port, register)
    if secure:
        try:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise ConnectFailed(str(exc)) from exc
        register(sock)
    return sock
