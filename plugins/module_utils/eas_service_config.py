# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A PAI-EAS service as the modules return it: its parsed config, with secrets masked, and its endpoints."""

from __future__ import annotations

import copy
import json
import re

SECRET_CONFIG_KEYS = ('dockerAuth',)
# ``containers[].env`` entries whose name matches this are treated as secrets (masked in results, diff, invocation).
SECRET_ENV_NAME_RE = re.compile(r'(?i)(pass|secret|token|key|auth|credential)')
MASK = '********'
MIN_SECRET_LEN = 4


def parse_service_config(service):
    raw = (service or {}).get('ServiceConfig')
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _env_items(container):
    """``(name, value, setter)`` for each env variable of a container (``env`` as a list of name/value or a dict)."""
    env = container.get('env') if isinstance(container, dict) else None
    if isinstance(env, list):
        for item in env:
            if isinstance(item, dict) and 'value' in item:
                yield str(item.get('name') or ''), item['value'], (lambda v, item=item: item.__setitem__('value', v))
    elif isinstance(env, dict):
        for name, value in env.items():
            yield str(name), value, (lambda v, env=env, name=name: env.__setitem__(name, v))


def _containers(config):
    containers = config.get('containers') if isinstance(config, dict) else None
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def config_secret_values(config):
    """The secret strings of a service config: every ``dockerAuth`` value and the values of secret-looking env names.

    The module adds them to ``no_log_values`` so that Ansible masks them in the invocation, the result and the diff.
    Values shorter than ``MIN_SECRET_LEN`` are left out: Ansible masks every occurrence of a no_log value inside any
    string of the output, so a flag like ``AUTH_ENABLED=1`` would otherwise garble every "1".
    """
    found = set()

    def collect(value):
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif value is not None and not isinstance(value, bool) and len(str(value).strip()) >= MIN_SECRET_LEN:
            found.add(str(value))

    if not isinstance(config, dict):
        return found
    for key in SECRET_CONFIG_KEYS:
        if key in config:
            collect(config[key])
    for container in _containers(config):
        for name, value, _setter in _env_items(container):
            if SECRET_ENV_NAME_RE.search(name):
                collect(value)
    return found


def scrub(config):
    """A copy of a service config for output: ``dockerAuth`` and secret-looking env values masked."""
    if not isinstance(config, dict):
        return config
    out = dict((k, MASK if k in SECRET_CONFIG_KEYS else v) for k, v in config.items())
    if _containers(config):
        out['containers'] = copy.deepcopy(config['containers'])
        for container in _containers(out):
            for name, _value, setter in list(_env_items(container)):
                if SECRET_ENV_NAME_RE.search(name):
                    setter(MASK)
    return out


def endpoint_url(url, https=True):
    """The service endpoint with ``https://`` instead of ``http://`` when ``https`` is true.

    DescribeService returns ``http://`` endpoints. The internet endpoint's gateway serves the same path over HTTPS, and
    the token must not cross the internet in clear; whether a VPC (intranet) endpoint serves TLS is not documented, so
    it is returned as EAS gives it unless asked otherwise.
    """
    if https and isinstance(url, str) and url[:7].lower() == 'http://':
        return 'https://' + url[7:]
    return url


def service_result(service, https=True, https_intranet=False):
    if not service:
        return {}
    return dict(
        name=service.get('ServiceName'),
        id=service.get('ServiceId') or service.get('ServiceUid'),
        status=service.get('Status'),
        reason=service.get('Reason'),
        message=service.get('Message'),
        internet_endpoint=endpoint_url(service.get('InternetEndpoint'), https),
        intranet_endpoint=endpoint_url(service.get('IntranetEndpoint'), https_intranet),
        access_token=service.get('AccessToken'),
        config=scrub(parse_service_config(service)),
        resource=service.get('Resource'),
        running_instance=service.get('RunningInstance'),
        total_instance=service.get('TotalInstance'),
        current_version=service.get('CurrentVersion'),
        latest_version=service.get('LatestVersion'),
        labels=labels_dict(service.get('Labels')),
    )


def labels_dict(labels):
    """EAS returns labels as ``[{LabelKey, LabelValue}]`` (or a dict); always a dict here."""
    if isinstance(labels, dict):
        return labels
    return dict((str(i.get('LabelKey')), i.get('LabelValue')) for i in labels or [] if isinstance(i, dict))


def service_endpoints_argument_spec():
    """Options of the modules that return service endpoints (documented in ``llmops.eas_stack.eas.service_endpoints``)."""
    return dict(
        https_endpoints=dict(type='bool', default=True),
        https_intranet_endpoint=dict(type='bool', default=False),
    )


# What this collection puts on what it creates (CreateService / CreateResource labels), to recognise it later.
MANAGED_LABELS = {'managed-by': 'llmops.eas_stack'}
SERVICE_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{2,62}$')
# OSS bucket names: 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.
OSS_BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$')
OSS_PATH_RE = re.compile(r'^oss://(?P<bucket>[^/]+)/(?P<path>.*)$')


def oss_path_error(path):
    """Why ``path`` is not an EAS OSS mount path (``oss://<bucket>/<dir>/``, the endpoint given apart), or None."""
    match = OSS_PATH_RE.match(str(path or ''))
    if not match:
        return 'an OSS path is oss://<bucket>/<dir>/ (got %r)' % path
    bucket = match.group('bucket')
    if '.' in bucket:
        return (
            'the bucket part of %r holds an endpoint (%s): write oss://%s/%s and give the endpoint apart (oss.endpoint, '
            'for example %s)' % (path, bucket, bucket.split('.')[0], match.group('path'), bucket.split('.', 1)[1])
        )
    if not OSS_BUCKET_RE.match(bucket):
        return 'bucket %r of %r is not an OSS bucket name (3-63 lowercase letters, digits and hyphens)' % (bucket, path)
    return None


def _is_int(value, low=None):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool) and float(value) == number and (low is None or number >= low)


def service_config_errors(config, name):
    """What EAS would refuse in a service config (CreateService / UpdateService body), as messages naming the key."""
    if not isinstance(config, dict):
        return ['the config must be a dict']
    errors = []
    meta = config.get('metadata', {})
    if not isinstance(meta, dict):
        return ['metadata must be a dict']
    if meta.get('name') not in (None, name):
        errors.append('metadata.name (%s) differs from the service name (%s)' % (meta.get('name'), name))
    for key, low in (('instance', 0), ('cpu', 1), ('memory', 1), ('gpu', 0)):
        if key in meta and not _is_int(meta[key], low):
            errors.append('metadata.%s must be a whole number of at least %d (got %r)' % (key, low, meta[key]))
    if meta.get('resource') and (config.get('cloud') or {}).get('computing'):
        errors.append('metadata.resource (a dedicated group) and cloud.computing (the public group) exclude each other')
    containers = config.get('containers', [])
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        errors.append('containers must be a list of dicts (image, port, script)')
        containers = []
    for i, container in enumerate(containers):
        if not isinstance(container.get('image'), str) or not container.get('image'):
            errors.append('containers[%d].image must be an image reference' % i)
        if 'port' in container and not (_is_int(container['port'], 1) and int(container['port']) <= 65535):
            errors.append('containers[%d].port must be a port number (got %r)' % (i, container['port']))
    storage = config.get('storage', [])
    if not isinstance(storage, list) or not all(isinstance(m, dict) for m in storage):
        errors.append('storage must be a list of dicts (mount_path and oss, nfs...)')
        storage = []
    for i, mount in enumerate(storage):
        if not str(mount.get('mount_path') or '').startswith('/'):
            errors.append('storage[%d].mount_path must be an absolute path' % i)
        oss = mount.get('oss')
        if isinstance(oss, dict):
            problem = oss_path_error(oss.get('path'))
            if problem:
                errors.append('storage[%d].oss.path: %s' % (i, problem))
    return errors
