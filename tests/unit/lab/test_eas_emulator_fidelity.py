# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab EAS emulator as the real SDK (alibabacloud-eas20210701 6.17.0) sees it: DescribeMachineSpec and the stock
knob, OSS mounts checked as EAS checks them, labels, request counts, and the latency fault on an in-flight create."""

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
dara_exceptions = pytest.importorskip('darabonba.exceptions')

LAB = pathlib.Path(__file__).resolve().parents[2] / 'lab'
REGION = 'cn-hangzhou'
A10 = 'ecs.gn7i-c8g1.2xlarge'
T4 = 'ecs.gn6i-c4g1.xlarge'
PUBLIC_GU30 = 'ml.gu7i.c8m30.1-gu30'
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope='module', name='emulator')
def emulator_fixture():
    env = dict(os.environ, NO_PROXY='127.0.0.1', no_proxy='127.0.0.1', PYTHONPATH=str(LAB), PYTHONDONTWRITEBYTECODE='1')
    cmd = [sys.executable, '-m', 'eas_emulator', '--port', '0', '--service-ready-seconds', '0.3']
    cmd += ['--resource-ready-seconds', '0.2', '--gateway-warmup-seconds', '0']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # pylint: disable=consider-using-with
    try:
        line = proc.stdout.readline()
        assert 'listening on http://127.0.0.1:' in line, line + proc.stderr.read()
        yield 'http://127.0.0.1:' + line.split('http://127.0.0.1:')[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={'Content-Type': 'application/json'})
    try:
        with OPENER.open(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    return status, json.loads(text)


@pytest.fixture(autouse=True)
def reset_lab(emulator):
    assert http('POST', emulator + '/_lab/reset')[0] == 200


def make_client(emulator, read_timeout=10000):
    config = open_api_models.Config(
        access_key_id='lab-ak',
        access_key_secret='lab-secret',
        region_id=REGION,
        endpoint=emulator.replace('http://', ''),
        protocol='http',
        read_timeout=read_timeout,
        connect_timeout=5000,
    )
    return eas_client.Client(config)


@pytest.fixture(name='client')
def client_fixture(emulator):
    return make_client(emulator)


def wait_for(fetch, predicate, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        assert time.time() < deadline, f'condition not reached in {timeout}s; last value: {value!r}'
        time.sleep(0.03)


def create_group(client, instance_type=A10, labels=None):
    req = eas_models.CreateResourceRequest(
        resource_type='Dedicated',
        ecs_instance_type=instance_type,
        ecs_instance_count=1,
        charge_type='PostPaid',
        resource_name='lab_group',
        labels=labels,
    )
    return client.create_resource(req).body.resource_id


def nodes(client, resource_id, **query):
    req = eas_models.ListResourceInstancesRequest(**query)
    return client.list_resource_instances(REGION, resource_id, req).body.instances


def service_config(name, oss=None, public_type=PUBLIC_GU30):
    oss = oss or {'path': 'oss://lab-bucket/DeepSeek-R1-Distill-Qwen-1.5B/', 'readOnly': True}
    return {
        'metadata': {'name': name, 'instance': 1},
        'cloud': {'computing': {'instance_type': public_type}},
        'containers': [{'image': 'eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.9.1', 'port': 8000}],
        'storage': [{'mount_path': '/model_dir', 'oss': oss}],
    }


def create_service(client, config, labels=None):
    return client.create_service(eas_models.CreateServiceRequest(body=json.dumps(config), labels=labels)).body


def describe(client, name):
    return client.describe_service(REGION, name, eas_models.DescribeServiceRequest()).body


def test_describe_machine_spec_keys_filters_and_stock_knob(client, emulator):
    body = client.describe_machine_spec(eas_models.DescribeMachineSpecRequest()).body
    metas = {m.instance_type: m for m in body.instance_metas}
    a10 = metas[A10]
    assert (a10.cpu, a10.gpu, a10.gpuamount, a10.gpumemory, a10.memory) == (8, 'A10', 1, 24.0, 30.0)
    assert (a10.is_available, a10.stock_status, a10.vendor) == (True, 'WithStock', 'ECS')
    assert a10.spot_discount and a10.non_protect_spot_discount, 'public pay-as-you-go types sell spot instances'
    assert metas[PUBLIC_GU30].gpu == 'GU30'
    cpu_only = metas['ecs.c7.2xlarge']
    assert cpu_only.gpu is None and cpu_only.gpuamount == 0, 'no GPU key for a type without GPU'
    assert body.types[0].cpu == 1 and body.types[0].memory == [1000, 2000, 4000] and body.request_id

    # the exact JSON keys the SDK's from_map reads
    status, raw = http('GET', emulator + '/api/v2/public/instance_types?InstanceTypes=' + A10)
    assert status == 200 and set(raw) == {'InstanceMetas', 'Types', 'RequestId'}
    assert set(raw['InstanceMetas'][0]) == {
        'CPU',
        'GPU',
        'GPUAmount',
        'GPUMemory',
        'InstanceType',
        'IsAvailable',
        'Memory',
        'NonProtectSpotDiscount',
        'SpotDiscount',
        'StockStatus',
        'Vendor',
    }
    assert isinstance(raw['InstanceMetas'][0]['GPUMemory'], float) and isinstance(raw['InstanceMetas'][0]['CPU'], int)

    # InstanceTypes travels as a comma list ('simple' style); ResourceType and ChargeType as given
    picked = client.describe_machine_spec(eas_models.DescribeMachineSpecRequest(instance_types=[A10, T4])).body
    assert sorted(m.instance_type for m in picked.instance_metas) == sorted([A10, T4])
    dedicated = client.describe_machine_spec(
        eas_models.DescribeMachineSpecRequest(resource_type='Dedicated', charge_type='PrePaid')
    ).body
    assert dedicated.instance_metas and all(m.instance_type.startswith('ecs.') for m in dedicated.instance_metas)
    assert all(m.spot_discount is None for m in dedicated.instance_metas)
    with pytest.raises(tea_exceptions.ClientException) as bad:
        client.describe_machine_spec(eas_models.DescribeMachineSpecRequest(charge_type='Spot'))
    assert bad.value.status_code == 400 and bad.value.code == 'InvalidParameter'

    # the knob: A10 out of stock, T4 unavailable
    assert http('POST', emulator + '/_lab/stock', {'instance_type': A10, 'stock_status': 'NoStock'})[0] == 200
    status, view = http('POST', emulator + '/_lab/stock', {'instance_type': T4, 'available': False})
    assert status == 200 and view['stock'][T4] == {'StockStatus': 'WithStock', 'IsAvailable': False}
    metas = {
        m.instance_type: m
        for m in client.describe_machine_spec(eas_models.DescribeMachineSpecRequest()).body.instance_metas
    }
    assert (metas[A10].stock_status, metas[A10].is_available) == ('NoStock', True)
    assert (metas[T4].stock_status, metas[T4].is_available) == ('WithStock', False)
    assert metas['ecs.gn7i-c16g1.4xlarge'].stock_status == 'WithStock'
    for itype in (A10, T4):
        rid = create_group(client, itype)
        assert [n.instance_status for n in nodes(client, rid)] == ['CreateFailed'], itype
    assert http('GET', emulator + '/_lab/billing')[1]['total_billed_nodes'] == 0
    assert http('POST', emulator + '/_lab/stock', {'instance_type': 'ecs.nope'})[0] == 400
    assert http('POST', emulator + '/_lab/stock', {'instance_type': A10, 'stock_status': 'Plenty'})[0] == 400

    # a public-group service of a type without stock waits (instances Pending) until the stock is back
    http('POST', emulator + '/_lab/stock', {'instance_type': PUBLIC_GU30, 'stock_status': 'NoStock'})
    create_service(client, service_config('public_nostock'))
    body = wait_for(
        lambda: describe(client, 'public_nostock'), lambda b: b.status == 'Waiting' and 'stock' in b.message
    )
    assert body.running_instance == 0 and body.pending_instance == 1
    assert http('DELETE', emulator + '/_lab/stock')[1]['stock'] == {}
    wait_for(lambda: describe(client, 'public_nostock'), lambda b: b.status == 'Running')


BAD_OSS_PATHS = [
    'oss://pai-quickstart-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com/modelscope/models/DeepSeek-R1-Distill-Qwen-1.5B/',
    'oss://lab-bucket',
    'oss://Lab_Bucket/models/',
    'oss://ab/models/',
    'oss://-lab-bucket/models/',
    'oss:///models/',
    'https://lab-bucket.oss-cn-hangzhou.aliyuncs.com/models/',
    '/mnt/models',
]


@pytest.mark.parametrize('path', BAD_OSS_PATHS)
def test_oss_path_refused_like_eas(client, path):
    with pytest.raises(tea_exceptions.ClientException) as refused:
        create_service(client, service_config('oss_check', {'path': path, 'readOnly': True}))
    assert refused.value.status_code == 400 and refused.value.code == 'InvalidParameter'
    assert 'storage[0].oss.path' in refused.value.message
    if '.aliyuncs.com/' in path and path.startswith('oss://'):
        assert 'oss.endpoint' in refused.value.message, 'the message says where the endpoint goes'


def test_oss_endpoint_beside_path_accepted_and_update_checked(client):
    oss = {
        'path': 'oss://pai-quickstart-cn-hangzhou/modelscope/models/DeepSeek-R1-Distill-Qwen-1.5B/',
        'endpoint': 'oss-cn-hangzhou-internal.aliyuncs.com',
        'readOnly': True,
    }
    create_service(client, service_config('oss_ok', oss))
    assert json.loads(describe(client, 'oss_ok').service_config)['storage'][0]['oss'] == oss
    patch = {'storage': [{'mount_path': '/model_dir', 'oss': {'path': BAD_OSS_PATHS[0]}}]}
    with pytest.raises(tea_exceptions.ClientException) as refused:
        client.update_service(REGION, 'oss_ok', eas_models.UpdateServiceRequest(body=json.dumps(patch)))
    assert refused.value.status_code == 400 and 'oss.endpoint' in refused.value.message
    assert describe(client, 'oss_ok').latest_version == 1, 'a refused update changes nothing'
    with pytest.raises(tea_exceptions.ClientException):
        create_service(client, dict(service_config('no_mount_path'), storage=[{'oss': oss}]))


def test_labels_on_nodes_and_services(client, emulator):
    managed = {'managed-by': 'llmops.eas_stack'}
    rid = create_group(client, labels=managed)
    first = nodes(client, rid)
    assert [(lb.label_key, lb.label_value) for lb in first[0].labels] == [('managed-by', 'llmops.eas_stack')]
    more = eas_models.CreateResourceInstancesRequest(
        charge_type='PostPaid', ecs_instance_type=A10, ecs_instance_count=1, labels={'pool': 'extra'}
    )
    added = client.create_resource_instances(REGION, rid, more).body.instance_ids
    labelled = {n.instance_id: {lb.label_key: lb.label_value for lb in n.labels} for n in nodes(client, rid)}
    assert labelled[added[0]] == {'pool': 'extra'} and labelled[first[0].instance_id] == managed
    assert [n.instance_id for n in nodes(client, rid, label={'pool': 'extra'})] == added
    status, raw = http('GET', f'{emulator}/api/v2/resources/{REGION}/{rid}/instances')
    assert (
        status == 200 and {'LabelKey': 'managed-by', 'LabelValue': 'llmops.eas_stack'} in raw['Instances'][0]['Labels']
    )

    since = http('GET', emulator + '/_lab/requests')[1]['next']
    labels = dict(managed, **{'k 2': 'v/ü'})
    create_service(client, service_config('labelled_svc'), labels=labels)
    sent = http('GET', f'{emulator}/_lab/requests?since={since}')[1]['requests'][0]
    assert json.loads(sent['query']['Labels']) == labels, 'CreateService Labels: a JSON string in the query'
    got = {lb.label_key: lb.label_value for lb in describe(client, 'labelled_svc').labels}
    assert got == labels
    listed = client.list_services(eas_models.ListServicesRequest(label=managed)).body.services
    assert [s.service_name for s in listed] == ['labelled_svc']
    assert {lb.label_key for lb in listed[0].labels} == set(labels)
    assert client.list_services(eas_models.ListServicesRequest(label={'managed-by': 'other'})).body.total_count == 0

    bad = {'ResourceType': 'Dedicated', 'EcsInstanceType': A10, 'EcsInstanceCount': 1, 'ChargeType': 'PostPaid'}
    status, body = http('POST', emulator + '/api/v2/resources', dict(bad, Labels=['managed-by']))
    assert status == 400 and body['Code'] == 'InvalidParameter' and 'Labels' in body['Message']


def test_request_summary_counts_reads_and_writes(client, emulator):
    since = http('GET', emulator + '/_lab/requests')[1]['next']
    rid = create_group(client)
    for _unused in range(3):
        client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest())
    client.list_resources(eas_models.ListResourcesRequest())
    with pytest.raises(tea_exceptions.ClientException):
        describe(client, 'missing')
    client.update_resource(REGION, rid, eas_models.UpdateResourceRequest(resource_name='renamed'))
    status, summary = http('GET', f'{emulator}/_lab/requests/summary?since={since}')
    assert status == 200
    assert summary['by_action'] == {
        'CreateResource': 1,
        'DescribeResource': 3,
        'DescribeService': 1,
        'ListResources': 1,
        'UpdateResource': 1,
    }
    assert (summary['writes'], summary['reads'], summary['errors']) == (2, 5, 1)
    assert summary['next'] == since + 7
    quiet = http('GET', f'{emulator}/_lab/requests/summary?since={summary["next"]}')[1]
    assert (quiet['by_action'], quiet['writes'], quiet['reads'], quiet['next']) == ({}, 0, 0, summary['next'])


def test_latency_fault_delays_create_before_the_group_exists(client, emulator):
    """A run killed while its CreateResource is in flight: the group appears only when the delayed request ends."""
    http('POST', emulator + '/_lab/faults', {'latency_ms': 1500, 'actions': ['CreateResource'], 'count': 1})
    impatient = make_client(emulator, read_timeout=400)
    began = time.time()
    with pytest.raises(dara_exceptions.UnretryableException) as timed_out:
        create_group(impatient)
    assert 'timed out' in str(timed_out.value).lower()
    assert client.list_resources(eas_models.ListResourcesRequest()).body.total_count == 0, 'not created yet'
    assert http('GET', emulator + '/_lab/billing')[1]['total_billed_nodes'] == 0
    listed = wait_for(
        lambda: client.list_resources(eas_models.ListResourcesRequest()).body, lambda b: b.total_count == 1
    )
    assert time.time() - began >= 1.4 and listed.resources[0].resource_name == 'lab_group'
    assert http('GET', emulator + '/_lab/billing')[1]['total_billed_nodes'] == 1
    log = http('GET', emulator + '/_lab/requests')[1]['requests']
    create = [e for e in log if e['action'] == 'CreateResource'][0]
    assert create['status'] == 200 and create['duration_ms'] >= 1500
