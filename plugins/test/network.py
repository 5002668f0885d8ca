# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tests the roles use to check their inputs: IP addresses, host names, CIDR blocks."""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r'^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$')


def ip_address(value):
    """An IPv4 or IPv6 address (IPv6 also in brackets)."""
    text = str(value or '').strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def public_bind(value):
    """An address that publishes a port beyond this host: anything but loopback (a wildcard included)."""
    text = str(value or '').strip().strip('[]')
    if text in ('', '0.0.0.0', '::'):
        return True
    try:
        return not ipaddress.ip_address(text).is_loopback
    except ValueError:
        return True


def host_name(value):
    """A DNS host name with at least two labels (what a certificate can be issued for); no wildcard, no IP."""
    text = str(value or '').strip().rstrip('.')
    if not text or len(text) > 253 or ip_address(text):
        return False
    labels = text.split('.')
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def cidr(value):
    """An IPv4 or IPv6 network in CIDR notation (a single address counts as /32 or /128)."""
    try:
        ipaddress.ip_network(str(value or '').strip(), strict=False)
    except ValueError:
        return False
    return True


class TestModule:
    def tests(self):
        return dict(ip_address=ip_address, public_bind=public_bind, host_name=host_name, cidr=cidr)
