# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model/GPU table, the fit check and the vLLM service config (plugins/module_utils/gpu_sizing.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ansible_collections.llmops.eas_stack.plugins.module_utils import gpu_sizing
from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import (
    GPU_INSTANCE_TYPES,
    SizingError,
    fit,
    placement_errors,
    scaler_errors,
    service_resources,
    vllm_service_config,
)

A10 = 'ecs.gn7i-c8g1.2xlarge'


def test_7b_at_vllm_default_context_is_refused_on_an_a10():
    result = fit('DeepSeek-R1-Distill-Qwen-7B', A10, 131072)
    assert not result['fits']
    assert result['need_gib'] > result['budget_gib']
    message = result['message']
    for words in (
        'eas_model=DeepSeek-R1-Distill-Qwen-7B',
        'eas_max_model_len <=',
        'ecs.gn6e-c12g1.3xlarge',
        'quantized',
    ):
        assert words in message
    assert 256 <= result['max_len_that_fits'] < 131072 and result['max_len_that_fits'] % 16 == 0


def test_7b_at_32768_fits_an_a10():
    result = fit('DeepSeek-R1-Distill-Qwen-7B', A10, 32768)
    assert result['fits'] and 'message' not in result
    assert 17 < result['need_gib'] < result['budget_gib'] < 21


def test_the_largest_context_that_fits_really_fits():
    limit = fit('DeepSeek-R1-Distill-Qwen-7B', A10, 131072)['max_len_that_fits']
    assert fit('DeepSeek-R1-Distill-Qwen-7B', A10, limit)['fits']
    assert not fit('DeepSeek-R1-Distill-Qwen-7B', A10, limit + 256)['fits']


@pytest.mark.parametrize('max_len', [256, 4096, 32768])
def test_14b_never_fits_an_a10(max_len):
    result = fit('DeepSeek-R1-Distill-Qwen-14B', A10, max_len)
    assert not result['fits']
    assert 'the weights alone do not fit' in result['message']
    assert any(name.startswith('ecs.gn7e-c16g1.4xlarge') for name in result['instance_types_that_fit'])


def test_1_5b_fits_with_room():
    result = fit('DeepSeek-R1-Distill-Qwen-1.5B', A10, 32768)
    assert result['fits'] and result['kv_gib'] < 1


def test_unknown_instance_type_needs_gpu_memory():
    with pytest.raises(SizingError, match='eas_gpu_memory_gib'):
        fit('DeepSeek-R1-Distill-Qwen-1.5B', 'ecs.unknown-type', 32768)
    assert fit('DeepSeek-R1-Distill-Qwen-7B', 'ecs.unknown-type', 32768, gpu_memory_gib=44.4)['fits']
    assert not fit('DeepSeek-R1-Distill-Qwen-7B', 'ecs.unknown-type', 32768, gpu_memory_gib=10)['fits']


def test_unknown_model_names_the_variable_and_extra_presets_count():
    with pytest.raises(SizingError, match='eas_model=Tiny has no preset'):
        fit('Tiny', A10, 4096)
    tiny = dict(params_b=0.5, layers=24, kv_heads=2, head_dim=64, reasoning_parser='deepseek_r1')
    assert fit('Tiny', A10, 4096, extra_presets={'Tiny': tiny})['fits']


def test_placement_errors_name_the_variable():
    assert placement_errors(A10) == []
    assert 'eas_cpu=8' in placement_errors(A10, cpu=8)[0]
    assert placement_errors(A10, cpu=7) == []
    assert 'eas_memory=30720' in placement_errors(A10, memory=30720)[0]
    assert 'eas_service_instance_count=2' in placement_errors(A10, service_instance_count=2)[0]
    assert placement_errors(A10, service_instance_count=2, instance_count=2) == []
    assert placement_errors('ecs.unknown-type', cpu=99) == []


def test_placement_errors_of_the_scalers():
    """An autoscaler's max or a cron job's target above the GPUs of the group is refused with both fixes."""
    [message] = placement_errors(A10, instance_count=2, autoscaler_max=3)
    assert 'eas_autoscaler.max=3' in message and 'eas_instance_count to 3' in message and 'max to 2' in message
    assert placement_errors(A10, instance_count=2, autoscaler_max=2) == []
    [message] = placement_errors(A10, instance_count=1, cron_max=2)
    assert 'target_size=2' in message and 'eas_instance_count' in message
    assert placement_errors(A10, instance_count=2, autoscaler_max=2, cron_max=2) == []


def test_service_resources_order():
    group = dict(id='eas-r-1', allocatable_cpu=7.0, allocatable_memory=28672.0)
    assert service_resources(A10, cpu=4, memory=8000, group=group) == (4, 8000)
    assert service_resources(A10, group=group) == (7, 28672)
    # a group whose node the service already uses reports nothing left: the table, minus what a node keeps
    assert service_resources(A10, group=dict(group, allocatable_cpu=0, allocatable_memory=0)) == (7, 30 * 1024 - 2048)
    assert service_resources(A10) == (7, 30 * 1024 - 2048)


SETTINGS = dict(
    model='DeepSeek-R1-Distill-Qwen-1.5B',
    region='cn-hangzhou',
    instance_type=A10,
    dedicated=True,
    service_instance_count=1,
    instance_count=1,
    max_model_len=32768,
    gpu_memory_utilization=0.9,
    vllm_extra_args=['--enable-prefix-caching'],
    image='',
    vllm_image_tag='0.14.0-gpu',
    model_oss_path='',
    group=dict(id='eas-r-1', allocatable_cpu=7, allocatable_memory=28672),
)


def test_dedicated_service_config():
    plan = vllm_service_config(SETTINGS)
    container = plan['config']['containers'][0]
    config = plan['config']
    assert config['metadata'] == dict(instance=1, resource='eas-r-1', gpu=1)
    # sized from the group at creation only; explicit sizes are enforced
    assert plan['create_only_config'] == {'metadata': {'cpu': 7, 'memory': 28672}}
    explicit = vllm_service_config(dict(SETTINGS, cpu=6))
    assert explicit['config']['metadata']['cpu'] == 6 and explicit['create_only_config'] == {
        'metadata': {'memory': 28672}
    }
    assert container['image'] == 'eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.14.0-gpu'
    assert container['port'] == 8000
    for part in (
        '--served-model-name DeepSeek-R1-Distill-Qwen-1.5B',
        '--max-model-len 32768',
        '--reasoning-parser deepseek_r1',
        '--enable-prefix-caching',
    ):
        assert part in container['script']
    mount = config['storage'][0]
    assert mount['mount_path'] == '/model_dir'
    # the documented EAS mount: bucket and directory in the path, the same-region internal endpoint apart
    assert mount['oss'] == {
        'path': 'oss://pai-quickstart-cn-hangzhou/modelscope/models/DeepSeek-R1-Distill-Qwen-1.5B/',
        'endpoint': 'oss-cn-hangzhou-internal.aliyuncs.com',
        'readOnly': True,
    }
    assert container['startup_check']['http_get'] == {'path': '/health', 'port': 8000}
    assert container['readiness_check']['http_get'] == {'path': '/health', 'port': 8000}
    assert 'cloud' not in config


def test_public_service_config_and_override():
    config = vllm_service_config(
        dict(
            SETTINGS,
            dedicated=False,
            instance_count=2,
            image='my/vllm:1',
            override={'metadata': {'rpc': {'keepalive': 70000}}},
        )
    )['config']
    assert config['cloud'] == {'computing': {'instance_type': A10}}
    assert config['metadata'] == {'instance': 2, 'rpc': {'keepalive': 70000}}
    assert config['containers'][0]['image'] == 'my/vllm:1'


def _emulator_catalog():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'lab'))
    try:
        from eas_emulator import catalog  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.pop(0)
    return catalog


def test_the_emulator_and_the_collection_agree_on_shared_instance_types():
    catalog = _emulator_catalog()
    shared = sorted(set(catalog.INSTANCE_TYPES) & set(GPU_INSTANCE_TYPES))
    assert A10 in shared and len(shared) >= 4
    for name in shared:
        lab, ours = catalog.INSTANCE_TYPES[name], GPU_INSTANCE_TYPES[name]
        assert (lab.cpu, lab.memory_gib, lab.gpu, lab.gpu_memory_gb) == (
            ours['cpu'],
            ours['memory_gib'],
            ours['gpus'],
            ours['gpu_memory_gb'],
        ), name
        assert lab.gpu_usable_gib == pytest.approx(ours['usable_gib']), name
    assert gpu_sizing.NODE_RESERVED_CPU == catalog.NODE_RESERVED_CPU


def test_service_errors_name_the_variable_before_anything_is_created():
    from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import (
        service_plan_errors as eas_service_errors,
    )

    assert eas_service_errors(SETTINGS, 'svc_1') == []
    wrong_path = dict(
        SETTINGS, model_oss_path='oss://pai-quickstart-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com/m/'
    )
    errors = eas_service_errors(wrong_path, 'svc_1')
    assert len(errors) == 1 and 'eas_model_oss_path' in errors[0] and 'oss://pai-quickstart-cn-hangzhou/m/' in errors[0]
    other_region = dict(SETTINGS, image='eas-registry-vpc.cn-shanghai.cr.aliyuncs.com/pai-eas/vllm:1')
    assert 'cn-shanghai' in eas_service_errors(other_region, 'svc_1')[0]
    renamed = dict(SETTINGS, override={'metadata': {'name': 'other'}})
    assert 'metadata.name' in eas_service_errors(renamed, 'svc_1')[0]
    broken = dict(SETTINGS, override={'containers': 'x'})
    assert 'containers must be a list' in eas_service_errors(broken, 'svc_1')[0]


def test_service_errors_before_the_group_exists_check_the_config_it_will_get():
    """The pre-flight runs before the resource group exists: an override that only conflicts with the group's id
    (metadata.resource) must be refused there too, not after the group is bought."""
    from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import service_plan_errors

    no_group_yet = dict(SETTINGS, group={})
    assert service_plan_errors(no_group_yet, 'svc_1') == []
    public_override = dict(no_group_yet, override={'cloud': {'computing': {'instance_type': A10}}})
    errors = service_plan_errors(public_override, 'svc_1')
    assert len(errors) == 1 and 'eas_service_config_override' in errors[0] and 'exclude each other' in errors[0]
    assert service_plan_errors(dict(public_override, dedicated=False), 'svc_1') == []


QPS = [{'metric_name': 'qps', 'threshold': 10}]


@pytest.mark.parametrize(
    'autoscaler, cron, nodes, expected',
    [
        ({}, {}, 1, []),
        ({'min': 1, 'max': 2, 'scale_strategies': QPS}, {}, 2, []),
        ({'state': 'absent'}, {'state': 'absent'}, 1, []),
        ({'min': 3, 'max': 2, 'scale_strategies': QPS}, {}, 4, ['eas_autoscaler.min=3 is above eas_autoscaler.max=2']),
        ({'min': 2, 'max': 2, 'scale_strategies': QPS}, {}, 4, ['greater than min']),
        ({'min': 1, 'max': 4, 'scale_strategies': QPS}, {}, 2, ['eas_autoscaler.max=4.*eas_instance_count to 4']),
        ({'min': 1, 'max': 2}, {}, 2, ['scale_strategies must be a list']),
        ({'min': 1, 'max': 2, 'scale_strategies': [{'metric_name': 'qps', 'threshold': 0}]}, {}, 2, ['above 0']),
        ({'min': 'one', 'max': 2, 'scale_strategies': QPS}, {}, 2, ['whole numbers']),
        ('yes', {}, 1, ['eas_autoscaler must be a dict']),
        ({}, {'scale_jobs': [{'name': 'day', 'schedule': '0 8 * * *', 'target_size': 2}]}, 1, ['target_size=2']),
        ({}, {'scale_jobs': [{'name': 'day', 'schedule': 'daily', 'target_size': 1}]}, 1, ['5 or 6 fields']),
        ({}, {'scale_jobs': 'daily'}, 1, ['scale_jobs must be a list']),
        (
            {'min': 1, 'max': 2, 'scale_strategies': QPS},
            {'scale_jobs': [{'schedule': '0 0 8 * * *', 'target_size': 3}]},
            4,
            ['above eas_autoscaler.max=2'],
        ),
    ],
)
def test_scaler_errors(autoscaler, cron, nodes, expected):
    errors = scaler_errors(autoscaler, cron, A10, nodes)
    assert len(errors) == len(expected), errors
    for message, pattern in zip(errors, expected):
        assert re.search(pattern, message), (pattern, message)


def test_scaler_errors_public_group_has_no_gpu_bound():
    assert scaler_errors({'min': 1, 'max': 8, 'scale_strategies': QPS}, {}, 'ml.gu7i.c8m30.1-gu30', 1, False) == []
