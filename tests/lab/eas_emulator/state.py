# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Emulated state (resource groups, nodes, services, replicas) with lazily computed, time-based state machines."""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from .catalog import INSTANCE_TYPES, FitResult, InstanceType, ModelProfile, gpu_fit
from .common import ApiError, DEFAULT_REGION, as_int, event_time, iso_time, rand_id


@dataclass
class Settings:
    """Knobs of one emulator process (CLI / environment / POST /_lab/config)."""

    region: str = DEFAULT_REGION
    public_url: str = ''
    service_ready_seconds: float = 6.0
    resource_ready_seconds: float = 4.0
    gateway_warmup_seconds: float = 2.0
    seed: int = 0
    verbose: bool = False
    state_file: str = ''


@dataclass
class Node:
    """A dedicated-group ECS node (ResourceInstance): Attaching -> Ready, CreateFailed, Deleting."""

    instance_id: str
    name: str
    ip: str
    itype: InstanceType
    charge_type: str
    zone: str
    disk: int
    created: float
    ready_at: float
    auto_renewal: bool = False
    labels: dict = field(default_factory=dict)
    failed: bool = False
    delete_at: float | None = None
    cordoned: bool = False

    def status(self, now: float) -> str:
        if self.failed:
            return 'CreateFailed'
        if self.delete_at is not None:
            return 'Deleting'
        if now < self.ready_at:
            return 'Attaching'
        return 'Ready-SchedulingDisabled' if self.cordoned else 'Ready'

    def billed(self) -> bool:
        return not self.failed


@dataclass
class ResourceGroup:
    resource_id: str
    name: str
    resource_type: str
    instance_type: str
    charge_type: str
    zone: str
    created: float
    updated: float
    usage_mode: str = 'inference'
    labels: dict = field(default_factory=dict)
    nodes: dict = field(default_factory=dict)


@dataclass
class Replica:
    """One service instance (pod). ``node_id`` is None on the public resource group."""

    name: str
    version: int
    cpu: float
    memory: int
    gpu: float
    status: str = 'Pending'
    placed: bool = False
    node_id: str | None = None
    since: float = 0.0
    restart_count: int = 0
    ip: str = ''


@dataclass
class Service:
    name: str
    service_id: str
    token: str
    config: dict
    created: float
    updated: float
    labels: dict = field(default_factory=dict)
    workspace_id: str = ''
    status: str = 'Creating'
    reason: str = 'CREATING'
    message: str = 'Service is being created'
    op: str = 'create'
    phase: str | None = None
    phase_due: float | None = None
    block_reason: str | None = None
    current_version: int = 1
    latest_version: int = 1
    replicas: list = field(default_factory=list)
    running_since: float | None = None
    failure: FitResult | None = None
    events: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    previous_logs: list = field(default_factory=list)
    pod_hash: str = ''

    @property
    def metadata(self) -> dict:
        return self.config.setdefault('metadata', {})

    @property
    def resource_id(self) -> str | None:
        return self.metadata.get('resource') or None

    @property
    def instance_count(self) -> int:
        try:
            return int(self.metadata.get('instance', 1))
        except (TypeError, ValueError):
            return 1

    def serving(self, now: float, warmup: float) -> bool:
        running = any(r.status == 'Running' for r in self.replicas)
        return running and self.running_since is not None and now >= self.running_since + warmup

    def add_event(self, when: float, etype: str, reason: str, message: str, resource: str = 'Service', **extra) -> None:
        payload = {'versionId': self.latest_version, 'message': message}
        payload.update(extra)
        self.events.append(
            {
                'Time': event_time(when),
                'Type': etype,
                'Reason': reason,
                'Message': json.dumps(payload),
                'Resource': resource,
                '_ts': when,
                '_instance': extra.get('instance', ''),
            }
        )


STOCK_STATUSES = ('WithStock', 'ClosedWithStock', 'NoStock')


def public_type_of(config: dict) -> str | None:
    computing = (config.get('cloud') or {}).get('computing') or {}
    if not isinstance(computing, dict):
        return None
    if computing.get('instance_type'):
        return str(computing['instance_type'])
    instances = computing.get('instances') or []
    if isinstance(instances, list) and instances and isinstance(instances[0], dict):
        return str(instances[0].get('type') or '') or None
    return None


class Store:
    """All emulated state. Every transition is computed lazily from timestamps in ``advance()``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.lock = threading.RLock()
        self.resources: dict = {}
        self.services: dict = {}
        self.stockouts = 0
        self.stock: dict = {}  # instance type -> {'StockStatus', 'IsAvailable'} (POST /_lab/stock)
        self._ip_counter = 10
        # (group, node) of the nodes removed so far, for the node-time billing report (usage.py).
        self.retired_nodes: list = []

    # -- helpers ------------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.resources.clear()
            self.services.clear()
            self.stockouts = 0
            self.stock.clear()
            self._ip_counter = 10
            self.retired_nodes = []

    def stock_of(self, type_name: str):
        """(StockStatus, IsAvailable) of an instance type: the lab override, else NoStock during a stock-out fault."""
        override = self.stock.get(type_name)
        if override:
            return override['StockStatus'], override['IsAvailable']
        return ('NoStock' if self.stockouts else 'WithStock'), True

    def next_ip(self, prefix: str) -> str:
        self._ip_counter += 1
        return f'{prefix}.{self._ip_counter // 250}.{self._ip_counter % 250 + 2}'

    @property
    def ready_delay(self) -> float:
        return max(self.settings.service_ready_seconds, 0.0)

    def endpoint(self, name: str) -> str:
        return f'{self.settings.public_url.rstrip("/")}/api/predict/{name}'

    def get_service(self, name: str) -> Service:
        svc = self.services.get(name)
        if svc is None:
            raise ApiError(404, 'InvalidService.NotFound', f'Service {name} not found.')
        return svc

    def get_resource(self, resource_id: str) -> ResourceGroup:
        group = self.resources.get(resource_id)
        if group is None:
            raise ApiError(404, 'InvalidResource.NotFound', f'Resource {resource_id} not found.')
        return group

    def node_of(self, node_id: str | None):
        for group in self.resources.values():
            if node_id in group.nodes:
                return group.nodes[node_id]
        return None

    def used_on(self, node_id: str):
        cpu = gpu = 0.0
        memory = 0
        for svc in self.services.values():
            for replica in svc.replicas:
                if replica.placed and replica.node_id == node_id:
                    cpu += replica.cpu
                    memory += replica.memory
                    gpu += replica.gpu
        return cpu, memory, gpu

    # -- resource groups ------------------------------------------------------------------------------------------------

    def add_nodes(
        self,
        group: ResourceGroup,
        itype: InstanceType,
        count: int,
        charge_type: str,
        zone: str,
        disk: int,
        auto_renewal: bool,
        labels: dict,
        now: float,
    ) -> list:
        status, available = self.stock_of(itype.name)
        failed = status == 'NoStock' or not available
        if self.stockouts > 0:
            self.stockouts -= 1
            failed = True
        ids = []
        for _unused in range(count):
            node_id = rand_id('eas-i-', 20)
            ip = self.next_ip('172.16')
            group.nodes[node_id] = Node(
                node_id,
                f'{self.settings.region}.{ip}',
                ip,
                itype,
                charge_type,
                zone,
                disk,
                now,
                now + max(self.settings.resource_ready_seconds, 0.0),
                auto_renewal,
                dict(labels),
                failed,
            )
            ids.append(node_id)
        group.updated = now
        return ids

    def group_status(self, group: ResourceGroup, now: float):
        statuses = [n.status(now) for n in group.nodes.values()]
        failed = statuses.count('CreateFailed')
        if 'Attaching' in statuses and not any(s.startswith('Ready') for s in statuses):
            return 'Creating', 'Resource is being created'
        if failed:
            itype = next(iter(group.nodes.values())).itype.name
            return (
                'ResourceReady',
                f'{failed} instance(s) failed to create: {itype} is out of stock in {group.zone} (NoStock).',
            )
        return 'ResourceReady', 'Resource is ready'

    def group_usage(self, group: ResourceGroup, now: float) -> dict:
        nodes = [n for n in group.nodes.values() if n.status(now).startswith('Ready')]
        cpu_used = gpu_used = 0.0
        mem_used = 0
        for node in nodes:
            cpu, mem, gpu = self.used_on(node.instance_id)
            cpu_used += cpu
            mem_used += mem
            gpu_used += gpu
        return {
            'CpuCount': sum(n.itype.cpu for n in nodes),
            'CpuUsed': int(cpu_used),
            'GpuCount': sum(n.itype.gpu for n in nodes),
            'GpuUsed': float(gpu_used),
            'Memory': sum(n.itype.memory_mb for n in nodes),
            'MemoryUsed': mem_used,
            'InstanceMaxAllocatableCPU': max((n.itype.allocatable_cpu for n in nodes), default=0),
            'InstanceMaxAllocatableGPU': float(max((n.itype.gpu for n in nodes), default=0)),
            'InstanceMaxAllocatableMemory': max((n.itype.allocatable_memory_mb for n in nodes), default=0),
        }

    # -- lazy time -------------------------------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Apply every transition that is due at ``now`` (node removal first, then services by age)."""
        with self.lock:
            for group in self.resources.values():
                for node_id in [i for i, n in group.nodes.items() if n.delete_at is not None and n.delete_at <= now]:
                    self.retired_nodes.append((group, group.nodes[node_id]))
                    del group.nodes[node_id]
                    self._evict(node_id, now)
            for svc in sorted(self.services.values(), key=lambda s: s.created):
                self._advance_service(svc, now)

    def _evict(self, node_id: str, now: float) -> None:
        for svc in self.services.values():
            evicted = [r for r in svc.replicas if r.node_id == node_id]
            for replica in evicted:
                replica.placed, replica.node_id, replica.status = False, None, 'Pending'
            if evicted and svc.phase is None and svc.status not in ('Stopped', 'Failed'):
                svc.add_event(now, 'Warning', 'NodeDeleted', f'Node {node_id} was deleted; instances are rescheduled.')
                self._set_status(svc, 'Waiting', 'WAITING', 'Instances are being rescheduled')
                svc.op, svc.phase, svc.phase_due = 'start', 'schedule', now

    # -- service operations --------------------------------------------------------------------------------------------

    def _new_replica(self, svc: Service, version: int) -> Replica:
        meta = svc.metadata
        gpu = meta.get('gpu') or 0
        if svc.resource_id is None:
            itype = INSTANCE_TYPES.get(public_type_of(svc.config) or '')
            gpu = gpu or (itype.gpu if itype else 0)
        return Replica(
            name=f'{svc.name.replace("_", "-")}-{svc.pod_hash}-{secrets.token_hex(3)[:5]}',
            version=version,
            cpu=float(meta.get('cpu') or 0),
            memory=int(meta.get('memory') or 0),
            gpu=float(gpu),
        )

    def _set_status(self, svc: Service, status: str, reason: str, message: str) -> None:
        svc.status, svc.reason, svc.message = status, reason, message

    def _start_phase(self, svc: Service, op: str, status: str, now: float, delay_fraction: float = 0.25) -> None:
        svc.op, svc.phase, svc.block_reason = op, 'schedule', None
        svc.phase_due = now + self.ready_delay * delay_fraction
        svc.updated = now
        messages = {
            'Creating': 'Service is being created',
            'Starting': 'Service is starting',
            'Updating': 'Service is updating',
            'Scaling': 'Service is scaling',
        }
        self._set_status(svc, status, status.upper(), messages.get(status, status))

    def begin_create(self, svc: Service, now: float) -> None:
        svc.pod_hash = secrets.token_hex(5)
        svc.replicas = [self._new_replica(svc, 1) for _unused in range(svc.instance_count)]
        svc.add_event(now, 'Normal', 'Creating', 'Service is being created')
        self._start_phase(svc, 'create', 'Creating', now)

    def begin_start(self, svc: Service, now: float, reason: str = 'Starting') -> None:
        svc.failure = None
        svc.replicas = [self._new_replica(svc, svc.current_version) for _unused in range(svc.instance_count)]
        svc.running_since = None
        svc.add_event(now, 'Normal', reason, f'Service is {reason.lower()}')
        self._start_phase(svc, 'start', 'Starting', now)

    def begin_stop(self, svc: Service, now: float) -> None:
        svc.op, svc.phase, svc.phase_due, svc.block_reason = 'stop', 'stop', now + self.ready_delay * 0.5, None
        svc.updated = now
        self._set_status(svc, 'Stopping', 'STOPPING', 'Service is stopping')
        svc.add_event(now, 'Normal', 'Stopping', 'Service is stopping')

    def begin_delete(self, svc: Service, now: float) -> None:
        svc.op, svc.phase, svc.phase_due, svc.block_reason = 'delete', 'delete', now + self.ready_delay * 0.5, None
        self._set_status(svc, 'Deleting', 'DELETING', 'Service is being deleted')
        svc.add_event(now, 'Normal', 'Deleting', 'Service is being deleted')

    def begin_update(self, svc: Service, new_config: dict, now: float) -> str:
        """Apply a new config. Only metadata.instance changed: scaling; otherwise a new version and a rolling update."""
        old = copy.deepcopy(svc.config)
        old_meta, new_meta = dict(old.get('metadata') or {}), dict(new_config.get('metadata') or {})
        old_meta.pop('instance', None)
        new_meta.pop('instance', None)
        only_scale = {**old, 'metadata': old_meta} == {**new_config, 'metadata': new_meta}
        if only_scale:
            return self.begin_scale(svc, int(new_config.get('metadata', {}).get('instance', 1)), now)
        svc.config = new_config
        svc.latest_version += 1
        svc.updated = now
        if svc.status in ('Stopped', 'Stopping'):
            svc.current_version = svc.latest_version
            svc.add_event(now, 'Normal', 'Updated', 'Service config updated; the service stays stopped')
            return 'Update service successfully; the service is stopped and will use the new version when started.'
        # a new update first removes failed or pending instances of a previous incomplete update
        svc.replicas = [r for r in svc.replicas if r.status == 'Running']
        svc.failure = None
        unavailable = (
            as_int((svc.metadata.get('rolling_strategy') or {}).get('max_unavailable'), 'max_unavailable', 0) or 0
        )
        removed = svc.replicas[:unavailable]
        svc.replicas = svc.replicas[unavailable:]
        if removed and not svc.replicas:
            svc.running_since = None
        svc.replicas += [self._new_replica(svc, svc.latest_version) for _unused in range(svc.instance_count)]
        svc.add_event(
            now,
            'Normal',
            'Updating',
            'Stage update started',
            availableInstance=len(svc.replicas) - svc.instance_count,
            unavailableInstance=svc.instance_count,
        )
        self._start_phase(svc, 'update', 'Updating', now)
        return 'Update service successfully'

    def begin_scale(self, svc: Service, count: int, now: float, to_delete: list | None = None) -> str:
        svc.metadata['instance'] = count
        svc.updated = now
        if svc.status in ('Stopped', 'Stopping'):
            return 'Scale service successfully; the service is stopped.'
        keep = [r for r in svc.replicas if r.status != 'Crashed' and r.name not in (to_delete or [])]
        if len(keep) > count:
            keep = keep[:count]
        svc.replicas = keep + [self._new_replica(svc, svc.current_version) for _unused in range(count - len(keep))]
        svc.add_event(now, 'Normal', 'Scaling', f'Scaling service to {count} instance(s)', targetInstance=count)
        self._start_phase(svc, 'scale', 'Scaling', now)
        return 'Scale service successfully'

    # -- scheduling and boot -------------------------------------------------------------------------------------------

    def _place(self, svc: Service, replica: Replica, now: float) -> str | None:
        """Place one replica. Returns None when placed, else a Kubernetes-like FailedScheduling message."""
        if svc.resource_id is None:
            override = self.stock.get(public_type_of(svc.config) or '')
            if override and (override['StockStatus'] == 'NoStock' or not override['IsAvailable']):
                return (
                    f'0/0 nodes are available: the public resource group has no stock of {public_type_of(svc.config)} '
                    f'({override["StockStatus"]}, IsAvailable={override["IsAvailable"]}).'
                )
            replica.placed, replica.node_id = True, None
            return None
        group = self.resources.get(svc.resource_id)
        nodes = [n for n in group.nodes.values() if n.status(now) not in ('CreateFailed', 'Deleting')] if group else []
        if not nodes:
            return '0/0 nodes are available: no nodes in resource group.'
        insufficient = {'cpu': 0, 'memory': 0, 'nvidia.com/gpu': 0}
        not_ready = unschedulable = 0
        for node in nodes:
            status = node.status(now)
            if status == 'Attaching':
                not_ready += 1
                continue
            if node.cordoned:
                unschedulable += 1
                continue
            cpu, memory, gpu = self.used_on(node.instance_id)
            lacks = [
                name
                for name, need, free in (
                    ('cpu', replica.cpu, node.itype.allocatable_cpu - cpu),
                    ('memory', replica.memory, node.itype.allocatable_memory_mb - memory),
                    ('nvidia.com/gpu', replica.gpu, node.itype.gpu - gpu),
                )
                if need > free
            ]
            if not lacks:
                replica.placed, replica.node_id = True, node.instance_id
                return None
            for name in lacks:
                insufficient[name] += 1
        parts = [f'{count} Insufficient {name}' for name, count in insufficient.items() if count]
        if not_ready:
            parts.append(f"{not_ready} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}")
        if unschedulable:
            parts.append(f'{unschedulable} node(s) were unschedulable')
        return f'0/{len(nodes)} nodes are available: {", ".join(parts)}.'

    def _advance_service(self, svc: Service, now: float) -> None:
        for _unused in range(16):
            if svc.phase is None or svc.phase_due is None or svc.phase_due > now:
                return
            due = svc.phase_due
            if svc.phase == 'schedule':
                self._phase_schedule(svc, due, now)
                if svc.phase == 'schedule':
                    return
            elif svc.phase == 'boot':
                self._phase_boot(svc, due)
            elif svc.phase == 'stop':
                svc.replicas, svc.running_since, svc.phase, svc.op = [], None, None, None
                self._set_status(svc, 'Stopped', 'STOPPED', 'Service stopped successfully')
                svc.add_event(due, 'Normal', 'Stopped', 'Service stopped successfully')
            elif svc.phase == 'delete':
                self.services.pop(svc.name, None)
                return
            else:
                return

    def _phase_schedule(self, svc: Service, due: float, now: float) -> None:
        when = due if svc.block_reason is None else now
        if svc.op == 'create' and svc.status == 'Creating':
            self._set_status(svc, 'Waiting', 'WAITING', 'Waiting for instances to be scheduled')
        pending = [r for r in svc.replicas if not r.placed]
        for replica in pending:
            reason = self._place(svc, replica, when)
            if reason is None:
                replica.status, replica.since = 'Starting', when
                replica.ip = self.next_ip('10.224')
                node = self.node_of(replica.node_id)
                where = node.name if node else 'public resource group'
                svc.add_event(
                    when,
                    'Normal',
                    'Scheduled',
                    f'Successfully assigned {replica.name} to {where}',
                    'Pod',
                    instance=replica.name,
                )
                continue
            if reason != svc.block_reason:
                svc.block_reason = reason
                svc.add_event(when, 'Warning', 'FailedScheduling', reason, 'Pod', instance=replica.name)
            if svc.status in ('Starting', 'Creating'):
                self._set_status(svc, 'Waiting', 'WAITING', '')
            svc.message = f'Instance {replica.name} is pending: {reason}'
            svc.phase_due = now
            return
        svc.block_reason = None
        svc.phase, svc.phase_due = 'boot', when + self.ready_delay * 0.75

    def _fit_for(self, svc: Service, replica: Replica) -> FitResult:
        profile = ModelProfile.from_config(svc.config)
        node = self.node_of(replica.node_id)
        itype = node.itype if node else INSTANCE_TYPES.get(public_type_of(svc.config) or '')
        gpus = replica.gpu
        if not gpus and svc.metadata.get('gpu_memory') and itype is not None and itype.gpu:
            gpus = min(float(svc.metadata['gpu_memory']) / itype.gpu_memory_gb, 1.0)
        return gpu_fit(profile, itype, gpus)

    def _phase_boot(self, svc: Service, due: float) -> None:
        svc.phase, svc.phase_due = None, None
        booting = [r for r in svc.replicas if r.status == 'Starting']
        profile = ModelProfile.from_config(svc.config)
        for replica in booting:
            fit = self._fit_for(svc, replica)
            node = self.node_of(replica.node_id)
            svc.previous_logs = list(svc.logs)
            svc.logs = container_logs(
                profile,
                node.itype if node else INSTANCE_TYPES.get(public_type_of(svc.config) or ''),
                fit,
                replica.since,
            )
            if not fit.ok:
                replica.status, replica.restart_count = 'Crashed', 3
                svc.previous_logs = list(svc.logs)
                svc.failure = fit
                message = f'Instance {replica.name} not healthy: Instance crashed, please inspect instance log.'
                self._set_status(svc, 'Failed', 'INSTANCE_CRASHED', message)
                svc.add_event(
                    due,
                    'Warning',
                    'BackOff',
                    f'Back-off restarting failed container {svc.name} in pod {replica.name}',
                    'Pod',
                    instance=replica.name,
                )
                svc.add_event(due, 'Warning', 'Failed', message, instance=replica.name)
                return
            replica.status = 'Running'
            svc.add_event(due, 'Normal', 'Started', f'Started container {svc.name}', 'Pod', instance=replica.name)
        if svc.op == 'update':
            svc.replicas = [r for r in svc.replicas if r.version == svc.latest_version]
        svc.current_version = svc.latest_version
        if svc.running_since is None:
            svc.running_since = due
        running = sum(1 for r in svc.replicas if r.status == 'Running')
        stage = 'Stage update complete' if svc.op == 'update' else 'Service start successfully'
        self._set_status(svc, 'Running', 'RUNNING', 'Service start successfully')
        svc.add_event(
            due, 'Normal', 'Running', stage, availableInstance=running, unavailableInstance=len(svc.replicas) - running
        )
        svc.op = None


def container_logs(profile: ModelProfile, itype: InstanceType | None, fit: FitResult, started: float) -> list:
    """Log lines that read like a vLLM (or generic) container starting or crashing."""
    stamp = time.strftime('%m-%d %H:%M:%S', time.gmtime(started))
    if not profile.is_vllm:
        lines = [
            f'{iso_time(started)} Starting container with image {profile.image or "unknown"}',
            f'{iso_time(started)} Server listening on 0.0.0.0:{profile.port}',
        ]
        return lines
    lines = [
        f'INFO {stamp} [__init__.py:244] Automatically detected platform cuda.',
        f'INFO {stamp} [api_server.py:1395] vLLM API server version 0.9.1',
        f"INFO {stamp} [cli_args.py:325] non-default args: {{'model': '{profile.model_path}', 'served_model_name': {profile.served_names!r}, "
        f"'max_model_len': {profile.max_model_len}, 'gpu_memory_utilization': {profile.gpu_util}}}",
        f"INFO {stamp} [config.py:841] This model supports multiple tasks: {{'generate'}}. Defaulting to 'generate'.",
    ]
    if itype is not None and itype.gpu:
        lines.append(
            f'INFO {stamp} [cuda.py:275] Using Flash Attention backend on {itype.gpu_type} ({itype.gpu_usable_gib:.2f} GiB).'
        )
    if fit.weights_gib:
        lines.append(
            f'INFO {stamp} [gpu_model_runner.py:1600] Model loading took {fit.weights_gib:.4f} GiB and 14.2 seconds'
        )
    if fit.kv_tokens:
        lines.append(f'INFO {stamp} [kv_cache_utils.py:716] GPU KV cache size: {fit.kv_tokens:,} tokens')
        lines.append(
            f'INFO {stamp} [kv_cache_utils.py:720] Maximum concurrency for {profile.effective_max_len:,} tokens per request: '
            f'{fit.kv_tokens / profile.effective_max_len:.2f}x'
        )
    if not fit.ok:
        lines += [
            f'ERROR {stamp} [core.py:515] EngineCore failed to start.',
            f'ERROR {stamp} [core.py:515] Traceback (most recent call last):',
            f'ERROR {stamp} [core.py:515] {fit.error}',
            'RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}',
        ]
        return lines
    lines += [
        f'INFO {stamp} [api_server.py:1457] Starting vLLM API server 0 on http://0.0.0.0:{profile.port}',
        'INFO:     Started server process [1]',
        'INFO:     Waiting for application startup.',
        'INFO:     Application startup complete.',
        f'INFO:     Uvicorn running on http://0.0.0.0:{profile.port} (Press CTRL+C to quit)',
    ]
    return lines
