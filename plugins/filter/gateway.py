# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a published container port is reached, written once for every gateway role."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

WILDCARDS = ('', '0.0.0.0', '::', '[::]')


def _address(bind_address):
    text = str(bind_address or '').strip()
    return text[1:-1] if text.startswith('[') and text.endswith(']') else text


def _host(address):
    return '[%s]' % address if ':' in address else address


def local_url(bind_address, port, scheme='http'):
    """The URL of a port published on ``bind_address``, as the host itself reaches it (a wildcard is reached on
    loopback; an IPv6 address gets brackets)."""
    address = _address(bind_address)
    if address in WILDCARDS or address == '::':
        address = '127.0.0.1'
    return '%s://%s:%s' % (scheme, _host(address), int(port))


def port_binding(bind_address, port, container_port):
    """A compose ``ports`` entry ``host:port:container_port`` (IPv6 addresses in brackets)."""
    address = _address(bind_address)
    if address in ('', '0.0.0.0'):
        return '%s:%s' % (int(port), int(container_port))
    try:
        ipaddress.ip_address(address)
    except ValueError as err:
        raise AnsibleFilterError('port_binding: %r is not an IP address' % bind_address) from err
    return '%s:%s:%s' % (_host(address), int(port), int(container_port))


class FilterModule:
    def filters(self):
        return dict(local_url=local_url, port_binding=port_binding)
