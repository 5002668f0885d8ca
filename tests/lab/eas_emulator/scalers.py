# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autoscaler and the scheduled (cron) scaler of a service, as SDK 6.17.0 models them, and the lab's load knob.

Control plane (registered in control.py): ``Create/Describe/Update/DeleteServiceAutoScaler`` on
``/api/v2/services/{ClusterId}/{ServiceName}/autoscaler`` (body ``min``, ``max``, ``scaleStrategies`` with
``metricName``/``threshold``/``service``, ``behavior`` with ``scaleUp``/``scaleDown``/``onZero``) and
``Create/Describe/Update/DeleteServiceCronScaler`` on ``.../cronscaler`` (body ``ScaleJobs`` with
``Name``/``Schedule``/``TargetSize``/``TimeZone``, ``ExcludeDates``).

Lab (registered in lab.py): ``POST /_lab/load {"service": name, "qps": N, "cpu": P, "gpu[util]": P}`` sets the load
the autoscaler sees (qps in total, utilisations in percent per instance) and evaluates it at once;
``GET /_lab/load`` shows loads, desired and actual instances and the scaling history;
``POST /_lab/cron/run {"service": name, "job": job name}`` runs a cron job now.

Scaling follows Kubernetes' HPA rule: per strategy ``desired = ceil(total qps / threshold)`` or
``ceil(instances x utilisation / threshold)``, the largest wins, bounded by ``min``/``max`` **and by what the
service's resource group can still hold** (free CPU, memory and GPUs of its Ready nodes; a Warning event
``AutoscalerLimited`` says so). Scale-out waits ``scaleUp.stabilizationWindowSeconds`` (default 0), scale-in
``scaleDown.stabilizationWindowSeconds`` (default 300), scale to zero ``onZero.scaleDownGracePeriodSeconds``
(default 600). It is evaluated on every control-plane request and on the knob (the emulator has no clock of its own).
"""

from __future__ import annotations

import math
import time

from .common import ApiError, as_int, iso_time

METRICS = ('qps', 'cpu', 'gpu[util]', 'gpu[memory]')
# DescribeServiceAutoScaler documents its metric names in upper case (QPS, CPU).
ECHO_NAMES = {'qps': 'QPS', 'cpu': 'CPU'}
DEFAULT_BEHAVIOR = {
    'scaleUp': {'stabilizationWindowSeconds': 0},
    'scaleDown': {'stabilizationWindowSeconds': 300},
    'onZero': {'scaleDownGracePeriodSeconds': 600, 'scaleUpActivationReplicas': 1},
}


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(str(value))
        except (TypeError, ValueError):
            raise ApiError(400, 'InvalidParameter', f'{name} must be a number, got {value!r}.') from None
    return float(value)


# -- cron expressions (5 fields, or 6 with seconds first as CronHPA reads them) -------------------------------------


def _field_values(text: str, low: int, high: int) -> set:
    values = set()
    for part in text.split(','):
        step = 1
        if '/' in part:
            part, step_text = part.split('/', 1)
            step = int(step_text)
        if part in ('*', '?'):
            start, end = low, high
        elif '-' in part:
            start_text, end_text = part.split('-', 1)
            start, end = int(start_text), int(end_text)
        else:
            start = end = int(part)
        if start < low or end > high or step < 1:
            raise ValueError(part)
        values.update(range(start, end + 1, step))
    return values


def parse_cron(expression: str) -> tuple:
    fields = str(expression).split()
    if len(fields) == 6:
        fields = fields[1:]
    if len(fields) != 5:
        raise ApiError(400, 'InvalidParameter', f'Schedule {expression!r} is not a cron expression of 5 or 6 fields.')
    bounds = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
    try:
        minute, hour, dom, month, dow = (_field_values(f, lo, hi) for f, (lo, hi) in zip(fields, bounds))
    except ValueError:
        raise ApiError(400, 'InvalidParameter', f'Schedule {expression!r} is not a valid cron expression.') from None
    if 7 in dow:
        dow = (dow - {7}) | {0}
    return minute, hour, dom, month, dow


def cron_matches(parsed: tuple, moment: time.struct_time) -> bool:
    minute, hour, dom, month, dow = parsed
    weekday = (moment.tm_wday + 1) % 7  # struct_time: Monday 0; cron: Sunday 0
    return (
        moment.tm_min in minute
        and moment.tm_hour in hour
        and moment.tm_mon in month
        and moment.tm_mday in dom
        and weekday in dow
    )


def _local(ts: float, zone: str | None) -> time.struct_time:
    if zone:
        try:
            from datetime import datetime
            from zoneinfo import ZoneInfo

            return datetime.fromtimestamp(ts, ZoneInfo(zone)).timetuple()
        except Exception:  # pylint: disable=broad-exception-caught  # unknown zone or no tzdata: UTC
            pass
    return time.gmtime(ts)


class Scalers:
    """Autoscalers, cron scalers and lab loads of the services of a Store (the caller holds ``store.lock``)."""

    def __init__(self, store):
        self.store = store
        self.autoscalers: dict = {}
        self.cron: dict = {}
        self.loads: dict = {}
        self.history: list = []

    # -- helpers -----------------------------------------------------------------------------------------------------

    def _service(self, params: dict):
        return self.store.get_service(params['ServiceName'])

    @staticmethod
    def _autoscaler_body(data: dict) -> dict:
        minimum = as_int(data.get('min'), 'min', minimum=0, maximum=1000)
        maximum = as_int(data.get('max'), 'max', minimum=1, maximum=1000)
        if minimum is None or maximum is None:
            raise ApiError(400, 'InvalidParameter', 'min and max are required.')
        if maximum <= minimum:
            raise ApiError(400, 'InvalidParameter', f'max ({maximum}) must be greater than min ({minimum}).')
        strategies = data.get('scaleStrategies')
        if not isinstance(strategies, list) or not strategies:
            raise ApiError(400, 'InvalidParameter', 'scaleStrategies is required (at least one metric).')
        clean = []
        for item in strategies:
            if not isinstance(item, dict):
                raise ApiError(400, 'InvalidParameter', 'scaleStrategies must be a list of objects.')
            metric = str(item.get('metricName') or '').lower()
            if metric not in METRICS:
                raise ApiError(
                    400,
                    'InvalidParameter',
                    f'metricName {item.get("metricName")!r} is not supported; use one of {", ".join(METRICS)}.',
                )
            threshold = _number(item.get('threshold'), 'threshold')
            if threshold <= 0:
                raise ApiError(400, 'InvalidParameter', f'threshold of {metric} must be greater than 0.')
            entry = {'metricName': metric, 'threshold': threshold}
            if item.get('service'):
                entry['service'] = str(item['service'])
            clean.append(entry)
        behavior = data.get('behavior') or {}
        if not isinstance(behavior, dict):
            raise ApiError(400, 'InvalidParameter', 'behavior must be an object.')
        merged = {}
        for key, defaults in DEFAULT_BEHAVIOR.items():
            part = behavior.get(key) or {}
            if not isinstance(part, dict):
                raise ApiError(400, 'InvalidParameter', f'behavior.{key} must be an object.')
            merged[key] = dict(defaults)
            for setting in defaults:
                if part.get(setting) is not None:
                    merged[key][setting] = as_int(part[setting], f'behavior.{key}.{setting}', minimum=0)
        return {'min': minimum, 'max': maximum, 'strategies': clean, 'behavior': merged}

    # -- autoscaler -------------------------------------------------------------------------------------------------

    def create_autoscaler(self, req, params: dict, now: float) -> dict:
        svc = self._service(params)
        if svc.name in self.autoscalers:
            raise ApiError(400, 'InvalidParameter', f'Service {svc.name} already has an autoscaler; update it instead.')
        config = self._autoscaler_body(req.json_body(required=True))
        config.update(since={}, limited=None)
        self.autoscalers[svc.name] = config
        svc.add_event(
            now, 'Normal', 'AutoscalerCreated', f'Autoscaler created: {config["min"]}-{config["max"]} instances'
        )
        self.advance(now)
        return {'Message': f'Autoscaler of service [{svc.name}] is created'}

    def update_autoscaler(self, req, params: dict, now: float) -> dict:
        svc = self._service(params)
        if svc.name not in self.autoscalers:
            raise ApiError(404, 'InvalidAutoScaler.NotFound', f'Service {svc.name} has no autoscaler.')
        config = self._autoscaler_body(req.json_body(required=True))
        config.update(since={}, limited=None)
        self.autoscalers[svc.name] = config
        svc.add_event(
            now, 'Normal', 'AutoscalerUpdated', f'Autoscaler updated: {config["min"]}-{config["max"]} instances'
        )
        self.advance(now)
        return {'Message': f'Autoscaler of service [{svc.name}] is updated'}

    def delete_autoscaler(self, _req, params: dict, now: float) -> dict:
        svc = self._service(params)
        if self.autoscalers.pop(svc.name, None) is None:
            raise ApiError(404, 'InvalidAutoScaler.NotFound', f'Service {svc.name} has no autoscaler.')
        svc.add_event(now, 'Normal', 'AutoscalerDeleted', 'Autoscaler deleted')
        return {'Message': f'Autoscaler of service [{svc.name}] is deleted'}

    def describe_autoscaler(self, _req, params: dict, _now: float) -> dict:
        svc = self._service(params)
        config = self.autoscalers.get(svc.name)
        if config is None:
            raise ApiError(404, 'InvalidAutoScaler.NotFound', f'Service {svc.name} has no autoscaler.')
        instances = max(svc.instance_count, 1)
        load = self.loads.get(svc.name, {})
        metrics = []
        for item in config['strategies']:
            metric = item['metricName']
            value = load.get(metric, 0.0) / instances if metric == 'qps' else load.get(metric, 0.0)
            metrics.append(
                {'metricName': ECHO_NAMES.get(metric, metric), 'service': svc.name, 'value': round(value, 3)}
            )
        return {
            'ServiceName': svc.name,
            'MinReplica': config['min'],
            'MaxReplica': config['max'],
            'ScaleStrategies': [
                dict(item, metricName=ECHO_NAMES.get(item['metricName'], item['metricName']))
                for item in config['strategies']
            ],
            'Behavior': config['behavior'],
            'CurrentMetrics': metrics,
        }

    # -- cron scaler ------------------------------------------------------------------------------------------------

    @staticmethod
    def _cron_body(data: dict, now: float, previous: dict | None) -> dict:
        jobs = data.get('ScaleJobs')
        if not isinstance(jobs, list) or not jobs:
            raise ApiError(400, 'InvalidParameter', 'ScaleJobs is required (at least one job).')
        old = {j['Name']: j for j in (previous or {}).get('jobs', []) if j.get('Name')}
        clean = []
        for job in jobs:
            if not isinstance(job, dict):
                raise ApiError(400, 'InvalidParameter', 'ScaleJobs must be a list of objects.')
            schedule = str(job.get('Schedule') or '')
            parse_cron(schedule)
            target = as_int(job.get('TargetSize'), 'TargetSize', minimum=0, maximum=1000)
            if target is None:
                raise ApiError(400, 'InvalidParameter', 'TargetSize is required.')
            name = str(job.get('Name') or f'job-{len(clean) + 1}')
            kept = old.get(name, {})
            clean.append(
                {
                    'Name': name,
                    'Schedule': schedule,
                    'TargetSize': target,
                    'TimeZone': str(job.get('TimeZone') or ''),
                    'CreateTime': kept.get('CreateTime') or iso_time(now),
                    'LastProbeTime': kept.get('LastProbeTime', ''),
                    'State': kept.get('State', 'Submitted'),
                    'Message': kept.get('Message', 'cron scale job submitted'),
                }
            )
        exclude = data.get('ExcludeDates') or []
        if not isinstance(exclude, list):
            raise ApiError(400, 'InvalidParameter', 'ExcludeDates must be a list of cron expressions.')
        for expression in exclude:
            parse_cron(str(expression))
        return {'jobs': clean, 'exclude': [str(e) for e in exclude], 'checked': now}

    def create_cron_scaler(self, req, params: dict, now: float) -> dict:
        svc = self._service(params)
        if svc.name in self.cron:
            raise ApiError(400, 'InvalidParameter', f'Service {svc.name} already has a cron scaler; update it instead.')
        self.cron[svc.name] = self._cron_body(req.json_body(required=True), now, None)
        return {'Message': f'Cron scaler of service [{svc.name}] is created'}

    def update_cron_scaler(self, req, params: dict, now: float) -> dict:
        svc = self._service(params)
        if svc.name not in self.cron:
            raise ApiError(404, 'InvalidCronScaler.NotFound', f'Service {svc.name} has no cron scaler.')
        self.cron[svc.name] = self._cron_body(req.json_body(required=True), now, self.cron[svc.name])
        return {'Message': f'Cron scaler of service [{svc.name}] is updated'}

    def delete_cron_scaler(self, _req, params: dict, _now: float) -> dict:
        svc = self._service(params)
        if self.cron.pop(svc.name, None) is None:
            raise ApiError(404, 'InvalidCronScaler.NotFound', f'Service {svc.name} has no cron scaler.')
        return {'Message': f'Cron scaler of service [{svc.name}] is deleted'}

    def describe_cron_scaler(self, _req, params: dict, _now: float) -> dict:
        svc = self._service(params)
        config = self.cron.get(svc.name)
        if config is None:
            raise ApiError(404, 'InvalidCronScaler.NotFound', f'Service {svc.name} has no cron scaler.')
        return {
            'ServiceName': svc.name,
            # The 6.17.0 response model has no TimeZone for a job.
            'ScaleJobs': [{k: v for k, v in job.items() if k != 'TimeZone'} for job in config['jobs']],
            'ExcludeDates': list(config['exclude']),
        }

    # -- capacity and scaling ----------------------------------------------------------------------------------------

    def capacity(self, svc, now: float) -> int | None:
        """How many instances of ``svc`` its resource group can hold now (its own included); None = no limit."""
        if svc.resource_id is None:
            return None
        group = self.store.resources.get(svc.resource_id)
        if group is None:
            return 0
        meta = svc.metadata
        cpu, memory, gpu = float(meta.get('cpu') or 0), int(meta.get('memory') or 0), float(meta.get('gpu') or 0)
        total = 0
        for node in group.nodes.values():
            if not node.status(now).startswith('Ready') or node.cordoned:
                continue
            used_cpu, used_memory, used_gpu = self.store.used_on(node.instance_id)
            for replica in svc.replicas:
                if replica.placed and replica.node_id == node.instance_id:
                    used_cpu, used_memory, used_gpu = (
                        used_cpu - replica.cpu,
                        used_memory - replica.memory,
                        used_gpu - replica.gpu,
                    )
            fits = []
            for need, free in (
                (cpu, node.itype.allocatable_cpu - used_cpu),
                (memory, node.itype.allocatable_memory_mb - used_memory),
                (gpu, node.itype.gpu - used_gpu),
            ):
                if need > 0:
                    fits.append(max(int(math.floor(free / need + 1e-9)), 0))
            total += min(fits) if fits else 100
        return total

    def desired(self, svc, config: dict) -> tuple:
        """(desired instances from the load, bounded by min/max; the metric that decided it)."""
        current = svc.instance_count
        load = self.loads.get(svc.name, {})
        best, why = 0, 'no load'
        for item in config['strategies']:
            metric, threshold = item['metricName'], item['threshold']
            value = float(load.get(metric, 0.0))
            if metric == 'qps':
                wanted = math.ceil(value / threshold - 1e-9) if value > 0 else 0
                reason = f'{value:g} qps in total, threshold {threshold:g} per instance'
            else:
                wanted = math.ceil(max(current, 1) * value / threshold - 1e-9) if value > 0 else 0
                reason = f'{metric} {value:g}% per instance, threshold {threshold:g}%'
            if wanted > best or why == 'no load':
                best, why = wanted, reason
        return min(max(best, config['min']), config['max']), why

    def _scale(self, svc, target: int, now: float, reason: str) -> None:
        before = svc.instance_count
        self.store.begin_scale(svc, target, now)
        svc.add_event(
            now,
            'Normal',
            'AutoScaling',
            f'Scaled from {before} to {target} instance(s): {reason}',
            targetInstance=target,
        )
        self.history.append(
            {'time': iso_time(now), 'ts': now, 'service': svc.name, 'from': before, 'to': target, 'reason': reason}
        )

    def _evaluate_autoscaler(self, svc, config: dict, now: float) -> None:
        current = svc.instance_count
        target, reason = self.desired(svc, config)
        room = self.capacity(svc, now)
        if room is not None and target > max(room, current):
            limited = max(room, current)
            if config.get('limited') != (target, limited):
                svc.add_event(
                    now,
                    'Warning',
                    'AutoscalerLimited',
                    f'The autoscaler wants {target} instance(s) ({reason}) but the nodes of resource group '
                    f'{svc.resource_id} can hold {room}: add nodes or lower max.',
                )
                config['limited'] = (target, limited)
            reason = f'{reason}; limited to {limited} by the free resources of {svc.resource_id}'
            target = limited
        if target == current:
            config['since'] = {}
            return
        direction = 'up' if target > current else 'down'
        behavior = config['behavior']
        if direction == 'up':
            window = behavior['scaleUp']['stabilizationWindowSeconds']
        elif target == 0:
            window = behavior['onZero']['scaleDownGracePeriodSeconds']
        else:
            window = behavior['scaleDown']['stabilizationWindowSeconds']
        since = config['since']
        if since.get('direction') != direction:
            config['since'] = since = {'direction': direction, 'at': now}
        if now - since['at'] + 1e-9 < window:
            return
        config['since'] = {}
        self._scale(svc, target, now, reason)

    def _evaluate_cron(self, svc, config: dict, now: float) -> None:
        start = int(config.get('checked', now) // 60) + 1
        end = int(now // 60)
        config['checked'] = now
        for minute in range(max(start, end - 1440), end + 1):
            ts = minute * 60.0
            for job in config['jobs']:
                moment = _local(ts, job.get('TimeZone'))
                if not cron_matches(parse_cron(job['Schedule']), moment):
                    continue
                if any(cron_matches(parse_cron(e), moment) for e in config['exclude']):
                    continue
                self.run_cron_job(svc, job, ts)

    def run_cron_job(self, svc, job: dict, now: float) -> None:
        target = int(job['TargetSize'])
        job.update(LastProbeTime=iso_time(now), State='Succeeded', Message=f'scaled to {target} instance(s)')
        if target != svc.instance_count and svc.status not in ('Stopped', 'Stopping', 'Deleting'):
            self._scale(svc, target, now, f'cron job {job["Name"]} ({job["Schedule"]})')

    def advance(self, now: float) -> None:
        """Forget the scalers of deleted services, run due cron jobs, then evaluate the autoscalers."""
        for table in (self.autoscalers, self.cron, self.loads):
            for name in [n for n in table if n not in self.store.services]:
                del table[name]
        for name, config in self.cron.items():
            svc = self.store.services[name]
            if svc.phase is None and svc.status == 'Running':
                self._evaluate_cron(svc, config, now)
        for name, config in self.autoscalers.items():
            svc = self.store.services[name]
            if svc.phase is None and svc.status == 'Running':
                self._evaluate_autoscaler(svc, config, now)

    # -- lab knobs (the caller holds store.lock) ---------------------------------------------------------------------

    def set_load(self, data: dict, now: float) -> dict:
        name = str(data.get('service') or '')
        svc = self.store.get_service(name)
        load = {}
        for metric in METRICS:
            if metric in data:
                value = _number(data[metric], metric)
                if value < 0:
                    raise ApiError(400, 'InvalidParameter', f'{metric} must be 0 or more.')
                load[metric] = value
        unknown = sorted(set(data) - set(METRICS) - {'service'})
        if unknown:
            raise ApiError(400, 'InvalidParameter', f'Unknown load fields: {", ".join(unknown)}.')
        self.loads[svc.name] = load
        self.store.advance(now)
        self.advance(now)
        return self.view(svc.name, now)

    def view(self, name: str | None, now: float) -> dict:
        names = [name] if name else sorted(set(self.loads) | set(self.autoscalers))
        services = []
        for item in names:
            svc = self.store.services.get(item)
            if svc is None:
                continue
            config = self.autoscalers.get(item)
            services.append(
                {
                    'service': item,
                    'load': self.loads.get(item, {}),
                    'instances': svc.instance_count,
                    'running': sum(1 for r in svc.replicas if r.status == 'Running'),
                    'status': svc.status,
                    'desired': self.desired(svc, config)[0] if config else None,
                    'capacity': self.capacity(svc, now),
                    'autoscaler': {'min': config['min'], 'max': config['max']} if config else None,
                }
            )
        return {
            'services': services,
            'history': [h for h in self.history if not name or h['service'] == name],
        }

    def run_job(self, data: dict, now: float) -> dict:
        svc = self.store.get_service(str(data.get('service') or ''))
        config = self.cron.get(svc.name)
        job = next((j for j in (config or {}).get('jobs', []) if j['Name'] == data.get('job')), None)
        if job is None:
            raise ApiError(
                404, 'InvalidCronScaler.NotFound', f'Service {svc.name} has no cron job {data.get("job")!r}.'
            )
        self.store.advance(now)
        self.run_cron_job(svc, job, now)
        return {'job': dict(job), 'instances': svc.instance_count}
