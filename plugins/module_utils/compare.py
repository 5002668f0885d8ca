# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Comparing what the user wants with what a server has: scalars by meaning, dicts as subsets, minimal differences."""

from __future__ import annotations

import re


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_NUMERIC_STRING_RE = re.compile(r'^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$')
_BOOL_STRINGS = {'true': True, 'false': False}


def normalize_scalar(value):
    """A scalar as the API means it: numeric strings become numbers, ``"true"``/``"false"`` become booleans.

    Some servers echo ``ServiceConfig`` numbers and booleans as strings (``"1"``, ``"true"``); the user may write
    either form too. Other values are returned unchanged.
    """
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _BOOL_STRINGS:
            return _BOOL_STRINGS[lowered]
        if _NUMERIC_STRING_RE.match(value):
            return float(value)
    return value


def values_equal(desired, current):
    """Scalar equality after ``normalize_scalar``: ``1 == 1.0 == "1"``, ``True == "true"``, but ``True != 1``."""
    if isinstance(desired, str) and isinstance(current, str):
        return desired == current
    desired, current = normalize_scalar(desired), normalize_scalar(current)
    if isinstance(desired, bool) or isinstance(current, bool):
        return isinstance(desired, bool) and isinstance(current, bool) and desired == current
    if _is_number(desired) and _is_number(current):
        return float(desired) == float(current)
    return desired == current


def is_subset(desired, current):
    """True when every key of ``desired`` is in ``current`` with an equal value (recursively).

    Dicts: subset by key. Lists: same length and element-wise subset (order matters). Scalars: ``values_equal``
    (``1 == 1.0 == "1"``, ``true == "true"``, but ``True != 1`` and ``"1" != "1.0"`` between two strings).
    """
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(key in current and is_subset(value, current[key]) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return False
        return all(is_subset(d, c) for d, c in zip(desired, current))
    if isinstance(current, (dict, list)):
        return False
    return values_equal(desired, current)


def config_difference(desired, current):
    """The part of ``desired`` that ``current`` does not already have (None when it is a subset).

    Dicts recurse; a differing list or scalar is taken whole from ``desired``.
    """
    if isinstance(desired, dict) and isinstance(current, dict):
        out = {}
        for key, value in desired.items():
            if key not in current:
                out[key] = value
                continue
            sub = config_difference(value, current[key])
            if sub is not None:
                out[key] = sub
        return out or None
    return None if is_subset(desired, current) else desired


def project(current, shape):
    """The part of ``current`` with the keys of ``shape`` (for a diff limited to the compared fields)."""
    if isinstance(shape, dict):
        if not isinstance(current, dict):
            return current
        return dict((key, project(current[key], value)) for key, value in shape.items() if key in current)
    if isinstance(shape, list) and isinstance(current, list) and len(shape) == len(current):
        return [project(c, s) for c, s in zip(current, shape)]
    return current


def deep_merge(base, override):
    """A new dict: ``override`` merged into ``base`` recursively (lists replaced)."""
    out = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
