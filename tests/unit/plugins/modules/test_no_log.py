# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every secret option of every module is no_log, and its value never reaches the module's output.

The masking must not depend on ansible-core echoing the module's inputs (``invocation.module_args``, which later
versions return only on request): each module runs with the echo on and off against a server that sends the secret it
received straight back in an error, and the output is searched for the secret.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.error import HTTPError

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.llmops.eas_stack.plugins import modules as modules_package
from ansible_collections.llmops.eas_stack.plugins.module_utils import oneapi_client
from ansible_collections.llmops.eas_stack.plugins.module_utils.module_base import ModuleRunner
from ansible_collections.llmops.eas_stack.tests.unit.plugins.modules.test_oneapi_modules import FakeOneApi

EAS_SECRETS = {'access_key_secret', 'security_token'}
ONEAPI_SECRETS = {'password', 'access_token'}

# The options that carry a secret, per module. A new module or option is added here on purpose.
SECRET_OPTIONS = {
    'eas_machine_spec_info': EAS_SECRETS,
    'eas_region_info': EAS_SECRETS,
    'eas_resource_group': EAS_SECRETS,
    'eas_resource_group_info': EAS_SECRETS,
    'eas_service': EAS_SECRETS,
    'eas_service_autoscaler': EAS_SECRETS,
    'eas_service_cron_scaler': EAS_SECRETS,
    'eas_service_info': EAS_SECRETS,
    'oneapi_channel': ONEAPI_SECRETS | {'key'},
    'oneapi_channel_info': ONEAPI_SECRETS,
    'oneapi_channel_test': ONEAPI_SECRETS,
    'oneapi_option': ONEAPI_SECRETS,
    'oneapi_root_password': ONEAPI_SECRETS | {'initial_password'},
    'oneapi_token': ONEAPI_SECRETS,
}
# Modules that are documentation for an action plugin (no module code runs).
ACTION_ONLY = {'run_lock'}


def runners():
    found = {}
    for info in pkgutil.iter_modules(modules_package.__path__):
        module = importlib.import_module('%s.%s' % (modules_package.__name__, info.name))
        classes = [
            c
            for c in vars(module).values()
            if isinstance(c, type) and issubclass(c, ModuleRunner) and c.__module__ == module.__name__
        ]
        found[info.name] = (module, classes[0] if classes else None)
    return found


RUNNERS = runners()


def test_every_module_is_listed():
    assert set(RUNNERS) == set(SECRET_OPTIONS) | ACTION_ONLY
    assert all(RUNNERS[name][1] is None for name in ACTION_ONLY)


@pytest.mark.parametrize('name', sorted(SECRET_OPTIONS))
def test_exactly_the_secret_options_are_no_log(name):
    spec = RUNNERS[name][1].argument_spec()
    assert {option for option, value in spec.items() if value.get('no_log')} == SECRET_OPTIONS[name]


@pytest.mark.parametrize('name', sorted(SECRET_OPTIONS))
def test_secret_values_are_registered_for_masking(name):
    """What ansible-core masks everywhere (output, logs, journal) is ``no_log_values``, echo or not."""
    spec = dict((option, dict(value, required=False)) for option, value in RUNNERS[name][1].argument_spec().items())
    values = dict((option, 'leak-%s-Zq7' % option) for option in SECRET_OPTIONS[name])
    with patch_module_args(values):
        module = basic.AnsibleModule(argument_spec=spec, supports_check_mode=True)
    assert set(values.values()) <= module.no_log_values


# -- the whole module, against a server that echoes what it receives -----------------------------------------------


@pytest.fixture(params=['echo on', 'echo off'])
def echo(request, monkeypatch):
    if request.param == 'echo off':
        original = basic.AnsibleModule._return_formatted

        def without_invocation(self, kwargs):
            kwargs.setdefault('invocation', {})
            return original(self, kwargs)

        monkeypatch.setattr(basic.AnsibleModule, '_return_formatted', without_invocation)
    return request.param


def output_of(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    return out, result


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every EAS API call with a client error whose message is the request's headers."""

    def do_any(self):
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        body = json.dumps(
            dict(Code='InvalidParameter', Message='got headers %s' % dict(self.headers.items()), RequestId='leak')
        ).encode()
        self.send_response(400)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_any

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def echo_server():
    server = ThreadingHTTPServer(('127.0.0.1', 0), EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()


EAS_ARGS = {
    'eas_machine_spec_info': {},
    'eas_region_info': dict(resource_groups=['leak_rg']),
    'eas_resource_group': dict(name='leak_rg', instance_type='ecs.gn7i-c8g1.2xlarge', instance_count=1),
    'eas_resource_group_info': dict(name='leak_rg'),
    'eas_service': dict(name='leak_svc', state='absent'),
    'eas_service_autoscaler': dict(name='leak_svc', state='absent'),
    'eas_service_cron_scaler': dict(name='leak_svc', state='absent'),
    'eas_service_info': dict(name='leak_svc'),
}


@pytest.mark.parametrize('name', sorted(EAS_ARGS))
def test_eas_secrets_never_reach_the_output(name, echo_server, echo, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('LLMOPS_LOCK_DIR', str(tmp_path))
    secret, token = 'leak-secret-Zq7', 'leak-sts-token-Zq7'
    args = dict(
        EAS_ARGS[name],
        endpoint=echo_server,
        region='cn-hangzhou',
        access_key_id='leak-ak',
        access_key_secret=secret,
        security_token=token,
    )
    out, result = output_of(RUNNERS[name][0], args, capsys)
    # The server did answer with the token it received: the failure carries its message, masked.
    assert result.get('failed') and 'got headers' in result['msg'] and '********' in result['msg']
    assert secret not in out and token not in out
    assert bool(result.get('invocation', {}).get('module_args')) == (echo == 'echo on')


class EchoingOneApi(FakeOneApi):
    """one-api as the modules' unit tests model it, except that a request carrying ``secret`` (in a header or the
    body) gets an HTTP 500 whose body is that request."""

    def __init__(self, secret, **kwargs):
        super().__init__(**kwargs)
        self.secret = secret

    def __call__(self, url, data=None, headers=None, method='GET', **kwargs):
        seen = json.dumps(dict(headers=headers or {}, body=data if isinstance(data, str) else None))
        if self.secret in seen:
            raise HTTPError(url, 500, 'echo', {}, _Body(seen))
        return super().__call__(url, data=data, headers=headers, method=method, **kwargs)


class _Body:
    def __init__(self, text):
        self.text = text.encode()

    def read(self, *args):
        return self.text

    def close(self):
        pass


ONEAPI_CASES = [
    ('oneapi_option', 'password', dict(settings=dict(RegisterEnabled=False))),
    ('oneapi_option', 'access_token', dict(settings=dict(RegisterEnabled=False))),
    ('oneapi_token', 'password', dict(name='leak')),
    ('oneapi_token', 'access_token', dict(name='leak')),
    ('oneapi_channel_info', 'password', dict(names=['leak'])),
    ('oneapi_channel_info', 'access_token', dict(prefixes=['leak'])),
    ('oneapi_channel_test', 'password', dict(name='leak')),
    ('oneapi_channel_test', 'access_token', dict(name='leak')),
    ('oneapi_channel', 'password', dict(name='leak', type=36, base_url='http://eas/', key='k-1', models=['m'])),
    ('oneapi_channel', 'access_token', dict(name='leak', type=36, base_url='http://eas/', key='k-1', models=['m'])),
    ('oneapi_channel', 'key', dict(name='leak', type=36, base_url='http://eas/', models=['m'])),
    ('oneapi_root_password', 'password', {}),
    ('oneapi_root_password', 'initial_password', {}),
]


@pytest.mark.parametrize('name,option,args', ONEAPI_CASES, ids=['%s-%s' % c[:2] for c in ONEAPI_CASES])
def test_oneapi_secrets_never_reach_the_output(name, option, args, echo, capsys):
    secret = 'leak-%s-Zq7' % option.replace('_', '-')
    fake = EchoingOneApi(secret, password='initial-pass' if option == 'initial_password' else 'new-root-pass')
    if option == 'access_token':
        fake.access_token = secret
    args = dict(args, url='http://127.0.0.1:15001', password='new-root-pass')
    args[option] = secret
    with mock.patch.object(oneapi_client, 'open_url', fake):
        out, result = output_of(RUNNERS[name][0], args, capsys)
    # The secret went out and came back in the error: the failure quotes the echo, masked.
    assert result.get('failed') and '********' in result['msg'], result
    assert secret not in out
    assert bool(result.get('invocation', {}).get('module_args')) == (echo == 'echo on')
