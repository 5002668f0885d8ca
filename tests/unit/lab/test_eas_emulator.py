# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive the lab EAS emulator (tests/lab/eas_emulator) with the real Alibaba SDK (alibabacloud-eas20210701 6.17.0 + tea-openapi 0.4.x)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

eas_models = pytest.importorskip('alibabacloud_eas20210701.models')
eas_client = pytest.importorskip('alibabacloud_eas20210701.client')
open_api_models = pytest.importorskip('alibabacloud_tea_openapi.models')
tea_exceptions = pytest.importorskip('alibabacloud_tea_openapi.exceptions')

LAB = pathlib.Path(__file__).resolve().parents[2] / 'lab'
REGION = 'cn-hangzhou'
READY = 0.3  # --service-ready-seconds
NODE_READY = 0.2  # --resource-ready-seconds
WARMUP = 0.4  # --gateway-warmup-seconds
A10_TYPE = 'ecs.gn7i-c8g1.2xlarge'
VLLM_IMAGE = 'eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.9.1'
NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope='module', name='emulator')
def emulator_fixture():
    """The emulator as a subprocess on 127.0.0.1 with a free port (--port 0) and tiny delays."""
    cmd = [
        sys.executable,
        '-m',
        'eas_emulator',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--region',
        REGION,
        '--service-ready-seconds',
        str(READY),
        '--resource-ready-seconds',
        str(NODE_READY),
        '--gateway-warmup-seconds',
        str(WARMUP),
    ]
    env = dict(
        os.environ,
        NO_PROXY='127.0.0.1,localhost',
        no_proxy='127.0.0.1,localhost',
        PYTHONDONTWRITEBYTECODE='1',
        PYTHONPATH=str(LAB),
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # pylint: disable=consider-using-with
    try:
        line = proc.stdout.readline()
        assert 'listening on http://127.0.0.1:' in line, line + proc.stderr.read()
        port = int(line.split('http://127.0.0.1:')[1].split()[0])
        yield f'http://127.0.0.1:{port}'
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def http(method: str, url: str, body=None, headers: dict | None = None, raw: bool = False):
    """Plain HTTP to the emulator; returns (status, headers, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={'Content-Type': 'application/json', **(headers or {})}
    )
    try:
        with NO_PROXY_OPENER.open(req, timeout=10) as resp:
            status, resp_headers, text = resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, resp_headers, text = exc.code, dict(exc.headers), exc.read().decode()
    if raw:
        return status, resp_headers, text
    try:
        return status, resp_headers, json.loads(text)
    except ValueError:
        return status, resp_headers, text


@pytest.fixture(autouse=True, name='reset_lab')
def reset_lab_fixture(emulator):
    status, _headers, _body = http('POST', emulator + '/_lab/reset')
    assert status == 200


@pytest.fixture(name='client')
def client_fixture(emulator):
    """The real SDK client: endpoint host:port without scheme, protocol http."""
    config = open_api_models.Config(
        access_key_id='lab-ak',
        access_key_secret='lab-secret',
        region_id=REGION,
        endpoint=emulator.replace('http://', ''),
        protocol='http',
        read_timeout=10000,
        connect_timeout=5000,
    )
    return eas_client.Client(config)


def wait_for(fetch, predicate, timeout: float = 5.0):
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.time() > deadline:
            raise AssertionError(f'condition not reached in {timeout}s; last value: {value!r}')
        time.sleep(0.03)


def describe(client, name):
    return client.describe_service(REGION, name, eas_models.DescribeServiceRequest()).body


def wait_status(client, name, status, timeout=5.0):
    return wait_for(lambda: describe(client, name), lambda body: body.status == status, timeout)


def events(client, name, event_type=None):
    req = eas_models.DescribeServiceEventRequest(event_type=event_type, page_num='1', page_size='100')
    return client.describe_service_event(REGION, name, req).body.events


def assert_keys(model, keys):
    data = model.to_map()
    missing = [k for k in keys if data.get(k) is None]
    assert not missing, f'missing keys {missing} in {sorted(data)}'
    return data


def create_group(client, count=1, instance_type=A10_TYPE, name='llm_group', wait=True):
    req = eas_models.CreateResourceRequest(
        resource_type='Dedicated',
        ecs_instance_type=instance_type,
        ecs_instance_count=count,
        charge_type='PostPaid',
        system_disk_size=200,
        resource_name=name,
    )
    body = client.create_resource(req).body
    if wait:
        wait_for(
            lambda: client.describe_resource(REGION, body.resource_id, eas_models.DescribeResourceRequest()).body,
            lambda b: b.status == 'ResourceReady',
        )
    return body


def vllm_config(
    name,
    resource_id=None,
    model='DeepSeek-R1-Distill-Qwen-1.5B',
    extra='--reasoning-parser deepseek_r1',
    cpu=6,
    memory=24000,
    public_type=None,
):
    script = f'vllm serve /model_dir --host 0.0.0.0 --port 8000 --served-model-name {model} --trust-remote-code {extra}'.strip()
    config = {
        'metadata': {'name': name, 'instance': 1},
        'containers': [{'image': VLLM_IMAGE, 'port': 8000, 'script': script}],
        'storage': [{'mount_path': '/model_dir', 'oss': {'path': f'oss://bucket/{model}/', 'readOnly': True}}],
    }
    if resource_id:
        config['metadata'].update({'resource': resource_id, 'cpu': cpu, 'memory': memory, 'gpu': 1})
    else:
        config['cloud'] = {'computing': {'instance_type': public_type or 'ml.gu7i.c8m30.1-gu30'}}
    return config


def create_service(client, config, labels=None):
    return client.create_service(eas_models.CreateServiceRequest(body=json.dumps(config), labels=labels)).body


def chat(endpoint, token, payload, auth_prefix=''):
    headers = {'Authorization': auth_prefix + token} if token is not None else {}
    return http('POST', endpoint + '/v1/chat/completions', payload, headers)


def test_resource_group_lifecycle_billing_and_delete_refusal(client, emulator):
    created = create_group(client, wait=False)
    assert_keys(created, ['ClusterId', 'InstanceIds', 'OwnerUid', 'RequestId', 'ResourceId', 'ResourceName'])
    assert created.resource_id.startswith('eas-r-') and created.cluster_id == REGION and len(created.instance_ids) == 1
    rid = created.resource_id

    group = wait_for(
        lambda: client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest()).body,
        lambda b: b.status == 'ResourceReady',
    )
    data = assert_keys(
        group,
        [
            'ClusterId',
            'CpuCount',
            'CpuUsed',
            'CreateTime',
            'ExtraData',
            'GpuCount',
            'GpuUsed',
            'InstanceCount',
            'InstanceMaxAllocatableCPU',
            'InstanceMaxAllocatableGPU',
            'InstanceMaxAllocatableMemory',
            'Memory',
            'MemoryUsed',
            'Message',
            'OwnerUid',
            'ResourceId',
            'ResourceName',
            'ResourceType',
            'ServiceCount',
            'Status',
        ],
    )
    assert (
        group.cpu_count,
        group.instance_max_allocatable_cpu,
        group.gpu_count,
        group.instance_max_allocatable_gpu,
    ) == (8, 7, 1, 1.0)
    assert group.instance_max_allocatable_memory < group.memory == 30 * 1024
    assert isinstance(data['ExtraData'], str) and data['ServiceCount'] == '0'

    listed = client.list_resources(eas_models.ListResourcesRequest(resource_name='llm_group', page_size=10)).body
    assert listed.total_count == 1 and listed.resources[0].resource_id == rid
    assert isinstance(listed.resources[0].extra_data, dict) and listed.resources[0].service_count == 0
    assert client.list_resources(eas_models.ListResourcesRequest(resource_name='nope')).body.total_count == 0

    renamed = client.update_resource(REGION, rid, eas_models.UpdateResourceRequest(resource_name='renamed_group')).body
    assert (renamed.resource_id, renamed.resource_name) == (rid, 'renamed_group')

    added = client.create_resource_instances(
        REGION,
        rid,
        eas_models.CreateResourceInstancesRequest(
            charge_type='PostPaid', ecs_instance_type=A10_TYPE, ecs_instance_count=1
        ),
    ).body
    assert_keys(added, ['InstanceIds', 'Message', 'RequestId'])
    instances = wait_for(
        lambda: client.list_resource_instances(REGION, rid, eas_models.ListResourceInstancesRequest()).body,
        lambda b: [i.instance_status for i in b.instances] == ['Ready', 'Ready'],
    )
    assert_keys(
        instances.instances[0],
        [
            'InstanceId',
            'InstanceName',
            'InstanceStatus',
            'InstanceType',
            'InstanceCpuCount',
            'InstanceGpuCount',
            'InstanceGpuMemory',
            'InstanceMemory',
            'InstanceIp',
            'ChargeType',
            'CreateTime',
            'ResourceId',
            'Zone',
        ],
    )
    assert instances.instances[0].instance_gpu_memory == '24G'
    assert http('GET', emulator + '/_lab/billing')[2]['total_billed_nodes'] == 2

    with pytest.raises(tea_exceptions.ClientException) as refused:
        client.delete_resource(REGION, rid, eas_models.DeleteResourceRequest())
    assert refused.value.status_code == 400 and refused.value.code == 'InvalidResource.NotEmpty'

    ids = ','.join(i.instance_id for i in instances.instances)
    deleted = client.delete_resource_instances(
        REGION, rid, eas_models.DeleteResourceInstancesRequest(instance_list=ids)
    ).body
    assert_keys(deleted, ['Message', 'RequestId'])
    assert {
        i.instance_status
        for i in client.list_resource_instances(REGION, rid, eas_models.ListResourceInstancesRequest()).body.instances
    } == {'Deleting'}
    assert http('GET', emulator + '/_lab/billing')[2]['total_billed_nodes'] == 2, 'nodes bill until they are gone'
    wait_for(
        lambda: client.list_resource_instances(REGION, rid, eas_models.ListResourceInstancesRequest()).body,
        lambda b: b.total_count == 0,
    )
    assert http('GET', emulator + '/_lab/billing')[2]['total_billed_nodes'] == 0

    assert_keys(client.delete_resource(REGION, rid, eas_models.DeleteResourceRequest()).body, ['Message', 'RequestId'])
    with pytest.raises(tea_exceptions.ClientException) as missing:
        client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest())
    assert missing.value.status_code == 404 and missing.value.code.endswith('.NotFound')


def test_service_lifecycle_on_dedicated_group(client, emulator):
    rid = create_group(client).resource_id
    config = vllm_config('ds_r1_qwen_1_5b', rid)
    created = create_service(client, config, labels={'app': 'llm'})
    assert_keys(
        created, ['InternetEndpoint', 'IntranetEndpoint', 'Region', 'RequestId', 'ServiceId', 'ServiceName', 'Status']
    )
    assert created.status == 'Creating' and created.service_id.startswith('eas-m-')
    assert created.internet_endpoint == emulator + '/api/predict/ds_r1_qwen_1_5b'

    with pytest.raises(tea_exceptions.ClientException) as duplicate:
        create_service(client, config)
    assert duplicate.value.status_code == 409

    seen = set()
    body = wait_for(lambda: describe(client, 'ds_r1_qwen_1_5b'), lambda b: seen.add(b.status) or b.status == 'Running')
    assert 'Waiting' in seen
    data = assert_keys(
        body,
        [
            'AccessToken',
            'CreateTime',
            'CurrentVersion',
            'Image',
            'InternetEndpoint',
            'IntranetEndpoint',
            'LatestVersion',
            'Message',
            'PendingInstance',
            'Reason',
            'Region',
            'RequestId',
            'Resource',
            'RunningInstance',
            'ServiceConfig',
            'ServiceId',
            'ServiceName',
            'ServiceUid',
            'Status',
            'TotalInstance',
            'UpdateTime',
            'Labels',
            'Cpu',
            'Memory',
            'Gpu',
        ],
    )
    assert (body.running_instance, body.total_instance, body.pending_instance) == (1, 1, 0)
    assert body.resource == rid and json.loads(body.service_config) == config
    assert data['Labels'] == [{'LabelKey': 'app', 'LabelValue': 'llm'}]
    assert client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest()).body.cpu_used == 6

    listed = client.list_services(eas_models.ListServicesRequest(resource_id=rid, label={'app': 'llm'})).body
    assert (
        listed.total_count == 1
        and listed.services[0].service_name == 'ds_r1_qwen_1_5b'
        and listed.services[0].internet_endpoint is None
    )
    assert client.list_services(eas_models.ListServicesRequest(service_name='other')).body.total_count == 0

    endpoints = client.describe_service_endpoints(
        REGION, 'ds_r1_qwen_1_5b', eas_models.DescribeServiceEndpointsRequest()
    ).body
    assert endpoints.access_token == body.access_token
    assert (
        endpoints.endpoints[0].internet_endpoints == [body.internet_endpoint]
        and endpoints.endpoints[0].endpoint_type == 'DefaultGateway'
    )

    instances = client.list_service_instances(REGION, 'ds_r1_qwen_1_5b', eas_models.ListServiceInstancesRequest()).body
    assert_keys(
        instances.instances[0],
        ['InstanceName', 'Status', 'Reason', 'HostIP', 'InnerIP', 'ReadyProcesses', 'TotalProcesses', 'RestartCount'],
    )
    assert instances.instances[0].status == 'Running'
    logs = client.describe_service_log(
        REGION, 'ds_r1_qwen_1_5b', eas_models.DescribeServiceLogRequest(page_num=1, page_size=500)
    ).body
    assert any('Uvicorn running on' in line for line in logs.logs) and logs.total_count == len(logs.logs)
    assert (
        client.describe_service_diagnosis(
            REGION, 'ds_r1_qwen_1_5b', eas_models.DescribeServiceDiagnosisRequest()
        ).body.diagnosis_list
        == []
    )
    normal = events(client, 'ds_r1_qwen_1_5b', 'Normal')
    assert normal[-1].reason == 'Running' and json.loads(normal[-1].message)['message'] == 'Service start successfully'

    # a rolling update on the single full node blocks: the surge instance cannot be scheduled
    patch = {
        'containers': [
            dict(config['containers'][0], script=config['containers'][0]['script'] + ' --max-model-len 32768')
        ]
    }
    client.update_service(REGION, 'ds_r1_qwen_1_5b', eas_models.UpdateServiceRequest(body=json.dumps(patch)))
    time.sleep(READY * 2)
    body = describe(client, 'ds_r1_qwen_1_5b')
    assert (body.status, body.current_version, body.latest_version, body.running_instance) == ('Updating', 1, 2, 1)
    assert any(
        'Insufficient cpu' in json.loads(e.message)['message'] for e in events(client, 'ds_r1_qwen_1_5b', 'Warning')
    )
    # max_unavailable=1 stops the old instance first, so the update completes
    patch = {'metadata': {'rolling_strategy': {'max_unavailable': 1}}}
    msg = client.update_service(
        REGION, 'ds_r1_qwen_1_5b', eas_models.UpdateServiceRequest(body=json.dumps(patch), update_type='merge')
    ).body
    assert_keys(msg, ['Message', 'RequestId'])
    body = wait_status(client, 'ds_r1_qwen_1_5b', 'Running')
    assert (body.current_version, body.latest_version) == (3, 3)
    merged = json.loads(body.service_config)
    assert (
        merged['metadata']['rolling_strategy'] == {'max_unavailable': 1}
        and '--max-model-len 32768' in merged['containers'][0]['script']
    )

    stop = client.stop_service(REGION, 'ds_r1_qwen_1_5b', eas_models.StopServiceRequest()).body
    assert_keys(stop, ['Message', 'RequestId'])
    assert describe(client, 'ds_r1_qwen_1_5b').status == 'Stopping'
    wait_status(client, 'ds_r1_qwen_1_5b', 'Stopped')
    billing = http('GET', emulator + '/_lab/billing')[2]
    assert billing['total_billed_nodes'] == 1 and billing['groups'][0]['services'] == ['ds_r1_qwen_1_5b'], (
        'a stopped service still bills its node'
    )
    with pytest.raises(tea_exceptions.ClientException):
        client.stop_service(REGION, 'ds_r1_qwen_1_5b', eas_models.StopServiceRequest())

    assert_keys(
        client.start_service(REGION, 'ds_r1_qwen_1_5b', eas_models.StartServiceRequest()).body, ['Message', 'RequestId']
    )
    assert describe(client, 'ds_r1_qwen_1_5b').status == 'Starting'
    wait_status(client, 'ds_r1_qwen_1_5b', 'Running')
    assert_keys(
        client.restart_service(REGION, 'ds_r1_qwen_1_5b', eas_models.RestartServiceRequest()).body,
        ['Message', 'RequestId'],
    )
    wait_status(client, 'ds_r1_qwen_1_5b', 'Running')

    with pytest.raises(tea_exceptions.ClientException) as in_use:
        client.delete_resource(REGION, rid, eas_models.DeleteResourceRequest())
    assert in_use.value.code == 'InvalidResource.NotEmpty'

    assert_keys(
        client.delete_service(REGION, 'ds_r1_qwen_1_5b', eas_models.DeleteServiceRequest()).body,
        ['Message', 'RequestId'],
    )
    assert describe(client, 'ds_r1_qwen_1_5b').status == 'Deleting'
    with pytest.raises(tea_exceptions.ClientException) as gone:
        wait_for(lambda: describe(client, 'ds_r1_qwen_1_5b'), lambda b: False)
    assert gone.value.status_code == 404 and gone.value.code == 'InvalidService.NotFound'


def test_7b_on_a10_crashes_and_max_model_len_fixes_it(client):
    rid = create_group(client).resource_id
    create_service(client, vllm_config('ds_r1_qwen_7b', rid, model='DeepSeek-R1-Distill-Qwen-7B'))
    body = wait_status(client, 'ds_r1_qwen_7b', 'Failed')
    instance = client.list_service_instances(
        REGION, 'ds_r1_qwen_7b', eas_models.ListServiceInstancesRequest()
    ).body.instances[0]
    assert (
        body.message == f'Instance {instance.instance_name} not healthy: Instance crashed, please inspect instance log.'
    )
    assert instance.status == 'Failed' and instance.restart_count > 0 and instance.last_state
    needle = (
        "The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in KV cache ("
    )
    for previous in (False, True):
        logs = client.describe_service_log(
            REGION, 'ds_r1_qwen_7b', eas_models.DescribeServiceLogRequest(previous=previous)
        ).body.logs
        assert any(needle in line for line in logs), logs
    diagnosis = client.describe_service_diagnosis(
        REGION, 'ds_r1_qwen_7b', eas_models.DescribeServiceDiagnosisRequest()
    ).body.diagnosis_list
    assert diagnosis and any('--max-model-len' in advice for advice in diagnosis[0].advices)
    assert any(e.reason == 'BackOff' for e in events(client, 'ds_r1_qwen_7b', 'Warning'))

    patch = vllm_config('ds_r1_qwen_7b', rid, model='DeepSeek-R1-Distill-Qwen-7B', extra='--max-model-len 32768')
    client.update_service(
        REGION, 'ds_r1_qwen_7b', eas_models.UpdateServiceRequest(body=json.dumps(patch), update_type='replace')
    )
    assert wait_status(client, 'ds_r1_qwen_7b', 'Running').latest_version == 2


def test_service_larger_than_a_node_waits_with_events_and_diagnosis(client):
    rid = create_group(client).resource_id
    create_service(client, vllm_config('too_big', rid, cpu=8, memory=24000))
    time.sleep(READY * 2)
    body = describe(client, 'too_big')
    assert (body.status, body.running_instance, body.pending_instance) == ('Waiting', 0, 1)
    instances = client.list_service_instances(
        REGION, 'too_big', eas_models.ListServiceInstancesRequest()
    ).body.instances
    assert [i.status for i in instances] == ['Pending']
    warnings = events(client, 'too_big', 'Warning')
    assert warnings and warnings[0].reason == 'FailedScheduling'
    assert json.loads(warnings[0].message)['message'] == '0/1 nodes are available: 1 Insufficient cpu.'
    diagnosis = client.describe_service_diagnosis(
        REGION, 'too_big', eas_models.DescribeServiceDiagnosisRequest()
    ).body.diagnosis_list
    assert_keys(diagnosis[0], ['Error', 'Causes', 'Advices'])
    assert any('cpu=7' in cause for cause in diagnosis[0].causes)

    create_service(client, vllm_config('too_much_memory', rid, cpu=2, memory=30 * 1024))
    time.sleep(READY * 2)
    warnings = events(client, 'too_much_memory', 'Warning')
    assert 'Insufficient memory' in json.loads(warnings[0].message)['message']


def test_public_group_scale_validation_and_machine_spec(client):
    with pytest.raises(tea_exceptions.ClientException) as bad_type:
        create_service(client, vllm_config('public_svc', public_type='ecs.unknown-type'))
    assert bad_type.value.status_code == 400 and 'ecs.unknown-type' in bad_type.value.message
    with pytest.raises(tea_exceptions.ClientException) as bad_name:
        create_service(client, vllm_config('Bad-Name'))
    assert bad_name.value.code == 'InvalidParameter'
    with pytest.raises(tea_exceptions.ClientException):
        create_service(
            client,
            {'metadata': {'name': 'no_containers', 'instance': 1}, 'cloud': {'computing': {'instance_type': A10_TYPE}}},
        )
    with pytest.raises(tea_exceptions.ClientException):
        client.create_resource(
            eas_models.CreateResourceRequest(
                resource_type='Dedicated', ecs_instance_type='ecs.nope', ecs_instance_count=1, charge_type='PostPaid'
            )
        )

    create_service(client, vllm_config('public_svc', public_type=A10_TYPE))
    body = wait_status(client, 'public_svc', 'Running')
    assert body.resource == 'public-cluster' and body.gpu == 1
    scaled = client.scale_service(REGION, 'public_svc', eas_models.ScaleServiceRequest(instance=2)).body
    assert_keys(scaled, ['Message', 'RequestId'])
    assert describe(client, 'public_svc').status == 'Scaling'
    body = wait_for(lambda: describe(client, 'public_svc'), lambda b: b.status == 'Running' and b.running_instance == 2)
    assert (
        body.total_instance == 2
        and json.loads(body.service_config)['metadata']['instance'] == 2
        and body.latest_version == 1
    )

    spec = client.describe_machine_spec(eas_models.DescribeMachineSpecRequest(instance_types=[A10_TYPE])).body
    assert_keys(
        spec.instance_metas[0],
        ['CPU', 'GPU', 'GPUAmount', 'GPUMemory', 'InstanceType', 'IsAvailable', 'Memory', 'StockStatus'],
    )
    assert (spec.instance_metas[0].cpu, spec.instance_metas[0].gpumemory, spec.instance_metas[0].memory) == (
        8,
        24.0,
        30.0,
    )


def test_update_replace_drops_keys_and_merge_keeps_them(client):
    config = vllm_config('replace_me', public_type=A10_TYPE)
    config['metadata']['rpc'] = {'keepalive': 70000}
    create_service(client, config)
    wait_status(client, 'replace_me', 'Running')
    client.update_service(
        REGION,
        'replace_me',
        eas_models.UpdateServiceRequest(body=json.dumps({'metadata': {'rpc': {'max_batch_size': 4}}})),
    )
    merged = json.loads(wait_status(client, 'replace_me', 'Running').service_config)
    assert (
        merged['metadata']['rpc'] == {'keepalive': 70000, 'max_batch_size': 4}
        and merged['containers'] == config['containers']
    )
    replacement = vllm_config('replace_me', public_type=A10_TYPE)
    client.update_service(
        REGION, 'replace_me', eas_models.UpdateServiceRequest(body=json.dumps(replacement), update_type='replace')
    )
    body = wait_status(client, 'replace_me', 'Running')
    assert 'rpc' not in json.loads(body.service_config)['metadata'] and body.current_version == body.latest_version == 3


def test_faults_surface_as_sdk_exceptions_and_request_log(client, emulator):
    start = http('GET', emulator + '/_lab/requests')[2]['next']
    http('POST', emulator + '/_lab/faults', {'throttle_ratio': 1.0, 'count': 1, 'retry_after_ms': 300})
    with pytest.raises(tea_exceptions.ThrottlingException) as throttled:
        client.list_services(eas_models.ListServicesRequest())
    assert (
        throttled.value.code == 'Throttling.User'
        and throttled.value.retry_after == 300
        and throttled.value.status_code == 400
    )
    assert client.list_services(eas_models.ListServicesRequest()).body.total_count == 0, 'count=1 clears the fault'

    http('POST', emulator + '/_lab/faults', {'error_ratio': 1.0, 'count': 2, 'actions': ['DescribeMachineSpec']})
    client.list_services(eas_models.ListServicesRequest())
    for _unused in range(2):
        with pytest.raises(tea_exceptions.ServerException) as failed:
            client.describe_machine_spec(eas_models.DescribeMachineSpecRequest())
        assert failed.value.status_code == 503 and failed.value.code == 'ServiceUnavailable'
    client.describe_machine_spec(eas_models.DescribeMachineSpecRequest())

    http('POST', emulator + '/_lab/faults', {'latency_ms': 250})
    began = time.time()
    client.list_services(eas_models.ListServicesRequest())
    assert time.time() - began >= 0.25
    assert http('DELETE', emulator + '/_lab/faults')[0] == 200

    log = http('GET', f'{emulator}/_lab/requests?since={start}')[2]['requests']
    assert [(e['action'], e['status'], e['code']) for e in log[:2]] == [
        ('ListServices', 400, 'Throttling.User'),
        ('ListServices', 200, ''),
    ]
    assert [e['status'] for e in log if e['action'] == 'DescribeMachineSpec'] == [503, 503, 200]
    assert log[0]['method'] == 'GET' and log[0]['path'] == '/api/v2/services' and log[0]['time'].endswith('Z')

    with pytest.raises(tea_exceptions.ClientException) as not_found:
        describe(client, 'missing_service')
    assert not_found.value.status_code == 404 and not_found.value.code == 'InvalidService.NotFound'
    with pytest.raises(tea_exceptions.ClientException) as wrong_region:
        client.describe_service('cn-shanghai', 'missing_service', eas_models.DescribeServiceRequest())
    assert wrong_region.value.status_code == 400 and 'cn-hangzhou' in wrong_region.value.message


def test_raw_protocol_checks(emulator):
    status, _headers, body = http('GET', emulator + '/api/v2/services', headers={'x-acs-version': '2019-01-01'})
    assert status == 400 and body['Code'] == 'InvalidVersion' and body['RequestId']
    status, _headers, body = http(
        'GET', emulator + f'/api/v2/groups/{REGION}/g1', headers={'x-acs-action': 'DescribeGroup'}
    )
    assert status == 400 and body['Code'] == 'UnsupportedOperation'
    status, _headers, body = http('GET', emulator + '/api/v2/services', headers={'x-acs-action': 'DescribeService'})
    assert status == 400 and body['Code'] == 'InvalidAction.Mismatch'
    status, _headers, body = http('POST', emulator + '/api/v2/services', headers={}, body=None)
    assert status == 400 and body['Code'] == 'InvalidParameter'
    status, _headers, body = http('GET', emulator + '/_lab/health')
    assert status == 200 and body['status'] == 'ok' and body['region'] == REGION


def test_gpu_stockout_marks_instances_create_failed(client, emulator):
    http('POST', emulator + '/_lab/faults', {'stockout': 1})
    rid = create_group(client, wait=False).resource_id
    instances = client.list_resource_instances(REGION, rid, eas_models.ListResourceInstancesRequest()).body.instances
    assert [i.instance_status for i in instances] == ['CreateFailed']
    assert 'out of stock' in client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest()).body.message
    assert http('GET', emulator + '/_lab/billing')[2]['total_billed_nodes'] == 0
    client.delete_resource_instances(REGION, rid, eas_models.DeleteResourceInstancesRequest(all_failed=True))
    assert client.list_resource_instances(REGION, rid, eas_models.ListResourceInstancesRequest()).body.total_count == 0
    more = eas_models.CreateResourceInstancesRequest(
        charge_type='PostPaid', ecs_instance_type=A10_TYPE, ecs_instance_count=1
    )
    client.create_resource_instances(REGION, rid, more)
    assert http('GET', emulator + '/_lab/billing')[2]['total_billed_nodes'] == 1, (
        'the stock-out applies to the next create only'
    )


def test_data_plane_r1_answers_tokens_and_limits(client):
    rid = create_group(client).resource_id
    create_service(client, vllm_config('chat_svc', rid, extra='--reasoning-parser deepseek_r1 --max-model-len 8192'))
    body = wait_status(client, 'chat_svc', 'Running')
    endpoint, token = body.internet_endpoint, body.access_token
    payload = {'model': 'DeepSeek-R1-Distill-Qwen-1.5B', 'messages': [{'role': 'user', 'content': 'What is PAI-EAS?'}]}

    status, _headers, text = chat(endpoint, token, payload)
    assert (status, text) == (503, 'no healthy upstream'), 'the gateway needs a warm-up after Running'
    assert chat(endpoint, None, payload)[0] == 401
    assert chat(endpoint, 'wrong-token', payload)[0] == 401
    time.sleep(WARMUP)

    status, _headers, answer = chat(endpoint, token, payload)
    assert status == 200
    message = answer['choices'][0]['message']
    assert message['reasoning_content'].startswith('Okay, the user asks: "What is PAI-EAS?".')
    assert message['content'].startswith('Hello! I am DeepSeek-R1-Distill-Qwen-1.5B')
    assert answer['choices'][0]['finish_reason'] == 'stop' and answer['model'] == 'DeepSeek-R1-Distill-Qwen-1.5B'
    assert answer['usage'] == {
        'prompt_tokens': 3,
        'completion_tokens': 200,
        'total_tokens': 203,
        'prompt_tokens_details': None,
    }
    assert chat(endpoint, token, payload, auth_prefix='Bearer ')[2]['choices'][0]['message'] == message, (
        'deterministic, Bearer accepted'
    )

    status, _headers, models = http('GET', endpoint + '/v1/models', headers={'Authorization': token})
    assert (
        status == 200
        and [m['id'] for m in models['data']] == ['DeepSeek-R1-Distill-Qwen-1.5B']
        and models['data'][0]['max_model_len'] == 8192
    )

    status, _headers, error = chat(endpoint, token, dict(payload, model='gpt-4'))
    assert status == 404 and error['message'] == 'The model `gpt-4` does not exist.'

    status, _headers, short = chat(endpoint, token, dict(payload, max_tokens=10))
    assert short['choices'][0]['finish_reason'] == 'length' and short['usage']['completion_tokens'] == 10
    assert short['choices'][0]['message']['content'] is None, 'cut inside the reasoning part'

    long_payload = {'messages': [{'role': 'user', 'content': 'Please give a long answer'}], 'max_tokens': 4096}
    status, _headers, long_answer = chat(endpoint, token, long_payload)
    assert (
        status == 200
        and long_answer['usage']['completion_tokens'] == 4096
        and long_answer['choices'][0]['finish_reason'] == 'stop'
    )
    status, _headers, cut = chat(
        endpoint, token, {'messages': [{'role': 'user', 'content': 'tokens:5000'}], 'max_tokens': 4096}
    )
    assert cut['choices'][0]['finish_reason'] == 'length' and cut['usage']['completion_tokens'] == 4096

    status, _headers, too_long = chat(endpoint, token, dict(payload, max_tokens=8190))
    assert status == 400 and too_long['message'].startswith(
        "This model's maximum context length is 8192 tokens. However, you requested 8193 tokens"
    )

    stream_payload = dict(payload, stream=True, max_tokens=100, stream_options={'include_usage': True})
    status, headers, raw = http(
        'POST', endpoint + '/v1/chat/completions', stream_payload, {'Authorization': 'Bearer ' + token}, raw=True
    )
    assert status == 200 and headers['Content-Type'].startswith('text/event-stream')
    frames = [line[len('data: ') :] for line in raw.split('\n\n') if line.startswith('data: ')]
    assert frames[-1] == '[DONE]'
    chunks = [json.loads(f) for f in frames[:-1]]
    deltas = [c['choices'][0]['delta'] for c in chunks if c['choices']]
    streamed_reasoning = ''.join(d.get('reasoning_content', '') for d in deltas)
    streamed_content = ''.join(d.get('content') or '' for d in deltas)
    assert streamed_reasoning.startswith('Okay, the user asks') and streamed_content.startswith('Hello! I am')
    assert (
        chunks[-1]['usage']['completion_tokens'] == 100
        and [c['choices'][0]['finish_reason'] for c in chunks if c['choices']][-1] == 'length'
    )

    client.stop_service(REGION, 'chat_svc', eas_models.StopServiceRequest())
    wait_status(client, 'chat_svc', 'Stopped')
    assert chat(endpoint, token, payload)[0] == 503


def test_data_plane_inline_think_without_reasoning_parser(client, emulator):
    create_service(client, vllm_config('inline_svc', public_type=A10_TYPE, extra=''))
    token = wait_status(client, 'inline_svc', 'Running').access_token
    time.sleep(WARMUP)
    endpoint = emulator + '/api/predict/inline_svc'
    status, _headers, answer = chat(endpoint, token, {'messages': [{'role': 'user', 'content': 'hi'}]})
    message = answer['choices'][0]['message']
    assert status == 200 and 'reasoning_content' not in message
    thinking, _sep, final = message['content'].partition('\n</think>\n\n')
    assert thinking.startswith('Okay, the user asks: "hi".') and final.startswith(
        'Hello! I am DeepSeek-R1-Distill-Qwen-1.5B'
    )
    status, _headers, completion = http(
        'POST', endpoint + '/v1/completions', {'prompt': 'tokens:7', 'max_tokens': 20}, {'Authorization': token}
    )
    assert status == 200 and completion['usage']['completion_tokens'] == 7
    assert (
        http('POST', emulator + '/api/predict/no_such_service/v1/chat/completions', {}, {'Authorization': token})[0]
        == 404
    )


def test_gpu_fit_rule_depends_on_card_and_model_size(client):
    v100 = create_group(client, instance_type='ecs.gn6e-c12g1.3xlarge', name='v100_group').resource_id
    create_service(client, vllm_config('qwen_7b_v100', v100, model='DeepSeek-R1-Distill-Qwen-7B', cpu=8, memory=60000))
    create_service(
        client,
        vllm_config(
            'qwen_14b_a10', public_type=A10_TYPE, model='DeepSeek-R1-Distill-Qwen-14B', extra='--max-model-len 4096'
        ),
    )
    create_service(
        client,
        {
            'metadata': {'name': 'no_model_hint', 'instance': 1, 'resource': v100, 'cpu': 1, 'memory': 1000},
            'containers': [{'image': 'registry.example/app:1', 'port': 8000, 'script': 'python3 app.py'}],
        },
    )
    assert wait_status(client, 'qwen_7b_v100', 'Running').gpu == 1, (
        '7B with the default 131072 context fits a 32 GB V100'
    )
    assert wait_status(client, 'no_model_hint', 'Running').cpu == 1, 'without a model size there is no GPU check'
    wait_status(client, 'qwen_14b_a10', 'Failed')
    logs = client.describe_service_log(
        REGION, 'qwen_14b_a10', eas_models.DescribeServiceLogRequest(keyword='CUDA out of memory')
    ).body
    assert logs.total_count == 1, '14B weights (~26 GiB) do not fit a 24 GB A10 whatever the context'
