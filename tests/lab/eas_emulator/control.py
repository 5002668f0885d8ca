# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PAI-EAS 2021-07-01 ROA control plane: a route table (method, path) -> action handler."""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
from urllib.parse import unquote

from .catalog import INSTANCE_TYPES, ModelProfile, lookup_instance_type
from .common import (
    API_VERSION,
    NODE_RESERVED_MEMORY_MB,
    OWNER_UID,
    SERVICE_NAME_RE,
    ApiError,
    Request,
    Response,
    as_bool,
    as_int,
    deep_merge,
    iso_time,
    labels_list,
    labels_map,
    paginate,
    parse_time,
    rand_id,
    request_id,
)
from .machine_spec import describe_machine_spec
from .scalers import Scalers
from .state import Node, Replica, ResourceGroup, Service, Store, public_type_of
from .storage import check_storage


class Route:
    """(method, path template) -> action name and handler; ``{Name}`` path parts become named groups."""

    def __init__(self, method: str, path: str, action: str, handler):
        self.method = method
        self.pattern = re.compile('^' + re.sub(r'\{(\w+)\}', r'(?P<\1>[^/]+)', path) + '$')
        self.action = action
        self.handler = handler


class ControlPlane:
    """The PAI-EAS 2021-07-01 ROA operations used by the collection, on top of a Store."""

    def __init__(self, store: Store):
        self.store = store
        self.scalers = Scalers(store)
        svc = '/api/v2/services/{ClusterId}/{ServiceName}'
        res = '/api/v2/resources/{ClusterId}/{ResourceId}'
        self.routes = [
            Route('POST', '/api/v2/resources', 'CreateResource', self.create_resource),
            Route('GET', '/api/v2/resources', 'ListResources', self.list_resources),
            Route('GET', res, 'DescribeResource', self.describe_resource),
            Route('PUT', res, 'UpdateResource', self.update_resource),
            Route('DELETE', res, 'DeleteResource', self.delete_resource),
            Route('GET', res + '/instances', 'ListResourceInstances', self.list_resource_instances),
            Route('POST', res + '/instances', 'CreateResourceInstances', self.create_resource_instances),
            Route('DELETE', res + '/instances', 'DeleteResourceInstances', self.delete_resource_instances),
            Route('PUT', res + '/instances/{InstanceId}', 'UpdateResourceInstance', self.update_resource_instance),
            Route('GET', res + '/services', 'ListResourceServices', self.list_resource_services),
            Route('POST', '/api/v2/services', 'CreateService', self.create_service),
            Route('GET', '/api/v2/services', 'ListServices', self.list_services),
            Route('GET', svc, 'DescribeService', self.describe_service),
            Route('PUT', svc, 'UpdateService', self.update_service),
            Route('DELETE', svc, 'DeleteService', self.delete_service),
            Route('PUT', svc + '/scale', 'ScaleService', self.scale_service),
            Route('PUT', svc + '/start', 'StartService', self.start_service),
            Route('PUT', svc + '/stop', 'StopService', self.stop_service),
            Route('PUT', svc + '/restart', 'RestartService', self.restart_service),
            Route('PUT', svc + '/version', 'UpdateServiceVersion', self.update_service_version),
            Route('GET', svc + '/events', 'DescribeServiceEvent', self.describe_service_event),
            Route('GET', svc + '/logs', 'DescribeServiceLog', self.describe_service_log),
            Route('GET', svc + '/diagnosis', 'DescribeServiceDiagnosis', self.describe_service_diagnosis),
            Route('GET', svc + '/endpoints', 'DescribeServiceEndpoints', self.describe_service_endpoints),
            Route('GET', svc + '/instances', 'ListServiceInstances', self.list_service_instances),
            Route('DELETE', svc + '/instances', 'DeleteServiceInstances', self.delete_service_instances),
            Route('GET', '/api/v2/public/instance_types', 'DescribeMachineSpec', self.describe_machine_spec),
            Route('GET', '/api/v2/regions', 'DescribeRegions', self.describe_regions),
        ]
        # The autoscaler and the scheduled scaler (scalers.py).
        scaler = self.scalers
        self.routes += [
            Route('POST', svc + '/autoscaler', 'CreateServiceAutoScaler', scaler.create_autoscaler),
            Route('GET', svc + '/autoscaler', 'DescribeServiceAutoScaler', scaler.describe_autoscaler),
            Route('PUT', svc + '/autoscaler', 'UpdateServiceAutoScaler', scaler.update_autoscaler),
            Route('DELETE', svc + '/autoscaler', 'DeleteServiceAutoScaler', scaler.delete_autoscaler),
            Route('POST', svc + '/cronscaler', 'CreateServiceCronScaler', scaler.create_cron_scaler),
            Route('GET', svc + '/cronscaler', 'DescribeServiceCronScaler', scaler.describe_cron_scaler),
            Route('PUT', svc + '/cronscaler', 'UpdateServiceCronScaler', scaler.update_cron_scaler),
            Route('DELETE', svc + '/cronscaler', 'DeleteServiceCronScaler', scaler.delete_cron_scaler),
        ]

    def match(self, req: Request):
        """Return (route, path params) for a request; raise the API error a wrong call gets."""
        header_action = req.headers.get('x-acs-action')
        for candidate in self.routes:
            found = candidate.pattern.match(req.path)
            if found and candidate.method == req.method:
                if header_action and header_action != candidate.action:
                    raise ApiError(
                        400,
                        'InvalidAction.Mismatch',
                        f'x-acs-action {header_action} does not match {req.method} {req.path} ({candidate.action}).',
                    )
                return candidate, {k: unquote(v) for k, v in found.groupdict().items()}
        if header_action:
            raise ApiError(
                400,
                'UnsupportedOperation',
                f'The action {header_action} is not implemented by the PAI-EAS lab emulator.',
            )
        raise ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.')

    def handle(self, req: Request, matched: Route, params: dict, now: float) -> Response:
        version = req.headers.get('x-acs-version')
        if version and version != API_VERSION:
            raise ApiError(
                400, 'InvalidVersion', f'Specified parameter Version is not valid: {version} (expected {API_VERSION}).'
            )
        cluster = params.get('ClusterId')
        if cluster is not None and cluster != self.store.settings.region:
            raise ApiError(
                400,
                'InvalidParameter.ClusterId',
                f'The ClusterId {cluster} does not match the region of this endpoint ({self.store.settings.region}).',
            )
        with self.store.lock:
            self.store.advance(now)
            self.scalers.advance(now)
            body = matched.handler(req, params, now)
        body = dict(body)
        body['RequestId'] = request_id()
        return Response.json(200, body)

    # -- resource groups -------------------------------------------------------------------------------------------------

    def _resource_view(self, group: ResourceGroup, now: float, describe: bool) -> dict:
        status, message = self.store.group_status(group, now)
        billed = [n for n in group.nodes.values() if n.billed()]
        extra = {
            'vpc_id': 'vpc-lab',
            'vswitch_id': 'vsw-lab',
            'security_group_id': 'sg-lab',
            'sls_status': 'ResourceReady',
        }
        service_count = sum(1 for s in self.store.services.values() if s.resource_id == group.resource_id)
        view = {
            'ClusterId': self.store.settings.region,
            'CreateTime': iso_time(group.created),
            'UpdateTime': iso_time(group.updated),
            'ExtraData': json.dumps(extra) if describe else extra,
            'Features': [],
            'InstanceCount': len(group.nodes),
            'Message': message,
            'PostPaidInstanceCount': sum(1 for n in billed if n.charge_type == 'PostPaid'),
            'PrePaidInstanceCount': sum(1 for n in billed if n.charge_type == 'PrePaid'),
            'ResourceId': group.resource_id,
            'ResourceName': group.name,
            'ResourceType': group.resource_type,
            'ServiceCount': str(service_count) if describe else service_count,
            'Status': status,
            'UsageMode': group.usage_mode,
        }
        view.update(self.store.group_usage(group, now))
        if describe:
            view['OwnerUid'] = OWNER_UID
        else:
            view['Vendor'] = 'ECS'
        return view

    @staticmethod
    def _charge(value, required: bool = True) -> str:
        if value in (None, '') and not required:
            return 'PostPaid'
        if value not in ('PostPaid', 'PrePaid'):
            raise ApiError(400, 'InvalidParameter', f'ChargeType must be PostPaid or PrePaid, got {value!r}.')
        return value

    @staticmethod
    def _resource_name(value) -> str:
        name = str(value)
        if not name or len(name) > 27:
            raise ApiError(400, 'InvalidParameter', f'ResourceName must be 1-27 characters, got {name!r}.')
        return name

    def create_resource(self, req: Request, _params: dict, now: float) -> dict:
        data = req.json_body(required=True)
        rtype = data.get('ResourceType')
        if rtype != 'Dedicated':
            if rtype == 'SelfManaged':
                raise ApiError(
                    400, 'InvalidParameter', 'ResourceType SelfManaged is not supported by the lab emulator.'
                )
            raise ApiError(400, 'InvalidParameter', f'ResourceType must be Dedicated or SelfManaged, got {rtype!r}.')
        itype = lookup_instance_type(data.get('EcsInstanceType'), 'EcsInstanceType')
        count = as_int(data.get('EcsInstanceCount'), 'EcsInstanceCount', minimum=1, maximum=100)
        if count is None:
            raise ApiError(400, 'InvalidParameter', 'EcsInstanceCount is required.')
        charge = self._charge(data.get('ChargeType'))
        disk = as_int(data.get('SystemDiskSize'), 'SystemDiskSize', 200, minimum=200, maximum=2000)
        resource_id = rand_id('eas-r-', 18)
        name = self._resource_name(data['ResourceName']) if data.get('ResourceName') else resource_id
        zone = str(data.get('Zone') or f'{self.store.settings.region}-h')
        group = ResourceGroup(
            resource_id,
            name,
            'Dedicated',
            itype.name,
            charge,
            zone,
            now,
            now,
            str(data.get('UsageMode') or 'inference'),
            labels_map(data.get('Labels')),
        )
        self.store.resources[resource_id] = group
        ids = self.store.add_nodes(
            group, itype, count, charge, zone, disk, as_bool(data.get('AutoRenewal')), group.labels, now
        )
        return {
            'ClusterId': self.store.settings.region,
            'InstanceIds': ids,
            'OwnerUid': OWNER_UID,
            'ResourceId': resource_id,
            'ResourceName': name,
        }

    def list_resources(self, req: Request, _params: dict, now: float) -> dict:
        query = req.query
        groups = sorted(
            self.store.resources.values(),
            key=lambda g: g.created,
            reverse=str(query.get('Order', 'Desc')).lower() != 'asc',
        )
        views = []
        for group in groups:
            if query.get('ResourceId') and group.resource_id != query['ResourceId']:
                continue
            if query.get('ResourceName') and group.name != query['ResourceName']:
                continue
            if query.get('ResourceType') and group.resource_type != query['ResourceType']:
                continue
            view = self._resource_view(group, now, describe=False)
            if query.get('ResourceStatus') and view['Status'] != query['ResourceStatus']:
                continue
            views.append(view)
        page, number, size = paginate(views, query.get('PageNumber'), query.get('PageSize'))
        return {'PageNumber': number, 'PageSize': size, 'TotalCount': len(views), 'Resources': page}

    def describe_resource(self, _req: Request, params: dict, now: float) -> dict:
        return self._resource_view(self.store.get_resource(params['ResourceId']), now, describe=True)

    def update_resource(self, req: Request, params: dict, now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        data = req.json_body(required=True)
        if 'ResourceName' in data:
            group.name = self._resource_name(data['ResourceName'])
        group.updated = now
        return {'ResourceId': group.resource_id, 'ResourceName': group.name}

    def delete_resource(self, _req: Request, params: dict, _now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        if group.nodes:
            raise ApiError(
                400,
                'InvalidResource.NotEmpty',
                f'Resource {group.resource_id} still has {len(group.nodes)} instance(s); delete them with DeleteResourceInstances first.',
            )
        users = sorted(s.name for s in self.store.services.values() if s.resource_id == group.resource_id)
        if users:
            raise ApiError(
                400,
                'InvalidResource.NotEmpty',
                f'Resource {group.resource_id} is still used by service(s): {", ".join(users)}.',
            )
        del self.store.resources[group.resource_id]
        return {'Message': f'Resource {group.resource_id} is deleted'}

    def _instance_view(self, group: ResourceGroup, node: Node, now: float) -> dict:
        cpu, memory, gpu = self.store.used_on(node.instance_id)
        status = node.status(now)
        phase = {'CreateFailed': 'failed', 'Attaching': 'pending', 'Deleting': 'terminating'}.get(status, 'succeeded')
        return {
            'Arch': 'amd64',
            'AutoRenewal': node.auto_renewal,
            'ChargeType': node.charge_type,
            'CreateTime': iso_time(node.created),
            'ExpiredTime': iso_time(node.created + 30 * 86400) if node.charge_type == 'PrePaid' else '',
            'InstanceCpuCount': node.itype.cpu,
            'InstanceGpuCount': node.itype.gpu,
            'InstanceGpuMemory': f'{int(node.itype.gpu_memory_gb * node.itype.gpu)}G',
            'InstanceId': node.instance_id,
            'InstanceIp': node.ip,
            'InstanceMemory': f'{node.itype.memory_mb}M',
            'InstanceName': node.name,
            'InstancePhase': phase,
            'InstanceStatus': status,
            'InstanceSystemDiskSize': node.disk,
            'InstanceTenantIp': node.ip,
            'InstanceType': node.itype.name,
            'InstanceUsedCpu': float(cpu),
            'InstanceUsedGpu': float(gpu),
            'InstanceUsedGpuMemory': f'{int(gpu * node.itype.gpu_memory_gb)}G',
            'InstanceUsedMemory': f'{memory}M',
            'Labels': labels_list(node.labels),
            'LastCordonOperator': '',
            'LastCordonReason': '',
            'Region': self.store.settings.region,
            'ResourceId': group.resource_id,
            'Zone': node.zone,
        }

    def list_resource_instances(self, req: Request, params: dict, now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        query = req.query
        wanted_labels = labels_map(req.json_query('Label'), 'Label')
        views = []
        for node in sorted(group.nodes.values(), key=lambda n: n.created):
            view = self._instance_view(group, node, now)
            checks = (
                ('InstanceStatus', 'InstanceStatus'),
                ('InstanceId', 'InstanceId'),
                ('InstanceName', 'InstanceName'),
                ('InstanceIP', 'InstanceIp'),
                ('ChargeType', 'ChargeType'),
                ('Zone', 'Zone'),
            )
            if any(query.get(q) and str(view[k]) != query[q] for q, k in checks):
                continue
            if query.get('Filter') and query['Filter'] not in node.instance_id + node.name + node.ip:
                continue
            if any(node.labels.get(k) != v for k, v in wanted_labels.items()):
                continue
            views.append(view)
        page, number, size = paginate(views, query.get('PageNumber'), query.get('PageSize'))
        return {'Instances': page, 'PageNumber': number, 'PageSize': size, 'TotalCount': len(views)}

    def create_resource_instances(self, req: Request, params: dict, now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        data = req.json_body(required=True)
        itype = lookup_instance_type(data.get('EcsInstanceType'), 'EcsInstanceType')
        count = as_int(data.get('EcsInstanceCount'), 'EcsInstanceCount', minimum=1, maximum=100)
        if count is None:
            raise ApiError(400, 'InvalidParameter', 'EcsInstanceCount is required.')
        charge = self._charge(data.get('ChargeType'))
        disk = as_int(data.get('SystemDiskSize'), 'SystemDiskSize', 200, minimum=200, maximum=2000)
        ids = self.store.add_nodes(
            group,
            itype,
            count,
            charge,
            str(data.get('Zone') or group.zone),
            disk,
            as_bool(data.get('AutoRenewal')),
            labels_map(data.get('Labels')),
            now,
        )
        return {'InstanceIds': ids, 'Message': f'Create {count} instance(s) successfully'}

    def delete_resource_instances(self, req: Request, params: dict, now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        wanted = [i.strip() for i in str(req.query.get('InstanceList') or '').split(',') if i.strip()]
        all_failed = as_bool(req.query.get('AllFailed'))
        if not wanted and not all_failed:
            raise ApiError(400, 'InvalidParameter', 'Either InstanceList or AllFailed=true is required.')
        for instance_id in wanted:
            node = group.nodes.get(instance_id)
            if node is None:
                raise ApiError(
                    400, 'InvalidParameter', f'Instance {instance_id} not found in resource {group.resource_id}.'
                )
            if node.charge_type == 'PrePaid' and not node.failed:
                raise ApiError(
                    400,
                    'InvalidParameter',
                    f'Instance {instance_id} is PrePaid; only pay-as-you-go instances can be deleted.',
                )
        if all_failed:
            wanted += [i for i, n in group.nodes.items() if n.failed and i not in wanted]
        for instance_id in wanted:
            node = group.nodes[instance_id]
            if node.failed:
                del group.nodes[instance_id]
            elif node.delete_at is None:
                node.delete_at = now + max(self.store.settings.resource_ready_seconds, 0.0) * 0.5
        group.updated = now
        return {'Message': f'Delete {len(wanted)} instance(s) successfully'}

    def update_resource_instance(self, req: Request, params: dict, now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        node = group.nodes.get(params['InstanceId'])
        if node is None:
            raise ApiError(404, 'InvalidResourceInstance.NotFound', f'Instance {params["InstanceId"]} not found.')
        action = req.json_body(required=True).get('Action')
        if action not in ('Cordon', 'Uncordon', 'Drain'):
            raise ApiError(400, 'InvalidParameter', f'Action must be Cordon, Uncordon or Drain, got {action!r}.')
        node.cordoned = action in ('Cordon', 'Drain')
        if action == 'Drain':
            self.store._evict(node.instance_id, now)  # pylint: disable=protected-access
        return {'InstanceId': node.instance_id, 'ResourceId': group.resource_id}

    def list_resource_services(self, req: Request, params: dict, _now: float) -> dict:
        group = self.store.get_resource(params['ResourceId'])
        views = [
            self._service_view(s, describe=False)
            for s in self.store.services.values()
            if s.resource_id == group.resource_id
        ]
        page, number, size = paginate(views, req.query.get('PageNumber'), req.query.get('PageSize'))
        return {'Services': page, 'PageNumber': number, 'PageSize': size, 'TotalCount': len(views)}

    def describe_machine_spec(self, req: Request, _params: dict, _now: float) -> dict:
        return describe_machine_spec(self.store, req)

    def describe_regions(self, _req: Request, _params: dict, _now: float) -> dict:
        region = self.store.settings.region
        return {'Regions': [{'RegionId': region, 'RegionName': region}]}

    # -- services --------------------------------------------------------------------------------------------------------

    @staticmethod
    def _deny(svc: Service, operation: str) -> ApiError:
        return ApiError(
            400,
            'InvalidService.Status',
            f'The current status of the resource does not support this operation, please retry again. '
            f'({operation} is not allowed while service {svc.name} is {svc.status}.)',
        )

    def _validate_config(self, config: dict, existing: str | None) -> str:
        meta = config.get('metadata')
        if meta is None:
            meta = config['metadata'] = {}
        if not isinstance(meta, dict):
            raise ApiError(400, 'InvalidParameter', 'metadata must be an object.')
        name = meta.get('name') or config.get('name')
        if existing is not None:
            name = name or existing
            if name != existing:
                raise ApiError(400, 'InvalidParameter', f'The service name cannot be changed ({existing} -> {name}).')
        if not name or not isinstance(name, str):
            raise ApiError(400, 'InvalidParameter', 'metadata.name (the service name) is required.')
        if not SERVICE_NAME_RE.match(name):
            raise ApiError(
                400,
                'InvalidParameter',
                f'Invalid service name {name!r}: use 3-63 lowercase letters, digits and underscores, starting with a letter.',
            )
        instance = as_int(meta.get('instance', 1), 'metadata.instance', minimum=0, maximum=100)
        containers = config.get('containers')
        if containers is not None and (
            not isinstance(containers, list) or not all(isinstance(c, dict) and c.get('image') for c in containers)
        ):
            raise ApiError(400, 'InvalidParameter', 'containers must be a list of objects, each with an image.')
        if not containers and not config.get('processor') and not config.get('processor_path'):
            raise ApiError(400, 'InvalidParameter', 'containers[].image (or a processor) is required.')
        for key in ('cpu', 'memory', 'gpu'):
            as_int(meta.get(key), f'metadata.{key}', minimum=0)
        check_storage(config)
        public_type = public_type_of(config)
        if meta.get('resource'):
            resource = str(meta['resource'])
            if resource not in self.store.resources:
                raise ApiError(
                    400, 'InvalidParameter', f'The resource group {resource} (metadata.resource) does not exist.'
                )
            if public_type:
                raise ApiError(400, 'InvalidParameter', 'metadata.resource and cloud.computing are mutually exclusive.')
            if not meta.get('cpu') or not meta.get('memory'):
                raise ApiError(
                    400,
                    'InvalidParameter',
                    'metadata.cpu and metadata.memory are required for a service in a dedicated resource group.',
                )
        elif public_type:
            lookup_instance_type(public_type, 'cloud.computing.instance_type')
        elif not meta.get('cpu'):
            raise ApiError(
                400,
                'InvalidParameter',
                'Either metadata.resource (dedicated resource group) or cloud.computing.instance_type (public resource group) is required.',
            )
        meta['name'] = name
        meta['instance'] = instance
        return name

    def _service_view(self, svc: Service, describe: bool) -> dict:
        meta = svc.metadata
        desired = svc.instance_count
        running = min(sum(1 for r in svc.replicas if r.status == 'Running'), desired)
        pending = 0 if svc.status in ('Stopped', 'Stopping') else max(desired - running, 0)
        public = svc.resource_id is None
        itype = INSTANCE_TYPES.get(public_type_of(svc.config) or '')
        group = self.store.resources.get(svc.resource_id or '')
        containers = svc.config.get('containers') or [{}]
        view = {
            'AccessToken': svc.token,
            'AutoscalerEnabled': bool(svc.config.get('autoscaler')),
            'CallerUid': OWNER_UID,
            'Cpu': int(meta.get('cpu') or (itype.cpu if itype else 0)),
            'CreateTime': iso_time(svc.created),
            'CronscalerEnabled': False,
            'CurrentVersion': svc.current_version,
            'ExtraData': '{}',
            'GPUCorePercentage': int(meta.get('gpu_core_percentage') or 0),
            'GPUMemory': int(meta.get('gpu_memory') or 0),
            'Gateway': str((svc.config.get('networking') or {}).get('gateway') or ''),
            'Gpu': int(meta.get('gpu') or (itype.gpu if itype else 0)),
            'Image': str(containers[0].get('image') or ''),
            'InstanceCountInResource': {
                'Dedicated': 0 if public else desired,
                'Public': desired if public else 0,
                'Quota': 0,
            },
            'Labels': labels_list(svc.labels),
            'LatestVersion': svc.latest_version,
            'Memory': int(meta.get('memory') or (itype.memory_mb if itype else 0)),
            'Message': svc.message,
            'Namespace': svc.name,
            'ParentUid': OWNER_UID,
            'PendingInstance': pending,
            'QuotaId': '',
            'Reason': svc.reason,
            'Region': self.store.settings.region,
            'Resource': svc.resource_id or 'public-cluster',
            'ResourceAlias': group.name if group else 'public',
            'ResourceBurstable': False,
            'Role': 'Standard',
            'RunningInstance': running,
            'SafetyLock': 'normal',
            'ServiceConfig': json.dumps(svc.config),
            'ServiceGroup': str(meta.get('group') or ''),
            'ServiceId': svc.service_id,
            'ServiceName': svc.name,
            'ServiceUid': svc.service_id,
            'Source': 'eas',
            'Status': svc.status,
            'TotalInstance': desired,
            'TrafficState': 'standalone',
            'UpdateTime': iso_time(svc.updated),
            'Weight': 100,
            'WorkloadType': 'Deployment',
            'WorkspaceId': svc.workspace_id,
        }
        if describe:
            view.update(
                {
                    'InternetEndpoint': self.store.endpoint(svc.name),
                    'IntranetEndpoint': self.store.endpoint(svc.name),
                    'RoleAttrs': '',
                }
            )
        return view

    def create_service(self, req: Request, _params: dict, now: float) -> dict:
        config = req.json_body(required=True)
        name = self._validate_config(config, None)
        if name in self.store.services:
            raise ApiError(409, 'InvalidService.AlreadyExists', f'Service {name} already exists.')
        labels = labels_map(req.json_query('Labels'))
        workspace = str(req.query.get('WorkspaceId') or config['metadata'].get('workspace_id') or '')
        token = base64.b64encode(secrets.token_bytes(30)).decode()
        svc = Service(name, rand_id('eas-m-', 14), token, config, now, now, labels, workspace)
        self.store.services[name] = svc
        self.store.begin_create(svc, now)
        return {
            'InternetEndpoint': self.store.endpoint(name),
            'IntranetEndpoint': self.store.endpoint(name),
            'Region': self.store.settings.region,
            'ServiceId': svc.service_id,
            'ServiceName': name,
            'Status': svc.status,
        }

    def list_services(self, req: Request, _params: dict, _now: float) -> dict:
        query = req.query
        wanted_labels = labels_map(req.json_query('Label'), 'Label')
        views = []
        for svc in sorted(
            self.store.services.values(),
            key=lambda s: s.created,
            reverse=str(query.get('Order', 'desc')).lower() != 'asc',
        ):
            group = self.store.resources.get(svc.resource_id or '')
            kind = 'PublicResource' if svc.resource_id is None else 'DedicatedResource'
            filters = (
                query.get('ServiceName') and svc.name != query['ServiceName'],
                query.get('Filter') and query['Filter'] not in svc.name,
                query.get('ServiceStatus') and svc.status != query['ServiceStatus'],
                query.get('ResourceId') and svc.resource_id != query['ResourceId'],
                query.get('ResourceName')
                and query['ResourceName'] not in (svc.resource_id, group.name if group else None),
                query.get('ResourceType') and query['ResourceType'] != kind,
                query.get('WorkspaceId') and svc.workspace_id != query['WorkspaceId'],
                query.get('GroupName') and str(svc.metadata.get('group') or '') != query['GroupName'],
                query.get('ServiceUid') and svc.service_id != query['ServiceUid'],
                any(svc.labels.get(k) != v for k, v in wanted_labels.items()),
            )
            if not any(filters):
                views.append(self._service_view(svc, describe=False))
        page, number, size = paginate(views, query.get('PageNumber'), query.get('PageSize'))
        return {'PageNumber': number, 'PageSize': size, 'TotalCount': len(views), 'Services': page}

    def describe_service(self, _req: Request, params: dict, _now: float) -> dict:
        return self._service_view(self.store.get_service(params['ServiceName']), describe=True)

    def update_service(self, req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        if svc.status in ('Deleting', 'Stopping'):
            raise self._deny(svc, 'UpdateService')
        patch = req.json_body(required=True)
        update_type = str(req.query.get('UpdateType') or 'merge').lower()
        if update_type not in ('merge', 'replace'):
            raise ApiError(400, 'InvalidParameter', f'UpdateType must be merge or replace, got {update_type!r}.')
        new_config = deep_merge(svc.config, patch) if update_type == 'merge' else copy.deepcopy(patch)
        self._validate_config(new_config, svc.name)
        if new_config == svc.config:
            return {'Message': 'Service config is unchanged; nothing to update'}
        return {'Message': self.store.begin_update(svc, new_config, now)}

    def scale_service(self, req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        if svc.status in ('Deleting', 'Stopping'):
            raise self._deny(svc, 'ScaleService')
        data = req.json_body(required=True)
        count = as_int(data.get('Instance'), 'Instance', minimum=0, maximum=100)
        if count is None:
            raise ApiError(400, 'InvalidParameter', 'Instance is required.')
        to_delete = data.get('InstancesToDelete') or []
        return {'Message': self.store.begin_scale(svc, count, now, [str(i) for i in to_delete])}

    def start_service(self, _req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        if svc.status not in ('Stopped', 'Failed'):
            raise self._deny(svc, 'StartService')
        self.store.begin_start(svc, now)
        return {'Message': f'Service [{svc.name}] is starting'}

    def stop_service(self, _req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        if svc.status in ('Stopped', 'Stopping', 'Deleting'):
            raise self._deny(svc, 'StopService')
        self.store.begin_stop(svc, now)
        return {'Message': f'Service [{svc.name}] is stopping'}

    def restart_service(self, _req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        if svc.status in ('Stopped', 'Stopping', 'Deleting', 'Creating'):
            raise self._deny(svc, 'RestartService')
        self.store.begin_start(svc, now, reason='Restarting')
        return {'Message': f'Service [{svc.name}] is restarting'}

    def delete_service(self, _req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        if svc.status == 'Deleting':
            raise self._deny(svc, 'DeleteService')
        self.store.begin_delete(svc, now)
        return {'Message': f'Service [{svc.name}] is deleting'}

    def update_service_version(self, req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        version = as_int(req.json_body(required=True).get('Version'), 'Version', minimum=1, maximum=svc.latest_version)
        if version is None:
            raise ApiError(400, 'InvalidParameter', 'Version is required.')
        svc.current_version = version
        svc.updated = now
        return {'Message': f'Service [{svc.name}] switched to version {version}'}

    def describe_service_event(self, req: Request, params: dict, _now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        query = req.query
        start, end = parse_time(query.get('StartTime')), parse_time(query.get('EndTime'))
        events = [
            e
            for e in svc.events
            if (not query.get('EventType') or e['Type'] == query['EventType'])
            and (not query.get('InstanceName') or e['_instance'] == query['InstanceName'])
            and (start is None or e['_ts'] >= start)
            and (end is None or e['_ts'] <= end)
        ]
        page, number, size = paginate(events, query.get('PageNum'), query.get('PageSize'))
        return {
            'Events': [{k: v for k, v in e.items() if not k.startswith('_')} for e in page],
            'PageNum': number,
            'TotalCount': len(events),
            'TotalPageNum': max((len(events) + size - 1) // size, 1),
        }

    def describe_service_log(self, req: Request, params: dict, _now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        query = req.query
        if as_bool(query.get('Previous')):
            lines = list(svc.previous_logs)
        else:
            lines = list(svc.logs) if any(r.status in ('Running', 'Crashed') for r in svc.replicas) else []
        if query.get('Keyword'):
            lines = [line for line in lines if query['Keyword'] in line]
        page, number, size = paginate(lines, query.get('PageNum'), query.get('PageSize'), default_size=500)
        return {
            'Logs': page,
            'PageNum': number,
            'TotalCount': len(lines),
            'TotalPageNum': max((len(lines) + size - 1) // size, 1),
        }

    def describe_service_diagnosis(self, _req: Request, params: dict, _now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        diagnosis = []
        if svc.status == 'Failed' and svc.failure is not None:
            diagnosis.append(
                {
                    'Error': svc.message,
                    'Causes': [svc.failure.cause, svc.failure.error],
                    'Advices': list(svc.failure.advices)
                    + ['Inspect the instance log with DescribeServiceLog (Previous=true).'],
                }
            )
        elif svc.block_reason:
            meta = svc.metadata
            causes = [svc.block_reason]
            group = self.store.resources.get(svc.resource_id or '')
            if group:
                itype = INSTANCE_TYPES[group.instance_type]
                causes.append(
                    f'Each node of resource group {group.resource_id} ({itype.name}) can allocate at most cpu={itype.allocatable_cpu}, '
                    f'memory={itype.allocatable_memory_mb} MB, gpu={itype.gpu}: one CPU core (and {NODE_RESERVED_MEMORY_MB} MB) per node '
                    f'are reserved for system components. The service requests cpu={meta.get("cpu")}, memory={meta.get("memory")} MB, '
                    f'gpu={meta.get("gpu") or 0} per instance.'
                )
            diagnosis.append(
                {
                    'Error': 'Insufficient resources: service instances cannot be scheduled (Pending).',
                    'Causes': causes,
                    'Advices': [
                        'Lower metadata.cpu / metadata.memory / metadata.gpu to at most the InstanceMaxAllocatable* values of '
                        'DescribeResource.',
                        'Add nodes to the resource group (CreateResourceInstances) or use a larger instance type.',
                        'For an update on a full node set metadata.rolling_strategy.max_unavailable to 1, or stop the service '
                        'before updating.',
                    ],
                }
            )
        return {'DiagnosisList': diagnosis}

    def describe_service_endpoints(self, _req: Request, params: dict, _now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        url = self.store.endpoint(svc.name)
        return {
            'AccessToken': svc.token,
            'Message': 'success',
            'Endpoints': [
                {
                    'EndpointType': 'DefaultGateway',
                    'BackendId': 'default',
                    'InternetEndpoints': [url],
                    'IntranetEndpoints': [url],
                    'PathType': 'Service',
                }
            ],
        }

    def _replica_view(self, svc: Service, replica: Replica) -> dict:
        node = self.store.node_of(replica.node_id)
        profile = ModelProfile.from_config(svc.config)
        total = len(svc.config.get('containers') or [{}]) + 1
        status, reason, ready = {
            'Pending': ('Pending', 'Unschedulable', 0),
            'Starting': ('Pending', 'ContainerCreating', 1),
            'Running': ('Running', 'RUNNING', total),
            'Crashed': ('Failed', 'CrashLoopBackOff', 1),
        }[replica.status]
        last_state = []
        if replica.status == 'Crashed':
            last_state = [
                {
                    'reason': 'Error',
                    'exitCode': 1,
                    'startedAt': iso_time(replica.since),
                    'finishedAt': iso_time(replica.since + 1),
                }
            ]
        return {
            'CreateTime': iso_time(replica.since or svc.updated),
            'CurrentAmount': 0.0,
            'Detached': False,
            'ExternalIP': '',
            'ExternalInstancePort': 0,
            'HostIP': node.ip if node else '',
            'HostName': node.name if node else '',
            'InnerIP': replica.ip,
            'InstanceName': replica.name,
            'InstancePort': profile.port,
            'InstanceType': node.itype.name if node else (public_type_of(svc.config) or ''),
            'IsLatest': replica.version == svc.latest_version,
            'IsReplica': False,
            'IsSpot': False,
            'Isolated': False,
            'LastState': last_state,
            'Namespace': svc.name,
            'OriginalAmount': 0.0,
            'ReadyProcesses': ready,
            'Reason': reason,
            'ReplicaName': '',
            'ResourceType': 'PublicResource' if svc.resource_id is None else 'PrivateResource',
            'RestartCount': replica.restart_count,
            'Role': 'Standard',
            'StartAt': iso_time(replica.since or svc.updated),
            'StartTime': iso_time(replica.since or svc.updated),
            'Status': status,
            'TenantHostIP': node.ip if node else '',
            'TenantInstanceIP': replica.ip,
            'TotalProcesses': total,
            'Zone': node.zone if node else f'{self.store.settings.region}-h',
        }

    def list_service_instances(self, req: Request, params: dict, _now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        query = req.query
        views = [self._replica_view(svc, r) for r in svc.replicas]
        views = [
            v
            for v in views
            if (not query.get('InstanceStatus') or v['Status'] == query['InstanceStatus'])
            and (not query.get('InstanceName') or v['InstanceName'] == query['InstanceName'])
        ]
        page, number, size = paginate(views, query.get('PageNumber'), query.get('PageSize'))
        return {'Instances': page, 'PageNumber': number, 'PageSize': size, 'TotalCount': len(views)}

    def delete_service_instances(self, req: Request, params: dict, now: float) -> dict:
        svc = self.store.get_service(params['ServiceName'])
        names = [n.strip() for n in str(req.query.get('InstanceList') or '').split(',') if n.strip()]
        if not names:
            raise ApiError(400, 'InvalidParameter', 'InstanceList is required.')
        known = {r.name for r in svc.replicas}
        missing = [n for n in names if n not in known]
        if missing:
            raise ApiError(400, 'InvalidParameter', f'Instance(s) not found: {", ".join(missing)}.')
        self.store.begin_start(svc, now, reason='Restarting')
        return {'Message': f'Instance(s) {", ".join(names)} are being recreated'}
