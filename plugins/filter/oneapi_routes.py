# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters over one-api's channels for a catalog of upstreams (plugins/module_utils/oneapi_routes.py)."""

from __future__ import annotations

from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_routes import (
    all_channels,
    channels_to_test,
    handover_plan,
    route_errors,
    routes,
)


def oneapi_routes(channels, default_name, default_alias):
    return routes(channels or [], default_name, default_alias)


def oneapi_route_errors(resolved, channel_type=36, require_upstream=False):
    return route_errors(resolved or [], int(channel_type or 0), bool(require_upstream))


def oneapi_handover(resolved, channels):
    plan = handover_plan(resolved or [], channels or [])
    plan['all'] = all_channels(resolved or [], channels or [])
    return plan


def oneapi_channels_to_test(resolved, results=None):
    return channels_to_test(resolved or [], results or [])


class FilterModule:
    def filters(self):
        return dict(
            oneapi_routes=oneapi_routes,
            oneapi_route_errors=oneapi_route_errors,
            oneapi_handover=oneapi_handover,
            oneapi_channels_to_test=oneapi_channels_to_test,
        )
