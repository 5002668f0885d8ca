# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""How an EAS module connects: its common options, the endpoint, the credentials and the SDK it needs."""

from __future__ import annotations

import re
import traceback
from urllib.parse import urlparse

from ansible.module_utils.basic import env_fallback

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError

__all__ = [
    'SDK_REQUIREMENT',
    'SDKClient',
    'eas_models',
    'open_api_models',
    'TeaException',
    'UnretryableException',
    'EASConfigError',
    'eas_argument_spec',
    'check_sdk',
    'parse_endpoint',
    'resolve_credentials',
    'build_sdk_config',
]

# The one SDK requirement of the collection (requirements.txt and the doc fragment say the same; a unit test checks).
SDK_REQUIREMENT = 'alibabacloud-eas20210701>=6.17.0,<7'

try:
    from alibabacloud_eas20210701.client import Client as SDKClient
    from alibabacloud_eas20210701 import models as eas_models
    from alibabacloud_tea_openapi import models as open_api_models
    from Tea.exceptions import TeaException, UnretryableException

    SDK_IMPORT_ERROR = None
except ImportError:
    SDK_IMPORT_ERROR = traceback.format_exc()
    SDKClient = eas_models = open_api_models = None

    class TeaException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except`` clauses work when the SDK is missing."""

    class UnretryableException(TeaException):  # type: ignore[no-redef]
        """Stand-in so that ``except`` clauses work when the SDK is missing."""


try:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.exceptions import CredentialException
except ImportError:
    CredentialClient = None

    class CredentialException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except`` clauses work when alibabacloud-credentials is missing."""


REGION_ENV = ['ALIBABA_CLOUD_REGION_ID', 'ALICLOUD_REGION', 'ALICLOUD_REGION_ID']
ACCESS_KEY_ID_ENV = ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALICLOUD_ACCESS_KEY_ID', 'ALICLOUD_ACCESS_KEY']
ACCESS_KEY_SECRET_ENV = ['ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALICLOUD_SECRET_KEY', 'ALICLOUD_ACCESS_KEY_SECRET']
SECURITY_TOKEN_ENV = ['ALIBABA_CLOUD_SECURITY_TOKEN', 'ALICLOUD_SECURITY_TOKEN']

# Config.read_timeout / connect_timeout are milliseconds.
READ_TIMEOUT_MS = 30000
CONNECT_TIMEOUT_MS = 10000


class EASConfigError(ModuleError):
    """Bad or missing connection settings (region, endpoint, credentials, SDK)."""


def eas_argument_spec():
    """The options every EAS module has (documented in the ``llmops.eas_stack.eas`` doc fragment)."""
    return dict(
        region=dict(type='str', fallback=(env_fallback, REGION_ENV)),
        endpoint=dict(type='str'),
        access_key_id=dict(type='str', no_log=False, fallback=(env_fallback, ACCESS_KEY_ID_ENV)),
        access_key_secret=dict(type='str', no_log=True, fallback=(env_fallback, ACCESS_KEY_SECRET_ENV)),
        security_token=dict(type='str', no_log=True, fallback=(env_fallback, SECURITY_TOKEN_ENV)),
    )


def check_sdk():
    """Raise EASConfigError when the SDK is missing or is the older 7.0.0 API surface."""
    if SDK_IMPORT_ERROR is not None:
        raise EASConfigError(
            'Failed to import the required Python library (%s) on the controller\'s Python. Install it '
            'into the Python that runs Ansible (pip install "%s").' % (SDK_REQUIREMENT, SDK_REQUIREMENT),
            exception=SDK_IMPORT_ERROR,
        )
    if not hasattr(eas_models, 'ScaleServiceRequest') or not hasattr(eas_models, 'DescribeServiceRequest'):
        raise EASConfigError(
            '%s is required; the installed version is the older 7.0.0 API surface '
            '(pip install "%s")' % (SDK_REQUIREMENT, SDK_REQUIREMENT)
        )


_HOST_PORT_RE = re.compile(r'^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$')
REGION_RE = re.compile(r'^[a-z]{2}-[a-z0-9-]*[a-z0-9]$')


def _checked_host(host, endpoint):
    if not _HOST_PORT_RE.match(host):
        raise EASConfigError(
            'endpoint %r is not a host name, host:port or http(s) URL (for example '
            'pai-eas.cn-hangzhou.aliyuncs.com); leave it empty for the region\'s public endpoint' % endpoint
        )
    return host


def parse_endpoint(endpoint, region):
    """Return ``(host[:port], protocol)`` for ``Config.endpoint`` / ``Config.protocol``.

    ``endpoint`` may be a host, ``host:port`` or a URL with scheme. Empty means the public regional
    endpoint ``pai-eas.<region>.aliyuncs.com`` (never the SDK's ``eas.<region>`` fallback).
    """
    if endpoint is None or not str(endpoint).strip():
        if not region:
            raise EASConfigError('cannot build the default endpoint without a region')
        return 'pai-eas.%s.aliyuncs.com' % region, 'https'
    endpoint = str(endpoint).strip()
    if '://' in endpoint:
        parsed = urlparse(endpoint)
        scheme = parsed.scheme.lower()
        if scheme not in ('http', 'https'):
            raise EASConfigError('endpoint %r: the scheme must be http or https' % endpoint)
        if not parsed.netloc:
            raise EASConfigError('endpoint %r has no host' % endpoint)
        if parsed.path not in ('', '/') or parsed.query:
            raise EASConfigError('endpoint %r: give only scheme, host and port (no path or query)' % endpoint)
        return _checked_host(parsed.netloc, endpoint), scheme
    if '/' in endpoint:
        raise EASConfigError('endpoint %r: give a host, host:port or a URL with scheme' % endpoint)
    return _checked_host(endpoint, endpoint), 'https'


def _blank_to_none(value):
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


NO_CREDENTIALS = (
    'no Alibaba Cloud credentials found. Tried: (1) the module options access_key_id/access_key_secret '
    '(security_token for STS); (2) the environment variables ALIBABA_CLOUD_ACCESS_KEY_ID/'
    'ALIBABA_CLOUD_ACCESS_KEY_SECRET and the older ALICLOUD_ACCESS_KEY(_ID)/ALICLOUD_SECRET_KEY; '
    '(3) the alibabacloud-credentials default chain (OIDC, ~/.aliyun/config.json, '
    '~/.alibabacloud/credentials, ECS RAM role, ALIBABA_CLOUD_CREDENTIALS_URI). Set one of them.'
)


def resolve_credentials(params, credential_client_factory=None):
    """Decide where the credentials come from.

    Order: the module options, then (through the options' ``env_fallback``) ``ALIBABA_CLOUD_*`` and then the
    older ``ALICLOUD_*`` environment names, then the alibabacloud-credentials default chain.

    Returns a dict of ``open_api_models.Config`` keyword arguments: either ``access_key_id`` /
    ``access_key_secret`` (/ ``security_token``), or ``credential`` (a credentials client).
    """
    ak = _blank_to_none(params.get('access_key_id'))
    secret = _blank_to_none(params.get('access_key_secret'))
    token = _blank_to_none(params.get('security_token'))
    if ak and secret:
        result = dict(access_key_id=ak, access_key_secret=secret)
        if token:
            result['security_token'] = token
        return result
    if ak or secret:
        missing = 'access_key_secret' if ak else 'access_key_id'
        raise EASConfigError(
            'access_key_id and access_key_secret must be given together; %s is missing '
            '(option, or environment %s)' % (missing, ' / '.join(ACCESS_KEY_SECRET_ENV if ak else ACCESS_KEY_ID_ENV))
        )
    factory = credential_client_factory or CredentialClient
    if factory is None:
        raise EASConfigError(
            NO_CREDENTIALS + ' (the alibabacloud-credentials package is not installed, so (3) was skipped)'
        )
    try:
        credential = factory()
        # Resolve now, so that "nothing found" is reported clearly instead of an SDK error on the first call.
        resolved = credential.get_credential()
    except (CredentialException, ValueError, OSError, TeaException) as exc:
        raise EASConfigError('%s Last error from the chain: %s' % (NO_CREDENTIALS, exc)) from exc
    if resolved is None or not getattr(resolved, 'access_key_id', None) and not getattr(resolved, 'bearer_token', None):
        raise EASConfigError(NO_CREDENTIALS)
    return dict(credential=credential)


def build_sdk_config(params, credential_client_factory=None):
    """Return the keyword arguments of ``open_api_models.Config`` for the module parameters."""
    region = _blank_to_none(params.get('region'))
    if not region:
        raise EASConfigError(
            'region is required: set the region option, or the environment variable %s' % ' / '.join(REGION_ENV)
        )
    if not REGION_RE.match(region):
        raise EASConfigError(
            'region %r is not a region id: use the lowercase id with dashes, for example cn-hangzhou' % region
        )
    host, protocol = parse_endpoint(params.get('endpoint'), region)
    kwargs = dict(
        region_id=region,
        endpoint=host,
        protocol=protocol,
        read_timeout=READ_TIMEOUT_MS,
        connect_timeout=CONNECT_TIMEOUT_MS,
    )
    kwargs.update(resolve_credentials(params, credential_client_factory))
    return kwargs
