# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The model catalog: several models, each an EAS service in its own (or a shared) resource group, with the names
clients use for it (aliases), and the plan that brings the cloud to it.

Pure functions, used by the ``eas_model`` role through the filters of ``plugins/filter/eas_catalog.py``:

* ``catalog_entries`` turns ``eas_models`` (or, when it is empty, the single-model variables: the implicit one-entry
  catalog) into resolved entries; ``catalog_errors`` lists every input problem, naming the variable and the fix.
* ``catalog_plan`` compares the entries with the services the region has (``ListServices``) and decides, per entry,
  which service generation serves after the run and which older generations are retired once one-api has handed
  their traffic over (blue/green), plus the services of entries removed from the catalog.

Generations: the first generation of an entry is its ``service_name``; a blue/green change creates
``<service_name>_g<N>`` beside it (in ``<resource_group>_g<N>`` when the entry has its own group). Services this
catalog creates carry the labels ``llmops-catalog`` (the catalog name), ``llmops-entry`` (the entry's service name),
``llmops-group`` (its resource group) and, for the implicit entry, ``llmops-catalog-implicit``.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.llmops.eas_stack.plugins.module_utils.compare import config_difference
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import MASK, SERVICE_NAME_RE
from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import (
    GPU_INSTANCE_TYPES,
    SizingError,
    fit,
    node_price,
    placement_errors,
    scaler_errors,
    service_plan_errors,
    vllm_service_config,
)

CATALOG_LABEL = 'llmops-catalog'
ENTRY_LABEL = 'llmops-entry'
GROUP_LABEL = 'llmops-group'
IMPLICIT_LABEL = 'llmops-catalog-implicit'
GENERATION_SEP = '_g'
STRATEGIES = ('rolling', 'blue_green')
MAX_GROUP_NAME = 27
MAX_SERVICE_NAME = 63
# Room kept in names for a generation suffix (``_g`` and two digits) when an entry may change blue/green.
GENERATION_ROOM = 4
ALIAS_RE = re.compile(r'^[A-Za-z0-9._:/@+-]+$')
LABEL_VALUE_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')
GROUP_NAME_RE = re.compile(r'^[^\s/\\]+$')
OSS_ENDPOINT_RE = re.compile(r'^[a-z0-9.-]+$')
# vLLM arguments the service config sets from the entry; repeated in vllm_extra_args, the last one would win in vLLM
# and bypass the fit check.
MANAGED_VLLM_FLAGS = {
    '--max-model-len': 'max_model_len',
    '--gpu-memory-utilization': 'gpu_memory_utilization',
    '--served-model-name': 'model',
    '--port': None,
    '--host': None,
}

# Entry fields and, for the implicit entry, the role variable each comes from (messages name it).
VARIABLES = dict(
    service_name='eas_service_name',
    model='eas_model',
    aliases='oneapi_model_alias',
    resource_group='eas_resource_group_name',
    instance_type='eas_instance_type',
    instance_count='eas_instance_count',
    charge_type='eas_charge_type',
    zone='eas_zone',
    system_disk_size='eas_system_disk_size',
    service_instance_count='eas_service_instance_count',
    max_model_len='eas_max_model_len',
    gpu_memory_utilization='eas_gpu_memory_utilization',
    vllm_extra_args='eas_vllm_extra_args',
    image='eas_image',
    vllm_image_tag='eas_vllm_image_tag',
    model_oss_path='eas_model_oss_path',
    model_oss_endpoint='eas_model_oss_endpoint',
    cpu='eas_cpu',
    memory='eas_memory',
    gpu_memory_gib='eas_gpu_memory_gib',
    service_config_override='eas_service_config_override',
    change_strategy='eas_change_strategy',
    node_price_per_hour='eas_node_price_per_hour',
    autoscaler='eas_autoscaler',
    cron_scaler='eas_cron_scaler',
)
# What an explicit entry takes from the role's variables when it does not set it. The service and group names, the
# aliases, the weights' path, the sizing and the override belong to one model and are not inherited.
INHERITED = (
    'model',
    'instance_type',
    'instance_count',
    'charge_type',
    'zone',
    'system_disk_size',
    'service_instance_count',
    'max_model_len',
    'gpu_memory_utilization',
    'vllm_extra_args',
    'image',
    'vllm_image_tag',
    'model_oss_endpoint',
    'change_strategy',
)
NOT_INHERITED = dict(
    model_oss_path='',
    cpu=0,
    memory=0,
    gpu_memory_gib=0,
    service_config_override={},
    node_price_per_hour=0,
    autoscaler={},
    cron_scaler={},
)
GROUP_FIELDS = ('instance_type', 'instance_count', 'charge_type', 'zone', 'system_disk_size')
ENTRY_FIELDS = ('service_name', 'aliases', 'default', 'resource_group') + tuple(VARIABLES)


# -- names --------------------------------------------------------------------------------------------------------------


def generation_name(base, generation):
    """The name of generation ``generation`` of ``base``: the base itself for the first, ``<base>_g<N>`` after."""
    generation = int(generation)
    return base if generation <= 1 else '%s%s%d' % (base, GENERATION_SEP, generation)


def generation_of(name, base):
    """The generation ``name`` is of ``base`` (1 for the base itself), or None."""
    if name == base:
        return 1
    prefix = base + GENERATION_SEP
    if isinstance(name, str) and name.startswith(prefix) and name[len(prefix) :].isdigit():
        number = int(name[len(prefix) :])
        return number if number >= 2 else None
    return None


def _to_int(value, default=0):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _to_float(value, default=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


# -- entries ------------------------------------------------------------------------------------------------------------


def catalog_entries(models, defaults):
    """The resolved catalog: one dict per entry of ``models`` (``eas_models``), or the implicit one-entry catalog made
    of the single-model variables when ``models`` is empty.

    ``defaults`` holds the role's variables under the entry field names (``service_name``, ``model``,
    ``resource_group``, ``instance_type``, ...) plus ``dedicated``, ``region``, ``extra_presets`` and ``catalog_name``.
    Every entry gets: ``index``, ``implicit``, ``service_name``, ``aliases``, ``default``, ``channel`` (the one-api
    channel base name: empty for the implicit entry, whose channel the oneapi role names), ``group`` (the group
    settings, ``name`` empty on the public resource group), ``shared_group`` and the fields of ``VARIABLES``.
    """
    defaults = dict(defaults or {})
    dedicated = bool(defaults.get('dedicated', True))
    entries = []
    if not models:
        entry = dict((field, defaults.get(field)) for field in VARIABLES if field != 'aliases')
        entry.update(index=0, implicit=True, aliases=[], default=True, resource_group=defaults.get('resource_group'))
        entries.append(entry)
    else:
        for index, item in enumerate(models if isinstance(models, (list, tuple)) else []):
            item = item if isinstance(item, dict) else {}
            entry = dict((field, item.get(field, defaults.get(field))) for field in INHERITED)
            entry.update((field, item.get(field, value)) for field, value in NOT_INHERITED.items())
            entry.update(
                index=index,
                implicit=False,
                service_name=item.get('service_name'),
                aliases=_as_list(item.get('aliases')),
                default=bool(item.get('default', False)),
                resource_group=item.get('resource_group') or item.get('service_name'),
            )
            entries.append(entry)
    for entry in entries:
        if entry.get('vllm_extra_args') is None:
            entry['vllm_extra_args'] = []
        if entry.get('service_config_override') is None:
            entry['service_config_override'] = {}
        for scaler in ('autoscaler', 'cron_scaler'):
            if entry.get(scaler) is None:
                entry[scaler] = {}
        entry['change_strategy'] = entry.get('change_strategy') or 'rolling'
        entry['channel'] = '' if entry['implicit'] else str(entry.get('service_name') or '')
        entry['group'] = dict(
            name=str(entry.get('resource_group') or '') if dedicated else '',
            instance_type=entry.get('instance_type'),
            instance_count=_to_int(entry.get('instance_count'), 1),
            charge_type=entry.get('charge_type') or 'PostPaid',
            zone=entry.get('zone') or '',
            system_disk_size=_to_int(entry.get('system_disk_size'), 0),
        )
    if not any(e['default'] for e in entries) and entries:
        entries[0]['default'] = True
    names = [e['group']['name'] for e in entries]
    for entry in entries:
        entry['shared_group'] = bool(entry['group']['name']) and names.count(entry['group']['name']) > 1
    return entries


def default_alias(models, fallback):
    """The alias chatgpt-web uses: the first alias of the entry marked ``default`` (else of the first entry), or
    ``fallback`` (the single-model alias) for the implicit catalog."""
    for entry in catalog_entries(models, {}):
        if entry['default']:
            return (entry['aliases'] or [fallback])[0]
    return fallback


def autoscaler_on(entry):
    """Whether the entry's service has an autoscaler (``autoscaler`` set and not ``state: absent``)."""
    autoscaler = entry.get('autoscaler')
    return isinstance(autoscaler, dict) and bool(autoscaler) and autoscaler.get('state', 'present') == 'present'


def entry_settings(entry, defaults):
    """The settings of ``gpu_sizing.vllm_service_config`` for an entry (without ``group``, which the caller adds).

    With an autoscaler the number of instances the service starts with is kept within its ``min`` and ``max`` and is
    set at creation only (``autoscaled``): a rerun leaves the autoscaler's count alone."""
    defaults = defaults or {}
    dedicated = bool(defaults.get('dedicated', True))
    settings = _entry_settings(entry, defaults, dedicated)
    if autoscaler_on(entry):
        low = _to_int(entry['autoscaler'].get('min'), 1)
        high = _to_int(entry['autoscaler'].get('max'), low)
        key = 'service_instance_count' if dedicated else 'instance_count'
        count = min(max(settings[key], low), high)
        settings.update(service_instance_count=count, instance_count=count, autoscaled=True)
    return settings


def _entry_settings(entry, defaults, dedicated):
    return dict(
        model=entry.get('model'),
        extra_presets=defaults.get('extra_presets') or {},
        region=defaults.get('region'),
        instance_type=entry.get('instance_type'),
        dedicated=dedicated,
        service_instance_count=_to_int(entry.get('service_instance_count'), 1),
        instance_count=_to_int(entry.get('instance_count'), 1),
        max_model_len=_to_int(entry.get('max_model_len'), 0),
        gpu_memory_utilization=entry.get('gpu_memory_utilization'),
        vllm_extra_args=entry.get('vllm_extra_args') or [],
        image=entry.get('image') or '',
        vllm_image_tag=entry.get('vllm_image_tag') or '',
        model_oss_path=entry.get('model_oss_path') or '',
        model_oss_endpoint=entry.get('model_oss_endpoint') or '',
        cpu=_to_int(entry.get('cpu'), 0),
        memory=_to_int(entry.get('memory'), 0),
        override=entry.get('service_config_override') or {},
    )


# -- input checks ---------------------------------------------------------------------------------------------------


def _namer(entry):
    """Messages name ``eas_<variable>`` for the implicit entry, ``eas_models[i].<field>`` for a catalog entry."""
    if entry['implicit']:
        return lambda field: VARIABLES.get(field, field)
    return lambda field: 'eas_models[%d].%s' % (entry['index'], field)


_RENAMES = [(re.compile(r'\b%s\b' % re.escape(var)), field) for field, var in VARIABLES.items()]


def _for_entry(entry, message):
    """A message of gpu_sizing (which names the eas_* variables) rewritten for a catalog entry."""
    if entry['implicit']:
        return message
    label = 'eas_models[%d]' % entry['index']
    for pattern, field in _RENAMES:
        message = pattern.sub('%s.%s' % (label, field), message)
    return '%s (%s): %s' % (label, entry.get('service_name'), message)


def _entry_checks(entry, defaults):
    """The input problems of one entry (names, counts, vLLM settings, override, fit, placement, service config)."""
    var = _namer(entry)
    dedicated = bool(defaults.get('dedicated', True))
    errors = []
    name = entry.get('service_name')
    blue_green = entry['change_strategy'] == 'blue_green'
    if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
        errors.append(
            '%s=%s is not a valid EAS service name: use 3-63 lowercase letters, digits and underscores, starting with '
            'a letter.' % (var('service_name'), name)
        )
    elif blue_green and len(name) > MAX_SERVICE_NAME - GENERATION_ROOM:
        errors.append(
            '%s=%s is too long for blue/green changes: a new generation is named %s_g<N>, at most %d characters; use '
            'at most %d characters.'
            % (var('service_name'), name, name, MAX_SERVICE_NAME, MAX_SERVICE_NAME - GENERATION_ROOM)
        )
    if not entry['implicit']:
        aliases = entry['aliases']
        if not aliases or not all(isinstance(a, str) and ALIAS_RE.match(a) for a in aliases):
            errors.append(
                '%s must list the model names clients use for this model (at least one; letters, digits and . _ : / @ '
                '+ -), for example [gpt-4-32k].' % var('aliases')
            )
        elif len(set(aliases)) != len(aliases):
            errors.append('%s lists an alias twice: %s.' % (var('aliases'), ', '.join(aliases)))
    group = entry['group']
    if dedicated:
        gname = group['name']
        limit = MAX_GROUP_NAME - (GENERATION_ROOM if blue_green and not entry['shared_group'] else 0)
        if not gname or not GROUP_NAME_RE.match(gname) or len(gname) > MAX_GROUP_NAME:
            errors.append(
                '%s must have 1 to 27 characters without spaces or slashes (got %s)%s.'
                % (
                    var('resource_group'),
                    gname,
                    '' if entry['implicit'] else '; without resource_group the entry uses its service_name',
                )
            )
        elif len(gname) > limit:
            errors.append(
                '%s=%s is too long for blue/green changes: the new generation gets its own group %s_g<N>, at most %d '
                'characters; use at most %d characters.' % (var('resource_group'), gname, gname, MAX_GROUP_NAME, limit)
            )
    if _to_int(entry.get('instance_count'), 0) < 1:
        errors.append(
            '%s must be at least 1 (got %s); to remove the nodes use the teardown playbook.'
            % (var('instance_count'), entry.get('instance_count'))
        )
    if _to_int(entry.get('service_instance_count'), 0) < 1:
        errors.append('%s must be at least 1.' % var('service_instance_count'))
    if entry.get('charge_type') not in ('PostPaid', 'PrePaid'):
        errors.append('%s must be PostPaid or PrePaid.' % var('charge_type'))
    if _to_int(entry.get('max_model_len'), 0) < 256:
        errors.append('%s must be at least 256 (it is the vLLM --max-model-len).' % var('max_model_len'))
    util = _to_float(entry.get('gpu_memory_utilization'), -1)
    if not 0 < util <= 0.98:
        errors.append('%s must be in (0, 0.98].' % var('gpu_memory_utilization'))
    endpoint = entry.get('model_oss_endpoint') or ''
    if endpoint and not OSS_ENDPOINT_RE.match(str(endpoint)):
        errors.append(
            '%s=%s is not a host name: use e.g. oss-%s-internal.aliyuncs.com, or leave it empty for that.'
            % (var('model_oss_endpoint'), endpoint, defaults.get('region'))
        )
    if entry['change_strategy'] not in STRATEGIES:
        errors.append(
            '%s must be rolling (update the service in place; a single-GPU service is down while the new model loads) '
            'or blue_green (a new service beside the old one, traffic handed over by one-api).' % var('change_strategy')
        )
    extra = entry.get('vllm_extra_args')
    if isinstance(extra, str) or not isinstance(extra, (list, tuple)) or not all(isinstance(a, str) for a in extra):
        errors.append(
            '%s must be a list of strings, one argument each, for example ["--enable-prefix-caching"] (a single string '
            'would be split into characters).' % var('vllm_extra_args')
        )
    else:
        for arg in extra:
            flag = arg.split('=', 1)[0]
            if flag in MANAGED_VLLM_FLAGS:
                field = MANAGED_VLLM_FLAGS[flag]
                errors.append(
                    '%s repeats %s, which the service config sets%s: vLLM would take the last value and the fit check '
                    'would not see it. %s'
                    % (
                        var('vllm_extra_args'),
                        flag,
                        ' from %s' % var(field) if field else '',
                        'Set %s instead.' % var(field) if field else 'Drop it.',
                    )
                )
    override = entry.get('service_config_override')
    if not isinstance(override, dict):
        errors.append(
            '%s must be a dict (the part of the EAS service config JSON to merge over the generated one).'
            % var('service_config_override')
        )
    else:
        meta = override.get('metadata') or {}
        if isinstance(meta, dict) and meta.get('name', name) != name:
            errors.append(
                '%s renames the service (metadata.name); set %s instead.'
                % (var('service_config_override'), var('service_name'))
            )
        containers = override.get('containers')
        if 'containers' in override and (
            not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers)
        ):
            errors.append(
                '%s.containers must be a list of dicts (image, port, script...), as in the EAS service config.'
                % var('service_config_override')
            )
    errors.extend(
        _for_entry(entry, e)
        for e in scaler_errors(
            entry.get('autoscaler'),
            entry.get('cron_scaler'),
            entry.get('instance_type'),
            _to_int(entry.get('instance_count'), 1),
            dedicated,
        )
    )
    if errors:
        return errors
    try:
        result = fit(
            entry.get('model'),
            entry.get('instance_type'),
            _to_int(entry.get('max_model_len')),
            util,
            _to_float(entry.get('gpu_memory_gib'), 0),
            defaults.get('extra_presets'),
        )
    except SizingError as err:
        result = dict(fits=False, message=str(err))
    if result['fits']:
        settings = dict(entry_settings(entry, defaults), group={})
        errors.extend(_for_entry(entry, e) for e in service_plan_errors(settings, name))
    else:
        errors.append(_for_entry(entry, result['message']))
    if dedicated and not entry['shared_group']:
        errors.extend(
            _for_entry(entry, e)
            for e in placement_errors(
                entry.get('instance_type'),
                _to_int(entry.get('cpu')),
                _to_int(entry.get('memory')),
                _to_int(entry.get('service_instance_count'), 1),
                _to_int(entry.get('instance_count'), 1),
            )
        )
    elif dedicated:
        # In a shared group the GPUs are counted for the whole group below; the CPU and memory limits still apply.
        errors.extend(
            _for_entry(entry, e)
            for e in placement_errors(
                entry.get('instance_type'), _to_int(entry.get('cpu')), _to_int(entry.get('memory')), 1, 1
            )
        )
    return errors


def _group_gpus(instance_type, count):
    spec = GPU_INSTANCE_TYPES.get(instance_type)
    return None if spec is None else int(count) * int(spec['gpus'])


def catalog_errors(models, defaults):
    """Every input problem of the catalog, each naming the variable and the fix (empty when all is well)."""
    defaults = dict(defaults or {})
    dedicated = bool(defaults.get('dedicated', True))
    errors = []
    if models and not isinstance(models, (list, tuple)):
        return ['eas_models must be a list of models (dicts with service_name, model, aliases...).']
    for index, item in enumerate(models or []):
        if not isinstance(item, dict):
            errors.append('eas_models[%d] must be a dict (service_name, model, aliases, instance_type...).' % index)
            continue
        unknown = sorted(set(item) - set(ENTRY_FIELDS))
        if unknown:
            errors.append(
                'eas_models[%d] has unknown keys %s; the keys are %s.'
                % (index, ', '.join(unknown), ', '.join(sorted(ENTRY_FIELDS)))
            )
    if errors:
        return errors
    entries = catalog_entries(models, defaults)
    catalog_name = defaults.get('catalog_name') or ''
    # Empty, eas_catalog_name is the resource group's name: an invalid group name has its own message.
    derived = dedicated and str(catalog_name) == str(defaults.get('resource_group'))
    group_name_ok = GROUP_NAME_RE.match(str(catalog_name)) and len(str(catalog_name)) <= MAX_GROUP_NAME
    if not LABEL_VALUE_RE.match(str(catalog_name)) and not (derived and not group_name_ok):
        errors.append(
            'eas_catalog_name=%s%s must be 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter '
            'or digit (it labels the services of this catalog): set eas_catalog_name.'
            % (catalog_name, ' (empty, so eas_resource_group_name)' if derived else '')
        )
    for entry in entries:
        errors.extend(_entry_checks(entry, defaults))
    if len([e for e in entries if e['default']]) > 1:
        errors.append(
            'eas_models: more than one entry has default: true (%s); mark one, whose first alias chatgpt-web uses.'
            % ', '.join(str(e['service_name']) for e in entries if e['default'])
        )
    seen = {}
    for entry in entries:
        name = entry.get('service_name')
        if isinstance(name, str) and name in seen:
            errors.append(
                'eas_models[%d] and eas_models[%d] both have service_name=%s: each model is its own EAS service; give '
                'each entry its own service_name.' % (seen[name], entry['index'], name)
            )
        elif isinstance(name, str):
            seen[name] = entry['index']
    for entry in entries:
        name = entry.get('service_name')
        for other in entries:
            base = other.get('service_name')
            if other is not entry and isinstance(name, str) and isinstance(base, str) and generation_of(name, base):
                if name != base:
                    errors.append(
                        'eas_models[%d].service_name=%s is the name of a blue/green generation of eas_models[%d] (%s): '
                        'choose a name that does not end in _g<number> after another entry\'s name.'
                        % (entry['index'], name, other['index'], base)
                    )
    owners = {}
    for entry in entries:
        for alias in entry['aliases']:
            if alias in owners and owners[alias] != entry['index']:
                errors.append(
                    'eas_models[%d] and eas_models[%d] both list the alias %s: one-api would route it to either model '
                    'at random. Keep the alias on one entry and give the other its own name.'
                    % (owners[alias], entry['index'], alias)
                )
            owners.setdefault(alias, entry['index'])
    if dedicated:
        errors.extend(_shared_group_errors(entries))
    return errors


def _shared_group_errors(entries):
    errors = []
    groups = {}
    for entry in entries:
        if entry['shared_group']:
            groups.setdefault(entry['group']['name'], []).append(entry)
    for name, members in sorted(groups.items()):
        labels = ', '.join('eas_models[%d]' % e['index'] for e in members)
        for field in GROUP_FIELDS:
            values = set(str(e['group'][field]) for e in members)
            if len(values) > 1:
                errors.append(
                    'resource group %s is shared by %s, which give different %s (%s): the entries of one group must '
                    'agree on instance_type, instance_count, charge_type, zone and system_disk_size.'
                    % (name, labels, field, ', '.join(sorted(values)))
                )
        first = members[0]['group']
        gpus = _group_gpus(first['instance_type'], first['instance_count'])
        need = sum(_to_int(e.get('service_instance_count'), 1) for e in members)
        if gpus is not None and need > gpus:
            errors.append(
                'resource group %s has %d GPU(s) (%d x %s), but its entries (%s) need %d, one per service instance: set '
                'instance_count: %d on each of them, or give an entry its own resource_group.'
                % (
                    name,
                    gpus,
                    first['instance_count'],
                    first['instance_type'],
                    labels,
                    need,
                    -(-need // max(1, gpus // max(1, first['instance_count']))),
                )
            )
    return errors


# -- the plan -----------------------------------------------------------------------------------------------------------


def _strip_masked(desired, current):
    """``desired`` without the values the read side masks (secret env values are ``********`` in results)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        out = {}
        for key, value in desired.items():
            if current.get(key) == MASK:
                continue
            out[key] = _strip_masked(value, current.get(key)) if key in current else value
        return out
    if isinstance(desired, list) and isinstance(current, list) and len(desired) == len(current):
        return [_strip_masked(d, c) for d, c in zip(desired, current)]
    return desired


def config_matches(settings, service):
    """Whether a service already has the config of ``settings`` (the number of instances and the group aside: a
    different count is scaled in place, and each generation may live in its own group)."""
    try:
        desired = copy.deepcopy(vllm_service_config(dict(settings, group={'id': service.get('resource')}))['config'])
    except (SizingError, KeyError, TypeError, ValueError):
        return False
    meta = desired.get('metadata') or {}
    meta.pop('instance', None)
    meta.pop('resource', None)
    current = service.get('config') or {}
    return config_difference(_strip_masked(desired, current), current) is None


def _labels(service):
    labels = service.get('labels') or {}
    return labels if isinstance(labels, dict) else {}


def _generations(services, base):
    """``{generation: service}`` of the services named ``base`` or ``base_g<N>``."""
    found = {}
    for service in services:
        generation = generation_of(service.get('name'), base)
        if generation:
            found[generation] = service
    return found


def catalog_plan(entries, services, defaults, groups_read=None):
    """What the run does for the catalog ``entries`` given the region's ``services`` (eas_service_info's list) and,
    when the pre-flight read them, its groups (``groups_read``: per group name, eas_resource_group_info's
    ``resource_groups``).

    Per entry: the serving generation after the run (``generation``, ``name``, ``group``, ``exists``, ``status``,
    ``change``: V(none), V(create), V(update), V(scale?) or V(handover)), the older generations to retire once one-api
    has handed their traffic over (``retire``: ``name``, ``generation``, ``group``, ``delete_group``), and its
    ``settings`` and ``labels``. Also: ``removed`` (services of this catalog whose entry is gone), ``groups`` (the
    groups to create or scale, with ``shrink`` false while a service in them is still to be deleted), ``delete_groups``,
    ``shrink_groups``, ``teardown`` (every service and group of the catalog) and ``errors`` (a blue/green change
    without room in a shared group).
    """
    defaults = dict(defaults or {})
    dedicated = bool(defaults.get('dedicated', True))
    catalog_name = str(defaults.get('catalog_name') or '')
    services = [s for s in services or [] if isinstance(s, dict) and s.get('name')]
    planned, errors = [], []
    for entry in entries:
        base = entry['service_name']
        settings = entry_settings(entry, defaults)
        gens = _generations(services, base)
        target, change = 1, 'create'
        if gens:
            matching = [g for g in sorted(gens) if config_matches(settings, gens[g])]
            top = max(gens)
            if matching:
                target, change = max(matching), 'none'
            elif entry['change_strategy'] != 'blue_green' or gens[top].get('status') != 'Running':
                # Rolling update in place; also under blue_green when the newest generation does not serve (it failed
                # or is still starting): it carries no traffic, so it is updated in place (a rerun after a fix resumes).
                target, change = top, 'update'
            else:
                target, change = top + 1, 'create'
        retire = [g for g in sorted(gens) if g != target]
        if retire and change == 'none':
            change = 'handover'
        current = gens.get(target)
        base_group = entry['group']['name']
        if not dedicated:
            group = ''
        elif entry['shared_group']:
            group = base_group
        elif current is not None:
            group = _labels(current).get(GROUP_LABEL) or (
                base_group if target == 1 else '%s_g%d' % (base_group, target)
            )
        else:
            group = base_group if not gens else generation_name(base_group, target)
        retired = []
        for g in retire:
            service = gens[g]
            rgroup = ''
            if dedicated:
                rgroup = _labels(service).get(GROUP_LABEL) or (base_group if g == 1 else generation_name(base_group, g))
            retired.append(
                dict(
                    name=service['name'],
                    generation=g,
                    group=rgroup,
                    delete_group=bool(dedicated and not entry['shared_group'] and rgroup and rgroup != group),
                )
            )
        labels = {CATALOG_LABEL: catalog_name, ENTRY_LABEL: base}
        if group:
            labels[GROUP_LABEL] = group
        if entry['implicit']:
            labels[IMPLICIT_LABEL] = 'true'
        item = dict(
            index=entry['index'],
            implicit=entry['implicit'],
            default=entry['default'],
            service_name=base,
            aliases=list(entry['aliases']),
            channel=entry['channel'],
            model=entry.get('model'),
            strategy=entry['change_strategy'],
            generation=target,
            name=generation_name(base, target),
            exists=current is not None,
            status=(current or {}).get('status') or '',
            change=change,
            group=group,
            new_group=bool(dedicated and group and group != base_group and current is None),
            group_settings=dict(entry['group'], name=group),
            retire=retired,
            settings=settings,
            labels=labels,
            node_price_per_hour=_to_float(entry.get('node_price_per_hour')),
            service_instance_count=_to_int(entry.get('service_instance_count'), 1),
            shared_group=entry['shared_group'],
            autoscaler=entry['autoscaler'],
            cron_scaler=entry['cron_scaler'],
        )
        item['summary'] = _summary(item, dedicated)
        planned.append(item)
    bases = set(e['service_name'] for e in entries)
    removed = []
    for service in services:
        labels = _labels(service)
        base = labels.get(ENTRY_LABEL)
        if labels.get(CATALOG_LABEL) != catalog_name or not base or base in bases:
            continue
        removed.append(
            dict(
                name=service['name'],
                service_name=base,
                generation=generation_of(service['name'], base) or 1,
                group=labels.get(GROUP_LABEL, '') if dedicated else '',
                channel='' if labels.get(IMPLICIT_LABEL) == 'true' else base,
            )
        )
    kept_groups = set(p['group'] for p in planned if p['group'])
    kept_groups.update(e['group']['name'] for e in entries if e['group']['name'])
    deleted = set(r['name'] for p in planned for r in p['retire']) | set(r['name'] for r in removed)
    for service in services:
        if service['name'] not in deleted and _labels(service).get(GROUP_LABEL):
            kept_groups.add(_labels(service)[GROUP_LABEL])
    for item in removed:
        item['delete_group'] = bool(item['group'] and item['group'] not in kept_groups)
    delete_groups = sorted(
        set(r['group'] for p in planned for r in p['retire'] if r['delete_group'])
        | set(r['group'] for r in removed if r['delete_group'])
    )
    # Groups that hold a service to be deleted in this run are scaled down only after it is gone.
    busy = set(r['group'] for p in planned for r in p['retire']) | set(r['group'] for r in removed)
    groups = []
    for item in planned:
        if item['group'] and item['group'] not in [g['name'] for g in groups]:
            group = dict(item['group_settings'], shrink=item['group'] not in busy)
            found = (groups_read or {}).get(group['name']) or []
            group['seen'] = found[0] if len(found) == 1 and isinstance(found[0], dict) else {}
            group['settled'] = group_settled(group, group['seen'], bool(defaults.get('adopt_existing')))
            groups.append(group)
    errors.extend(_room_errors(planned))
    teardown_services = sorted(
        set(s['name'] for p in planned for s in services if generation_of(s['name'], p['service_name']))
        | set(r['name'] for r in removed)
    )
    teardown_groups = sorted(
        (
            set(e['group']['name'] for e in entries if e['group']['name'])
            | set(p['group'] for p in planned if p['group'])
            | set(r['group'] for p in planned for r in p['retire'] if r['group'])
            | set(r['group'] for r in removed if r['group'])
        )
        if dedicated
        else set()
    )
    plan = dict(
        entries=planned,
        removed=removed,
        groups=groups,
        delete_groups=delete_groups,
        shrink_groups=[g['name'] for g in groups if not g['shrink']],
        teardown=dict(services=teardown_services, groups=teardown_groups),
        errors=errors,
        handover=any(p['retire'] for p in planned) or bool(removed),
    )
    plan['cost'] = catalog_cost(plan)
    return plan


def group_settled(group, seen, adopt=False):
    """Whether eas_resource_group would find nothing to do for the planned ``group`` given what the pre-flight read of
    it (``seen``, eas_resource_group_info's item): this collection's own (or adopted), ResourceReady, every node
    counting, and as many nodes as planned (the count is left alone while ``shrink`` is false). Then the group step
    does not read it again."""
    if not seen or not (seen.get('managed') or adopt) or seen.get('status') != 'ResourceReady':
        return False
    instances = seen.get('instances') or []
    count = _to_int(seen.get('instance_count'), -1)
    if count != len(instances):
        return False
    return not group.get('shrink') or count == _to_int(group.get('instance_count'), 0)


def groups_seen(plan, results=None):
    """Per group name, the group as this run last saw it: the group step's results (``eas_resource_group``, one per
    ``plan.groups`` item; a skipped item has none) over what the pre-flight read."""
    out = dict((g['name'], g.get('seen') or {}) for g in plan.get('groups', []))
    for group, result in zip(plan.get('groups', []), results or []):
        if isinstance(result, dict) and result.get('resource_group'):
            out[group['name']] = result['resource_group']
    return out


def _summary(item, dedicated):
    """One line on what the run does for an entry."""
    where = (
        ' on %d x %s in %s'
        % (item['group_settings']['instance_count'], item['group_settings']['instance_type'], item['group'])
        if dedicated
        else ' on the public resource group (%s)' % item['group_settings']['instance_type']
    )
    aliases = ', '.join(item['aliases']) or 'oneapi_model_alias'
    head = '%s: %s%s, for %s: ' % (item['name'], item['model'], where, aliases)
    old = ', '.join(r['name'] for r in item['retire'])
    if item['retire'] and not item['exists']:
        what = (
            'blue/green change: the new generation %s is created%s; one-api hands the traffic over from %s, which is '
            'then deleted' % (item['name'], ' in the new group %s' % item['group'] if item['new_group'] else '', old)
        )
    elif item['retire']:
        what = (
            'blue/green change under way: %s%s, then one-api hands the traffic over from %s, which is then deleted'
            % (
                item['name'],
                ' is updated' if item['change'] == 'update' else ' exists',
                old,
            )
        )
    elif item['change'] == 'create':
        what = 'created'
    elif item['change'] == 'update':
        what = 'updated in place (%s)' % (
            'rolling update' if item['strategy'] == 'rolling' else 'it does not serve yet'
        )
    else:
        what = 'no change to its model'
    return head + what


def _room_errors(planned):
    """A blue/green change in a shared group needs a free GPU per instance beside the services that run there."""
    errors = []
    by_group = {}
    for item in planned:
        if item['shared_group'] and item['group']:
            by_group.setdefault(item['group'], []).append(item)
    for name, members in sorted(by_group.items()):
        settings = members[0]['group_settings']
        gpus = _group_gpus(settings['instance_type'], settings['instance_count'])
        if gpus is None:
            continue
        steady = sum(m['service_instance_count'] for m in members)
        changing = [m for m in members if m['retire'] and not m['exists']]
        need = steady + sum(m['service_instance_count'] for m in changing)
        if changing and need > gpus:
            per_node = max(1, gpus // max(1, settings['instance_count']))
            nodes = settings['instance_count'] + -(-(need - gpus) // per_node)
            for item in changing:
                errors.append(
                    'eas_models[%d] (%s): a blue/green change needs its new service %s beside %s in the shared resource '
                    'group %s, which has %d GPU(s) (%d x %s) and no room: its services use %d. Add a node: set '
                    'instance_count: %d on the entries of %s (one more %s, billed while it exists), or set '
                    'change_strategy: rolling on this entry (updated in place: down while the new model loads).'
                    % (
                        item['index'],
                        item['service_name'],
                        item['name'],
                        ', '.join(r['name'] for r in item['retire']),
                        name,
                        gpus,
                        settings['instance_count'],
                        settings['instance_type'],
                        steady,
                        nodes,
                        name,
                        settings['instance_type'],
                    )
                )
    return errors


def catalog_cost(plan):
    """The hourly cost of the catalog's nodes: per group, the total, and what a blue/green overlap adds meanwhile."""
    lines, total, unknown, overlap = [], 0.0, [], 0.0
    prices = {}
    for item in plan.get('entries', []):
        if item['group']:
            prices.setdefault(item['group'], item['node_price_per_hour'])
    for group in plan.get('groups', []):
        price = prices.get(group['name']) or node_price(group['instance_type'])
        count = int(group['instance_count'])
        if price:
            total += price * count
        else:
            unknown.append(group['instance_type'])
        lines.append(
            dict(group=group['name'], instance_type=group['instance_type'], nodes=count, price_per_hour=price or 0)
        )
    for item in plan.get('entries', []):
        if item['new_group'] and item['retire']:
            price = item['node_price_per_hour'] or node_price(item['group_settings']['instance_type'])
            overlap += (price or 0) * int(item['group_settings']['instance_count'])
    return dict(
        groups=lines,
        nodes=sum(g['nodes'] for g in lines),
        per_hour=round(total, 2),
        per_day=round(total * 24, 2),
        unknown_prices=sorted(set(unknown)),
        handover_overlap_per_hour=round(overlap, 2),
    )


def catalog_outputs(plan, results, previous=None):
    """The role's ``eas_catalog`` fact: per entry the serving generation's endpoint and token (from the eas_service or
    eas_service_info results, one per entry in plan order; an entry without a result keeps what ``previous`` had for
    it), the aliases and the generations to retire, whether it is still ``pending`` (changed in this run, or not
    Running) and whether it was ``fresh`` in this run (created, changed or not Running when a result of this run
    showed it: one-api tests the channel of a fresh upstream again); then the removed entries."""
    out = []
    results = list(results or [])
    known = dict((p.get('name'), p) for p in previous or [] if isinstance(p, dict))
    for position, item in enumerate(plan.get('entries', [])):
        result = results[position] if position < len(results) and isinstance(results[position], dict) else {}
        service = result.get('service') or {}
        if not service and isinstance(result.get('services'), list):
            # An eas_service_info result (the read entry point).
            service = (result['services'] or [{}])[0] or {}
        before = known.get(item['name'], {})
        if service:
            pending = bool(result.get('changed')) or service.get('status') != 'Running'
            fresh = bool(before.get('fresh')) or pending
        else:
            service = dict(
                internet_endpoint=before.get('endpoint'), access_token=before.get('token'), status=before.get('status')
            )
            pending = before.get('pending', True)
            fresh = bool(before.get('fresh'))
        out.append(
            dict(
                service_name=item['service_name'],
                name=item['name'],
                generation=item['generation'],
                default=item['default'],
                implicit=item['implicit'],
                aliases=item['aliases'],
                channel=item['channel'],
                served_model_name=item['model'],
                endpoint=service.get('internet_endpoint') or service.get('intranet_endpoint') or '',
                token=service.get('access_token') or '',
                status=service.get('status') or item['status'],
                retire_generations=[r['generation'] for r in item['retire']],
                absent=False,
                pending=pending,
                fresh=fresh,
            )
        )
    removed = {}
    for item in plan.get('removed', []):
        removed.setdefault((item['service_name'], item['channel']), []).append(item['generation'])
    for (name, channel), generations in sorted(removed.items()):
        out.append(
            dict(
                service_name=name,
                name=generation_name(name, max(generations)),
                generation=max(generations),
                default=False,
                implicit=channel == '',
                aliases=[],
                channel=channel,
                served_model_name='',
                endpoint='',
                token='',
                status='',
                retire_generations=sorted(generations),
                absent=True,
                pending=False,
                fresh=False,
            )
        )
    return out


def catalog_channels(catalog):
    """``eas_catalog`` (the eas_model role's output) as the oneapi role's ``oneapi_channels``: one route per entry."""
    return [
        dict(
            channel=item.get('channel') or '',
            aliases=list(item.get('aliases') or []),
            generation=int(item.get('generation') or 1),
            base_url=item.get('endpoint') or '',
            key=item.get('token') or '',
            served_model_name=item.get('served_model_name') or '',
            retire_generations=list(item.get('retire_generations') or []),
            absent=bool(item.get('absent')),
            upstream_changed=bool(item.get('fresh', True)),
        )
        for item in catalog or []
        if isinstance(item, dict)
    ]


def preflight_report(entries, specs, groups, services, defaults):
    """The read-only pre-flight of the catalog against what the region reports.

    ``specs``: eas_machine_spec_info's ``instance_types``; ``groups``: per group name, eas_resource_group_info's
    ``resource_groups``; ``services``: eas_service_info's list. Per entry: the instance type offered, available and in
    stock; the fit with the GPU memory the region reports; the group and service names free or this collection's own
    (unless ``adopt_existing``). Returns ``errors`` and ``lines`` (what a deployment would buy, and its cost).
    """
    defaults = dict(defaults or {})
    dedicated = bool(defaults.get('dedicated', True))
    adopt = bool(defaults.get('adopt_existing'))
    region = defaults.get('region')
    specs = specs or {}
    groups = groups or {}
    by_name = dict((s.get('name'), s) for s in services or [] if isinstance(s, dict))
    errors, lines = [], []
    offered = sorted(name for name, spec in specs.items() if (spec or {}).get('gpus'))
    total, unknown = 0.0, []
    seen_groups = set()
    for entry in entries:
        var = _namer(entry)
        itype = entry.get('instance_type')
        spec = specs.get(itype)
        if not spec:
            errors.append(
                _for_entry(
                    entry,
                    'eas_instance_type=%s is not offered in %s (DescribeMachineSpec). Pick one of the GPU types it '
                    'offers: %s.' % (itype, region, ', '.join(offered)),
                )
            )
        elif not spec.get('available') or spec.get('stock') == 'NoStock':
            errors.append(
                _for_entry(
                    entry,
                    'eas_instance_type=%s is %s in %s (%s): nodes would fail to be created. Try another eas_zone, another '
                    'instance type with the same GPU, or later.'
                    % (
                        itype,
                        'not available' if not spec.get('available') else 'out of stock',
                        region,
                        spec.get('stock'),
                    ),
                )
            )
        if spec:
            memory = _to_float(entry.get('gpu_memory_gib')) or _to_float(spec.get('gpu_usable_gib'))
            try:
                result = fit(
                    entry.get('model'),
                    itype,
                    _to_int(entry.get('max_model_len')),
                    _to_float(entry.get('gpu_memory_utilization'), 0.9),
                    memory,
                    defaults.get('extra_presets'),
                )
            except SizingError as err:
                result = dict(fits=False, message=str(err))
            if not result['fits']:
                errors.append(_for_entry(entry, result['message'] + ' (GPU memory as the region reports it)'))
        gname = entry['group']['name']
        found = groups.get(gname) or []
        if dedicated and gname not in seen_groups:
            seen_groups.add(gname)
            if found and not adopt and [g for g in found if not g.get('managed')]:
                errors.append(
                    '%s=%s names a resource group this collection did not create (%s): choose another name, or set '
                    'eas_adopt_existing=true to manage it (it is scaled to its instance_count and deleted by the '
                    'teardown).' % (var('resource_group'), gname, ', '.join(str(g.get('id')) for g in found))
                )
            if len(found) > 1:
                errors.append(
                    'there are %d resource groups named %s (%s): the deployment keeps one when all are its own and '
                    'refuses otherwise; the teardown with eas_teardown_force=true deletes all of them.'
                    % (len(found), gname, ', '.join(str(g.get('id')) for g in found))
                )
            price = _to_float(entry.get('node_price_per_hour')) or node_price(itype)
            count = _to_int(entry['group']['instance_count'], 1)
            if price:
                total += price * count
            else:
                unknown.append(itype)
        service = by_name.get(entry.get('service_name'))
        if service and not adopt and _labels(service).get('managed-by') != 'llmops.eas_stack':
            errors.append(
                '%s=%s names a service this collection did not create: choose another name, or set '
                'eas_adopt_existing=true to manage it (its config is replaced by the preset).'
                % (var('service_name'), entry.get('service_name'))
            )
        lines.append(
            '%s: %s on %s x %s (%s x %s %s GB, %s)%s'
            % (
                entry.get('service_name'),
                entry.get('model'),
                entry['group']['instance_count'] if dedicated else 1,
                itype,
                (spec or {}).get('gpus', '?'),
                (spec or {}).get('gpu') or 'GPU',
                (spec or {}).get('gpu_memory_gb', '?'),
                (spec or {}).get('stock', '?'),
                ' in %s' % gname if dedicated else '',
            )
        )
    if dedicated:
        lines.append(
            'Estimated cost: about CNY %s per hour, CNY %d per day%s, billed until the teardown deletes the nodes '
            '(stopping a service does not stop it).'
            % (
                round(total, 2),
                round(total * 24),
                (' (no published price for %s in the collection; see the console)' % ', '.join(sorted(set(unknown))))
                if unknown
                else '',
            )
        )
    else:
        lines.append('Public resource group: billed while the services run.')
    return dict(errors=errors, lines=lines, per_hour=round(total, 2))
