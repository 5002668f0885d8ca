# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab EAS emulator keeps its state across a restart (--state-file / EAS_EMULATOR_STATE_FILE) and through an API
outage (POST /_lab/outage: html503, reset, refuse), driven with the real SDK (alibabacloud-eas20210701 6.17.0)."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

eas_models = pytest.importorskip('alibabacloud_eas20210701.models')
eas_client = pytest.importorskip('alibabacloud_eas20210701.client')
open_api_models = pytest.importorskip('alibabacloud_tea_openapi.models')
dara_exceptions = pytest.importorskip('darabonba.exceptions')
tea_exceptions = pytest.importorskip('Tea.exceptions')

LAB = pathlib.Path(__file__).resolve().parents[2] / 'lab'
REGION = 'cn-hangzhou'
A10 = 'ecs.gn7i-c8g1.2xlarge'
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Emulator:
    """One emulator process; ``port`` 0 picks a free port, a restart reuses the port it got."""

    def __init__(self, *args, port=0, env=None):
        self.args, self.env = list(args), dict(env or {})
        self.port, self.proc = port, None

    def start(self, expect_ok=True):
        env = dict(os.environ, NO_PROXY='127.0.0.1', no_proxy='127.0.0.1', PYTHONPATH=str(LAB), **self.env)
        cmd = [sys.executable, '-m', 'eas_emulator', '--port', str(self.port), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # pylint: disable=consider-using-with
        line = self.proc.stdout.readline()
        if not expect_ok:
            return line
        assert 'listening on http://127.0.0.1:' in line, line + self.proc.stderr.read()
        self.port = int(line.split('http://127.0.0.1:')[1].split()[0])
        return line

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def http(self, method, path, body=None, raw=False):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={'Content-Type': 'application/json'}
        )
        try:
            with OPENER.open(req, timeout=10) as resp:
                status, headers, text = resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, headers, text = exc.code, dict(exc.headers), exc.read().decode()
        return (status, headers, text) if raw else (status, json.loads(text))

    def client(self):
        config = open_api_models.Config(
            access_key_id='lab-ak',
            access_key_secret='lab-secret',
            region_id=REGION,
            endpoint=f'127.0.0.1:{self.port}',
            protocol='http',
            read_timeout=5000,
            connect_timeout=2000,
        )
        return eas_client.Client(config)


@pytest.fixture(name='lab')
def lab_fixture():
    started = []

    def make(*args, **kwargs):
        emulator = Emulator(*args, **kwargs)
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


def wait_for(fetch, predicate, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        assert time.time() < deadline, f'condition not reached in {timeout}s; last value: {value!r}'
        time.sleep(0.03)


def create_group(client, count=1):
    req = eas_models.CreateResourceRequest(
        resource_type='Dedicated',
        ecs_instance_type=A10,
        ecs_instance_count=count,
        charge_type='PostPaid',
        resource_name='kept_group',
        labels={'managed-by': 'llmops.eas_stack'},
    )
    return client.create_resource(req).body


def service_config(name, resource_id):
    return {
        'metadata': {'name': name, 'instance': 1, 'resource': resource_id, 'cpu': 4, 'memory': 16000, 'gpu': 1},
        'containers': [{'image': 'registry.example/app:1', 'port': 8000}],
    }


def describe(client, name):
    return client.describe_service(REGION, name, eas_models.DescribeServiceRequest()).body


def nodes(client, resource_id):
    return client.list_resource_instances(REGION, resource_id, eas_models.ListResourceInstancesRequest()).body.instances


def test_state_file_survives_a_restart_and_time_goes_on(lab, tmp_path):
    state = tmp_path / 'state' / 'emulator.json'
    state.parent.mkdir()
    first = lab('--state-file', str(state), '--resource-ready-seconds', '0.2', '--service-ready-seconds', '1.2')
    assert '(new)' in first.start() and json.loads(state.read_text())['resources'] == []
    client = first.client()
    group = create_group(client, count=2)
    wait_for(lambda: [n.instance_status for n in nodes(client, group.resource_id)], lambda s: s == ['Ready'] * 2)
    created = client.create_service(
        eas_models.CreateServiceRequest(body=json.dumps(service_config('kept_svc', group.resource_id)))
    ).body
    assert created.status == 'Creating'
    token = describe(client, 'kept_svc').access_token
    client.delete_resource_instances(
        REGION, group.resource_id, eas_models.DeleteResourceInstancesRequest(instance_list=group.instance_ids[1])
    )
    saved = json.loads(state.read_text())
    assert [g['resource_id'] for g in saved['resources']] == [group.resource_id]
    assert not list(state.parent.glob('.state-*')), 'written through a temporary file, then renamed'
    first.stop()

    time.sleep(1.3)  # the service would have become Running meanwhile; the node deletion would have finished
    # another process, the file named by the environment: what a recreated container does
    second = lab(
        '--resource-ready-seconds', '0.2', '--service-ready-seconds', '1.2', env={'EAS_EMULATOR_STATE_FILE': str(state)}
    )
    assert '(restored)' in second.start()
    client = second.client()
    assert second.http('GET', '/_lab/health')[1]['restored'] is True
    body = describe(client, 'kept_svc')
    assert (body.status, body.service_id, body.access_token) == ('Running', created.service_id, token)
    kept = nodes(client, group.resource_id)
    assert [n.instance_id for n in kept] == group.instance_ids[:1], 'the node deleted before the restart is gone'
    assert [(lb.label_key, lb.label_value) for lb in kept[0].labels] == [('managed-by', 'llmops.eas_stack')]
    assert second.http('GET', '/_lab/billing')[1]['total_billed_nodes'] == 1

    # the teardown the restarted emulator sees really deletes, and that is saved too
    client.delete_service(REGION, 'kept_svc', eas_models.DeleteServiceRequest())
    client.delete_resource_instances(
        REGION, group.resource_id, eas_models.DeleteResourceInstancesRequest(instance_list=group.instance_ids[0])
    )
    wait_for(lambda: nodes(client, group.resource_id), lambda n: n == [])
    wait_for(lambda: client.list_services(eas_models.ListServicesRequest()).body.total_count, lambda c: c == 0)
    client.delete_resource(REGION, group.resource_id, eas_models.DeleteResourceRequest())
    assert second.http('GET', '/_lab/billing')[1]['total_billed_nodes'] == 0
    assert json.loads(state.read_text())['resources'] == [] and json.loads(state.read_text())['services'] == []


def test_state_file_that_does_not_fit_stops_the_start(lab, tmp_path):
    broken = tmp_path / 'broken.json'
    broken.write_text('{"schema": "eas-emulator-state/1", "region": "cn-hangzhou", "resou')
    emulator = lab('--state-file', str(broken))
    emulator.start(expect_ok=False)
    assert emulator.proc.wait(timeout=5) == 2 and 'cannot read' in emulator.proc.stderr.read()
    other_region = tmp_path / 'other.json'
    other_region.write_text(
        json.dumps({'schema': 'eas-emulator-state/1', 'region': 'cn-beijing', 'resources': [], 'services': []})
    )
    emulator = lab('--state-file', str(other_region))
    emulator.start(expect_ok=False)
    assert emulator.proc.wait(timeout=5) == 2 and 'cn-beijing' in emulator.proc.stderr.read()
    emulator = lab('--state-file', str(tmp_path / 'missing-dir' / 'state.json'))
    emulator.start(expect_ok=False)
    assert emulator.proc.wait(timeout=5) == 2 and 'cannot write' in emulator.proc.stderr.read()


@pytest.fixture(name='emulator')
def emulator_fixture(lab):
    emulator = lab('--resource-ready-seconds', '0', '--service-ready-seconds', '0.2', '--gateway-warmup-seconds', '0')
    emulator.start()
    return emulator


def test_outage_html503_keeps_state_and_is_logged(emulator):
    client = emulator.client()
    rid = create_group(client).resource_id
    client.create_service(eas_models.CreateServiceRequest(body=json.dumps(service_config('svc', rid))))
    body = wait_for(lambda: describe(client, 'svc'), lambda b: b.status == 'Running')
    since = emulator.http('GET', '/_lab/requests')[1]['next']

    status, view = emulator.http('POST', '/_lab/outage', {'seconds': 30, 'mode': 'html503'})
    assert status == 200 and view['active'] and view['mode'] == 'html503' and 29 < view['remaining_seconds'] <= 30
    with pytest.raises(dara_exceptions.UnretryableException) as failed:
        client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest())
    error = failed.value
    assert isinstance(error, tea_exceptions.TeaException) and error.code is None and error.data is None
    assert 'Failed to parse the value as json' in str(error) and '503 Service Temporarily Unavailable' in str(error)
    status, headers, text = emulator.http('GET', '/api/v2/services', raw=True)
    assert status == 503 and headers['Content-Type'].startswith('text/html')
    assert text.startswith('<html>') and '<title>503 Service Temporarily Unavailable</title>' in text
    chat = '/api/predict/svc/v1/models'
    assert emulator.http('GET', chat, raw=True)[0] == 401, 'the data plane is not affected without data_plane'
    assert emulator.http('GET', '/_lab/health')[0] == 200 and emulator.http('GET', '/_lab/outage')[1]['active']

    assert emulator.http('DELETE', '/_lab/outage')[1] == {
        'active': False,
        'mode': '',
        'seconds': 0,
        'remaining_seconds': 0,
        'data_plane': False,
    }
    assert describe(client, 'svc').service_id == body.service_id, 'state kept'
    log = emulator.http('GET', f'/_lab/requests?since={since}')[1]['requests']
    assert [(e['action'], e['status'], e.get('outage')) for e in log] == [
        ('DescribeResource', 503, 'html503'),
        ('ListServices', 503, 'html503'),
        ('Predict', 401, None),
        ('DescribeService', 200, None),
    ]

    emulator.http('POST', '/_lab/outage', {'seconds': 0.5, 'mode': 'html503', 'data_plane': True})
    assert emulator.http('GET', chat, raw=True)[0] == 503
    time.sleep(0.6)
    assert describe(client, 'svc').status == 'Running' and not emulator.http('GET', '/_lab/outage')[1]['active']
    for bad in ({'seconds': 0}, {'seconds': 5, 'mode': 'flaky'}, {'seconds': 5, 'when': 'now'}):
        assert emulator.http('POST', '/_lab/outage', bad)[0] == 400


def test_outage_reset_closes_the_connection_without_answer(emulator):
    client = emulator.client()
    rid = create_group(client).resource_id
    emulator.http('POST', '/_lab/outage', {'seconds': 0.6, 'mode': 'reset'})
    with pytest.raises(dara_exceptions.UnretryableException) as failed:
        client.list_resources(eas_models.ListResourcesRequest())
    assert 'Connection reset by peer' in str(failed.value) and failed.value.code is None
    with socket.create_connection(('127.0.0.1', emulator.port), timeout=5) as conn:
        conn.sendall(b'GET /api/v2/resources HTTP/1.1\r\nHost: lab\r\n\r\n')
        with pytest.raises(ConnectionResetError):
            assert conn.recv(1024) == b'', 'no answer'
    time.sleep(0.6)
    assert client.list_resources(eas_models.ListResourcesRequest()).body.resources[0].resource_id == rid
    statuses = [(e['status'], e.get('outage')) for e in emulator.http('GET', '/_lab/requests')[1]['requests'][1:]]
    assert statuses == [(0, 'reset'), (0, 'reset'), (200, None)]


def test_outage_refuse_closes_the_port_then_reopens_it(emulator):
    client = emulator.client()
    rid = create_group(client).resource_id  # the SDK now holds a pooled keep-alive connection
    began = time.time()
    assert emulator.http('POST', '/_lab/outage', {'seconds': 1.0, 'mode': 'refuse'})[0] == 200
    with pytest.raises(dara_exceptions.UnretryableException) as failed:
        client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest())
    assert 'Connection refused' in str(failed.value)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', emulator.port), timeout=2).close()
    body = wait_for(
        lambda: _try(lambda: client.describe_resource(REGION, rid, eas_models.DescribeResourceRequest())), bool
    )
    assert time.time() - began >= 0.9 and body.body.resource_id == rid, 'state kept'
    assert not emulator.http('GET', '/_lab/outage')[1]['active']


def _try(call):
    try:
        return call()
    except dara_exceptions.UnretryableException:
        return None
