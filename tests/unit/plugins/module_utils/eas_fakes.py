# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the EAS unit tests: a fake SDK client at the SDK boundary and real SDK exceptions."""

from __future__ import annotations

from types import SimpleNamespace

from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from Tea.exceptions import UnretryableException


def response(body):
    """A typed-SDK-like response: ``.body.to_map()`` gives the JSON body."""
    return SimpleNamespace(body=SimpleNamespace(to_map=lambda: body), status_code=200, headers={})


def client_error(status, code, message='boom', request_id='REQ-1'):
    data = {'Code': code, 'Message': message, 'RequestId': request_id, 'statusCode': status}
    return ClientException(
        status_code=status,
        code=code,
        message='code: %s, %s request id: %s' % (status, message, request_id),
        request_id=request_id,
        data=data,
    )


def server_error(status=503, code='ServiceUnavailable', message='try later', request_id='REQ-5'):
    data = {'Code': code, 'Message': message, 'RequestId': request_id, 'statusCode': status}
    return ServerException(
        status_code=status,
        code=code,
        message='code: %s, %s request id: %s' % (status, message, request_id),
        request_id=request_id,
        data=data,
    )


def throttling_error(code='Throttling.User', retry_after=None):
    data = {
        'Code': code,
        'Message': 'Request was denied due to user flow control.',
        'RequestId': 'REQ-T',
        'statusCode': 400,
    }
    if retry_after:
        return ThrottlingException(
            status_code=400,
            code=code,
            message='code: 400, flow control request id: REQ-T',
            request_id='REQ-T',
            data=data,
            retry_after=retry_after,
        )
    return ClientException(
        status_code=400, code=code, message='code: 400, flow control request id: REQ-T', request_id='REQ-T', data=data
    )


def network_error():
    return UnretryableException(None, ConnectionRefusedError(111, 'Connection refused'))


class FakeSDK:
    """Stands in for ``alibabacloud_eas20210701.client.Client``; records calls, replays scripted answers.

    ``script[method]`` is a list of bodies (dict) or exceptions consumed in order; the last one repeats.
    """

    MUTATING = (
        'create_service',
        'update_service',
        'scale_service',
        'start_service',
        'stop_service',
        'restart_service',
        'delete_service',
        'create_resource',
        'update_resource',
        'delete_resource',
        'create_resource_instances',
        'delete_resource_instances',
    )

    def __init__(self, script=None):
        self.script = dict(script or {})
        self.calls = []

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)

        def method(*args):
            self.calls.append((name, args))
            answers = self.script.get(name)
            if answers is None:
                raise AssertionError('unexpected SDK call %s%r' % (name, args))
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if callable(answer) and not isinstance(answer, dict):
                answer = answer(*args)
            if isinstance(answer, Exception):
                raise answer
            return response(answer)

        return method

    def names(self):
        return [c[0] for c in self.calls]

    def mutating_calls(self):
        return [c for c in self.names() if c in self.MUTATING]
