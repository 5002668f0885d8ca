# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the eas_resource_group and eas_service_info modules with a fake SDK client."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.llmops.eas_stack.plugins.module_utils import eas_client, eas_connection, eas_waiter, errors
from ansible_collections.llmops.eas_stack.plugins.modules import eas_region_info, eas_resource_group, eas_service_info
from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import (
    FakeSDK,
    client_error,
    server_error,
)

GONE = client_error(404, 'InvalidResource.NotFound')


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(eas_waiter, 'time', FakeTime())


def resource(status='ResourceReady', name='grp'):
    return {
        'ResourceId': 'eas-r-1',
        'ResourceName': name,
        'Status': status,
        'InstanceMaxAllocatableCPU': 7.0,
        'InstanceMaxAllocatableGPU': 1.0,
        'InstanceMaxAllocatableMemory': 28672.0,
        'CpuCount': 8,
        'GpuCount': 1,
        'Memory': 30720,
        'ServiceCount': '0',
    }


def inst(iid, status='Ready', created='2026-01-01T00:00:00Z'):
    return {
        'InstanceId': iid,
        'InstanceStatus': status,
        'InstanceType': 'ecs.gn7i-c8g1.2xlarge',
        'CreateTime': created,
        'ChargeType': 'PostPaid',
    }


def instances(*items):
    return {'Instances': list(items), 'TotalCount': len(items)}


def listing(*names):
    return {
        'Resources': [dict(resource(name=n), ResourceId='eas-r-%d' % i) for i, n in enumerate(names, 1)],
        'TotalCount': len(names),
    }


def run(capsys, module, sdk, check_mode=False, **args):
    args = dict(
        dict(
            region='cn-hangzhou',
            endpoint='http://127.0.0.1:1',
            access_key_id='ak',
            access_key_secret='sk',
            _ansible_check_mode=check_mode,
            _ansible_diff=True,
        ),
        **args,
    )
    with patch_module_args(args):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(eas_client, 'SDKClient', lambda config: sdk)
            with pytest.raises(SystemExit):
                module.main()
    return json.loads(capsys.readouterr().out)


def test_create_waits_ready_and_returns_allocatable(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [{'Resources': [], 'TotalCount': 0}],
            'create_resource': [{'ResourceId': 'eas-r-1', 'InstanceIds': ['i1']}],
            'describe_resource': [resource('Creating'), resource()],
            'list_resource_instances': [instances(inst('i1', 'Attaching')), instances(inst('i1'))],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    assert result['changed'] is True and result['actions'] == ['CreateResource']
    request = sdk.calls[1][1][0]
    assert (
        request.resource_name,
        request.resource_type,
        request.ecs_instance_type,
        request.ecs_instance_count,
        request.charge_type,
    ) == ('grp', 'Dedicated', 'ecs.gn7i-c8g1.2xlarge', 1, 'PostPaid')
    group = result['resource_group']
    assert group['status'] == 'ResourceReady' and group['instance_count'] == 1
    assert (group['allocatable_cpu'], group['allocatable_gpu'], group['allocatable_memory']) == (7.0, 1.0, 28672.0)


def test_existing_group_is_found_by_exact_name_and_unchanged(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp', 'grp-2')],
            'describe_resource': [resource()],
            'list_resource_instances': [instances(inst('i1'))],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    assert result['changed'] is False and sdk.mutating_calls() == []
    assert sdk.calls[0][1][0].resource_name == 'grp'


MANAGED = [{'LabelKey': 'managed-by', 'LabelValue': 'llmops.eas_stack'}]


def test_two_groups_with_the_same_name_not_all_ours_is_an_error_naming_them(capsys):
    sdk = FakeSDK({'list_resources': [listing('grp', 'grp')], 'list_resource_instances': [instances(inst('eas-i-1'))]})
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_count=1)
    assert result['failed'] is True
    assert 'eas-r-1' in result['msg'] and 'eas-r-2' in result['msg'] and 'resource_id' in result['msg']
    assert sdk.mutating_calls() == []


def test_duplicates_this_collection_made_are_resolved_keeping_the_oldest(capsys):
    groups = listing('grp', 'grp')
    groups['Resources'][0].update(CreateTime='2026-01-01T00:00:00Z', InstanceCount=1)
    groups['Resources'][1].update(CreateTime='2026-01-01T00:00:09Z', InstanceCount=1)
    ours = instances(dict(inst('eas-i-1'), Labels=MANAGED))
    sdk = FakeSDK(
        {
            'list_resources': [groups, listing('grp')],
            'list_resource_instances': [ours, ours, instances()],
            'delete_resource_instances': [{}],
            'describe_resource': [GONE],
            'delete_resource': [{}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_count=1)
    assert result.get("failed") is not True, result
    assert result["resource_group"]["id"] == "eas-r-1"
    deleted = [c for c in sdk.calls if c[0] in ('delete_resource_instances', 'delete_resource')]
    assert [c[0] for c in deleted] == ['delete_resource_instances', 'delete_resource']
    assert all(c[1][1] == 'eas-r-2' for c in deleted)
    assert 'duplicate this collection created' in json.dumps(result['warnings'])


def test_absent_with_force_deletes_every_group_of_the_name(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp', 'grp')],
            'list_resource_instances': [instances(inst('eas-i-1')), instances()],
            'list_services': [{'Services': []}],
            'delete_resource_instances': [{}],
            'describe_resource': [GONE],
            'delete_resource': [{}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', state='absent', force=True)
    assert result.get('failed') is not True, result
    assert sorted(c[1][1] for c in sdk.calls if c[0] == 'delete_resource') == ['eas-r-1', 'eas-r-2']


def test_scale_up_and_down(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource()],
            'list_resource_instances': [
                instances(inst('i1')),
                instances(inst('i1'), inst('i2', 'Attaching')),
                instances(inst('i1'), inst('i2')),
            ],
            'create_resource_instances': [{'InstanceIds': ['i2']}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_count=2)
    assert result['actions'] == ['CreateResourceInstances'] and result['resource_group']['instance_count'] == 2
    req = [c for c in sdk.calls if c[0] == 'create_resource_instances'][0][1][2]
    assert (req.ecs_instance_count, req.ecs_instance_type) == (1, 'ecs.gn7i-c8g1.2xlarge')
    assert req.labels is None  # the group's nodes carry no label of this collection: not labelled now either


def test_nodes_added_to_a_group_of_this_collection_carry_its_label(capsys):
    ours = [dict(LabelKey='managed-by', LabelValue='llmops.eas_stack')]
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource()],
            'list_resource_instances': [
                instances(dict(inst('i1'), Labels=ours)),
                instances(dict(inst('i1'), Labels=ours), dict(inst('i2'), Labels=ours)),
            ],
            'create_resource_instances': [{'InstanceIds': ['i2']}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_count=2)
    assert result['actions'] == ['CreateResourceInstances']
    req = [c for c in sdk.calls if c[0] == 'create_resource_instances'][0][1][2]
    assert req.labels == {'managed-by': 'llmops.eas_stack'}

    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource()],
            'list_resource_instances': [
                instances(inst('i1', created='2026-01-01'), inst('i2', created='2026-02-01')),
                instances(inst('i1')),
            ],
            'delete_resource_instances': [{}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_count=1)
    assert result['actions'] == ['DeleteResourceInstances']
    assert [c for c in sdk.calls if c[0] == 'delete_resource_instances'][0][1][2].instance_list == 'i2'  # the newest


def test_absent_refuses_while_services_run(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource()],
            'list_resource_instances': [instances(inst('i1'))],
            'list_services': [{'Services': [{'ServiceName': 'svc'}], 'TotalCount': 1}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', state='absent')
    assert result['failed'] is True and 'svc' in result['msg'] and 'force' in result['msg']
    assert sdk.mutating_calls() == []
    assert sdk.calls[-1][1][0].resource_id == 'eas-r-1'


def test_absent_deletes_instances_then_group(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource(), GONE],
            'list_resource_instances': [instances(inst('i1')), instances(inst('i1', 'Deleting')), instances()],
            'list_services': [{'Services': [], 'TotalCount': 0}],
            'delete_resource_instances': [{}],
            'delete_resource': [{}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', state='absent')
    assert result['actions'] == ['DeleteResourceInstances', 'DeleteResource']
    assert sdk.mutating_calls() == ['delete_resource_instances', 'delete_resource']
    assert result['resource_group'] == {}


def test_absent_with_force_deletes_services_first(capsys):
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource(), GONE],
            'list_resource_instances': [instances(inst('i1')), instances()],
            'list_services': [{'Services': [{'ServiceName': 'svc'}], 'TotalCount': 1}],
            'delete_service': [{}],
            'describe_service': [client_error(404, 'InvalidService.NotFound')],
            'delete_resource_instances': [{}],
            'delete_resource': [{}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', state='absent', force=True)
    assert result['actions'] == ['DeleteService', 'DeleteResourceInstances', 'DeleteResource']


def test_check_mode_sends_no_mutating_request(capsys):
    sdk = FakeSDK({'list_resources': [{'Resources': [], 'TotalCount': 0}]})
    result = run(capsys, eas_resource_group, sdk, check_mode=True, name='grp', instance_type='t', instance_count=1)
    assert result['changed'] is True and sdk.mutating_calls() == []
    sdk = FakeSDK(
        {
            'list_resources': [listing('grp')],
            'describe_resource': [resource()],
            'list_resource_instances': [instances(inst('i1'))],
            'list_services': [{'Services': [], 'TotalCount': 0}],
        }
    )
    result = run(capsys, eas_resource_group, sdk, check_mode=True, name='grp', state='absent')
    assert result['changed'] is True and sdk.mutating_calls() == []
    assert result['diff'] == {
        'before': {'state': 'present', 'instance_count': 1},
        'after': {'state': 'absent', 'instance_count': 0},
    }


@pytest.mark.parametrize(
    'args, text',
    [
        (dict(instance_count=0), 'instance_count must be at least 1'),
        (dict(instance_count=1), 'instance_type is required'),
    ],
)
def test_bad_input(capsys, args, text):
    sdk = FakeSDK({'list_resources': [{'Resources': [], 'TotalCount': 0}]})
    result = run(capsys, eas_resource_group, sdk, name='grp', **args)
    assert result['failed'] is True and text in result['msg'] and sdk.mutating_calls() == []


def test_missing_credentials_everywhere(capsys, monkeypatch):
    for var in eas_connection.ACCESS_KEY_ID_ENV + eas_connection.ACCESS_KEY_SECRET_ENV:
        monkeypatch.delenv(var, raising=False)

    class EmptyChain:
        def get_credential(self):
            raise eas_connection.CredentialException('nothing')

    monkeypatch.setattr(eas_connection, 'CredentialClient', EmptyChain)
    sdk = FakeSDK({})
    result = run(capsys, eas_resource_group, sdk, name='grp', access_key_id=None, access_key_secret=None)
    assert result['failed'] is True and 'no Alibaba Cloud credentials found' in result['msg'] and sdk.calls == []


def test_service_info_by_name_and_list(capsys):
    service = {
        'ServiceName': 'svc',
        'Status': 'Running',
        'AccessToken': 't',
        'ServiceConfig': '{"metadata": {"instance": 1}}',
    }
    sdk = FakeSDK({'describe_service': [service]})
    result = run(capsys, eas_service_info, sdk, name='svc')
    assert result['changed'] is False and result['services'][0]['config'] == {'metadata': {'instance': 1}}
    sdk = FakeSDK({'describe_service': [client_error(404, 'InvalidService.NotFound')]})
    assert run(capsys, eas_service_info, sdk, name='nope')['services'] == []
    sdk = FakeSDK({'list_services': [{'Services': [service, dict(service, ServiceName='b')], 'TotalCount': 2}]})
    result = run(capsys, eas_service_info, sdk, resource_id='eas-r-1')
    assert [s['name'] for s in result['services']] == ['svc', 'b'] and sdk.calls[0][1][0].resource_id == 'eas-r-1'


def test_service_info_returns_https_endpoints_unless_disabled(capsys):
    service = {
        'ServiceName': 'svc',
        'Status': 'Running',
        'InternetEndpoint': 'http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc',
        'IntranetEndpoint': 'http://1.vpc.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc',
    }
    result = run(capsys, eas_service_info, FakeSDK({'describe_service': [service]}), name='svc')
    assert result['services'][0]['internet_endpoint'] == 'https://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc'
    assert result['services'][0]['intranet_endpoint'].startswith('http://1.vpc.')
    result = run(capsys, eas_service_info, FakeSDK({'describe_service': [service]}), name='svc', https_endpoints=False)
    assert result['services'][0]['internet_endpoint'] == service['InternetEndpoint']


def test_a_rerun_with_nothing_to_change_reads_the_group_once(capsys):
    ready = listing('grp')
    ready['Resources'][0]['InstanceCount'] = 1
    sdk = FakeSDK({'list_resources': [ready]})
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    assert result['changed'] is False and sdk.names() == ['list_resources']
    assert result['resource_group']['allocatable_cpu'] == 7.0


def test_new_groups_carry_the_collection_label(capsys, monkeypatch):
    sdk = FakeSDK(
        {
            'list_resources': [{'Resources': [], 'TotalCount': 0}],
            'create_resource': [{'ResourceId': 'eas-r-1'}],
            'describe_resource': [resource()],
            'list_resource_instances': [instances(inst('eas-i-1'))],
        }
    )
    run(capsys, eas_resource_group, sdk, name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    request = [c for c in sdk.calls if c[0] == 'create_resource'][0][1][0]
    assert request.labels == {'managed-by': 'llmops.eas_stack'}


def test_a_create_that_failed_with_a_5xx_but_happened_is_not_sent_again(capsys, monkeypatch):
    from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import server_error

    monkeypatch.setattr(eas_resource_group, 'time', FakeTime())
    sdk = FakeSDK(
        {
            'list_resources': [{'Resources': [], 'TotalCount': 0}, {'Resources': [], 'TotalCount': 0}, listing('grp')],
            'create_resource': [server_error()],
            'describe_resource': [resource()],
            'list_resource_instances': [instances(inst('eas-i-1'))],
        }
    )
    result = run(capsys, eas_resource_group, sdk, name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    assert result.get('failed') is not True, result
    assert sdk.names().count('create_resource') == 1
    assert 'but the group exists' in json.dumps(result['warnings'])


@pytest.mark.parametrize('name', ['', 'with space', 'x' * 28])
def test_bad_group_names_are_refused_before_any_call(capsys, name):
    sdk = FakeSDK({})
    result = run(capsys, eas_resource_group, sdk, name=name, instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    assert result['failed'] is True and 'not a resource group name' in result['msg'] and sdk.calls == []


def test_a_run_waits_for_another_one_creating_the_same_group(tmp_path, monkeypatch):
    """The lock a killed run's orphaned module holds: a second run waits for it, then finds what it made."""
    import subprocess
    import sys
    import time

    from ansible_collections.llmops.eas_stack.plugins.module_utils import locks

    monkeypatch.setenv('LLMOPS_LOCK_DIR', str(tmp_path))
    path = locks.lock_path('eas-group cn-hangzhou grp')
    holder = subprocess.Popen(  # pylint: disable=consider-using-with
        [
            sys.executable,
            '-c',
            'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); '
            'print("held", flush=True); time.sleep(3)',
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == 'held'
        started = time.monotonic()
        with locks.exclusive('eas-group cn-hangzhou grp', 30, 'creating resource group grp'):
            waited = time.monotonic() - started
        assert waited >= 1.5
        holder.stdout.close()
        holder.wait(10)
        holder = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                sys.executable,
                '-c',
                'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); '
                'print("held", flush=True); time.sleep(30)',
                path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(Exception, match='another run on this controller has been busy with creating resource'):
            with locks.exclusive('eas-group cn-hangzhou grp', 1, 'creating resource group grp'):
                pass
    finally:
        holder.kill()
        holder.wait(10)


def test_machine_spec_info_reads_the_dedicated_offer_with_usable_gpu_memory(capsys):
    from ansible_collections.llmops.eas_stack.plugins.modules import eas_machine_spec_info

    a10 = dict(
        InstanceType='ecs.gn7i-c8g1.2xlarge',
        CPU=8,
        Memory=30.0,
        GPU='A10',
        GPUAmount=1,
        GPUMemory=24.0,
        IsAvailable=True,
        StockStatus='WithStock',
    )
    cpu_only = dict(InstanceType='ecs.c6.large', CPU=2, Memory=4.0, IsAvailable=True, StockStatus='WithStock')
    sdk = FakeSDK({'describe_machine_spec': [{'InstanceMetas': [a10, cpu_only]}]})
    result = run(
        capsys, eas_machine_spec_info, sdk, resource_type='Dedicated', instance_types=['ecs.gn7i-c8g1.2xlarge']
    )
    assert sdk.calls[0][1][0].resource_type == 'Dedicated'
    assert result['instance_types'] == {
        'ecs.gn7i-c8g1.2xlarge': dict(
            cpu=8,
            memory_gb=30.0,
            gpu='A10',
            gpus=1,
            gpu_memory_gb=24.0,
            gpu_usable_gib=22.49,
            available=True,
            stock='WithStock',
        )
    }


def test_a_wait_that_starts_during_an_api_outage_goes_on_once_the_api_is_back(capsys, monkeypatch):
    monkeypatch.setattr(errors, 'time', FakeTime())
    ready = dict(resource(), InstanceCount=1)
    sdk = FakeSDK({'list_resources': [server_error(), server_error(), server_error(), {'Resources': [ready]}]})
    args = dict(name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
    result = run(capsys, eas_resource_group, sdk, **args)
    assert not result.get('failed'), result
    assert result['changed'] is False and result['resource_group']['id'] == 'eas-r-1'
    assert [c[0] for c in sdk.calls] == ['list_resources'] * 4
    # Longer than the wait: it fails saying so, having changed nothing.
    sdk = FakeSDK({'list_resources': [server_error()]})
    out = run(capsys, eas_resource_group, sdk, wait_timeout=20, **args)
    assert out['failed'] is True and sdk.mutating_calls() == []
    assert 'Resource group grp could not be read before waiting for it' in out['msg']
    assert 'The API did not answer for 20 s in all while waiting' in out['msg']
    # Without a wait, the client's own retries only.
    sdk = FakeSDK({'list_resources': [server_error()]})
    out = run(capsys, eas_resource_group, sdk, wait=False, **args)
    assert out['failed'] is True and len(sdk.calls) < 10


def test_region_info_makes_the_three_reads_of_the_pre_flight_in_one_run(capsys):
    a10 = dict(InstanceType='ecs.gn7i-c8g1.2xlarge', GPU='A10', GPUAmount=1, GPUMemory=24.0, IsAvailable=True)
    labelled = dict(inst('i1'), Labels=[{'LabelKey': 'managed-by', 'LabelValue': 'llmops.eas_stack'}])
    service = {'ServiceName': 'svc', 'Status': 'Running', 'AccessToken': 't', 'InternetEndpoint': 'http://e'}
    sdk = FakeSDK(
        {
            'describe_machine_spec': [{'InstanceMetas': [a10]}],
            'list_resources': [listing('grp'), {'Resources': [], 'TotalCount': 0}],
            'list_resource_instances': [instances(labelled)],
            'list_services': [{'Services': [service], 'TotalCount': 1}],
        }
    )
    result = run(capsys, eas_region_info, sdk, resource_type='Dedicated', resource_groups=['grp', 'free'])
    assert [c[0] for c in sdk.calls] == [
        'describe_machine_spec',
        'list_resources',
        'list_resource_instances',
        'list_resources',
        'list_services',
    ]
    assert result['changed'] is False and result['instance_types']['ecs.gn7i-c8g1.2xlarge']['gpus'] == 1
    (group,) = result['resource_groups']['grp']
    assert group['managed'] is True and group['status'] == 'ResourceReady' and result['resource_groups']['free'] == []
    # A list never carries a token or an endpoint.
    assert result['services'][0]['name'] == 'svc' and 'access_token' not in result['services'][0]
    sdk = FakeSDK({})
    result = run(capsys, eas_region_info, sdk, instance_types=False, services=False)
    assert sdk.calls == [] and result['instance_types'] == {} and result['services'] == []


def test_a_ctrl_c_while_create_is_in_flight_waits_for_the_answer(capsys):
    """Ctrl-C (or TERM) of ansible-playbook reaches the module while CreateResource is in flight. The server may create
    the group all the same, so the module ends only once the answer is in, still holding the controller lock: a run
    started at once waits for it and finds the group instead of buying a second one."""
    import os
    import signal

    events = []

    def create(*_args):
        os.kill(os.getpid(), signal.SIGINT)
        events.append('answered')
        return {'ResourceId': 'eas-r-1'}

    sdk = FakeSDK(
        {
            'list_resources': [{'Resources': [], 'TotalCount': 0}],
            'create_resource': [create],
            'describe_resource': [resource()],
            'list_resource_instances': [instances(inst('eas-i-1'))],
        }
    )
    # Python's own Ctrl-C handler, as ansible-playbook runs with it (a test run started in the background of a
    # non-interactive shell inherits SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(capsys, eas_resource_group, sdk, name='grp', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1)
        assert events == ['answered']
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
