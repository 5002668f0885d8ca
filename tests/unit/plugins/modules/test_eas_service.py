# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the eas_service module: the whole module runs, the SDK client is a fake."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.common.parameters import PASS_VARS
from ansible.module_utils.testing import patch_module_args

from ansible_collections.llmops.eas_stack.plugins.module_utils import eas_client, eas_waiter
from ansible_collections.llmops.eas_stack.plugins.modules import eas_service
from Tea.exceptions import UnretryableException

from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import (
    FakeSDK,
    client_error,
    network_error,
    server_error,
)

NOT_FOUND = client_error(404, 'InvalidService.NotFound', 'service not found')

CONFIG = {
    'metadata': {'instance': 1, 'resource': 'eas-r-1', 'cpu': 7, 'memory': 28000, 'gpu': 1},
    'containers': [{'image': 'vllm:1', 'port': 8000, 'script': 'vllm serve /model_dir'}],
}


def server_config(**meta):
    config = json.loads(json.dumps(CONFIG))
    config['metadata'].update(name='svc', rolling_strategy={'max_unavailable': 1}, server_default=True)
    config['metadata'].update(meta)
    return config


def svc(status='Running', config=None, running=1, total=1):
    return {
        'ServiceName': 'svc',
        'ServiceId': 'eas-m-1',
        'Status': status,
        'RunningInstance': running,
        'TotalInstance': total,
        'AccessToken': 'tok-secret',
        'InternetEndpoint': 'http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc',
        'IntranetEndpoint': 'http://1.vpc.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc',
        'ServiceConfig': json.dumps(config or server_config()),
        'Resource': 'eas-r-1',
    }


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def probes(monkeypatch):
    calls = []

    def opener(url, **kwargs):
        calls.append((url, kwargs))
        return type('R', (), {'getcode': lambda self: 200})()

    monkeypatch.setattr(eas_waiter, 'open_url', opener)
    monkeypatch.setattr(eas_waiter, 'time', FakeTime())
    return calls


def run(capsys, sdk, check_mode=False, diff=True, **args):
    args = dict(
        dict(
            name='svc',
            region='cn-hangzhou',
            access_key_id='ak',
            access_key_secret='sk',
            _ansible_check_mode=check_mode,
            _ansible_diff=diff,
        ),
        **args,
    )
    if 'inject_invocation' not in PASS_VARS:
        # ansible-core before 2.20 always returns the invocation and does not know this switch
        args.pop('_ansible_inject_invocation', None)
    with patch_module_args(args):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(eas_client, 'SDKClient', lambda config: sdk)
            with pytest.raises(SystemExit):
                eas_service.main()
    return json.loads(capsys.readouterr().out)


def test_create_waits_for_running_and_probes_the_endpoint(capsys, probes):
    sdk = FakeSDK(
        {
            'describe_service': [NOT_FOUND, svc('Creating', running=0), svc('Running')],
            'create_service': [{'ServiceName': 'svc', 'Status': 'Creating'}],
        }
    )
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['changed'] is True and result['actions'] == ['CreateService']
    body = json.loads(sdk.calls[1][1][0].body)
    assert body['metadata']['name'] == 'svc'
    assert body['metadata']['rolling_strategy'] == {'max_unavailable': 1}  # single-instance rolling-update fix
    assert result['service']['status'] == 'Running'
    assert result['service']['access_token'] == 'tok-secret'
    assert result['service']['internet_endpoint'].endswith('/api/predict/svc')
    assert probes[0][0].endswith('/api/predict/svc/v1/models') and probes[0][1]['headers'] == {
        'Authorization': 'tok-secret'
    }


def test_rerun_is_idempotent_when_desired_is_a_subset(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc('Running')]})
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['changed'] is False and result['actions'] == []
    assert sdk.mutating_calls() == []
    assert len(probes) == 1


def test_check_mode_sends_no_mutating_request_and_shows_a_diff(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc('Running', server_config(cpu=6))]})
    result = run(capsys, sdk, check_mode=True, state='running', config=CONFIG)
    assert result['changed'] is True and result['actions'] == ['UpdateService']
    assert sdk.names() == ['describe_service'] and probes == []
    assert result['diff']['before']['config']['metadata']['cpu'] == 6
    assert result['diff']['after']['config']['metadata']['cpu'] == 7
    assert 'tok-secret' not in json.dumps(result['diff'])


def test_check_mode_create_and_delete_send_nothing(capsys, probes):
    sdk = FakeSDK({'describe_service': [NOT_FOUND]})
    assert run(capsys, sdk, check_mode=True, state='running', config=CONFIG)['changed'] is True
    sdk2 = FakeSDK({'describe_service': [svc()]})
    assert run(capsys, sdk2, check_mode=True, state='absent')['changed'] is True
    assert sdk.names() == ['describe_service'] and sdk2.names() == ['describe_service']


def test_update_sends_only_the_difference(capsys, probes):
    sdk = FakeSDK(
        {
            'describe_service': [svc('Running', server_config(cpu=6)), svc('Updating'), svc('Running')],
            'update_service': [{}],
        }
    )
    result = run(capsys, sdk, config=CONFIG)
    assert result['actions'] == ['UpdateService']
    name, args = [c for c in sdk.calls if c[0] == 'update_service'][0]
    assert json.loads(args[2].body) == {'metadata': {'cpu': 7}}
    assert args[2].update_type is None  # merge (the server default)


def test_replace_sends_the_whole_config(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc('Running', server_config(cpu=6)), svc('Running')], 'update_service': [{}]})
    run(capsys, sdk, config=CONFIG, update_type='replace')
    args = [c for c in sdk.calls if c[0] == 'update_service'][0][1]
    sent = json.loads(args[2].body)
    assert (
        sent['metadata']['cpu'] == 7 and sent['containers'] == CONFIG['containers'] and args[2].update_type == 'replace'
    )


def test_instance_count_only_change_scales(capsys, probes):
    sdk = FakeSDK(
        {
            'describe_service': [
                svc('Running', server_config(instance=2, rolling_strategy={'max_surge': 1}), running=2, total=2),
                svc('Running'),
            ],
            'scale_service': [{}],
        }
    )
    result = run(
        capsys,
        sdk,
        config=dict(CONFIG, metadata=dict(CONFIG['metadata'], instance=2, rolling_strategy={'max_surge': 1})),
    )
    assert result['changed'] is False  # already 2
    sdk = FakeSDK(
        {
            'describe_service': [
                svc('Running', server_config(rolling_strategy={'max_surge': 1})),
                svc('Running', running=3, total=3),
            ],
            'scale_service': [{}],
        }
    )
    result = run(
        capsys,
        sdk,
        config=dict(CONFIG, metadata=dict(CONFIG['metadata'], instance=3, rolling_strategy={'max_surge': 1})),
    )
    assert result['actions'] == ['ScaleService']
    assert [c for c in sdk.calls if c[0] == 'scale_service'][0][1][2].instance == 3


def test_user_rolling_strategy_is_respected_and_fix_can_be_disabled():
    class M:
        params = dict(
            name='svc',
            auto_max_unavailable=True,
            config={'metadata': {'resource': 'eas-r-1', 'rolling_strategy': {'max_surge': 1}}},
        )

    assert eas_service.build_desired(M.params)['metadata']['rolling_strategy'] == {'max_surge': 1}
    M.params = dict(M.params, auto_max_unavailable=False, config={'metadata': {'resource': 'eas-r-1'}})
    assert 'rolling_strategy' not in eas_service.build_desired(M.params)['metadata']
    M.params = dict(M.params, auto_max_unavailable=True, config={'cloud': {'computing': {'instance_type': 'x'}}})
    assert 'metadata' not in eas_service.build_desired(M.params)  # public resource group: no fix


@pytest.mark.parametrize(
    'status, state, expected',
    [
        ('Running', 'stopped', ['StopService']),
        ('Stopped', 'stopped', []),
        ('Stopped', 'running', ['StartService']),
        ('Running', 'running', []),
        ('Running', 'restarted', ['RestartService']),
        ('Stopped', 'restarted', ['StartService']),
        ('Stopped', 'present', []),
    ],
)
def test_state_transitions_without_redundant_calls(capsys, probes, status, state, expected):
    final = 'Stopped' if state == 'stopped' or (state == 'present' and status == 'Stopped') else 'Running'
    sdk = FakeSDK(
        {
            'describe_service': [svc(status), svc(final)],
            'stop_service': [{}],
            'start_service': [{}],
            'restart_service': [{}],
        }
    )
    result = run(capsys, sdk, state=state)
    assert result['actions'] == expected
    assert result['changed'] is bool(expected)


def test_absent(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc(), svc('Deleting'), NOT_FOUND], 'delete_service': [{}]})
    result = run(capsys, sdk, state='absent')
    assert result['actions'] == ['DeleteService'] and result['service'] == {}
    sdk = FakeSDK({'describe_service': [NOT_FOUND]})
    assert run(capsys, sdk, state='absent')['changed'] is False


def test_failed_service_fails_fast_and_masks_the_token(capsys, probes):
    failed = svc('Failed', running=0)
    failed['Message'] = 'Instance svc-0 not healthy: Instance crashed, please inspect instance log.'
    sdk = FakeSDK(
        {
            'describe_service': [NOT_FOUND, failed],
            'create_service': [{}],
            'describe_service_event': [{'Events': []}],
            'describe_service_diagnosis': [{'DiagnosisList': []}],
            'describe_service_log': [{'Logs': ['torch.OutOfMemoryError: CUDA out of memory']}],
        }
    )
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['failed'] is True
    assert 'Instance crashed' in result['msg'] and 'CUDA out of memory' in result['msg']
    assert 'tok-secret' not in json.dumps(result)


def test_api_error_is_reported_with_code_and_request_id(capsys, probes):
    sdk = FakeSDK({'describe_service': [client_error(403, 'Forbidden.PrivilegeCheckFailed', 'not yours', 'RID-9')]})
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['failed'] is True
    assert (
        'Forbidden.PrivilegeCheckFailed' in result['msg'] and 'RID-9' in result['msg'] and 'not yours' in result['msg']
    )


def test_bad_input_fails_before_any_request(capsys, probes):
    sdk = FakeSDK({})
    result = run(capsys, sdk, config={'metadata': {'name': 'other'}})
    assert result['failed'] is True and 'metadata.name' in result['msg'] and sdk.calls == []


def test_stopping_a_missing_service_is_a_clear_error(capsys, probes):
    sdk = FakeSDK({'describe_service': [NOT_FOUND]})
    result = run(capsys, sdk, state='stopped')
    assert result['failed'] is True and 'does not exist' in result['msg'] and sdk.mutating_calls() == []


def test_no_probe_when_disabled(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc('Running')]})
    run(capsys, sdk, state='running', config=CONFIG, probe_endpoint=False)
    assert probes == []


def test_updating_a_failed_service_does_not_fail_on_the_stale_status(capsys, probes):
    sdk = FakeSDK(
        {
            'describe_service': [
                svc('Failed', server_config(cpu=8), running=0),
                svc('Failed', running=0),
                svc('Updating', running=0),
                svc('Running'),
            ],
            'update_service': [{}],
        }
    )
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result.get('failed') is not True, result.get('msg')
    assert result['actions'] == ['UpdateService'] and result['service']['status'] == 'Running'


def test_no_wait_create_returns_endpoint_and_token_even_if_briefly_invisible(capsys, probes):
    sdk = FakeSDK({'describe_service': [NOT_FOUND, NOT_FOUND, svc('Creating', running=0)], 'create_service': [{}]})
    result = run(capsys, sdk, state='running', config=CONFIG, wait=False)
    assert result['actions'] == ['CreateService'] and probes == []
    assert result['service']['status'] == 'Creating' and result['service']['access_token'] == 'tok-secret'
    assert result['service']['internet_endpoint'].endswith('/api/predict/svc')


def test_endpoints_and_probe_use_https_by_default(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc('Running')]})
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['service']['internet_endpoint'] == 'https://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc'
    # the VPC endpoint is returned as EAS gives it (TLS on it is not documented) unless asked for
    assert result['service']['intranet_endpoint'] == 'http://1.vpc.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc'
    assert probes[0][0] == 'https://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc/v1/models'


def test_https_endpoints_false_keeps_the_plain_http_endpoint(capsys, probes):
    sdk = FakeSDK({'describe_service': [svc('Running')]})
    result = run(capsys, sdk, state='running', config=CONFIG, https_endpoints=False)
    assert result['service']['internet_endpoint'] == 'http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc'
    assert probes[0][0] == 'http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc/v1/models'


def test_server_echoing_numbers_and_booleans_as_strings_is_idempotent(capsys, probes):
    echoed = json.loads(json.dumps(server_config()), parse_int=str)  # every number echoed as a string
    echoed['storage'] = [{'mount_path': '/m', 'oss': {'path': 'oss://bucket-m/m/', 'readOnly': 'true'}}]
    sdk = FakeSDK({'describe_service': [svc('Running', echoed)]})
    config = dict(CONFIG, storage=[{'mount_path': '/m', 'oss': {'path': 'oss://bucket-m/m/', 'readOnly': True}}])
    result = run(capsys, sdk, state='running', config=config)
    assert echoed['metadata']['cpu'] == '7'
    assert result['changed'] is False and sdk.mutating_calls() == []


def versioned(status='Running', current=3, latest=3, **kwargs):
    return dict(svc(status, **kwargs), CurrentVersion=current, LatestVersion=latest)


def test_update_waits_for_the_new_version_not_the_old_running_one(capsys, probes):
    # the first polls after UpdateService still show version 3 Running with all instances up
    sdk = FakeSDK(
        {
            'describe_service': [
                versioned('Running', 3, 3, config=server_config(cpu=6)),
                versioned('Running', 3, 3),
                versioned('Running', 3, 4),
                versioned('Updating', 3, 4),
                versioned('Running', 4, 4),
            ],
            'update_service': [{}],
        }
    )
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['actions'] == ['UpdateService']
    assert result['service']['current_version'] == 4
    assert sdk.names().count('describe_service') == 5
    assert len(probes) == 1


def test_scale_does_not_wait_for_a_new_version(capsys, probes):
    sdk = FakeSDK(
        {
            'describe_service': [
                versioned('Running', 3, 3, config=server_config(rolling_strategy={'max_surge': 1})),
                versioned('Running', 3, 3, running=2, total=2),
            ],
            'scale_service': [{}],
        }
    )
    result = run(
        capsys,
        sdk,
        config=dict(CONFIG, metadata=dict(CONFIG['metadata'], instance=2, rolling_strategy={'max_surge': 1})),
    )
    assert result['actions'] == ['ScaleService'] and sdk.names().count('describe_service') == 2


def test_restart_waits_until_the_service_was_seen_restarting(capsys, probes):
    sdk = FakeSDK(
        {
            'describe_service': [
                svc('Running'),
                svc('Running'),
                svc('Running', running=0),
                svc('Starting', running=0),
                svc('Running'),
            ],
            'restart_service': [{}],
        }
    )
    result = run(capsys, sdk, state='restarted')
    assert result['actions'] == ['RestartService']
    assert sdk.names().count('describe_service') == 5


SECRET_CONFIG = dict(
    CONFIG,
    dockerAuth='dXNlcjpyZWdpc3RyeS1wdw==',
    containers=[
        dict(
            CONFIG['containers'][0],
            env=[
                {'name': 'HF_TOKEN', 'value': 'hf_supersecret'},
                {'name': 'DB_PASSWORD', 'value': 'pw-9876'},
                {'name': 'MODEL', 'value': 'DeepSeek-R1'},
            ],
        )
    ],
)


def test_docker_auth_and_secret_env_values_are_masked_in_result_diff_and_invocation(capsys, probes):
    current = server_config()
    current['containers'][0]['env'] = [
        {'name': 'HF_TOKEN', 'value': 'hf_oldsecret'},
        {'name': 'DB_PASSWORD', 'value': 'pw-9876'},
        {'name': 'MODEL', 'value': 'DeepSeek-R1'},
    ]
    current['dockerAuth'] = 'dXNlcjpyZWdpc3RyeS1wdw=='
    sdk = FakeSDK({'describe_service': [svc('Running', current), svc('Running', current)], 'update_service': [{}]})
    result = run(capsys, sdk, state='running', config=SECRET_CONFIG, _ansible_inject_invocation=True)
    assert result['actions'] == ['UpdateService']  # the token changed
    text = json.dumps(result)
    for secret in ('dXNlcjpyZWdpc3RyeS1wdw==', 'hf_supersecret', 'hf_oldsecret', 'pw-9876'):
        assert secret not in text
    assert 'DeepSeek-R1' in json.dumps(result['diff']['after']) and 'DeepSeek-R1' in json.dumps(result['invocation'])
    # the request still carries the real values
    sent = json.loads([c for c in sdk.calls if c[0] == 'update_service'][0][1][2].body)
    assert sent['containers'][0]['env'][0]['value'] == 'hf_supersecret'


def test_secret_env_values_are_masked_when_the_task_fails(capsys, probes):
    sdk = FakeSDK({'describe_service': [client_error(403, 'Forbidden', 'no')]})
    result = run(capsys, sdk, state='running', config=SECRET_CONFIG, _ansible_inject_invocation=True)
    assert result['failed'] is True and 'invocation' in result
    assert 'hf_supersecret' not in json.dumps(result) and 'dXNlcjpyZWdpc3RyeS1wdw==' not in json.dumps(result)


# -- what a first real run meets: no dead ends, nothing created twice, bad input before any call ---------------------


def test_a_service_stuck_waiting_gets_the_fixing_update_at_once(capsys, probes):
    stuck = svc('Waiting', server_config(cpu=8), running=0)
    sdk = FakeSDK({'describe_service': [stuck, svc('Running', server_config())], 'update_service': [{}]})
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['actions'] == ['UpdateService']
    # the update is the second call: no waiting for Waiting to settle first
    assert sdk.names()[:2] == ['describe_service', 'update_service']


def test_a_create_that_failed_with_a_5xx_but_happened_is_not_sent_again(capsys, probes):
    from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import server_error

    sdk = FakeSDK(
        {
            'describe_service': [NOT_FOUND, svc('Creating', running=0), svc('Running')],
            'create_service': [server_error()],
        }
    )
    result = run(capsys, sdk, state='running', config=CONFIG)
    assert result.get('failed') is not True, result['msg'] if 'msg' in result else result
    assert sdk.names().count('create_service') == 1
    assert 'but the service exists' in json.dumps(result['warnings'])


def test_a_create_that_failed_and_did_not_happen_fails(capsys, probes):
    from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import server_error

    sdk = FakeSDK({'describe_service': [NOT_FOUND], 'create_service': [server_error()]})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(eas_waiter, 'time', FakeTime())
        result = run(capsys, sdk, state='running', config=CONFIG)
    assert result['failed'] is True and 'ServiceUnavailable' in result['msg']
    assert sdk.names().count('create_service') == 1


def test_new_services_carry_the_collection_label_and_the_create_only_config(capsys, probes):
    sdk = FakeSDK({'describe_service': [NOT_FOUND, svc('Running')], 'create_service': [{}]})
    create_only = {'metadata': {'cpu': 7, 'memory': 28000}}
    config = dict(CONFIG, metadata={k: v for k, v in CONFIG['metadata'].items() if k not in ('cpu', 'memory')})
    run(capsys, sdk, state='running', config=config, create_only_config=create_only, labels={'team': 'ml'})
    request = [c for c in sdk.calls if c[0] == 'create_service'][0][1][0]
    body = json.loads(request.body)
    assert body['metadata']['cpu'] == 7 and body['metadata']['memory'] == 28000
    assert request.labels == {'managed-by': 'llmops.eas_stack', 'team': 'ml'}


def test_create_only_config_is_not_compared_on_a_rerun(capsys, probes):
    # the server has other cpu/memory than create_only_config says (tuned by hand): no update
    sdk = FakeSDK({'describe_service': [svc('Running', server_config(cpu=5, memory=20000))]})
    config = dict(CONFIG, metadata={k: v for k, v in CONFIG['metadata'].items() if k not in ('cpu', 'memory')})
    result = run(capsys, sdk, state='running', config=config, create_only_config={'metadata': {'cpu': 7}})
    assert result['changed'] is False and sdk.mutating_calls() == []


@pytest.mark.parametrize(
    'args, words',
    [
        (dict(name='Bad-Name'), 'not a valid EAS service name'),
        (dict(name=''), 'not a valid EAS service name'),
        (
            dict(
                config=dict(
                    CONFIG,
                    storage=[
                        {
                            'mount_path': '/model_dir',
                            'oss': {
                                'path': 'oss://pai-quickstart-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com/models/x/'
                            },
                        }
                    ],
                )
            ),
            'give the endpoint apart',
        ),
        (dict(config=dict(CONFIG, containers='x')), 'containers must be a list'),
        (dict(config=dict(CONFIG, metadata=dict(CONFIG['metadata'], instance='two'))), 'metadata.instance'),
    ],
)
def test_bad_names_and_configs_are_refused_before_any_call(capsys, probes, args, words):
    sdk = FakeSDK({})
    result = run(capsys, sdk, **dict(dict(state='running', config=CONFIG), **args))
    assert result['failed'] is True and words in result['msg']
    assert sdk.calls == []


def test_a_wait_window_returns_progress_and_a_later_window_only_waits(capsys, probes):
    diagnostics = {'describe_service_event': [{'Events': []}]}
    sdk = FakeSDK(dict(diagnostics, describe_service=[NOT_FOUND, svc('Creating', running=0)], create_service=[{}]))
    first = run(capsys, sdk, state='running', config=CONFIG, wait_window=10)
    assert first['waiting'] is True and first['actions'] == ['CreateService'] and first['changed'] is True
    assert 'service svc: Creating' in first['progress']
    sdk = FakeSDK({'describe_service': [svc('Running')]})
    later = run(capsys, sdk, state='running', config=CONFIG, wait_state=first['wait_state'])
    assert later.get('waiting') is None and later['actions'] == [] and later['service']['status'] == 'Running'
    assert sdk.mutating_calls() == []


def html_error_page():
    """What the SDK raises when a gateway in front of the API answers its own 503 page."""
    page = 'Failed to parse the value as json format, Value: "<html><body><h1>503 Service Temporarily Unavailable</h1>"'
    return UnretryableException(None, RuntimeError(page))


def test_a_wait_that_starts_during_an_api_outage_goes_on_once_the_api_is_back(capsys, probes):
    down = [html_error_page(), network_error(), server_error()] * 5
    sdk = FakeSDK({'describe_service': down + [svc('Running')]})
    out = run(capsys, sdk, state='running', config=CONFIG)
    assert not out.get('failed'), out
    assert out['service']['status'] == 'Running' and out['changed'] is False and sdk.mutating_calls() == []


def test_an_api_outage_at_the_first_read_is_reported_by_the_windows_and_the_next_window_converges(capsys, probes):
    sdk = FakeSDK({'describe_service': [html_error_page()]})
    first = run(capsys, sdk, state='running', config=CONFIG, wait_window=10)
    assert first['waiting'] is True and first['actions'] == [] and sdk.mutating_calls() == []
    assert 'service svc: not read yet, the API did not answer for' in first['progress']
    assert first['wait_state']['first_read'] is True and first['wait_state']['unreachable'] >= 10
    # The next window reads the service (it is stopped meanwhile) and does what the first one could not.
    sdk = FakeSDK({'describe_service': [svc('Stopped'), svc('Running')], 'start_service': [{}]})
    later = run(capsys, sdk, state='running', config=CONFIG, wait_state=first['wait_state'])
    assert not later.get('failed'), later
    assert later['actions'] == ['StartService'] and later['service']['status'] == 'Running'


def test_an_api_outage_longer_than_the_wait_fails_saying_how_long_the_api_did_not_answer(capsys, probes):
    sdk = FakeSDK({'describe_service': [server_error()]})
    out = run(capsys, sdk, state='running', config=CONFIG, wait_timeout=20)
    assert out['failed'] is True and sdk.mutating_calls() == []
    assert 'Service svc could not be read before waiting for it' in out['msg']
    assert 'The API did not answer for 20 s in all while waiting' in out['msg']


def test_an_error_that_is_not_transient_at_the_first_read_fails_at_once(capsys, probes):
    sdk = FakeSDK({'describe_service': [client_error(403, 'Forbidden.RAM', 'not allowed')]})
    out = run(capsys, sdk, state='running', config=CONFIG)
    assert out['failed'] is True and 'Forbidden.RAM' in out['msg'] and sdk.names() == ['describe_service']
