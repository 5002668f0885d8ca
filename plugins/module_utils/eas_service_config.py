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

    DescribeService returns ``http://`` endpoints, but the EAS gateway serves the same path over HTTPS; the token
    must not cross the internet in clear.
    """
    if https and isinstance(url, str) and url[:7].lower() == 'http://':
        return 'https://' + url[7:]
    return url


def service_result(service, https_endpoints=True):
    if not service:
        return {}
    return dict(
        name=service.get('ServiceName'),
        id=service.get('ServiceId') or service.get('ServiceUid'),
        status=service.get('Status'),
        reason=service.get('Reason'),
        message=service.get('Message'),
        internet_endpoint=endpoint_url(service.get('InternetEndpoint'), https_endpoints),
        intranet_endpoint=endpoint_url(service.get('IntranetEndpoint'), https_endpoints),
        access_token=service.get('AccessToken'),
        config=scrub(parse_service_config(service)),
        resource=service.get('Resource'),
        running_instance=service.get('RunningInstance'),
        total_instance=service.get('TotalInstance'),
        current_version=service.get('CurrentVersion'),
        latest_version=service.get('LatestVersion'),
    )


def service_endpoints_argument_spec():
    """Options of the modules that return service endpoints (documented in ``llmops.eas_stack.eas.service_endpoints``)."""
    return dict(https_endpoints=dict(type='bool', default=True))
