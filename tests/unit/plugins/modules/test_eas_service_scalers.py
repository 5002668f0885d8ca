# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the eas_service_autoscaler and eas_service_cron_scaler modules with a fake SDK client."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.llmops.eas_stack.plugins.module_utils import eas_client
from ansible_collections.llmops.eas_stack.plugins.modules import eas_service_autoscaler, eas_service_cron_scaler
from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import FakeSDK, client_error

NO_SCALER = client_error(404, 'InvalidAutoScaler.NotFound')
NO_SERVICE = client_error(404, 'InvalidService.NotFound')
SERVICE = {'ServiceName': 'svc', 'Status': 'Running'}
STRATEGY = [{'metric_name': 'qps', 'threshold': 10}]


def autoscaler(minimum=1, maximum=2, threshold=10.0, name='QPS', down=300):
    return {
        'MinReplica': minimum,
        'MaxReplica': maximum,
        'ScaleStrategies': [{'metricName': name, 'threshold': threshold}],
        'Behavior': {
            'scaleUp': {'stabilizationWindowSeconds': 0},
            'scaleDown': {'stabilizationWindowSeconds': down},
            'onZero': {'scaleDownGracePeriodSeconds': 600, 'scaleUpActivationReplicas': 1},
        },
        'CurrentMetrics': [{'metricName': name, 'service': 'svc', 'value': 1.5}],
        'ServiceName': 'svc',
    }


def cron(*jobs, exclude=None):
    return {
        'ScaleJobs': [
            {'Name': n, 'Schedule': s, 'TargetSize': t, 'State': 'Submitted', 'CreateTime': '2026-01-01T00:00:00Z'}
            for n, s, t in jobs
        ],
        'ExcludeDates': exclude or [],
        'ServiceName': 'svc',
    }


def run(capsys, module, sdk, check_mode=False, **args):
    args = dict(
        dict(
            region='cn-hangzhou',
            endpoint='http://127.0.0.1:1',
            access_key_id='ak',
            access_key_secret='sk',
            name='svc',
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


def test_autoscaler_is_created_with_the_sdk_models(capsys):
    sdk = FakeSDK(
        {
            'describe_service_auto_scaler': [NO_SCALER, autoscaler(1, 2, 10.0)],
            'describe_service': [SERVICE],
            'create_service_auto_scaler': [{'Message': 'ok'}],
        }
    )
    result = run(
        capsys,
        eas_service_autoscaler,
        sdk,
        min=1,
        max=2,
        scale_strategies=STRATEGY,
        behavior={'scale_down': {'stabilization_window_seconds': 300}},
    )
    assert result['changed'] is True and result['actions'] == ['CreateServiceAutoScaler']
    region, name, request = sdk.calls[2][1]
    assert (region, name) == ('cn-hangzhou', 'svc')
    assert request.to_map() == {
        'min': 1,
        'max': 2,
        'scaleStrategies': [{'metricName': 'qps', 'threshold': 10.0}],
        'behavior': {'scaleDown': {'stabilizationWindowSeconds': 300}},
    }
    assert result['autoscaler']['min'] == 1 and result['autoscaler']['current_metrics'][0]['value'] == 1.5
    assert result['diff']['before'] == {'state': 'absent'}
    assert result['diff']['after']['max'] == 2


def test_autoscaler_as_desired_changes_nothing(capsys):
    # the API echoes the metric name in upper case and adds the behavior defaults
    sdk = FakeSDK({'describe_service_auto_scaler': [autoscaler(1, 2, 10.0, 'QPS')]})
    result = run(
        capsys,
        eas_service_autoscaler,
        sdk,
        min=1,
        max=2,
        scale_strategies=[{'metric_name': 'qps', 'threshold': 10}],
        behavior={'scale_down': {'stabilization_window_seconds': 300}},
    )
    assert result['changed'] is False and sdk.names() == ['describe_service_auto_scaler']


@pytest.mark.parametrize(
    'args, why',
    [
        (dict(min=1, max=3, scale_strategies=STRATEGY), 'max'),
        (dict(min=1, max=2, scale_strategies=[{'metric_name': 'qps', 'threshold': 20}]), 'threshold'),
        (dict(min=1, max=2, scale_strategies=[{'metric_name': 'cpu', 'threshold': 10}]), 'metric'),
        (dict(min=1, max=2, scale_strategies=STRATEGY + [{'metric_name': 'cpu', 'threshold': 80}]), 'one more'),
        (
            dict(
                min=1, max=2, scale_strategies=STRATEGY, behavior={'scale_down': {'stabilization_window_seconds': 60}}
            ),
            'behavior',
        ),
    ],
)
def test_autoscaler_difference_is_one_update(capsys, args, why):
    sdk = FakeSDK(
        {
            'describe_service_auto_scaler': [autoscaler(1, 2, 10.0), autoscaler(1, 3, 10.0)],
            'update_service_auto_scaler': [{'Message': 'ok'}],
        }
    )
    result = run(capsys, eas_service_autoscaler, sdk, **args)
    assert result['actions'] == ['UpdateServiceAutoScaler'], why
    assert 'update_service_auto_scaler' in sdk.names()


def test_autoscaler_check_mode_sends_nothing(capsys):
    sdk = FakeSDK({'describe_service_auto_scaler': [autoscaler(1, 2)]})
    result = run(capsys, eas_service_autoscaler, sdk, check_mode=True, min=1, max=4, scale_strategies=STRATEGY)
    assert result['changed'] is True and result['actions'] == ['UpdateServiceAutoScaler']
    assert sdk.names() == ['describe_service_auto_scaler']
    assert result['diff']['before']['max'] == 2 and result['diff']['after']['max'] == 4


def test_autoscaler_absent(capsys):
    sdk = FakeSDK({'describe_service_auto_scaler': [autoscaler()], 'delete_service_auto_scaler': [{'Message': 'ok'}]})
    result = run(capsys, eas_service_autoscaler, sdk, state='absent')
    assert result['actions'] == ['DeleteServiceAutoScaler'] and result['autoscaler'] == {}
    sdk = FakeSDK({'describe_service_auto_scaler': [NO_SCALER], 'describe_service': [SERVICE]})
    result = run(capsys, eas_service_autoscaler, sdk, state='absent')
    assert result['changed'] is False
    sdk = FakeSDK({'describe_service_auto_scaler': [NO_SCALER], 'describe_service': [NO_SERVICE]})
    assert run(capsys, eas_service_autoscaler, sdk, state='absent')['changed'] is False


def test_autoscaler_of_a_missing_service_is_an_error(capsys):
    sdk = FakeSDK({'describe_service_auto_scaler': [NO_SCALER], 'describe_service': [NO_SERVICE]})
    result = run(capsys, eas_service_autoscaler, sdk, min=1, max=2, scale_strategies=STRATEGY)
    assert result['failed'] is True and 'does not exist' in result['msg'] and 'eas_service' in result['msg']


def test_an_empty_describe_answer_means_no_autoscaler(capsys):
    sdk = FakeSDK(
        {
            'describe_service_auto_scaler': [{'ServiceName': 'svc', 'ScaleStrategies': []}, autoscaler()],
            'describe_service': [SERVICE],
            'create_service_auto_scaler': [{'Message': 'ok'}],
        }
    )
    result = run(capsys, eas_service_autoscaler, sdk, min=1, max=2, scale_strategies=STRATEGY)
    assert result['actions'] == ['CreateServiceAutoScaler']


@pytest.mark.parametrize(
    'args, text',
    [
        (dict(min=3, max=2, scale_strategies=STRATEGY), 'above max'),
        (dict(min=2, max=2, scale_strategies=STRATEGY), 'greater than min'),
        (dict(min=-1, max=2, scale_strategies=STRATEGY), 'min must be 0 or more'),
        (dict(min=1, max=2, scale_strategies=[]), 'at least one metric'),
        (dict(min=1, max=2, scale_strategies=[{'metric_name': 'qps', 'threshold': 0}]), 'above 0'),
        (dict(min=1, max=2), 'scale_strategies'),
    ],
)
def test_autoscaler_bad_input_is_refused_before_any_call(capsys, args, text):
    sdk = FakeSDK({})
    result = run(capsys, eas_service_autoscaler, sdk, **args)
    assert result['failed'] is True and text in result['msg'] and sdk.calls == []


def test_cron_scaler_is_created_and_then_unchanged(capsys):
    jobs = [
        {'name': 'day', 'schedule': '0 0 8 * * *', 'target_size': 2, 'time_zone': 'Asia/Shanghai'},
        {'name': 'night', 'schedule': '0 0 20 * * *', 'target_size': 1},
    ]
    sdk = FakeSDK(
        {
            'describe_service_cron_scaler': [
                client_error(404, 'InvalidCronScaler.NotFound'),
                cron(('day', '0 0 8 * * *', 2), ('night', '0 0 20 * * *', 1)),
            ],
            'describe_service': [SERVICE],
            'create_service_cron_scaler': [{'Message': 'ok'}],
        }
    )
    result = run(capsys, eas_service_cron_scaler, sdk, scale_jobs=jobs)
    assert result['actions'] == ['CreateServiceCronScaler']
    request = sdk.calls[2][1][2]
    assert request.to_map() == {
        'ExcludeDates': [],
        'ScaleJobs': [
            {'Name': 'day', 'Schedule': '0 0 8 * * *', 'TargetSize': 2, 'TimeZone': 'Asia/Shanghai'},
            {'Name': 'night', 'Schedule': '0 0 20 * * *', 'TargetSize': 1},
        ],
    }
    assert [j['name'] for j in result['cron_scaler']['scale_jobs']] == ['day', 'night']
    # the API does not return the time zone: it is not compared
    sdk = FakeSDK({'describe_service_cron_scaler': [cron(('day', '0 0 8 * * *', 2), ('night', '0 0 20 * * *', 1))]})
    jobs[0]['time_zone'] = 'UTC'
    result = run(capsys, eas_service_cron_scaler, sdk, scale_jobs=jobs)
    assert result['changed'] is False and sdk.names() == ['describe_service_cron_scaler']


def test_cron_scaler_update_and_check_mode(capsys):
    current = cron(('day', '0 0 8 * * *', 2))
    sdk = FakeSDK({'describe_service_cron_scaler': [current]})
    jobs = [{'name': 'day', 'schedule': '0 0 9 * * *', 'target_size': 2}]
    result = run(capsys, eas_service_cron_scaler, sdk, check_mode=True, scale_jobs=jobs)
    assert result['actions'] == ['UpdateServiceCronScaler'] and sdk.names() == ['describe_service_cron_scaler']
    assert result['diff']['before']['scale_jobs'][0]['schedule'] == '0 0 8 * * *'
    sdk = FakeSDK({'describe_service_cron_scaler': [current], 'update_service_cron_scaler': [{'Message': 'ok'}]})
    result = run(capsys, eas_service_cron_scaler, sdk, scale_jobs=jobs, exclude_dates=['* * * 1 10 *'])
    assert result['actions'] == ['UpdateServiceCronScaler']
    assert sdk.calls[1][1][2].to_map()['ExcludeDates'] == ['* * * 1 10 *']


def test_cron_scaler_absent_and_bad_input(capsys):
    sdk = FakeSDK({'describe_service_cron_scaler': [cron(('day', '0 8 * * *', 2))], 'delete_service_cron_scaler': [{}]})
    assert run(capsys, eas_service_cron_scaler, sdk, state='absent')['actions'] == ['DeleteServiceCronScaler']
    sdk = FakeSDK({})
    result = run(
        capsys,
        eas_service_cron_scaler,
        sdk,
        scale_jobs=[
            {'name': 'a', 'schedule': 'daily', 'target_size': 1},
            {'name': 'a', 'schedule': '* * * * *', 'target_size': -1},
        ],
    )
    assert result['failed'] is True and sdk.calls == []
    assert 'unique' in result['msg'] and '5 or 6 fields' in result['msg'] and '0 or more' in result['msg']


def test_client_refuses_scaler_writes_in_check_mode():
    client = eas_client.EASClient(FakeSDK({}), 'cn-hangzhou', check_mode=True)
    with pytest.raises(eas_client.EASError) as err:
        client.delete_service_autoscaler('svc')
    assert err.value.code == 'CheckMode'
