# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one shared PAI-EAS client of the collection.

Layers (top to bottom):

* ``AnsibleEASModule``: an ``AnsibleModule`` wrapper (composition) that merges the common argument
  spec, builds the client and formats failures (``fail_json_eas``).
* ``EASClient``: one method per PAI-EAS operation the modules use. It calls the typed methods of
  ``alibabacloud_eas20210701.client.Client`` (6.x line, where most methods take an extra, empty request
  model), returns plain dicts (the JSON keys of the API, PascalCase), retries, and maps not-found to None.
* ``RetryPolicy``: bounded retries with jittered exponential backoff and a per-run retry budget.
* ``EASError``: one exception type carrying code, message, HTTP status and request id.

The waiters live in ``eas_waiter.py``.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
import traceback
from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

try:
    from alibabacloud_eas20210701.client import Client as _SDKClient
    from alibabacloud_eas20210701 import models as eas_models
    from alibabacloud_tea_openapi import models as open_api_models
    from Tea.exceptions import TeaException, UnretryableException
    HAS_EAS_SDK = True
    EAS_SDK_IMP_ERR = None
except ImportError:
    HAS_EAS_SDK = False
    EAS_SDK_IMP_ERR = traceback.format_exc()
    _SDKClient = None
    eas_models = None
    open_api_models = None

    class TeaException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except`` clauses work when the SDK is missing."""

    class UnretryableException(TeaException):  # type: ignore[no-redef]
        """Stand-in so that ``except`` clauses work when the SDK is missing."""

try:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.exceptions import CredentialException
    HAS_CREDENTIALS = True
except ImportError:
    CredentialClient = None
    HAS_CREDENTIALS = False

    class CredentialException(Exception):  # type: ignore[no-redef]
        """Stand-in so that ``except`` clauses work when alibabacloud-credentials is missing."""


# ---------------------------------------------------------------------------------------------------------------------
# Argument spec, credentials, endpoint
# ---------------------------------------------------------------------------------------------------------------------

REGION_ENV = ['ALIBABA_CLOUD_REGION_ID', 'ALICLOUD_REGION', 'ALICLOUD_REGION_ID']
ACCESS_KEY_ID_ENV = ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALICLOUD_ACCESS_KEY_ID', 'ALICLOUD_ACCESS_KEY']
ACCESS_KEY_SECRET_ENV = ['ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALICLOUD_SECRET_KEY', 'ALICLOUD_ACCESS_KEY_SECRET']
SECURITY_TOKEN_ENV = ['ALIBABA_CLOUD_SECURITY_TOKEN', 'ALICLOUD_SECURITY_TOKEN']

# Config.read_timeout / connect_timeout are milliseconds.
READ_TIMEOUT_MS = 30000
CONNECT_TIMEOUT_MS = 10000


def eas_argument_spec():
    """The options every EAS module has (documented in the ``llmops.eas_stack.eas`` doc fragment)."""
    return dict(
        region=dict(type='str', fallback=(env_fallback, REGION_ENV)),
        endpoint=dict(type='str'),
        access_key_id=dict(type='str', no_log=False, fallback=(env_fallback, ACCESS_KEY_ID_ENV)),
        access_key_secret=dict(type='str', no_log=True, fallback=(env_fallback, ACCESS_KEY_SECRET_ENV)),
        security_token=dict(type='str', no_log=True, fallback=(env_fallback, SECURITY_TOKEN_ENV)),
    )


class EASConfigError(Exception):
    """Bad or missing connection settings (region, endpoint, credentials)."""


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
        return parsed.netloc, scheme
    if '/' in endpoint:
        raise EASConfigError('endpoint %r: give a host, host:port or a URL with scheme' % endpoint)
    return endpoint, 'https'


def _blank_to_none(value):
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None


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
            '(option, or environment %s)' % (missing, ' / '.join(ACCESS_KEY_SECRET_ENV if ak else ACCESS_KEY_ID_ENV)))

    none_found = (
        'no Alibaba Cloud credentials found. Tried: (1) the module options access_key_id/access_key_secret '
        '(security_token for STS); (2) the environment variables ALIBABA_CLOUD_ACCESS_KEY_ID/'
        'ALIBABA_CLOUD_ACCESS_KEY_SECRET and the older ALICLOUD_ACCESS_KEY(_ID)/ALICLOUD_SECRET_KEY; '
        '(3) the alibabacloud-credentials default chain (OIDC, ~/.aliyun/config.json, '
        '~/.alibabacloud/credentials, ECS RAM role, ALIBABA_CLOUD_CREDENTIALS_URI). Set one of them.')
    factory = credential_client_factory or CredentialClient
    if factory is None:
        raise EASConfigError(none_found + ' (the alibabacloud-credentials package is not installed, so (3) was skipped)')
    try:
        credential = factory()
        # Resolve now, so that "nothing found" is reported clearly instead of an SDK error on the first call.
        resolved = credential.get_credential()
    except (CredentialException, ValueError, OSError, TeaException) as exc:
        raise EASConfigError('%s Last error from the chain: %s' % (none_found, exc)) from exc
    if resolved is None or not getattr(resolved, 'access_key_id', None) and not getattr(resolved, 'bearer_token', None):
        raise EASConfigError(none_found)
    return dict(credential=credential)


def build_sdk_config(params, credential_client_factory=None):
    """Return the keyword arguments of ``open_api_models.Config`` for the module parameters."""
    region = _blank_to_none(params.get('region'))
    if not region:
        raise EASConfigError('region is required: set the region option, or the environment variable %s'
                             % ' / '.join(REGION_ENV))
    host, protocol = parse_endpoint(params.get('endpoint'), region)
    kwargs = dict(region_id=region, endpoint=host, protocol=protocol,
                  read_timeout=READ_TIMEOUT_MS, connect_timeout=CONNECT_TIMEOUT_MS)
    kwargs.update(resolve_credentials(params, credential_client_factory))
    return kwargs


# ---------------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------------

class EASError(Exception):
    """An EAS API failure, normalised across tea-openapi generations."""

    def __init__(self, message, code=None, status=None, request_id=None, action=None, retryable=False, exception=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.action = action
        self.retryable = retryable
        self.exception = exception

    @property
    def not_found(self):
        return is_not_found(self.code, self.status)

    def __str__(self):
        return format_error(self)


def _clean(value):
    if value is None:
        return None
    value = str(value)
    return None if value in ('', 'None', 'null') else value


_SDK_MESSAGE_RE = re.compile(r'^code: \d+, (?P<msg>.*?)(?: request id: \S*)?$', re.S)


def from_tea_exception(exc, action=None):
    """Turn any Tea/darabonba/tea-openapi exception into an ``EASError``."""
    data = getattr(exc, 'data', None)
    data = data if isinstance(data, dict) else {}
    status = getattr(exc, 'status_code', None) or getattr(exc, 'statusCode', None) or data.get('statusCode')
    try:
        status = int(status) if status is not None else None
    except (TypeError, ValueError):
        status = None
    code = _clean(getattr(exc, 'code', None)) or _clean(data.get('Code') or data.get('code'))
    request_id = _clean(getattr(exc, 'request_id', None)) or _clean(data.get('RequestId') or data.get('requestId'))
    message = _clean(data.get('Message') or data.get('message'))
    if not message:
        raw = _clean(getattr(exc, 'message', None)) or str(exc)
        match = _SDK_MESSAGE_RE.match(raw)
        message = match.group('msg') if match else raw
    network = isinstance(exc, UnretryableException) and status is None
    if network:
        inner = getattr(exc, 'inner_exception', None)
        detail = (getattr(inner, 'message', None) or str(inner)) if inner is not None else message
        message = 'network error: %s' % detail
        code = code or 'NetworkError'
    err = EASError(message, code=code, status=status, request_id=request_id, action=action, exception=exc)
    err.retryable = network or is_retryable_code(code, status)
    err.network = network
    err.throttled = is_throttling_code(code, status)
    retry_after = getattr(exc, 'retry_after', None)
    err.retry_after_ms = retry_after if isinstance(retry_after, int) and retry_after > 0 else None
    return err


def format_error(err):
    """``<action>: <code> (HTTP <status>): <message> [request id: <id>]``."""
    parts = []
    if err.code:
        parts.append(err.code)
    if err.status:
        parts.append('(HTTP %s)' % err.status)
    head = ' '.join(parts)
    text = '%s: %s' % (head, err.message) if head else str(err.message)
    if err.request_id:
        text += ' [request id: %s]' % err.request_id
    if err.action:
        text = '%s failed: %s' % (err.action, text)
    return text


def is_not_found(code, status):
    """InvalidService.NotFound, any ``*.NotFound`` code or HTTP 404 mean "absent"."""
    if status == 404:
        return True
    return bool(code) and (code == 'NotFound' or code.endswith('.NotFound') or code.startswith('NotFound.'))


_THROTTLING_RE = re.compile(r'^(Throttling.*|.*\.Throttling|Rejected\.Throttling|.*TooManyRequests.*)$')
_UNAVAILABLE_CODES = ('ServiceUnavailable', 'InternalError', 'InternalServerError', 'ServiceTimeout', 'UnknownError')


def is_throttling_code(code, status):
    return status == 429 or bool(code and _THROTTLING_RE.match(code))


def is_retryable_code(code, status):
    """Throttling, 5xx and the availability codes are transient; other 4xx are not."""
    if is_throttling_code(code, status):
        return True
    if code and (code in _UNAVAILABLE_CODES or code.startswith('ServiceUnavailable')):
        return True
    return status is not None and 500 <= status <= 599


# ---------------------------------------------------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------------------------------------------------

class RetryPolicy:
    """Bounded retries with jittered exponential backoff and a retry budget shared by one module run.

    Delay before retry n (1-based): ``d = min(max_delay, base_delay * factor ** (n - 1))``, slept as
    ``uniform(d / 2, d)`` ("equal jitter": never 0, never above the cap). A throttling reply with
    ``x-acs-retry-after`` (milliseconds) raises the floor to that hint (capped at max_delay).
    """

    def __init__(self, max_retries=5, base_delay=1.0, factor=2.0, max_delay=20.0, budget=20,
                 sleep=None, rand=None):
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.factor = factor
        self.max_delay = max_delay
        self.budget = budget
        self.retries_used = 0
        self._sleep = sleep
        self._rand = rand or random.uniform

    def delay(self, attempt, hint_ms=None):
        cap = min(self.max_delay, self.base_delay * (self.factor ** (attempt - 1)))
        delay = self._rand(cap / 2.0, cap)
        if hint_ms:
            delay = max(delay, min(self.max_delay, hint_ms / 1000.0))
        return delay

    def sleep(self, seconds):
        (self._sleep if self._sleep is not None else time.sleep)(seconds)

    def run(self, action, func, mutating=False):
        """Call ``func()``; translate SDK errors to EASError; retry transient ones.

        ``mutating=True`` (calls that create something) retries only on throttling, which the server rejects
        before doing anything; a 5xx or a network error there may have created the object already.
        """
        attempt = 0
        while True:
            try:
                return func()
            except TeaException as exc:
                err = from_tea_exception(exc, action)
            attempt += 1
            retry = err.throttled if mutating else err.retryable
            if not retry:
                raise err
            if attempt > self.max_retries:
                err.message = '%s (gave up after %d retries)' % (err.message, self.max_retries)
                raise err
            if self.retries_used >= self.budget:
                err.message = '%s (retry budget of %d retries for this task exhausted)' % (err.message, self.budget)
                raise err
            self.retries_used += 1
            self.sleep(self.delay(attempt, getattr(err, 'retry_after_ms', None)))


# ---------------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------------

def _body(response):
    """Typed SDK response → the JSON body as a plain dict (PascalCase keys, as on the wire)."""
    body = getattr(response, 'body', None)
    if body is None:
        return {}
    if isinstance(body, dict):
        return body
    return body.to_map() or {}


MUTATING_ACTIONS = frozenset([
    'CreateService', 'UpdateService', 'ScaleService', 'StartService', 'StopService', 'RestartService',
    'DeleteService', 'CreateResource', 'UpdateResource', 'DeleteResource', 'CreateResourceInstances',
    'DeleteResourceInstances',
])


class EASClient:
    """One method per PAI-EAS operation used by the collection. Every method returns plain data.

    ``sdk`` is an ``alibabacloud_eas20210701.client.Client`` (6.x). ``region`` is the ClusterId.
    ``check_mode=True`` makes every mutating method raise: a safety net behind the modules' own checks.
    """

    PAGE_SIZE = 100

    def __init__(self, sdk, region, retry=None, check_mode=False):
        self.sdk = sdk
        self.region = region
        self.retry = retry or RetryPolicy()
        self.check_mode = check_mode
        self.calls = []

    # -- plumbing ------------------------------------------------------------------------------------------------
    def _call(self, action, what, func, not_found=False):
        if self.check_mode and action in MUTATING_ACTIONS:
            raise EASError('internal error: %s attempted in check mode' % action, code='CheckMode', action=what)
        self.calls.append(action)
        mutating = action in ('CreateService', 'CreateResource', 'CreateResourceInstances')
        try:
            return _body(self.retry.run(what, func, mutating=mutating))
        except EASError as err:
            if not_found and err.not_found:
                return None
            raise

    def _paged(self, action, what, func, key, page_size=None):
        items = []
        page = 1
        page_size = page_size or self.PAGE_SIZE
        while True:
            body = self._call(action, what, lambda p=page: func(p, page_size)) or {}
            batch = body.get(key) or []
            items.extend(batch)
            total = body.get('TotalCount')
            try:
                total = int(total) if total is not None else None
            except (TypeError, ValueError):
                total = None
            if not batch or len(batch) < page_size or (total is not None and len(items) >= total) or page >= 100:
                return items
            page += 1

    # -- services ------------------------------------------------------------------------------------------------
    def describe_service(self, name):
        """The Service object, or None when it does not exist."""
        return self._call('DescribeService', 'describe service %s' % name,
                          lambda: self.sdk.describe_service(self.region, name, eas_models.DescribeServiceRequest()),
                          not_found=True)

    def list_services(self, **filters):
        """ListServices with snake_case filters (service_name, filter, resource_id, service_status, ...)."""
        def page(number, size):
            return self.sdk.list_services(eas_models.ListServicesRequest(page_number=number, page_size=size, **filters))
        return self._paged('ListServices', 'list services', page, 'Services')

    def create_service(self, config, labels=None, workspace_id=None):
        request = eas_models.CreateServiceRequest(body=json.dumps(config, sort_keys=True), labels=labels or None,
                                                  workspace_id=workspace_id)
        name = (config.get('metadata') or {}).get('name') or config.get('name')
        return self._call('CreateService', 'create service %s' % name, lambda: self.sdk.create_service(request))

    def update_service(self, name, body, update_type=None):
        request = eas_models.UpdateServiceRequest(body=json.dumps(body, sort_keys=True), update_type=update_type)
        return self._call('UpdateService', 'update service %s' % name,
                          lambda: self.sdk.update_service(self.region, name, request))

    def scale_service(self, name, instance):
        request = eas_models.ScaleServiceRequest(instance=int(instance))
        return self._call('ScaleService', 'scale service %s to %s instances' % (name, instance),
                          lambda: self.sdk.scale_service(self.region, name, request))

    def start_service(self, name):
        return self._call('StartService', 'start service %s' % name,
                          lambda: self.sdk.start_service(self.region, name, eas_models.StartServiceRequest()))

    def stop_service(self, name):
        return self._call('StopService', 'stop service %s' % name,
                          lambda: self.sdk.stop_service(self.region, name, eas_models.StopServiceRequest()))

    def restart_service(self, name):
        return self._call('RestartService', 'restart service %s' % name,
                          lambda: self.sdk.restart_service(self.region, name, eas_models.RestartServiceRequest()))

    def delete_service(self, name):
        """Returns False when the service was already gone."""
        result = self._call('DeleteService', 'delete service %s' % name,
                            lambda: self.sdk.delete_service(self.region, name, eas_models.DeleteServiceRequest()),
                            not_found=True)
        return result is not None

    def describe_service_endpoints(self, name):
        return self._call('DescribeServiceEndpoints', 'describe endpoints of service %s' % name,
                          lambda: self.sdk.describe_service_endpoints(self.region, name,
                                                                      eas_models.DescribeServiceEndpointsRequest()),
                          not_found=True)

    def describe_service_events(self, name, event_type='Warning', page_size=20):
        request = eas_models.DescribeServiceEventRequest(event_type=event_type, page_num='1', page_size=str(page_size))
        body = self._call('DescribeServiceEvent', 'describe events of service %s' % name,
                          lambda: self.sdk.describe_service_event(self.region, name, request), not_found=True)
        return (body or {}).get('Events') or []

    def describe_service_diagnosis(self, name):
        body = self._call('DescribeServiceDiagnosis', 'diagnose service %s' % name,
                          lambda: self.sdk.describe_service_diagnosis(self.region, name,
                                                                      eas_models.DescribeServiceDiagnosisRequest()),
                          not_found=True)
        return (body or {}).get('DiagnosisList') or []

    def describe_service_log(self, name, page_size=50):
        request = eas_models.DescribeServiceLogRequest(page_num=1, page_size=page_size)
        body = self._call('DescribeServiceLog', 'read the log of service %s' % name,
                          lambda: self.sdk.describe_service_log(self.region, name, request), not_found=True)
        return (body or {}).get('Logs') or []

    # -- resource groups -----------------------------------------------------------------------------------------
    def list_resources(self, **filters):
        def page(number, size):
            return self.sdk.list_resources(eas_models.ListResourcesRequest(page_number=number, page_size=size, **filters))
        return self._paged('ListResources', 'list resource groups', page, 'Resources')

    def describe_resource(self, resource_id):
        return self._call('DescribeResource', 'describe resource group %s' % resource_id,
                          lambda: self.sdk.describe_resource(self.region, resource_id, eas_models.DescribeResourceRequest()),
                          not_found=True)

    def create_resource(self, name, instance_type, instance_count, charge_type, zone=None, system_disk_size=None):
        request = eas_models.CreateResourceRequest(
            resource_type='Dedicated', resource_name=name, ecs_instance_type=instance_type,
            ecs_instance_count=int(instance_count), charge_type=charge_type, zone=zone,
            system_disk_size=system_disk_size)
        return self._call('CreateResource', 'create resource group %s' % name, lambda: self.sdk.create_resource(request))

    def delete_resource(self, resource_id):
        result = self._call('DeleteResource', 'delete resource group %s' % resource_id,
                            lambda: self.sdk.delete_resource(self.region, resource_id, eas_models.DeleteResourceRequest()),
                            not_found=True)
        return result is not None

    def list_resource_instances(self, resource_id):
        def page(number, size):
            return self.sdk.list_resource_instances(
                self.region, resource_id, eas_models.ListResourceInstancesRequest(page_number=number, page_size=size))
        return self._paged('ListResourceInstances', 'list instances of resource group %s' % resource_id,
                           page, 'Instances')

    def create_resource_instances(self, resource_id, instance_type, count, charge_type, zone=None, system_disk_size=None):
        request = eas_models.CreateResourceInstancesRequest(
            ecs_instance_type=instance_type, ecs_instance_count=int(count), charge_type=charge_type, zone=zone,
            system_disk_size=system_disk_size)
        return self._call('CreateResourceInstances', 'add %s instances to resource group %s' % (count, resource_id),
                          lambda: self.sdk.create_resource_instances(self.region, resource_id, request))

    def delete_resource_instances(self, resource_id, instance_ids):
        request = eas_models.DeleteResourceInstancesRequest(instance_list=','.join(instance_ids))
        return self._call('DeleteResourceInstances',
                          'delete instances %s of resource group %s' % (', '.join(instance_ids), resource_id),
                          lambda: self.sdk.delete_resource_instances(self.region, resource_id, request))


def build_client(params, check_mode=False, retry=None, credential_client_factory=None, sdk_factory=None):
    """Build an ``EASClient`` from the module parameters. Raises EASConfigError on bad settings."""
    kwargs = build_sdk_config(params, credential_client_factory)
    factory = sdk_factory or _SDKClient
    config = open_api_models.Config(**kwargs) if open_api_models is not None else kwargs
    return EASClient(factory(config), kwargs['region_id'], retry=retry, check_mode=check_mode)


# ---------------------------------------------------------------------------------------------------------------------
# Compare helpers
# ---------------------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------------------
# Service results
# ---------------------------------------------------------------------------------------------------------------------

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

    DescribeService returns ``http://`` endpoints, but the EAS gateway serves the same path over HTTPS
    (reference eas-api.md section 7.3); the token must not cross the internet in clear.
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


# ---------------------------------------------------------------------------------------------------------------------
# Module base
# ---------------------------------------------------------------------------------------------------------------------

class AnsibleEASModule:
    """An AnsibleModule with the common EAS options merged in, a client factory and EAS-aware failures."""

    def __init__(self, argument_spec=None, **kwargs):
        spec = eas_argument_spec()
        spec.update(argument_spec or {})
        self._module = AnsibleModule(argument_spec=spec, **kwargs)
        if not HAS_EAS_SDK:
            self._module.fail_json(msg=missing_required_lib('alibabacloud-eas20210701 (>=6.8.3,<7)'),
                                   exception=EAS_SDK_IMP_ERR)
        if not hasattr(eas_models, 'ScaleServiceRequest') or not hasattr(eas_models, 'DescribeServiceRequest'):
            self._module.fail_json(msg='alibabacloud-eas20210701 6.x (>=6.8.3,<7) is required; the installed version '
                                       'is the older 7.0.0 API surface (see the collection README)')
        self._client = None

    def __getattr__(self, name):
        return getattr(self._module, name)

    @property
    def params(self):
        return self._module.params

    @property
    def check_mode(self):
        return self._module.check_mode

    def client(self, retry=None):
        if self._client is None:
            try:
                self._client = build_client(self._module.params, check_mode=self._module.check_mode, retry=retry)
            except EASConfigError as exc:
                self._module.fail_json(msg=str(exc))
        return self._client

    def fail_json_eas(self, exc, msg=None, **kwargs):
        """Fail with the caller's message plus code, message and request id of an EASError."""
        text = str(exc)
        if msg:
            text = '%s: %s' % (msg, text)
        extra = dict(kwargs)
        if isinstance(exc, EASError):
            extra.setdefault('error', dict(code=exc.code, status=exc.status, request_id=exc.request_id, action=exc.action))
        self._module.fail_json(msg=text, **extra)


class EASRunner:
    """The shared part of the EAS modules' runners: the action log, check-mode-aware calls and the exit with diff."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = module.client()
        self.actions = []

    def do(self, action, func, *args, **kwargs):
        """Record ``action``; call ``func`` unless in check mode (then return None)."""
        self.actions.append(action)
        if self.module.check_mode:
            return None
        return func(*args, **kwargs)

    def exit(self, before, after, **result):
        """``exit_json`` with ``changed`` (any action), ``actions`` and, in diff mode, ``diff``."""
        result = dict(changed=bool(self.actions), actions=self.actions, **result)
        if self.module._diff:
            result['diff'] = dict(before=before, after=after)
        self.module.exit_json(**result)
