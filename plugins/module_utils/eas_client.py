# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The PAI-EAS client of the collection: one method per operation the modules use.

It calls the typed methods of ``alibabacloud_eas20210701.client.Client`` (6.x line, where most methods take an extra,
empty request model), returns plain dicts (the JSON keys of the API, PascalCase), retries transient failures and maps
not-found to None. Every SDK failure becomes an ``EASError``.
"""

from __future__ import annotations

import copy
import json
import re

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_connection import (
    SDKClient,
    TeaException,
    UnretryableException,
    build_sdk_config,
    check_sdk,
    eas_argument_spec,
    eas_models,
    open_api_models,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError, RetryPolicy
from ansible_collections.llmops.eas_stack.plugins.module_utils.module_base import ModuleRunner


class EASError(ModuleError):
    """An EAS API failure, normalised across tea-openapi generations."""

    def __init__(self, message, code=None, status=None, request_id=None, action=None):
        super().__init__(message, error=dict(code=code, status=status, request_id=request_id, action=action))
        self.code = code
        self.status = status
        self.request_id = request_id
        self.action = action
        self.network = False
        self.throttled = is_throttling_code(code, status)
        self.retryable = is_retryable_code(code, status)
        self.retry_after_ms = None

    @property
    def not_found(self):
        return is_not_found(self.code, self.status)

    def __str__(self):
        """``<action> failed: <code> (HTTP <status>): <message> [request id: <id>]``."""
        head = ' '.join(part for part in (self.code, '(HTTP %s)' % self.status if self.status else None) if part)
        text = '%s: %s' % (head, self.message) if head else str(self.message)
        if self.request_id:
            text += ' [request id: %s]' % self.request_id
        if self.action:
            text = '%s failed: %s' % (self.action, text)
        return text


def _clean(value):
    if value is None:
        return None
    value = str(value)
    return None if value in ('', 'None', 'null') else value


_SDK_MESSAGE_RE = re.compile(r'^code: \d+, (?P<msg>.*?)(?: request id: \S*)?$', re.S)
_UNRESOLVABLE_RE = re.compile(
    r'Name or service not known|nodename nor servname|'
    r'No address associated with hostname|getaddrinfo failed',
    re.I,
)


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
    retryable_network = network
    if network:
        inner = getattr(exc, 'inner_exception', None)
        detail = str((getattr(inner, 'message', None) or str(inner)) if inner is not None else message)
        if 'Failed to parse the value as json' in detail:
            # A gateway or proxy in front of the API answered an HTML error page (a 503 during maintenance, say).
            page = re.sub(r'<[^>]+>', ' ', detail.split('Value:', 1)[-1])
            message = (
                'the endpoint answered with something that is not the EAS API (an HTML or text page, for example '
                'a gateway\'s 503): %s' % ' '.join(page.split())[:160]
            )
            code = code or 'NotTheEASAPI'
        elif _UNRESOLVABLE_RE.search(detail):
            message = (
                'cannot resolve the endpoint host (%s): check the endpoint option (role variable eas_endpoint) '
                'and the region' % detail[:160]
            )
            code = code or 'EndpointNotFound'
            retryable_network = False
        else:
            message = 'network error: %s' % detail
            code = code or 'NetworkError'
    err = EASError(message, code=code, status=status, request_id=request_id, action=action)
    err.network = network
    err.retryable = retryable_network or err.retryable
    retry_after = getattr(exc, 'retry_after', None)
    err.retry_after_ms = retry_after if isinstance(retry_after, int) and retry_after > 0 else None
    return err


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


def _body(response):
    """Typed SDK response → the JSON body as a plain dict (PascalCase keys, as on the wire)."""
    body = getattr(response, 'body', None)
    if body is None:
        return {}
    if isinstance(body, dict):
        return body
    return body.to_map() or {}


MUTATING_ACTIONS = frozenset(
    [
        'CreateService',
        'UpdateService',
        'ScaleService',
        'StartService',
        'StopService',
        'RestartService',
        'DeleteService',
        'CreateResource',
        'UpdateResource',
        'DeleteResource',
        'CreateResourceInstances',
        'DeleteResourceInstances',
    ]
)
# A create that failed with a 5xx or a network error may have created the object: retried only on throttling,
# which the server refuses before doing anything.
CREATING_ACTIONS = frozenset(['CreateService', 'CreateResource', 'CreateResourceInstances'])


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

    def polling(self):
        """This client for polls: single attempts, outside the task's retry budget (a wait rides out outages itself)."""
        clone = copy.copy(self)
        clone.retry = RetryPolicy(max_retries=0, budget=0)
        return clone

    # -- plumbing ------------------------------------------------------------------------------------------------
    def _call(self, action, what, func, not_found=False):
        if self.check_mode and action in MUTATING_ACTIONS:
            raise EASError('internal error: %s attempted in check mode' % action, code='CheckMode', action=what)
        self.calls.append(action)

        def attempt():
            try:
                return func()
            except TeaException as exc:
                raise from_tea_exception(exc, what)

        creating = action in CREATING_ACTIONS
        try:
            return _body(self.retry.run(attempt, lambda err: err.throttled if creating else err.retryable))
        except EASError as err:
            if not_found and err.not_found:
                return None
            raise

    def _paged(self, action, what, func, key):
        items = []
        page = 1
        while True:
            body = self._call(action, what, lambda p=page: func(p, self.PAGE_SIZE)) or {}
            batch = body.get(key) or []
            items.extend(batch)
            try:
                total = int(body['TotalCount']) if body.get('TotalCount') is not None else None
            except (TypeError, ValueError):
                total = None
            if not batch or len(batch) < self.PAGE_SIZE or (total is not None and len(items) >= total) or page >= 100:
                return items
            page += 1

    # -- services ------------------------------------------------------------------------------------------------
    def describe_service(self, name):
        """The Service object, or None when it does not exist."""
        return self._call(
            'DescribeService',
            'describe service %s' % name,
            lambda: self.sdk.describe_service(self.region, name, eas_models.DescribeServiceRequest()),
            not_found=True,
        )

    def list_services(self, **filters):
        """ListServices with snake_case filters (service_name, filter, resource_id, service_status, ...)."""

        def page(number, size):
            return self.sdk.list_services(eas_models.ListServicesRequest(page_number=number, page_size=size, **filters))

        return self._paged('ListServices', 'list services', page, 'Services')

    def create_service(self, config, workspace_id=None, labels=None):
        request = eas_models.CreateServiceRequest(
            body=json.dumps(config, sort_keys=True), workspace_id=workspace_id, labels=labels or None
        )
        name = (config.get('metadata') or {}).get('name') or config.get('name')
        return self._call('CreateService', 'create service %s' % name, lambda: self.sdk.create_service(request))

    def update_service(self, name, body, update_type=None):
        request = eas_models.UpdateServiceRequest(body=json.dumps(body, sort_keys=True), update_type=update_type)
        return self._call(
            'UpdateService', 'update service %s' % name, lambda: self.sdk.update_service(self.region, name, request)
        )

    def scale_service(self, name, instance):
        request = eas_models.ScaleServiceRequest(instance=int(instance))
        return self._call(
            'ScaleService',
            'scale service %s to %s instances' % (name, instance),
            lambda: self.sdk.scale_service(self.region, name, request),
        )

    def start_service(self, name):
        return self._call(
            'StartService',
            'start service %s' % name,
            lambda: self.sdk.start_service(self.region, name, eas_models.StartServiceRequest()),
        )

    def stop_service(self, name):
        return self._call(
            'StopService',
            'stop service %s' % name,
            lambda: self.sdk.stop_service(self.region, name, eas_models.StopServiceRequest()),
        )

    def restart_service(self, name):
        return self._call(
            'RestartService',
            'restart service %s' % name,
            lambda: self.sdk.restart_service(self.region, name, eas_models.RestartServiceRequest()),
        )

    def delete_service(self, name):
        """Returns False when the service was already gone."""
        result = self._call(
            'DeleteService',
            'delete service %s' % name,
            lambda: self.sdk.delete_service(self.region, name, eas_models.DeleteServiceRequest()),
            not_found=True,
        )
        return result is not None

    def describe_service_events(self, name, event_type='Warning', page_size=20):
        request = eas_models.DescribeServiceEventRequest(event_type=event_type, page_num='1', page_size=str(page_size))
        body = self._call(
            'DescribeServiceEvent',
            'describe events of service %s' % name,
            lambda: self.sdk.describe_service_event(self.region, name, request),
            not_found=True,
        )
        return (body or {}).get('Events') or []

    def describe_service_diagnosis(self, name):
        body = self._call(
            'DescribeServiceDiagnosis',
            'diagnose service %s' % name,
            lambda: self.sdk.describe_service_diagnosis(
                self.region, name, eas_models.DescribeServiceDiagnosisRequest()
            ),
            not_found=True,
        )
        return (body or {}).get('DiagnosisList') or []

    def describe_service_log(self, name, page_size=50):
        request = eas_models.DescribeServiceLogRequest(page_num=1, page_size=page_size)
        body = self._call(
            'DescribeServiceLog',
            'read the log of service %s' % name,
            lambda: self.sdk.describe_service_log(self.region, name, request),
            not_found=True,
        )
        return (body or {}).get('Logs') or []

    # -- machine specs -------------------------------------------------------------------------------------------
    def describe_machine_spec(self, charge_type=None, resource_type=None):
        """The instance types the region offers (``InstanceMetas``: CPU, GPU, GPUAmount, GPUMemory, StockStatus...)."""
        request = eas_models.DescribeMachineSpecRequest(charge_type=charge_type, resource_type=resource_type)
        body = self._call(
            'DescribeMachineSpec',
            'list the instance types of the region',
            lambda: self.sdk.describe_machine_spec(request),
        )
        return (body or {}).get('InstanceMetas') or []

    # -- resource groups -----------------------------------------------------------------------------------------
    def find_resources(self, name):
        """The dedicated resource groups named exactly ``name`` (ListResources filters by a substring)."""
        return [r for r in self.list_resources(resource_name=name) if r.get('ResourceName') == name]

    def list_resources(self, **filters):
        def page(number, size):
            return self.sdk.list_resources(
                eas_models.ListResourcesRequest(page_number=number, page_size=size, **filters)
            )

        return self._paged('ListResources', 'list resource groups', page, 'Resources')

    def describe_resource(self, resource_id):
        return self._call(
            'DescribeResource',
            'describe resource group %s' % resource_id,
            lambda: self.sdk.describe_resource(self.region, resource_id, eas_models.DescribeResourceRequest()),
            not_found=True,
        )

    def create_resource(
        self, name, instance_type, instance_count, charge_type, zone=None, system_disk_size=None, labels=None
    ):
        request = eas_models.CreateResourceRequest(
            resource_type='Dedicated',
            resource_name=name,
            ecs_instance_type=instance_type,
            ecs_instance_count=int(instance_count),
            charge_type=charge_type,
            zone=zone,
            system_disk_size=system_disk_size,
            labels=labels or None,
        )
        return self._call(
            'CreateResource', 'create resource group %s' % name, lambda: self.sdk.create_resource(request)
        )

    def delete_resource(self, resource_id):
        result = self._call(
            'DeleteResource',
            'delete resource group %s' % resource_id,
            lambda: self.sdk.delete_resource(self.region, resource_id, eas_models.DeleteResourceRequest()),
            not_found=True,
        )
        return result is not None

    def list_resource_instances(self, resource_id):
        def page(number, size):
            return self.sdk.list_resource_instances(
                self.region, resource_id, eas_models.ListResourceInstancesRequest(page_number=number, page_size=size)
            )

        return self._paged(
            'ListResourceInstances', 'list instances of resource group %s' % resource_id, page, 'Instances'
        )

    def create_resource_instances(
        self, resource_id, instance_type, count, charge_type, zone=None, system_disk_size=None, labels=None
    ):
        request = eas_models.CreateResourceInstancesRequest(
            ecs_instance_type=instance_type,
            ecs_instance_count=int(count),
            charge_type=charge_type,
            zone=zone,
            system_disk_size=system_disk_size,
            labels=labels or None,
        )
        return self._call(
            'CreateResourceInstances',
            'add %s instances to resource group %s' % (count, resource_id),
            lambda: self.sdk.create_resource_instances(self.region, resource_id, request),
        )

    def delete_resource_instances(self, resource_id, instance_ids):
        request = eas_models.DeleteResourceInstancesRequest(instance_list=','.join(instance_ids))
        return self._call(
            'DeleteResourceInstances',
            'delete instances %s of resource group %s' % (', '.join(instance_ids), resource_id),
            lambda: self.sdk.delete_resource_instances(self.region, resource_id, request),
        )

    # -- autoscaler and scheduled (cron) scaler of a service -----------------------------------------------------------
    def _scaler_call(self, action, what, func, not_found=False):
        """``_call`` for the scaler operations, with their own check-mode safety net."""
        if self.check_mode and action in SCALER_MUTATING_ACTIONS:
            raise EASError('internal error: %s attempted in check mode' % action, code='CheckMode', action=what)
        return self._call(action, what, func, not_found=not_found)

    def describe_service_autoscaler(self, name):
        """DescribeServiceAutoScaler: ``MinReplica``, ``MaxReplica``, ``ScaleStrategies``, ``Behavior``,
        ``CurrentMetrics``; None when the service or its autoscaler does not exist (HTTP 404)."""
        return self._scaler_call(
            'DescribeServiceAutoScaler',
            'describe the autoscaler of service %s' % name,
            lambda: self.sdk.describe_service_auto_scaler(
                self.region, name, eas_models.DescribeServiceAutoScalerRequest()
            ),
            not_found=True,
        )

    @staticmethod
    def _autoscaler_request(kind, minimum, maximum, strategies, behavior):
        """A Create/UpdateServiceAutoScalerRequest from plain values (``strategies``: metric_name, threshold,
        service; ``behavior``: scale_up, scale_down, on_zero with their snake_case settings)."""
        prefix = '%sServiceAutoScalerRequest' % kind
        model = getattr(eas_models, prefix)
        strategy_model = getattr(eas_models, prefix + 'ScaleStrategies')
        request = model(
            min=int(minimum),
            max=int(maximum),
            scale_strategies=[
                strategy_model(
                    metric_name=item['metric_name'], threshold=float(item['threshold']), service=item.get('service')
                )
                for item in strategies or []
            ],
        )
        behavior = dict((key, value) for key, value in (behavior or {}).items() if value)
        if behavior:
            parts = {}
            for key, suffix in (('scale_up', 'ScaleUp'), ('scale_down', 'ScaleDown'), ('on_zero', 'OnZero')):
                if behavior.get(key):
                    settings = dict((k, int(v)) for k, v in behavior[key].items() if v is not None)
                    parts[key] = getattr(eas_models, prefix + 'Behavior' + suffix)(**settings)
            request.behavior = getattr(eas_models, prefix + 'Behavior')(**parts)
        return request

    def create_service_autoscaler(self, name, minimum, maximum, strategies, behavior=None):
        request = self._autoscaler_request('Create', minimum, maximum, strategies, behavior)
        return self._scaler_call(
            'CreateServiceAutoScaler',
            'create the autoscaler of service %s' % name,
            lambda: self.sdk.create_service_auto_scaler(self.region, name, request),
        )

    def update_service_autoscaler(self, name, minimum, maximum, strategies, behavior=None):
        request = self._autoscaler_request('Update', minimum, maximum, strategies, behavior)
        return self._scaler_call(
            'UpdateServiceAutoScaler',
            'update the autoscaler of service %s' % name,
            lambda: self.sdk.update_service_auto_scaler(self.region, name, request),
        )

    def delete_service_autoscaler(self, name):
        """Returns False when the service or its autoscaler was already gone."""
        result = self._scaler_call(
            'DeleteServiceAutoScaler',
            'delete the autoscaler of service %s' % name,
            lambda: self.sdk.delete_service_auto_scaler(self.region, name, eas_models.DeleteServiceAutoScalerRequest()),
            not_found=True,
        )
        return result is not None

    def describe_service_cron_scaler(self, name):
        """DescribeServiceCronScaler: ``ScaleJobs`` (Name, Schedule, TargetSize, State, Message, CreateTime,
        LastProbeTime) and ``ExcludeDates``; None when the service or its cron scaler does not exist (HTTP 404)."""
        return self._scaler_call(
            'DescribeServiceCronScaler',
            'describe the scheduled scaler of service %s' % name,
            lambda: self.sdk.describe_service_cron_scaler(
                self.region, name, eas_models.DescribeServiceCronScalerRequest()
            ),
            not_found=True,
        )

    @staticmethod
    def _cron_scaler_request(kind, jobs, exclude_dates):
        prefix = '%sServiceCronScalerRequest' % kind
        job_model = getattr(eas_models, prefix + 'ScaleJobs')
        return getattr(eas_models, prefix)(
            scale_jobs=[
                job_model(
                    name=job.get('name'),
                    schedule=job['schedule'],
                    target_size=int(job['target_size']),
                    time_zone=job.get('time_zone'),
                )
                for job in jobs or []
            ],
            exclude_dates=list(exclude_dates or []),
        )

    def create_service_cron_scaler(self, name, jobs, exclude_dates=None):
        request = self._cron_scaler_request('Create', jobs, exclude_dates)
        return self._scaler_call(
            'CreateServiceCronScaler',
            'create the scheduled scaler of service %s' % name,
            lambda: self.sdk.create_service_cron_scaler(self.region, name, request),
        )

    def update_service_cron_scaler(self, name, jobs, exclude_dates=None):
        request = self._cron_scaler_request('Update', jobs, exclude_dates)
        return self._scaler_call(
            'UpdateServiceCronScaler',
            'update the scheduled scaler of service %s' % name,
            lambda: self.sdk.update_service_cron_scaler(self.region, name, request),
        )

    def delete_service_cron_scaler(self, name):
        """Returns False when the service or its cron scaler was already gone."""
        result = self._scaler_call(
            'DeleteServiceCronScaler',
            'delete the scheduled scaler of service %s' % name,
            lambda: self.sdk.delete_service_cron_scaler(self.region, name, eas_models.DeleteServiceCronScalerRequest()),
            not_found=True,
        )
        return result is not None


# The scaler operations that change something (EASClient._scaler_call refuses them in check mode).
SCALER_MUTATING_ACTIONS = frozenset(
    [
        'CreateServiceAutoScaler',
        'UpdateServiceAutoScaler',
        'DeleteServiceAutoScaler',
        'CreateServiceCronScaler',
        'UpdateServiceCronScaler',
        'DeleteServiceCronScaler',
    ]
)


def build_client(params, check_mode=False, retry=None, credential_client_factory=None, sdk_factory=None):
    """Build an ``EASClient`` from the module parameters. Raises EASConfigError on bad settings."""
    kwargs = build_sdk_config(params, credential_client_factory)
    factory = sdk_factory or SDKClient
    config = open_api_models.Config(**kwargs) if open_api_models is not None else kwargs
    return EASClient(factory(config), kwargs['region_id'], retry=retry, check_mode=check_mode)


class EASRunner(ModuleRunner):
    """Base of the EAS modules: the common EAS options and an ``EASClient`` built from them."""

    @classmethod
    def connection_options(cls):
        return eas_argument_spec()

    def make_client(self):
        check_sdk()
        return build_client(self.params, check_mode=self.check_mode)
