# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for plugins/module_utils/eas_waiter.py (fake SDK, fake clock: no real sleeping)."""

from __future__ import annotations

import io
import json
from urllib.error import HTTPError

import pytest

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASClient
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import RetryPolicy
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_group_waiter import wait_for_resource_group
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_waiter import (
    EASWaitError,
    WaitWindowElapsed,
    probe_endpoint,
    wait_for_service,
)
from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import FakeSDK, client_error


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def svc(status, running=1, total=1, **extra):
    body = {
        'ServiceName': 'svc',
        'Status': status,
        'RunningInstance': running,
        'TotalInstance': total,
        'Message': 'msg-%s' % status,
        'AccessToken': 'tok',
        'InternetEndpoint': 'http://e/api/predict/svc',
    }
    body.update(extra)
    return body


DIAG = {
    'describe_service_event': [
        {
            'Events': [
                {
                    'Type': 'Warning',
                    'Reason': 'FailedScheduling',
                    'Time': '2026-01-01 00:00:00',
                    'Message': json.dumps({'message': '0/1 nodes are available: 1 Insufficient cpu.'}),
                }
            ]
        }
    ],
    'describe_service_diagnosis': [
        {
            'DiagnosisList': [
                {
                    'Error': 'Insufficient resources',
                    'Causes': ['cpu 8 > 7 allocatable'],
                    'Advices': ['lower metadata.cpu'],
                }
            ]
        }
    ],
    'describe_service_log': [{'Logs': ['line %d' % i for i in range(30)]}],
}


def client_for(script):
    sdk = FakeSDK(script)
    return EASClient(sdk, 'cn-hangzhou', retry=RetryPolicy(sleep=lambda s: None)), sdk


def test_waits_through_transitions_with_growing_delays():
    clock = Clock()
    client, sdk = client_for(
        {'describe_service': [svc('Creating', 0), svc('Waiting', 0), svc('Running', 0), svc('Running')]}
    )
    result = wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock)
    assert result['Status'] == 'Running' and result['RunningInstance'] == 1
    assert sdk.names() == ['describe_service'] * 4
    assert clock.sleeps == [2.0, 3.0, 3.0]  # growing, capped at 3 s


def test_fails_fast_on_failed_with_the_message_and_diagnosis():
    clock = Clock()
    script = dict(
        DIAG,
        describe_service=[svc('Creating', 0), svc('Failed', 0, Message='Instance svc-0 not healthy: Instance crashed')],
    )
    client, dummy = client_for(script)
    with pytest.raises(EASWaitError) as exc:
        wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock)
    text = exc.value.message
    assert not exc.value.timed_out
    assert 'is Failed' in text and 'Instance crashed' in text
    assert 'Insufficient resources' in text and 'line 29' in text
    assert clock.now < 1010  # did not wait for the timeout


@pytest.mark.parametrize('status', ['CreateFailed', 'DeleteFailed'])
def test_other_failure_states_fail_fast(status):
    clock = Clock()
    client, dummy = client_for(dict(DIAG, describe_service=[svc(status, 0)]))
    with pytest.raises(EASWaitError, match=status):
        wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_endless_waiting_times_out_with_events_diagnosis_and_last_logs():
    clock = Clock()
    client, dummy = client_for(dict(DIAG, describe_service=[svc('Waiting', 0)]))
    with pytest.raises(EASWaitError) as exc:
        wait_for_service(client, 'svc', 'Running', 60, sleep=clock.sleep, clock=clock)
    text = exc.value.message
    assert exc.value.timed_out
    assert 'Timed out after 60s' in text and 'still Waiting' in text
    assert 'FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu.' in text
    assert 'Cause: cpu 8 > 7 allocatable' in text and 'Advice: lower metadata.cpu' in text
    assert 'line 29' in text and 'line 19' not in text  # only the last 10 log lines
    assert 60 <= clock.now - 1000 <= 61


def test_unreadable_diagnostics_do_not_hide_the_timeout():
    clock = Clock()
    err = client_error(403, 'Forbidden.NoPermission')
    client, dummy = client_for(
        {
            'describe_service': [svc('Waiting', 0)],
            'describe_service_event': [err],
            'describe_service_diagnosis': [err],
            'describe_service_log': [err],
        }
    )
    with pytest.raises(EASWaitError, match='could not be read'):
        wait_for_service(client, 'svc', 'Running', 10, sleep=clock.sleep, clock=clock)


def test_wait_for_absent_and_tolerated_invisibility_after_create():
    clock = Clock()
    gone = client_error(404, 'InvalidService.NotFound')
    client, dummy = client_for({'describe_service': [svc('Deleting'), gone]})
    assert wait_for_service(client, 'svc', 'absent', 60, sleep=clock.sleep, clock=clock) is None
    client, dummy = client_for({'describe_service': [gone, gone, svc('Running')]})
    assert wait_for_service(client, 'svc', 'Running', 60, sleep=clock.sleep, clock=clock)['Status'] == 'Running'


def test_after_an_update_the_old_running_version_is_not_enough():
    clock = Clock()
    # version 3 was running; the update makes version 4. The first polls still show the old state.
    client, sdk = client_for(
        {
            'describe_service': [
                svc('Running', CurrentVersion=3, LatestVersion=3),
                svc('Running', CurrentVersion=3, LatestVersion=4),
                svc('Updating', CurrentVersion=3, LatestVersion=4),
                svc('Running', CurrentVersion=4, LatestVersion=4),
            ]
        }
    )
    result = wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock, spec=dict(min_version=4))
    assert result['CurrentVersion'] == 4 and result['Status'] == 'Running'
    assert sdk.names() == ['describe_service'] * 4


def test_update_of_a_version_that_never_rolls_out_times_out_clearly():
    clock = Clock()
    client, dummy = client_for(dict(DIAG, describe_service=[svc('Running', CurrentVersion=3, LatestVersion=4)]))
    with pytest.raises(EASWaitError) as exc:
        wait_for_service(client, 'svc', 'settled', 120, sleep=clock.sleep, clock=clock, spec=dict(min_version=4))
    assert exc.value.timed_out and 'update to version 4 is not complete' in exc.value.message


def test_update_without_a_new_version_falls_back_to_running_after_the_grace():
    clock = Clock()
    client, dummy = client_for({'describe_service': [svc('Running', CurrentVersion=3, LatestVersion=3)]})
    wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock, spec=dict(min_version=4))
    assert 60 <= clock.now - 1000 < 80
    # a server that reports no versions at all: no extra wait
    clock = Clock()
    client, dummy = client_for({'describe_service': [svc('Running')]})
    wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock, spec=dict(min_version=4))
    assert clock.sleeps == []


def test_after_a_restart_running_counts_only_after_a_change_or_the_grace():
    clock = Clock()
    client, sdk = client_for(
        {'describe_service': [svc('Running'), svc('Running', 0), svc('Starting', 0), svc('Running')]}
    )
    wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock, spec=dict(require_change=True))
    assert sdk.names() == ['describe_service'] * 4  # not the first (old) Running
    clock = Clock()
    client, sdk = client_for({'describe_service': [svc('Running')]})
    wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock, spec=dict(require_change=True))
    assert 30 <= clock.now - 1000 < 45  # a restart that finished unseen: bounded by the grace
    clock = Clock()
    client, sdk = client_for({'describe_service': [svc('Running')]})
    wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []  # without require_change, Running is enough


def test_settled_accepts_stopped():
    clock = Clock()
    client, dummy = client_for({'describe_service': [svc('Stopping'), svc('Stopped', 0)]})
    assert wait_for_service(client, 'svc', 'settled', 60, sleep=clock.sleep, clock=clock)['Status'] == 'Stopped'


# -- endpoint probe ----------------------------------------------------------------------------------------------


class Opener:
    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, url, **kwargs):
        self.requests.append((url, kwargs))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer):
            answer = answer()
        if isinstance(answer, Exception):
            raise answer
        return type('R', (), {'getcode': lambda self: answer})()


def http_error(code, body):
    return HTTPError('http://e/api/predict/svc/v1/models', code, 'x', {}, io.BytesIO(body))


def test_probe_retries_until_200_and_sends_the_raw_token():
    clock = Clock()
    opener = Opener([http_error(503, b'no healthy upstream'), OSError('connection refused'), 200])
    assert (
        probe_endpoint('http://e/api/predict/svc/', 'sekret', 120, sleep=clock.sleep, clock=clock, opener=opener) == 3
    )
    url, kwargs = opener.requests[0]
    assert url == 'http://e/api/predict/svc/v1/models'
    assert kwargs['headers'] == {'Authorization': 'sekret'} and kwargs['method'] == 'GET'


def test_probe_timeout_reports_the_last_answer_but_never_the_token():
    clock = Clock()
    opener = Opener([lambda: http_error(401, b'invalid token')])
    with pytest.raises(EASWaitError) as exc:
        probe_endpoint('http://e/api/predict/svc', 'sekret', 20, sleep=clock.sleep, clock=clock, opener=opener)
    assert 'HTTP 401 invalid token' in exc.value.message and 'probe_endpoint=false' in exc.value.message
    assert 'sekret' not in exc.value.message


# -- resource group ----------------------------------------------------------------------------------------------


def test_resource_group_waits_for_ready_and_all_instances():
    clock = Clock()
    client, dummy = client_for(
        {
            'describe_resource': [
                {'ResourceId': 'eas-r-1', 'Status': 'Creating'},
                {'ResourceId': 'eas-r-1', 'Status': 'ResourceReady'},
            ],
            'list_resource_instances': [
                {'Instances': [{'InstanceId': 'i1', 'InstanceStatus': 'Attaching'}], 'TotalCount': 1},
                {'Instances': [{'InstanceId': 'i1', 'InstanceStatus': 'Attaching'}], 'TotalCount': 1},
                {'Instances': [{'InstanceId': 'i1', 'InstanceStatus': 'Ready'}], 'TotalCount': 1},
            ],
        }
    )
    resource, instances = wait_for_resource_group(
        client, 'eas-r-1', 600, expected_count=1, sleep=clock.sleep, clock=clock
    )
    assert resource['Status'] == 'ResourceReady' and instances[0]['InstanceStatus'] == 'Ready'


def test_resource_group_fails_fast_on_create_failed_instance():
    clock = Clock()
    client, dummy = client_for(
        {
            'describe_resource': [{'ResourceId': 'eas-r-1', 'Status': 'Creating'}],
            'list_resource_instances': [
                {'Instances': [{'InstanceId': 'i1', 'InstanceStatus': 'CreateFailed'}], 'TotalCount': 1}
            ],
        }
    )
    with pytest.raises(EASWaitError, match='out of stock'):
        wait_for_resource_group(client, 'eas-r-1', 600, expected_count=1, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


# -- outages, stopped services, scaling, windows -----------------------------------------------------------------


def test_an_api_outage_does_not_end_the_wait_and_is_reported(monkeypatch):
    from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import (
        network_error,
        server_error,
    )

    clock = Clock()
    outage = [server_error(), network_error(), server_error(503)] * 8  # about 60 s of polls that get no answer
    client, sdk = client_for({'describe_service': [svc('Starting', 0)] + outage + [svc('Running')]})
    result = wait_for_service(client, 'svc', 'Running', 1800, sleep=clock.sleep, clock=clock)
    assert result['Status'] == 'Running'
    # every poll was one attempt: no per-call retries, no retry budget spent on polls
    assert sdk.names().count('describe_service') == 2 + len(outage)


def test_an_outage_until_the_deadline_says_how_long_the_api_was_unreachable():
    from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import network_error

    clock = Clock()
    client, dummy = client_for(dict(DIAG, describe_service=[svc('Starting', 0), network_error()]))
    with pytest.raises(EASWaitError) as exc:
        wait_for_service(client, 'svc', 'Running', 60, sleep=clock.sleep, clock=clock)
    assert exc.value.timed_out
    assert 'The API did not answer for' in exc.value.message and 'network error' in exc.value.message


def test_a_non_retryable_error_ends_the_wait():
    clock = Clock()
    client, dummy = client_for({'describe_service': [svc('Starting', 0), client_error(403, 'Forbidden.RAM')]})
    with pytest.raises(Exception, match='Forbidden.RAM'):
        wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock)


def test_stopped_for_several_polls_fails_a_wait_for_running():
    clock = Clock()
    client, sdk = client_for(dict(DIAG, describe_service=[svc('Stopped', 0)]))
    with pytest.raises(EASWaitError) as exc:
        wait_for_service(client, 'svc', 'Running', 1800, sleep=clock.sleep, clock=clock)
    assert not exc.value.timed_out and 'is Stopped while waiting for it to be Running' in exc.value.message
    assert sdk.names().count('describe_service') == 3 and clock.now - 1000 < 15


def test_a_start_that_shows_stopped_for_a_poll_is_fine():
    clock = Clock()
    client, dummy = client_for({'describe_service': [svc('Stopped', 0), svc('Starting', 0), svc('Running')]})
    assert wait_for_service(client, 'svc', 'Running', 600, sleep=clock.sleep, clock=clock)['Status'] == 'Running'


def test_after_scaling_the_old_running_count_is_not_enough():
    clock = Clock()
    client, sdk = client_for(
        {'describe_service': [svc('Running', 1, 1), svc('Scaling', 1, 2), svc('Running', 1, 2), svc('Running', 2, 2)]}
    )
    result = wait_for_service(client, 'svc', 'Running', 600, spec=dict(instances=2), sleep=clock.sleep, clock=clock)
    assert result['RunningInstance'] == 2 and sdk.names().count('describe_service') == 4


def test_settled_does_not_wait_for_a_service_that_stays_waiting():
    clock = Clock()
    client, sdk = client_for({'describe_service': [svc('Waiting', 0)]})
    assert wait_for_service(client, 'svc', 'settled', 600, sleep=clock.sleep, clock=clock)['Status'] == 'Waiting'
    assert clock.sleeps == []


def test_a_window_ends_with_progress_and_the_state_the_next_window_needs():
    clock = Clock()
    # an update that the server never records as a new version: Running counts again after the 60 s grace
    script = dict(DIAG, describe_service=[svc('Running', CurrentVersion=3, LatestVersion=3)])
    client, dummy = client_for(script)
    with pytest.raises(WaitWindowElapsed) as exc:
        wait_for_service(
            client, 'svc', 'Running', 30, spec=dict(min_version=4), window=True, sleep=clock.sleep, clock=clock
        )
    assert 'service svc: Running' in exc.value.progress and 'Insufficient cpu' in exc.value.progress
    assert exc.value.state['min_version'] == 4 and exc.value.state['elapsed'] >= 30
    # the next window knows the 30 s already spent: the grace ends 30 s into it
    client, dummy = client_for(script)
    started = clock.now
    wait_for_service(client, 'svc', 'Running', 60, spec=exc.value.state, sleep=clock.sleep, clock=clock)
    assert 25 <= clock.now - started <= 40
