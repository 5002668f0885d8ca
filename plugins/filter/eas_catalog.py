# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters over the model catalog (plugins/module_utils/eas_catalog.py)."""

from __future__ import annotations

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_catalog import (
    catalog_channels,
    catalog_entries,
    catalog_errors,
    catalog_outputs,
    catalog_plan,
    default_alias,
    groups_seen,
    preflight_report,
)


def eas_catalog(models, defaults):
    return catalog_entries(models or [], defaults)


def eas_catalog_errors(models, defaults):
    return catalog_errors(models or [], defaults)


def eas_catalog_plan(entries, services, defaults, groups_read=None):
    return catalog_plan(entries or [], services or [], defaults, groups_read or {})


def eas_catalog_groups_seen(plan, results=None):
    return groups_seen(plan or {}, results or [])


def eas_catalog_outputs(plan, results=None, previous=None):
    return catalog_outputs(plan or {}, results or [], previous or [])


def eas_catalog_channels(catalog):
    return catalog_channels(catalog or [])


def eas_catalog_default_alias(models, fallback='gpt-4-32k'):
    return default_alias(models or [], fallback)


def eas_catalog_preflight(entries, specs, groups, services, defaults):
    return preflight_report(entries or [], specs or {}, groups or {}, services or [], defaults)


class FilterModule:
    def filters(self):
        return dict(
            eas_catalog=eas_catalog,
            eas_catalog_errors=eas_catalog_errors,
            eas_catalog_plan=eas_catalog_plan,
            eas_catalog_groups_seen=eas_catalog_groups_seen,
            eas_catalog_outputs=eas_catalog_outputs,
            eas_catalog_channels=eas_catalog_channels,
            eas_catalog_default_alias=eas_catalog_default_alias,
            eas_catalog_preflight=eas_catalog_preflight,
        )
