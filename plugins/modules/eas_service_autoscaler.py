# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_service_autoscaler
short_description: Manage the autoscaler of a PAI-EAS service (minimum and maximum instances, scale strategies)
version_added: 1.1.0
description:
  - Creates, updates or deletes the horizontal autoscaler of an existing PAI-EAS online service
    (C(CreateServiceAutoScaler), C(UpdateServiceAutoScaler), C(DeleteServiceAutoScaler)), read with
    C(DescribeServiceAutoScaler).
  - EAS then keeps the number of instances between O(min) and O(max), adding instances when a metric of
    O(scale_strategies) averaged over the instances exceeds its threshold and removing them when it stays below.
  - Idempotent. The bounds, the strategies (compared by metric name, case-insensitively, and threshold, in any
    order) and the O(behavior) settings given are compared with what the service has; only a difference is sent,
    as a whole C(UpdateServiceAutoScaler).
  - In a B(dedicated) resource group an instance needs a free GPU (and CPU and memory) on a node; instances above
    what the nodes can hold stay C(Pending). Keep O(max) at most the GPUs of the group (the C(eas_model) role
    checks it before anything is created).
  - In check mode only C(DescribeServiceAutoScaler) (and C(DescribeService)) are called.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - The service name. The service must exist.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the autoscaler; V(absent) deletes it (the service keeps its current number
        of instances).
    type: str
    choices: [present, absent]
    default: present
  min:
    description:
      - The minimum number of instances (C(min)). Required with O(state=present).
      - V(0) lets the service scale to zero when idle (see O(behavior.on_zero)).
    type: int
  max:
    description:
      - The maximum number of instances (C(max)). Required with O(state=present). The API wants it greater than
        O(min).
    type: int
  scale_strategies:
    description:
      - The metrics that trigger scaling (C(scaleStrategies)). At least one is required with O(state=present).
    type: list
    elements: dict
    suboptions:
      metric_name:
        description:
          - The metric (C(metricName)). The SDK documents V(qps) (queries per second of one instance), V(cpu)
            (CPU utilization, percent) and V(gpu[util]) (GPU utilization, percent); the API may accept more.
        type: str
        required: true
      threshold:
        description:
          - Scale out when the metric averaged over the instances is above this value (C(threshold)).
        type: float
        required: true
      service:
        description:
          - The service whose metric is used (C(service)); default the service itself.
        type: str
  behavior:
    description:
      - How fast EAS scales (C(behavior)). Settings left out keep the API's defaults (scale out after 0 s, scale in
        after 300 s, to zero after 600 s, one instance when waking from zero).
      - Only the settings given are compared; when the API does not return them, they are not compared.
    type: dict
    suboptions:
      scale_up:
        description: Scale-out (C(scaleUp)).
        type: dict
        suboptions:
          stabilization_window_seconds:
            description: The metric must stay above the threshold this long before instances are added.
            type: int
      scale_down:
        description: Scale-in (C(scaleDown)).
        type: dict
        suboptions:
          stabilization_window_seconds:
            description: The metric must stay below the threshold this long before instances are removed.
            type: int
      on_zero:
        description: Scale to and from zero instances (C(onZero)), with O(min=0).
        type: dict
        suboptions:
          scale_down_grace_period_seconds:
            description: Seconds without traffic before the last instance is removed.
            type: int
          scale_up_activation_replicas:
            description: Instances started at once when traffic comes back.
            type: int
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
attributes:
  check_mode:
    support: full
    details:
      - Only DescribeServiceAutoScaler and DescribeService are called.
  diff_mode:
    support: full
notes:
  - B(Cost.) In a dedicated resource group the nodes are billed whether instances run on them or not, so
    autoscaling saves nothing there unless the group's nodes are scaled too; it adds throughput up to what the
    nodes hold. On the public resource group each instance is billed while it runs.
  - While the autoscaler is on, it changes C(metadata.instance) of the service config. A playbook that also sets
    C(metadata.instance) should keep the current count within O(min) and O(max), as the C(eas_model) role does.
seealso:
  - module: llmops.eas_stack.eas_service
  - module: llmops.eas_stack.eas_service_cron_scaler
"""

EXAMPLES = r"""
- name: One to two instances, one more when an instance serves more than 10 requests per second
  llmops.eas_stack.eas_service_autoscaler:
    region: cn-hangzhou
    name: deepseek_r1_qwen_1_5b
    min: 1
    max: 2
    scale_strategies:
      - metric_name: qps
        threshold: 10
    behavior:
      scale_down:
        stabilization_window_seconds: 600

- name: Turn autoscaling off (the service keeps its current number of instances)
  llmops.eas_stack.eas_service_autoscaler:
    name: deepseek_r1_qwen_1_5b
    state: absent
"""

RETURN = r"""
autoscaler:
  description: The autoscaler after the task (before it, in check mode). Empty when there is none.
  returned: always
  type: dict
  contains:
    min:
      description: Minimum instances (C(MinReplica)).
      type: int
    max:
      description: Maximum instances (C(MaxReplica)).
      type: int
    scale_strategies:
      description: The strategies, each with C(metric_name), C(threshold) and C(service).
      type: list
      elements: dict
    behavior:
      description: The C(Behavior) the API returns (its own keys).
      type: dict
    current_metrics:
      description: The current metric values (C(CurrentMetrics)), each with C(metric_name), C(service), C(value).
      type: list
      elements: dict
actions:
  description: The API actions performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [CreateServiceAutoScaler]
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.compare import is_subset, values_equal
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError

# module option -> API key of the behavior settings
BEHAVIOR_KEYS = dict(
    scale_up=('scaleUp', dict(stabilization_window_seconds='stabilizationWindowSeconds')),
    scale_down=('scaleDown', dict(stabilization_window_seconds='stabilizationWindowSeconds')),
    on_zero=(
        'onZero',
        dict(
            scale_down_grace_period_seconds='scaleDownGracePeriodSeconds',
            scale_up_activation_replicas='scaleUpActivationReplicas',
        ),
    ),
)


def _int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _strategy(item):
    """A strategy as the module compares it (the API echoes camelCase keys; metric names may change case)."""
    item = item or {}
    name = item.get('metric_name', item.get('metricName'))
    return dict(
        metric_name=str(name) if name is not None else None,
        threshold=item.get('threshold'),
        service=item.get('service') or None,
    )


def behavior_api(behavior):
    """The module's snake_case behavior as the API's camelCase, without unset values."""
    out = {}
    for key, (api_key, settings) in BEHAVIOR_KEYS.items():
        values = (behavior or {}).get(key) or {}
        part = dict((settings[k], int(v)) for k, v in values.items() if v is not None)
        if part:
            out[api_key] = part
    return out


def autoscaler_result(body):
    if not body:
        return {}
    return dict(
        min=_int(body.get('MinReplica')),
        max=_int(body.get('MaxReplica')),
        scale_strategies=[_strategy(s) for s in body.get('ScaleStrategies') or []],
        behavior=body.get('Behavior') or {},
        current_metrics=[
            dict(metric_name=m.get('metricName'), service=m.get('service'), value=m.get('value'))
            for m in body.get('CurrentMetrics') or []
        ],
    )


def exists(body):
    """DescribeServiceAutoScaler of a service without an autoscaler may answer without bounds or strategies."""
    return bool(body) and (
        body.get('MinReplica') is not None or body.get('MaxReplica') is not None or bool(body.get('ScaleStrategies'))
    )


def strategies_equal(desired, current):
    def key(item):
        return (str(item['metric_name']).lower(), str(item.get('service') or ''))

    desired = sorted((_strategy(s) for s in desired), key=key)
    current = sorted((_strategy(s) for s in current), key=key)
    if len(desired) != len(current):
        return False
    for want, have in zip(desired, current):
        if str(want['metric_name']).lower() != str(have['metric_name']).lower():
            return False
        if not values_equal(float(want['threshold']), have['threshold']):
            return False
        if want['service'] and want['service'] != have['service']:
            return False
    return True


def differences(desired, current_body):
    """The names of the settings that differ (empty when the autoscaler is as desired)."""
    changed = []
    if _int(current_body.get('MinReplica')) != desired['min']:
        changed.append('min')
    if _int(current_body.get('MaxReplica')) != desired['max']:
        changed.append('max')
    if not strategies_equal(desired['scale_strategies'], current_body.get('ScaleStrategies') or []):
        changed.append('scale_strategies')
    current_behavior = current_body.get('Behavior')
    if desired['behavior'] and isinstance(current_behavior, dict) and current_behavior:
        if not is_subset(desired['behavior'], current_behavior):
            changed.append('behavior')
    return changed


class AutoscalerRunner(EASRunner):
    options = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        min=dict(type='int'),
        max=dict(type='int'),
        scale_strategies=dict(
            type='list',
            elements='dict',
            options=dict(
                metric_name=dict(type='str', required=True),
                threshold=dict(type='float', required=True),
                service=dict(type='str'),
            ),
        ),
        behavior=dict(
            type='dict',
            options=dict(
                scale_up=dict(type='dict', options=dict(stabilization_window_seconds=dict(type='int'))),
                scale_down=dict(type='dict', options=dict(stabilization_window_seconds=dict(type='int'))),
                on_zero=dict(
                    type='dict',
                    options=dict(
                        scale_down_grace_period_seconds=dict(type='int'),
                        scale_up_activation_replicas=dict(type='int'),
                    ),
                ),
            ),
        ),
    )
    module_kwargs = dict(required_if=[('state', 'present', ('min', 'max', 'scale_strategies'))])

    def desired(self):
        params = self.params
        minimum, maximum, strategies = params['min'], params['max'], params['scale_strategies'] or []
        problems = []
        if minimum < 0:
            problems.append('min must be 0 or more (got %d)' % minimum)
        if maximum < 1:
            problems.append('max must be at least 1 (got %d)' % maximum)
        if minimum > maximum:
            problems.append('min (%d) is above max (%d): swap them or raise max' % (minimum, maximum))
        elif minimum == maximum:
            problems.append(
                'max (%d) must be greater than min (the API refuses equal bounds); for a fixed number of instances '
                'remove the autoscaler and set the instance count of the service' % maximum
            )
        if not strategies:
            problems.append('scale_strategies needs at least one metric, for example {metric_name: qps, threshold: 10}')
        for item in strategies:
            if not str(item['metric_name']).strip():
                problems.append('scale_strategies: metric_name must not be empty')
            if item['threshold'] <= 0:
                problems.append('scale_strategies: threshold of %s must be above 0' % item['metric_name'])
        for key, values in (params['behavior'] or {}).items():
            for setting, value in (values or {}).items():
                if value is not None and value < 0:
                    problems.append('behavior.%s.%s must be 0 or more' % (key, setting))
        if problems:
            raise ModuleError('; '.join(problems))
        return dict(
            min=minimum,
            max=maximum,
            scale_strategies=[_strategy(s) for s in strategies],
            behavior=behavior_api(params['behavior']),
        )

    def run(self):
        name = self.params['name']
        state = self.params['state']
        desired = self.desired() if state == 'present' else None
        current = self.client.describe_service_autoscaler(name)
        if not exists(current):
            current = None
            if self.client.describe_service(name) is None:
                if state == 'absent':
                    self.diff(dict(state='absent'), dict(state='absent'))
                    return dict(autoscaler={})
                raise ModuleError(
                    'service %s does not exist: create it first (llmops.eas_stack.eas_service), then its autoscaler'
                    % name
                )
        before = dict(state='present', **self.compared(current)) if current else dict(state='absent')
        if state == 'absent':
            if current:
                self.do('DeleteServiceAutoScaler', self.client.delete_service_autoscaler, name)
            self.diff(before, dict(state='absent'))
            return dict(autoscaler={} if current and not self.check_mode else autoscaler_result(current))
        after = dict(state='present', **self.shown(desired))
        args = (
            name,
            desired['min'],
            desired['max'],
            desired['scale_strategies'],
            self.params['behavior'],
        )
        if current is None:
            self.do('CreateServiceAutoScaler', self.client.create_service_autoscaler, *args)
        elif differences(desired, current):
            self.do('UpdateServiceAutoScaler', self.client.update_service_autoscaler, *args)
        self.diff(before, after if self.actions else before)
        if self.actions and not self.check_mode:
            current = self.client.describe_service_autoscaler(name) or current
        return dict(autoscaler=autoscaler_result(current))

    def compared(self, body):
        """The current autoscaler limited to what the module compares (for the diff)."""
        result = autoscaler_result(body)
        shown = dict(min=result['min'], max=result['max'], scale_strategies=result['scale_strategies'])
        desired_behavior = behavior_api(self.params['behavior']) if self.params['state'] == 'present' else {}
        if desired_behavior and isinstance(body.get('Behavior'), dict):
            shown['behavior'] = dict((k, body['Behavior'].get(k)) for k in desired_behavior if k in body['Behavior'])
        return shown

    @staticmethod
    def shown(desired):
        shown = dict(min=desired['min'], max=desired['max'], scale_strategies=desired['scale_strategies'])
        if desired['behavior']:
            shown['behavior'] = desired['behavior']
        return shown


def main():
    AutoscalerRunner.main()


if __name__ == '__main__':
    main()
