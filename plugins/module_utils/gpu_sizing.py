# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which model fits which GPU, and the vLLM service config of a model preset.

The one model/GPU table of the collection. Pure functions, used by the ``eas_model`` role through the filters
``llmops.eas_stack.eas_model_fit`` and ``llmops.eas_stack.eas_vllm_service_config``.

The fit rule is vLLM's own budget: it may use ``gpu_memory_utilization`` of the memory CUDA reports, and needs the
weights (bf16: 2 bytes per parameter), a runtime overhead (activations, CUDA graphs, allocator) and a KV cache for
``max_model_len`` tokens (``2 (K and V) x layers x kv_heads x head_dim x 2 bytes`` per token). When it does not fit,
vLLM refuses to start ("max seq len ... larger than the maximum number of tokens that can be stored in KV cache").
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.llmops.eas_stack.plugins.module_utils.compare import deep_merge
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import (
    oss_path_error,
    service_config_errors,
)

GIB = 1024**3

# Architecture numbers from the public Hugging Face configs of the models (bf16 weights).
MODEL_PRESETS = {
    'DeepSeek-R1-Distill-Qwen-1.5B': dict(
        params_b=1.78, layers=28, kv_heads=2, head_dim=128, max_position=131072, reasoning_parser='deepseek_r1'
    ),
    'DeepSeek-R1-Distill-Qwen-7B': dict(
        params_b=7.62, layers=28, kv_heads=4, head_dim=128, max_position=131072, reasoning_parser='deepseek_r1'
    ),
    'DeepSeek-R1-Distill-Llama-8B': dict(
        params_b=8.03, layers=32, kv_heads=8, head_dim=128, max_position=131072, reasoning_parser='deepseek_r1'
    ),
    'DeepSeek-R1-Distill-Qwen-14B': dict(
        params_b=14.77, layers=48, kv_heads=8, head_dim=128, max_position=131072, reasoning_parser='deepseek_r1'
    ),
    'DeepSeek-R1-Distill-Qwen-32B': dict(
        params_b=32.76, layers=64, kv_heads=8, head_dim=128, max_position=131072, reasoning_parser='deepseek_r1'
    ),
    'DeepSeek-R1-Distill-Llama-70B': dict(
        params_b=70.55, layers=80, kv_heads=8, head_dim=128, max_position=131072, reasoning_parser='deepseek_r1'
    ),
}

# GPU instance types: GPUs per node, GPU memory per GPU as sold (GB) and as CUDA reports it (GiB, what vLLM budgets),
# vCPUs and memory of a node. ``confirmed: False``: from public spec pages, not yet checked in the EAS console.
# ``price_cny_per_hour``: a published pay-as-you-go figure (upper bound where a range is published), only for the
# pre-flight's cost estimate; the console's price calculator is the authority.
GPU_INSTANCE_TYPES = {
    'ecs.gn7i-c8g1.2xlarge': dict(
        gpu='A10', gpus=1, gpu_memory_gb=24, usable_gib=22.49, cpu=8, memory_gib=30, price_cny_per_hour=15.0
    ),
    'ecs.gn7i-c16g1.4xlarge': dict(
        gpu='A10', gpus=1, gpu_memory_gb=24, usable_gib=22.49, cpu=16, memory_gib=60, price_cny_per_hour=11.1
    ),
    'ecs.gn7i-c32g1.8xlarge': dict(gpu='A10', gpus=1, gpu_memory_gb=24, usable_gib=22.49, cpu=32, memory_gib=188),
    'ecs.gn6i-c4g1.xlarge': dict(gpu='T4', gpus=1, gpu_memory_gb=16, usable_gib=14.58, cpu=4, memory_gib=15),
    'ecs.gn6e-c12g1.3xlarge': dict(gpu='V100', gpus=1, gpu_memory_gb=32, usable_gib=31.74, cpu=12, memory_gib=92),
    'ecs.gn7-c12g1.3xlarge': dict(
        gpu='A100', gpus=1, gpu_memory_gb=40, usable_gib=39.39, cpu=12, memory_gib=94, confirmed=False
    ),
    'ecs.gn7e-c16g1.4xlarge': dict(
        gpu='A100', gpus=1, gpu_memory_gb=80, usable_gib=79.15, cpu=16, memory_gib=125, confirmed=False
    ),
    'ml.gu7i.c8m30.1-gu30': dict(gpu='GU30', gpus=1, gpu_memory_gb=24, usable_gib=22.49, cpu=8, memory_gib=30),
    'ml.gu7i.c16m60.1-gu30': dict(gpu='GU30', gpus=1, gpu_memory_gb=24, usable_gib=22.49, cpu=16, memory_gib=60),
}

# vLLM runtime overhead besides weights and KV cache (activations, CUDA graphs, allocator), GiB.
VLLM_OVERHEAD_GIB = 1.5
VLLM_PORT = 8000
# A dedicated node keeps one core (and some memory) for EAS itself.
NODE_RESERVED_CPU = 1
NODE_RESERVED_MEMORY_MB = 2048


class SizingError(ValueError):
    """An input the sizing cannot work with (unknown model or instance type); the message says which variable."""


def preset(model, extra_presets=None):
    presets = dict(MODEL_PRESETS, **(extra_presets or {}))
    if model not in presets:
        raise SizingError(
            'eas_model=%s has no preset. Known: %s. Use one of them, or add it to eas_model_presets '
            '(params_b, layers, kv_heads, head_dim, reasoning_parser).' % (model, ', '.join(presets))
        )
    return presets[model]


def usable_from_sold_gb(gpu_memory_gb):
    """GPU memory as CUDA reports it (GiB) from the sold figure in GB (24 GB A10 -> 22.49 GiB): the table's ratio."""
    return round(float(gpu_memory_gb) * 22.49 / 24, 2)


def node_price(instance_type):
    """The table's published price of one node per hour (CNY), or 0 when the collection has none."""
    return float(GPU_INSTANCE_TYPES.get(instance_type, {}).get('price_cny_per_hour') or 0)


def usable_gib(instance_type, gpu_memory_gib=0):
    """GPU memory per GPU as CUDA reports it: ``gpu_memory_gib`` when given, else the table's."""
    if gpu_memory_gib and float(gpu_memory_gib) > 0:
        return float(gpu_memory_gib)
    spec = GPU_INSTANCE_TYPES.get(instance_type)
    if spec is None:
        raise SizingError(
            'eas_instance_type=%s is not in the GPU table of the collection (%s). Set eas_gpu_memory_gib '
            'to its GPU memory in GiB (as nvidia-smi reports it) so the fit check can run.'
            % (instance_type, ', '.join(GPU_INSTANCE_TYPES))
        )
    return spec['usable_gib']


def weights_gib(spec):
    return spec['params_b'] * 1e9 * 2 / GIB


def kv_bytes_per_token(spec):
    return 2 * spec['layers'] * spec['kv_heads'] * spec['head_dim'] * 2


def need_gib(spec, max_model_len):
    return weights_gib(spec) + VLLM_OVERHEAD_GIB + max_model_len * kv_bytes_per_token(spec) / GIB


def fit(model, instance_type, max_model_len, gpu_memory_utilization=0.9, gpu_memory_gib=0, extra_presets=None):
    """Whether ``model`` with a context of ``max_model_len`` tokens fits one GPU of ``instance_type``.

    Returns a dict: ``fits``, the figures in GiB (``usable``, ``budget``, ``weights``, ``kv``, ``need``), the largest
    ``max_len_that_fits`` (a multiple of 16, 0 when the weights alone do not fit), the ``instance_types_that_fit``
    and, when it does not fit, a ``message`` naming the variables and the fixes.
    """
    spec = preset(model, extra_presets)
    util = float(gpu_memory_utilization)
    usable = usable_gib(instance_type, gpu_memory_gib)
    budget = usable * util
    weights = weights_gib(spec)
    kv = int(max_model_len) * kv_bytes_per_token(spec) / GIB
    need = weights + VLLM_OVERHEAD_GIB + kv
    room = (budget - weights - VLLM_OVERHEAD_GIB) * GIB / kv_bytes_per_token(spec)
    max_len = max(0, int(room) // 16 * 16)
    types = [
        '%s (%s %s GB)' % (name, t['gpu'], t['gpu_memory_gb'])
        for name, t in GPU_INSTANCE_TYPES.items()
        if t['usable_gib'] * util >= need
    ]
    result = dict(
        fits=need <= budget,
        gpu=GPU_INSTANCE_TYPES.get(instance_type, {}).get('gpu', 'GPU'),
        usable_gib=round(usable, 2),
        budget_gib=round(budget, 2),
        weights_gib=round(weights, 2),
        kv_gib=round(kv, 2),
        need_gib=round(need, 2),
        max_len_that_fits=max_len,
        instance_types_that_fit=types,
    )
    if not result['fits']:
        smaller = (
            'a smaller context, eas_max_model_len <= %d' % max_len
            if max_len >= 256
            else 'a smaller context does not help: the weights alone do not fit'
        )
        result['message'] = (
            'eas_model=%s does not fit eas_instance_type=%s (%s, %s GiB usable x eas_gpu_memory_utilization %s = %s GiB '
            'for vLLM). It needs %s GiB: weights %s GiB (bf16) + runtime %s GiB + KV cache %s GiB for '
            'eas_max_model_len=%s tokens. vLLM would refuse to start and the service would end Failed while the GPU '
            'node is billed. Fixes: (1) a bigger GPU, eas_instance_type = %s; (2) %s; (3) a quantized model (AWQ/GPTQ '
            'int4 needs about a quarter of the weight memory) with eas_image / eas_service_config_override and '
            'eas_gpu_memory_gib if needed.'
            % (
                model,
                instance_type,
                result['gpu'],
                result['usable_gib'],
                util,
                result['budget_gib'],
                result['need_gib'],
                result['weights_gib'],
                VLLM_OVERHEAD_GIB,
                result['kv_gib'],
                max_model_len,
                ', '.join(types) or 'none in the table',
                smaller,
            )
        )
    return result


def node_limits(instance_type):
    """``(cpu, memory_mb, gpus)`` one node of ``instance_type`` can give a service, or None when unknown."""
    spec = GPU_INSTANCE_TYPES.get(instance_type)
    if spec is None:
        return None
    return (
        max(spec['cpu'] - NODE_RESERVED_CPU, 1),
        int(spec['memory_gib'] * 1024) - NODE_RESERVED_MEMORY_MB,
        spec['gpus'],
    )


def service_resources(instance_type, cpu=0, memory=0, group=None):
    """CPU cores and memory (MB) per service instance in a dedicated group.

    In order: explicit ``cpu``/``memory``; what one node of the group can allocate (``allocatable_cpu`` /
    ``allocatable_memory`` of the group, as eas_resource_group returns it); the table (check mode before the group
    exists).
    """
    group = group or {}
    limits = node_limits(instance_type) or (1, 6144, 1)

    def pick(explicit, group_key, table_value):
        if explicit and int(explicit) > 0:
            return int(explicit)
        if group.get(group_key) is not None and float(group[group_key]) > 0:
            return int(float(group[group_key]))
        return table_value

    return pick(cpu, 'allocatable_cpu', limits[0]), pick(memory, 'allocatable_memory', limits[1])


def placement_errors(
    instance_type, cpu=0, memory=0, service_instance_count=1, instance_count=1, autoscaler_max=0, cron_max=0
):
    """What one dedicated node (or the group) cannot give, as messages naming the variable and the fix.

    A service instance that asks for more CPU or memory than a node can allocate, or more instances than the group
    has GPUs, stays Waiting for ever while the nodes are billed. The same holds for the instances an autoscaler may
    add (``autoscaler_max``) and for the largest target of a scheduled scaler (``cron_max``).
    """
    limits = node_limits(instance_type)
    if limits is None:
        return []
    max_cpu, max_memory, gpus = limits
    errors = []
    if cpu and int(cpu) > max_cpu:
        errors.append(
            'eas_cpu=%s is more than one %s node can give a service (%d cores: EAS keeps one core per node), '
            'so the service would stay Waiting. Use at most %d, or 0 to size it from what the group reports '
            'as allocatable.' % (cpu, instance_type, max_cpu, max_cpu)
        )
    node_memory = int(GPU_INSTANCE_TYPES[instance_type]['memory_gib'] * 1024)
    if memory and int(memory) >= node_memory:
        errors.append(
            'eas_memory=%s MB is not below the %d MB of one %s node, so the service would stay Waiting. Use 0 '
            'to size it from the group.' % (memory, node_memory, instance_type)
        )
    if int(service_instance_count) > int(instance_count) * gpus:
        errors.append(
            'eas_service_instance_count=%s needs one GPU each, but the group has %d: raise eas_instance_count '
            'or lower eas_service_instance_count.' % (service_instance_count, int(instance_count) * gpus)
        )
    group_gpus = int(instance_count) * gpus
    if autoscaler_max and int(autoscaler_max) > group_gpus:
        errors.append(
            'eas_autoscaler.max=%s: the autoscaler could ask for %s instances of one GPU each, but the group\'s '
            'eas_instance_count=%s nodes of %s have %d GPU(s); the extra instances would stay Pending while the nodes '
            'are billed. Raise eas_instance_count to %s (a node per instance) or lower eas_autoscaler.max to %d.'
            % (autoscaler_max, autoscaler_max, instance_count, instance_type, group_gpus, autoscaler_max, group_gpus)
        )
    if cron_max and int(cron_max) > group_gpus:
        errors.append(
            'eas_cron_scaler: a job sets target_size=%s instances of one GPU each, but the group has %d GPU(s) '
            '(eas_instance_count=%s x %s). Raise eas_instance_count or lower the job\'s target_size.'
            % (cron_max, group_gpus, instance_count, instance_type)
        )
    return errors


def _whole(value):
    """A whole number from an int or a digit string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ''
    return int(text) if text.isdigit() else None


def _state(settings):
    return str(settings.get('state') or 'present') if isinstance(settings, dict) else 'present'


def scaler_errors(autoscaler, cron_scaler, instance_type, instance_count=1, dedicated=True):
    """What is wrong with the ``eas_model`` role's ``eas_autoscaler`` and ``eas_cron_scaler``, as messages naming the
    variable and the fix: their shape, min < max, thresholds, cron fields, and (dedicated group) the GPU bounds of
    ``placement_errors``. Empty settings (the role leaves the scalers alone) have no errors."""
    errors = []
    autoscaler_max = cron_max = 0
    if not isinstance(autoscaler, dict):
        errors.append('eas_autoscaler must be a dict (min, max, scale_strategies, behavior), or {} to leave it alone.')
    elif autoscaler and _state(autoscaler) not in ('present', 'absent'):
        errors.append('eas_autoscaler.state must be present or absent (got %s).' % autoscaler.get('state'))
    elif autoscaler and _state(autoscaler) == 'present':
        low, high = _whole(autoscaler.get('min')), _whole(autoscaler.get('max'))
        if low is None or high is None:
            errors.append(
                'eas_autoscaler needs min and max, whole numbers of instances (for example {min: 1, max: 2}); got '
                'min=%s, max=%s.' % (autoscaler.get('min'), autoscaler.get('max'))
            )
        elif low > high:
            errors.append(
                'eas_autoscaler.min=%d is above eas_autoscaler.max=%d: swap them, or raise max.' % (low, high)
            )
        elif low == high:
            errors.append(
                'eas_autoscaler.max must be greater than min (both %d; the API refuses equal bounds). For a fixed number '
                'of instances drop eas_autoscaler and set eas_service_instance_count.' % low
            )
        else:
            autoscaler_max = high
        strategies = autoscaler.get('scale_strategies')
        good = (
            isinstance(strategies, list)
            and strategies
            and all(isinstance(s, dict) and s.get('metric_name') and s.get('threshold') is not None for s in strategies)
        )
        if not good:
            errors.append(
                'eas_autoscaler.scale_strategies must be a list of {metric_name, threshold}, for example '
                '[{metric_name: qps, threshold: 10}] (metric_name qps, cpu or gpu[util]).'
            )
        else:
            try:
                if any(float(s['threshold']) <= 0 for s in strategies):
                    errors.append('eas_autoscaler.scale_strategies: every threshold must be above 0.')
            except (TypeError, ValueError):
                errors.append('eas_autoscaler.scale_strategies: every threshold must be a number above 0.')
    if not isinstance(cron_scaler, dict):
        errors.append('eas_cron_scaler must be a dict (scale_jobs, exclude_dates), or {} to leave it alone.')
    elif cron_scaler and _state(cron_scaler) not in ('present', 'absent'):
        errors.append('eas_cron_scaler.state must be present or absent (got %s).' % cron_scaler.get('state'))
    elif cron_scaler and _state(cron_scaler) == 'present':
        jobs = cron_scaler.get('scale_jobs')
        good = (
            isinstance(jobs, list)
            and jobs
            and all(
                isinstance(j, dict) and j.get('schedule') and _whole(j.get('target_size')) is not None for j in jobs
            )
        )
        if not good:
            errors.append(
                'eas_cron_scaler.scale_jobs must be a list of {name, schedule, target_size}, for example '
                '[{name: day, schedule: "0 0 8 * * *", target_size: 2}].'
            )
        else:
            if any(len(str(j['schedule']).split()) not in (5, 6) for j in jobs):
                errors.append(
                    'eas_cron_scaler.scale_jobs: every schedule must be a cron expression of 5 or 6 fields '
                    '(for example "0 0 8 * * *").'
                )
            cron_max = max(_whole(j['target_size']) for j in jobs)
            if autoscaler_max and cron_max > autoscaler_max:
                errors.append(
                    'eas_cron_scaler: a job sets target_size=%d, above eas_autoscaler.max=%d; keep the scheduled sizes '
                    'within the autoscaler\'s bounds.' % (cron_max, autoscaler_max)
                )
    if dedicated and (autoscaler_max or cron_max) and _whole(instance_count):
        errors += [
            message
            for message in placement_errors(
                instance_type,
                instance_count=_whole(instance_count),
                autoscaler_max=autoscaler_max,
                cron_max=cron_max,
            )
            if not message.startswith('eas_service_instance_count')
        ]
    return errors


def vllm_service_config(settings):
    """The EAS service config of a model preset served by vLLM.

    ``settings`` keys: ``model``, ``region``, ``instance_type``, ``dedicated``, ``service_instance_count``,
    ``instance_count`` (public group), ``max_model_len``, ``gpu_memory_utilization``, ``vllm_extra_args`` (list),
    ``image`` / ``vllm_image_tag``, ``model_oss_path`` / ``model_oss_endpoint``, ``cpu``, ``memory``, ``group`` (the
    resource group as ``eas_resource_group`` returns it), ``override`` (merged last), ``extra_presets``, ``autoscaled``
    (an autoscaler owns the number of instances).

    Returns ``config`` (what eas_service enforces) and ``create_only_config`` (the CPU and memory sized from the group,
    and with ``autoscaled`` the number of instances, set when the service is created).

    The OSS mount is the documented EAS form: ``oss.path`` ``oss://<bucket>/<dir>/`` with the (same-region,
    ``-internal``) endpoint apart in ``oss.endpoint``. The health checks use the keys of the EAS health-check page
    (https://www.alibabacloud.com/help/en/pai/advanced-configuration-health-check): ``startup_check`` gives vLLM the
    minutes it needs to load the weights, ``readiness_check`` takes an instance out of the gateway while it is not
    healthy; both ``http_get`` vLLM's ``/health``.
    """
    model = settings['model']
    spec = preset(model, settings.get('extra_presets'))
    region = settings['region']
    dedicated = bool(settings.get('dedicated', True))
    port = VLLM_PORT
    image = settings.get('image') or default_image(region, settings['vllm_image_tag'])
    oss_path = settings.get('model_oss_path') or default_oss_path(region, model)
    oss_endpoint = settings.get('model_oss_endpoint') or default_oss_endpoint(region)
    args = [
        'vllm',
        'serve',
        '/model_dir',
        '--host',
        '0.0.0.0',
        '--port',
        str(port),
        '--served-model-name',
        model,
        '--max-model-len',
        str(int(settings['max_model_len'])),
        '--gpu-memory-utilization',
        str(settings['gpu_memory_utilization']),
        '--trust-remote-code',
        '--reasoning-parser',
        spec['reasoning_parser'],
    ]
    script = ' '.join(
        args + [shlex.quote(str(arg)) if ' ' in str(arg) else str(arg) for arg in settings.get('vllm_extra_args') or []]
    )
    check = dict(http_get=dict(path='/health', port=port))
    config = dict(
        metadata=dict(instance=int(settings['service_instance_count'] if dedicated else settings['instance_count'])),
        containers=[
            dict(
                image=image,
                port=port,
                script=script,
                startup_check=dict(check, initial_delay_seconds=60, period_seconds=10, failure_threshold=60),
                readiness_check=dict(check, period_seconds=10, failure_threshold=3),
            )
        ],
        storage=[dict(mount_path='/model_dir', oss=dict(path=oss_path, endpoint=oss_endpoint, readOnly=True))],
    )
    create_only = {}
    if dedicated:
        group = settings.get('group') or {}
        config['metadata'].update(resource=group.get('id'), gpu=1)
        cpu, memory = service_resources(settings['instance_type'], 0, 0, group)
        # Explicit sizes are enforced; sizes derived from the group are set at creation only (what a node can allocate
        # shrinks once the service runs on it, and a rerun must not chase that).
        for key, explicit, derived in (('cpu', settings.get('cpu'), cpu), ('memory', settings.get('memory'), memory)):
            if explicit and int(explicit) > 0:
                config['metadata'][key] = int(explicit)
            else:
                create_only.setdefault('metadata', {})[key] = derived
    else:
        config['cloud'] = dict(computing=dict(instance_type=settings['instance_type']))
    if settings.get('autoscaled') and str(settings['autoscaled']).lower() not in ('false', '0'):
        # An autoscaler owns the number of instances: set at creation only, never enforced again.
        create_only.setdefault('metadata', {})['instance'] = config['metadata'].pop('instance')
    return dict(config=deep_merge(config, settings.get('override')), create_only_config=create_only)


def default_image(region, tag):
    """The vLLM image in the region's own EAS registry (pulled over the VPC)."""
    return 'eas-registry-vpc.%s.cr.aliyuncs.com/pai-eas/vllm:%s' % (region, tag)


def default_oss_path(region, model):
    """Where the PAI quickstart bucket of the region keeps the ModelScope weights of a preset."""
    return 'oss://pai-quickstart-%s/modelscope/models/%s/' % (region, model)


def default_oss_endpoint(region):
    return 'oss-%s-internal.aliyuncs.com' % region


def image_region_error(image, region):
    """An EAS registry image of another region (it would not pull over this region's VPC), as a message, or None."""
    match = re.match(r'^eas-registry(?:-vpc)?\.(?P<region>[a-z0-9-]+)\.cr\.aliyuncs\.com/', str(image or ''))
    if match and match.group('region') != region:
        return (
            'eas_image=%s comes from the EAS registry of %s, but the service runs in %s: use '
            'eas-registry-vpc.%s.cr.aliyuncs.com/... (or leave eas_image empty for the preset image)'
            % (image, match.group('region'), region, region)
        )
    return None


def service_plan_errors(settings, name):
    """Every problem of the service config ``settings`` make, as EAS would refuse it, before anything is created."""
    if settings.get('dedicated', True) and not (settings.get('group') or {}).get('id'):
        # The pre-flight runs before the resource group exists: check the config the service will get, which names
        # the group (metadata.resource), so that an override conflicting with it is refused before the group is bought.
        settings = dict(settings, group=dict(settings.get('group') or {}, id='the-resource-group'))
    try:
        plan = vllm_service_config(settings)
    except (SizingError, KeyError, TypeError, ValueError) as err:
        return ['the service config cannot be built: %s' % err]
    errors = []
    oss_problem = oss_path_error(settings.get('model_oss_path')) if settings.get('model_oss_path') else None
    if oss_problem:
        errors.append('eas_model_oss_path: %s' % oss_problem)
    image_problem = image_region_error(settings.get('image'), settings.get('region'))
    if image_problem:
        errors.append(image_problem)
    merged = deep_merge(plan['create_only_config'], plan['config'])
    errors.extend(
        'the service config (after eas_service_config_override) is not valid: %s' % e
        for e in service_config_errors(merged, name)
        if not (oss_problem and e.startswith('storage[0].oss.path'))
    )
    return errors
