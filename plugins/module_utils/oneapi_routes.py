# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The channels of one-api for a catalog of upstreams (routes), and the blue/green handover between generations.

Pure functions, used by the ``oneapi`` role through the filters of ``plugins/filter/oneapi_routes.py``.

A route is one upstream model under one or more aliases. Its channel is named after the route (``channel``; empty
means the role's single-channel name) and, from the second generation on, ``<channel>_g<N>``. A route with
``retire_generations`` hands over: its channel is created disabled, tested, enabled (at a higher priority than the
channels it replaces), then the replaced channels are disabled, left to drain and deleted. How one-api v0.6.6 picks a
channel (``model/ability.go``, ``model/cache.go``): among the enabled channels of the model and the user's group, those
of the highest priority, at random. With the memory cache (or Redis), only when that priority is above 0: otherwise all
enabled channels are candidates. So a generation N > 1 gets priority N - 1 (at least 1).
"""

from __future__ import annotations

import re

GENERATION_SEP = '_g'
STATUS = {'enabled': 1, 'disabled': 2}
# The built-in model one-api v0.6.6 tests a channel with when the channel's models contain it (channel-test.go).
TEST_MODELS = {36: 'deepseek-chat'}
DEFAULT_TEST_MODEL = 'gpt-3.5-turbo'
ALIAS_RE = re.compile(r'^[A-Za-z0-9._:/@+-]+$')
URL_RE = re.compile(r'^https?://[^/\s]+')


def channel_name(base, generation):
    generation = int(generation or 1)
    return base if generation <= 1 else '%s%s%d' % (base, GENERATION_SEP, generation)


def generation_of(name, base):
    if name == base:
        return 1
    prefix = base + GENERATION_SEP
    if isinstance(name, str) and name.startswith(prefix) and name[len(prefix) :].isdigit():
        number = int(name[len(prefix) :])
        return number if number >= 2 else None
    return None


def _strip_url(url):
    url = (url or '').strip().rstrip('/')
    return url[:-3] if url.endswith('/v1') else url


def routes(channels, default_name, default_alias):
    """``oneapi_channels`` resolved: every route with its ``channel`` base, its current channel ``name``, ``aliases``,
    ``model_mapping``, ``priority``, the ``retire`` channel names, whether it ``handover``s and whether its
    ``upstream_changed``. An empty list is the single channel of the role's own variables (given as one route by the
    caller)."""
    out = []
    for item in channels or []:
        if not isinstance(item, dict):
            continue
        base = item.get('channel') or default_name
        generation = int(item.get('generation') or 1)
        default_aliases = not item.get('aliases')
        aliases = [a for a in (item.get('aliases') or [default_alias]) if a]
        served = item.get('served_model_name') or ''
        priority = item.get('priority')
        absent = bool(item.get('absent'))
        retire = sorted(set(int(g) for g in item.get('retire_generations') or [] if int(g) != generation))
        out.append(
            dict(
                channel=base,
                name=channel_name(base, generation),
                generation=generation,
                aliases=aliases,
                served_model_name=served,
                # An alias that is the served name needs no mapping (v0.6.6 rebuilds a mapped request, dropping fields).
                model_mapping=dict((alias, served) for alias in aliases if alias != served) if served else {},
                base_url=_strip_url(item.get('base_url')),
                key=item.get('key') or '',
                priority=int(priority) if priority is not None else max(0, generation - 1),
                retire=[channel_name(base, g) for g in retire],
                absent=absent,
                handover=bool(retire) and not absent,
                default_aliases=default_aliases,
                implicit=bool(item.get('implicit')),
                # Whether the upstream is new or changed in this run (an unchanged channel to an unchanged upstream
                # is not tested again). Unknown means yes.
                upstream_changed=bool(item.get('upstream_changed', True)),
            )
        )
    return out


def route_errors(resolved, channel_type=36, require_upstream=False):
    """What one-api would mangle or refuse in the routes, naming the variable and the fix."""
    errors = []
    test_model = TEST_MODELS.get(int(channel_type or 0), DEFAULT_TEST_MODEL)
    bases, owners = {}, {}
    for index, route in enumerate(resolved):
        # The single channel of the role's own variables: its messages name those (oneapi_model_alias...), and the
        # key and the base URL are checked as oneapi_channel_key and oneapi_channel_base_url by the role.
        implicit = route.get('implicit')
        label = 'oneapi_channels[%d] (%s)' % (index, route['channel'])
        if route['channel'] in bases:
            errors.append(
                'oneapi_channels[%d] and oneapi_channels[%d] both use the channel %s: give each route its own channel '
                'name.' % (bases[route['channel']], index, route['channel'])
            )
        bases.setdefault(route['channel'], index)
        if route['absent']:
            continue
        for alias in route['aliases']:
            if not isinstance(alias, str) or not ALIAS_RE.match(alias):
                errors.append(
                    '%s: the alias %r is not a model name (letters, digits and . _ : / @ + -).' % (label, alias)
                )
            elif test_model in alias and (route.get('default_aliases') or implicit):
                errors.append(
                    'oneapi_model_alias=%s contains %s, the built-in model one-api v0.6.6 tests a channel of type %s with: '
                    'its channel test would send %s upstream without the model mapping and fail. Choose another alias '
                    '(the default is gpt-4-32k).' % (alias, test_model, channel_type, test_model)
                )
            elif test_model in alias:
                errors.append(
                    '%s: the alias %s contains %s, the built-in model one-api v0.6.6 tests a channel of type %s with: its '
                    'channel test would send %s upstream without the model mapping and fail. Choose another alias.'
                    % (label, alias, test_model, channel_type, test_model)
                )
            if alias in owners and owners[alias] != index:
                errors.append(
                    'oneapi_channels[%d] and oneapi_channels[%d] both serve the alias %s: one-api would pick either at '
                    'random. Keep it on one route.' % (owners[alias], index, alias)
                )
            owners.setdefault(alias, index)
        if implicit:
            if require_upstream and not (route['base_url'] and route['key'] and route['served_model_name']):
                errors.append('oneapi_channel_base_url, oneapi_channel_key and oneapi_served_model_name must be set')
            continue
        if '\n' in route['key'] or '\r' in route['key']:
            errors.append('%s: the key must be one line (one-api makes one channel per line).' % label)
        if route['base_url'] and not URL_RE.match(route['base_url']):
            errors.append('%s: base_url must be an http(s) URL (got %s).' % (label, route['base_url']))
        if require_upstream and not (route['base_url'] and route['key'] and route['served_model_name']):
            errors.append(
                '%s needs base_url, key and served_model_name (site.yml passes the eas_model role\'s eas_catalog).'
                % label
            )
    return errors


def handover_plan(resolved, channels):
    """What the channel steps do, given one-api's channels (``oneapi_channel_info``'s list, without keys).

    ``status``: per route name, the status its channel step sets (V(enabled), V(disabled) for a handover target that
    does not exist yet, or an empty string to keep the status of an existing handover target). ``enable``: existing
    handover targets to enable once their test passed. ``disable``: enabled channels they replace. ``delete``: the replaced
    channels and every generation of an absent route. ``drain``: whether a replaced channel exists (its requests in
    flight get time to finish before it and its upstream are deleted).
    """
    existing = dict((c.get('name'), c) for c in channels or [] if isinstance(c, dict) and c.get('name'))
    status, enable, disable, delete = {}, [], [], []
    for route in resolved:
        if route['absent']:
            delete.extend(
                name for name in sorted(existing) if generation_of(name, route['channel']) and name not in delete
            )
            continue
        if route['handover']:
            status[route['name']] = '' if route['name'] in existing else 'disabled'
            if route['name'] in existing:
                # Only an existing channel can be enabled (the channel step creates it; in check mode it may not be).
                enable.append(route['name'])
            for name in route['retire']:
                if name in existing:
                    if existing[name].get('status') == STATUS['enabled']:
                        disable.append(name)
                    delete.append(name)
        else:
            status[route['name']] = 'enabled'
    return dict(
        status=status,
        enable=enable,
        disable=disable,
        delete=delete,
        drain=any(name in existing for route in resolved if route['handover'] for name in route['retire']),
    )


def all_channels(resolved, channels):
    """Every existing channel of the routes, all generations (for the teardown)."""
    names = [c.get('name') for c in channels or [] if isinstance(c, dict)]
    return sorted(set(name for name in names for route in resolved if name and generation_of(name, route['channel'])))


def channels_to_test(resolved, results=None):
    """Names of the routes whose channel one-api tests in this run (``results``: the channel step's
    ``oneapi_channel`` results, one per route, ``item`` its index; none when the step did not run).

    Every route that is not absent, except one whose upstream is unchanged in this run (``upstream_changed`` false),
    that hands nothing over, and whose channel the channel step found unchanged and tested before (one-api's
    ``test_time``; a run stopped before its test left it at 0). A rerun tests nothing again."""
    by_index = {}
    for result in results or []:
        if isinstance(result, dict) and isinstance(result.get('channel'), dict) and isinstance(result.get('item'), int):
            by_index[result['item']] = result
    names = []
    for index, route in enumerate(resolved):
        if route['absent']:
            continue
        result = by_index.get(index)
        settled = (
            result is not None
            and not result.get('changed')
            and bool(result['channel'].get('test_time'))
            and not route.get('upstream_changed', True)
            and not route['handover']
        )
        if not settled:
            names.append(route['name'])
    return names
