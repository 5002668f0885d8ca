# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator's autoscaler and cron scaler (tests/lab/eas_emulator/scalers.py) driven by the real SDK 6.17.0."""

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
A10 = 'ecs.gn7i-c8g1.2xlarge'
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
VLLM = 'vllm serve /model_dir --served-model-name DeepSeek-R1-Distill-Qwen-1.5B --max-model-len 16384'

sys.path.insert(0, str(LAB))
from eas_emulator.scalers import cron_matches, parse_cron  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='module', name='emulator')
def emulator_fixture():
    cmd = [sys.executable, '-m', 'eas_emulator', '--port', '0', '--service-ready-seconds', '0.2']
    cmd += ['--resource-ready-seconds', '0.1', '--gateway-warmup-seconds', '0.1']
    env = dict(os.environ, PYTHONPATH=str(LAB), PYTHONDONTWRITEBYTECODE='1', NO_PROXY='127.0.0.1')
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # pylint: disable=consider-using-with
    try:
        line = proc.stdout.readline()
        assert 'listening on http://127.0.0.1:' in line, line + proc.stderr.read()
        yield 'http://127.0.0.1:%s' % line.split('http://127.0.0.1:')[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()


def lab(emulator, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        emulator + path, data=data, method=method, headers={'Content-Type': 'application/json'}
    )
    try:
        with OPENER.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(autouse=True)
def reset(emulator):
    assert lab(emulator, 'POST', '/_lab/reset')[0] == 200


@pytest.fixture(name='client')
def client_fixture(emulator):
    config = open_api_models.Config(
        access_key_id='ak',
        access_key_secret='sk',
        region_id=REGION,
        endpoint=emulator.replace('http://', ''),
        protocol='http',
        read_timeout=10000,
    )
    return eas_client.Client(config)


def wait_for(fetch, predicate, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        assert time.time() < deadline, 'not reached in %ss: %r' % (timeout, value)
        time.sleep(0.03)


def service(client, nodes=2, gpu=1, name='svc_a'):
    """A running service of one instance in a dedicated group of ``nodes`` A10 nodes."""
    group = client.create_resource(
        eas_models.CreateResourceRequest(
            resource_type='Dedicated',
            resource_name='g',
            ecs_instance_type=A10,
            ecs_instance_count=nodes,
            charge_type='PostPaid',
        )
    ).body.resource_id
    wait_for(
        lambda: client.describe_resource(REGION, group, eas_models.DescribeResourceRequest()).body.status,
        lambda s: s == 'ResourceReady',
    )
    time.sleep(0.15)
    config = {
        'metadata': {'name': name, 'instance': 1, 'resource': group, 'cpu': 7, 'memory': 28000, 'gpu': gpu},
        'containers': [{'image': 'vllm', 'port': 8000, 'script': VLLM}],
    }
    client.create_service(eas_models.CreateServiceRequest(body=json.dumps(config)))
    wait_status(client, name, 'Running')
    return group


def describe(client, name='svc_a'):
    return client.describe_service(REGION, name, eas_models.DescribeServiceRequest()).body


def wait_status(client, name, status, running=None):
    return wait_for(
        lambda: describe(client, name),
        lambda b: b.status == status and (running is None or b.running_instance == running),
    )


def autoscaler_request(kind='Create', minimum=1, maximum=3, threshold=10.0, down=0):
    model = getattr(eas_models, '%sServiceAutoScalerRequest' % kind)
    strategy = getattr(eas_models, '%sServiceAutoScalerRequestScaleStrategies' % kind)
    behavior = getattr(eas_models, '%sServiceAutoScalerRequestBehavior' % kind)
    scale_down = getattr(eas_models, '%sServiceAutoScalerRequestBehaviorScaleDown' % kind)
    return model(
        min=minimum,
        max=maximum,
        scale_strategies=[strategy(metric_name='qps', threshold=threshold)],
        behavior=behavior(scale_down=scale_down(stabilization_window_seconds=down)),
    )


def test_autoscaler_lifecycle_as_the_sdk_models_it(client):
    service(client)
    with pytest.raises(tea_exceptions.ClientException) as err:
        client.describe_service_auto_scaler(REGION, 'svc_a', eas_models.DescribeServiceAutoScalerRequest())
    assert err.value.status_code == 404
    client.create_service_auto_scaler(REGION, 'svc_a', autoscaler_request())
    body = client.describe_service_auto_scaler(REGION, 'svc_a', eas_models.DescribeServiceAutoScalerRequest()).body
    assert (body.min_replica, body.max_replica, body.service_name) == (1, 3, 'svc_a')
    assert [(s.metric_name, s.threshold) for s in body.scale_strategies] == [('QPS', 10.0)]
    assert body.behavior['scaleDown'] == {'stabilizationWindowSeconds': 0}
    assert body.behavior['scaleUp'] == {'stabilizationWindowSeconds': 0}
    assert body.current_metrics[0].metric_name == 'QPS'
    with pytest.raises(tea_exceptions.ClientException):
        client.create_service_auto_scaler(REGION, 'svc_a', autoscaler_request())
    client.update_service_auto_scaler(REGION, 'svc_a', autoscaler_request('Update', 1, 2, 5.0))
    body = client.describe_service_auto_scaler(REGION, 'svc_a', eas_models.DescribeServiceAutoScalerRequest()).body
    assert (body.max_replica, body.scale_strategies[0].threshold) == (2, 5.0)
    client.delete_service_auto_scaler(REGION, 'svc_a', eas_models.DeleteServiceAutoScalerRequest())
    with pytest.raises(tea_exceptions.ClientException):
        client.delete_service_auto_scaler(REGION, 'svc_a', eas_models.DeleteServiceAutoScalerRequest())


@pytest.mark.parametrize(
    'minimum, maximum, metric, threshold, text',
    [
        (2, 1, 'qps', 1, 'greater than min'),
        (2, 2, 'qps', 1, 'greater than min'),
        (1, 2, 'latency', 1, 'metricName'),
        (1, 2, 'qps', 0, 'threshold'),
    ],
)
def test_autoscaler_refuses_bad_bounds_and_metrics(client, minimum, maximum, metric, threshold, text):
    service(client, nodes=1)
    request = eas_models.CreateServiceAutoScalerRequest(
        min=minimum,
        max=maximum,
        scale_strategies=[
            eas_models.CreateServiceAutoScalerRequestScaleStrategies(metric_name=metric, threshold=threshold)
        ],
    )
    with pytest.raises(tea_exceptions.ClientException) as err:
        client.create_service_auto_scaler(REGION, 'svc_a', request)
    assert err.value.status_code == 400 and text in str(err.value)


def test_load_scales_out_within_bounds_and_the_nodes_limit_it(client, emulator):
    group = service(client, nodes=2)
    client.create_service_auto_scaler(REGION, 'svc_a', autoscaler_request(maximum=3))
    status, view = lab(emulator, 'POST', '/_lab/load', {'service': 'svc_a', 'qps': 45})
    assert status == 200
    entry = view['services'][0]
    # 45 qps / 10 per instance wants 5, max is 3, the two one-GPU nodes hold 2
    assert (entry['desired'], entry['capacity'], entry['instances']) == (3, 2, 2)
    body = wait_status(client, 'svc_a', 'Running', running=2)
    assert body.total_instance == 2
    assert json.loads(body.service_config)['metadata']['instance'] == 2
    reasons = [
        e.reason
        for e in client.describe_service_event(
            REGION, 'svc_a', eas_models.DescribeServiceEventRequest(page_size='100')
        ).body.events
    ]
    assert 'AutoscalerLimited' in reasons and 'AutoScaling' in reasons
    billing = lab(emulator, 'GET', '/_lab/billing')[1]
    assert billing['groups'][0]['ResourceId'] == group and billing['total_billed_nodes'] == 2
    # no load: back to min once the scale-in window (0 s here) has passed
    lab(emulator, 'POST', '/_lab/load', {'service': 'svc_a', 'qps': 0})
    wait_status(client, 'svc_a', 'Running', running=1)
    history = lab(emulator, 'GET', '/_lab/load?service=svc_a')[1]['history']
    assert [(h['from'], h['to']) for h in history] == [(1, 2), (2, 1)]


def test_scale_in_waits_for_the_stabilization_window(client, emulator):
    service(client, nodes=2)
    client.create_service_auto_scaler(REGION, 'svc_a', autoscaler_request(maximum=2, down=300))
    lab(emulator, 'POST', '/_lab/load', {'service': 'svc_a', 'qps': 20})
    wait_status(client, 'svc_a', 'Running', running=2)
    lab(emulator, 'POST', '/_lab/load', {'service': 'svc_a', 'qps': 1})
    time.sleep(0.3)
    assert describe(client).total_instance == 2


def test_a_load_below_the_threshold_changes_nothing(client, emulator):
    service(client, nodes=2)
    client.create_service_auto_scaler(REGION, 'svc_a', autoscaler_request(maximum=2))
    view = lab(emulator, 'POST', '/_lab/load', {'service': 'svc_a', 'qps': 9.5})[1]
    assert view['services'][0]['instances'] == 1 and view['history'] == []


def test_cron_scaler_lifecycle_and_a_job_run_now(client, emulator):
    service(client, nodes=2)
    job = eas_models.CreateServiceCronScalerRequestScaleJobs(
        name='day', schedule='0 0 8 * * *', target_size=2, time_zone='Asia/Shanghai'
    )
    client.create_service_cron_scaler(
        REGION, 'svc_a', eas_models.CreateServiceCronScalerRequest(scale_jobs=[job], exclude_dates=['* * * 1 10 *'])
    )
    body = client.describe_service_cron_scaler(REGION, 'svc_a', eas_models.DescribeServiceCronScalerRequest()).body
    assert [(j.name, j.schedule, j.target_size, j.state) for j in body.scale_jobs] == [
        ('day', '0 0 8 * * *', 2, 'Submitted')
    ]
    assert body.exclude_dates == ['* * * 1 10 *']
    status, answer = lab(emulator, 'POST', '/_lab/cron/run', {'service': 'svc_a', 'job': 'day'})
    assert status == 200 and answer['instances'] == 2
    wait_status(client, 'svc_a', 'Running', running=2)
    body = client.describe_service_cron_scaler(REGION, 'svc_a', eas_models.DescribeServiceCronScalerRequest()).body
    assert body.scale_jobs[0].state == 'Succeeded' and body.scale_jobs[0].last_probe_time
    bad = eas_models.UpdateServiceCronScalerRequest(
        scale_jobs=[eas_models.UpdateServiceCronScalerRequestScaleJobs(name='x', schedule='every day', target_size=1)]
    )
    with pytest.raises(tea_exceptions.ClientException):
        client.update_service_cron_scaler(REGION, 'svc_a', bad)
    client.delete_service_cron_scaler(REGION, 'svc_a', eas_models.DeleteServiceCronScalerRequest())
    with pytest.raises(tea_exceptions.ClientException) as err:
        client.describe_service_cron_scaler(REGION, 'svc_a', eas_models.DescribeServiceCronScalerRequest())
    assert err.value.status_code == 404


def test_scalers_go_with_their_service(client, emulator):
    service(client, nodes=1)
    client.create_service_auto_scaler(REGION, 'svc_a', autoscaler_request(maximum=2))
    client.delete_service(REGION, 'svc_a', eas_models.DeleteServiceRequest())
    wait_for(lambda: lab(emulator, 'GET', '/api/v2/services/%s/svc_a' % REGION)[0], lambda status: status == 404)
    assert lab(emulator, 'GET', '/_lab/load')[1]['services'] == []


def test_cron_expressions():
    parsed = parse_cron('0 0 8 * * 1-5')
    monday_8 = time.strptime('2026-12-07 08:00', '%Y-%m-%d %H:%M')
    sunday_8 = time.strptime('2026-12-06 08:00', '%Y-%m-%d %H:%M')
    assert cron_matches(parsed, monday_8) and not cron_matches(parsed, sunday_8)
    assert cron_matches(parse_cron('*/15 * * * *'), time.strptime('2026-12-06 10:45', '%Y-%m-%d %H:%M'))
