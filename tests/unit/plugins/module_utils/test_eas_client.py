# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the EAS connection, client, compare and service-config helpers at the SDK boundary."""

from __future__ import annotations

import json

import pytest

from alibabacloud_eas20210701 import models as eas_models

from ansible_collections.llmops.eas_stack.plugins.module_utils import eas_connection as eas
from ansible_collections.llmops.eas_stack.plugins.module_utils.compare import config_difference, is_subset
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import (
    EASClient,
    EASError,
    build_client,
    from_tea_exception,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_connection import (
    EASConfigError,
    build_sdk_config,
    parse_endpoint,
    resolve_credentials,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import (
    config_secret_values,
    endpoint_url,
    scrub,
    service_result,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import RetryPolicy
from ansible_collections.llmops.eas_stack.tests.unit.plugins.module_utils.eas_fakes import (
    FakeSDK,
    client_error,
    network_error,
    server_error,
    throttling_error,
)


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def make_client(script, **retry):
    sleeps = Sleeps()
    policy = RetryPolicy(sleep=sleeps, rand=lambda a, b: b, **retry)
    sdk = FakeSDK(script)
    return EASClient(sdk, 'cn-hangzhou', retry=policy), sdk, sleeps


# -- endpoint ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'endpoint, expected',
    [
        (None, ('pai-eas.cn-hangzhou.aliyuncs.com', 'https')),
        ('', ('pai-eas.cn-hangzhou.aliyuncs.com', 'https')),
        ('pai-eas-manage-vpc.cn-hangzhou.aliyuncs.com', ('pai-eas-manage-vpc.cn-hangzhou.aliyuncs.com', 'https')),
        ('127.0.0.1:18080', ('127.0.0.1:18080', 'https')),
        ('http://127.0.0.1:18080', ('127.0.0.1:18080', 'http')),
        ('http://127.0.0.1:18080/', ('127.0.0.1:18080', 'http')),
        ('HTTPS://pai-eas.eu-west-1.aliyuncs.com', ('pai-eas.eu-west-1.aliyuncs.com', 'https')),
    ],
)
def test_parse_endpoint(endpoint, expected):
    assert parse_endpoint(endpoint, 'cn-hangzhou') == expected


def test_default_endpoint_is_never_the_sdk_fallback():
    host, dummy = parse_endpoint(None, 'eu-west-1')
    assert host == 'pai-eas.eu-west-1.aliyuncs.com'


@pytest.mark.parametrize('endpoint', ['ftp://x', 'http://host/api', 'host/path', 'http://'])
def test_parse_endpoint_rejects_bad_values(endpoint):
    with pytest.raises(EASConfigError):
        parse_endpoint(endpoint, 'cn-hangzhou')


def test_build_client_passes_endpoint_and_protocol_to_the_sdk_config():
    seen = {}

    def factory(config):
        seen['config'] = config
        return FakeSDK()

    client = build_client(
        dict(region='cn-hangzhou', endpoint='http://127.0.0.1:18080', access_key_id='ak', access_key_secret='sk'),
        sdk_factory=factory,
    )
    config = seen['config']
    assert (config.endpoint, config.protocol, config.region_id) == ('127.0.0.1:18080', 'http', 'cn-hangzhou')
    assert (config.access_key_id, config.access_key_secret) == ('ak', 'sk')
    assert client.region == 'cn-hangzhou'


def test_region_is_required_with_a_message_naming_the_env_vars():
    with pytest.raises(EASConfigError) as exc:
        build_sdk_config(dict(region=None, access_key_id='a', access_key_secret='b'))
    assert 'ALIBABA_CLOUD_REGION_ID' in str(exc.value) and 'ALICLOUD_REGION' in str(exc.value)


# -- credentials -------------------------------------------------------------------------------------------------


def _spec_params(monkeypatch, env, **options):
    """Resolve the common argument spec like AnsibleModule does (env_fallback included)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    for key in list(eas.REGION_ENV + eas.ACCESS_KEY_ID_ENV + eas.ACCESS_KEY_SECRET_ENV + eas.SECURITY_TOKEN_ENV):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = ArgumentSpecValidator(eas.eas_argument_spec()).validate(options)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def test_credentials_options_win_over_environment(monkeypatch):
    params = _spec_params(
        monkeypatch,
        {
            'ALIBABA_CLOUD_ACCESS_KEY_ID': 'env-ak',
            'ALIBABA_CLOUD_ACCESS_KEY_SECRET': 'env-sk',
            'ALICLOUD_ACCESS_KEY': 'old-ak',
            'ALICLOUD_SECRET_KEY': 'old-sk',
        },
        access_key_id='opt-ak',
        access_key_secret='opt-sk',
    )
    assert resolve_credentials(params) == dict(access_key_id='opt-ak', access_key_secret='opt-sk')


def test_credentials_alibaba_cloud_env_wins_over_alicloud_env(monkeypatch):
    params = _spec_params(
        monkeypatch,
        {
            'ALIBABA_CLOUD_ACCESS_KEY_ID': 'env-ak',
            'ALIBABA_CLOUD_ACCESS_KEY_SECRET': 'env-sk',
            'ALIBABA_CLOUD_SECURITY_TOKEN': 'env-sts',
            'ALICLOUD_ACCESS_KEY': 'old-ak',
            'ALICLOUD_SECRET_KEY': 'old-sk',
        },
    )
    assert resolve_credentials(params) == dict(
        access_key_id='env-ak', access_key_secret='env-sk', security_token='env-sts'
    )


@pytest.mark.parametrize('id_var', ['ALICLOUD_ACCESS_KEY', 'ALICLOUD_ACCESS_KEY_ID'])
def test_credentials_older_alicloud_env_names(monkeypatch, id_var):
    params = _spec_params(
        monkeypatch, {id_var: 'old-ak', 'ALICLOUD_SECRET_KEY': 'old-sk', 'ALICLOUD_REGION': 'cn-beijing'}
    )
    assert resolve_credentials(params) == dict(access_key_id='old-ak', access_key_secret='old-sk')
    assert params['region'] == 'cn-beijing'


def test_credentials_fall_back_to_the_default_chain(monkeypatch):
    params = _spec_params(monkeypatch, {})

    class Chain:
        def get_credential(self):
            return type('Cred', (), {'access_key_id': 'chain-ak', 'bearer_token': None})()

    result = resolve_credentials(params, credential_client_factory=Chain)
    assert set(result) == {'credential'} and isinstance(result['credential'], Chain)


def test_no_credentials_anywhere_names_all_three_sources(monkeypatch):
    params = _spec_params(monkeypatch, {})

    class EmptyChain:
        def get_credential(self):
            raise eas.CredentialException('unable to load credentials from any of the providers in the chain')

    with pytest.raises(EASConfigError) as exc:
        resolve_credentials(params, credential_client_factory=EmptyChain)
    text = str(exc.value)
    assert 'access_key_id' in text and 'ALIBABA_CLOUD_ACCESS_KEY_ID' in text and 'ALICLOUD_ACCESS_KEY' in text
    assert 'default chain' in text


def test_half_a_key_pair_is_an_error(monkeypatch):
    params = _spec_params(monkeypatch, {}, access_key_id='only-ak')
    with pytest.raises(EASConfigError, match='access_key_secret is missing'):
        resolve_credentials(params)


def test_secret_options_are_no_log():
    spec = eas.eas_argument_spec()
    assert spec['access_key_secret']['no_log'] is True and spec['security_token']['no_log'] is True
    assert spec['access_key_id']['no_log'] is False


# -- errors ------------------------------------------------------------------------------------------------------


def test_error_format_has_code_status_message_and_request_id():
    err = from_tea_exception(
        client_error(404, 'InvalidService.NotFound', 'Service svc not found', 'ABC-123'), 'describe service svc'
    )
    assert (
        str(err)
        == 'describe service svc failed: InvalidService.NotFound (HTTP 404): Service svc not found [request id: ABC-123]'
    )
    assert err.not_found and not err.retryable


@pytest.mark.parametrize(
    'exc, not_found',
    [
        (client_error(404, 'InvalidService.NotFound'), True),
        (client_error(400, 'InvalidResource.NotFound'), True),
        (client_error(404, 'Whatever'), True),
        (client_error(400, 'InvalidParameter'), False),
        (client_error(403, 'Forbidden.PrivilegeCheckFailed'), False),
    ],
)
def test_not_found_mapping(exc, not_found):
    assert from_tea_exception(exc).not_found is not_found


def test_network_error_is_formatted_and_retryable():
    err = from_tea_exception(network_error(), 'list services')
    assert err.retryable and err.code == 'NetworkError' and 'Connection refused' in str(err)


def test_describe_service_maps_not_found_to_none():
    client, sdk, dummy = make_client({'describe_service': [client_error(404, 'InvalidService.NotFound')]})
    assert client.describe_service('svc') is None
    name, args = sdk.calls[0]
    assert name == 'describe_service' and args[:2] == ('cn-hangzhou', 'svc')
    assert isinstance(args[2], eas_models.DescribeServiceRequest)


def test_other_client_errors_are_raised_not_retried():
    client, sdk, sleeps = make_client({'describe_service': [client_error(403, 'Forbidden.PrivilegeCheckFailed')]})
    with pytest.raises(EASError) as exc:
        client.describe_service('svc')
    assert exc.value.code == 'Forbidden.PrivilegeCheckFailed'
    assert len(sdk.calls) == 1 and sleeps == []


# -- retries -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'first',
    [
        throttling_error(),
        throttling_error('Throttling.Api'),
        throttling_error('Rejected.Throttling'),
        server_error(),
        server_error(500, 'InternalError'),
        network_error(),
    ],
)
def test_transient_errors_are_retried(first):
    client, sdk, sleeps = make_client({'describe_service': [first, first, {'ServiceName': 'svc', 'Status': 'Running'}]})
    assert client.describe_service('svc')['Status'] == 'Running'
    assert len(sdk.calls) == 3
    assert sleeps == [1.0, 2.0]  # exponential, top of the jitter window (rand patched to the upper bound)


def test_backoff_is_jittered_capped_and_honours_retry_after():
    policy = RetryPolicy(max_delay=20.0, rand=lambda a, b: a)
    assert [policy.delay(n) for n in (1, 2, 3, 6, 9)] == [0.5, 1.0, 2.0, 10.0, 10.0]
    assert policy.delay(1, hint_ms=5000) == 5.0
    assert policy.delay(1, hint_ms=600000) == 20.0


def test_throttling_retry_after_hint_is_used():
    client, dummy, sleeps = make_client(
        {'list_services': [throttling_error(retry_after=3000), {'Services': [], 'TotalCount': 0}]}
    )
    assert client.list_services() == []
    assert sleeps == [3.0]


def test_retries_give_up_after_max_retries():
    client, sdk, sleeps = make_client({'describe_service': [server_error()]}, max_retries=3)
    with pytest.raises(EASError, match='gave up after 3 retries'):
        client.describe_service('svc')
    assert len(sdk.calls) == 4 and len(sleeps) == 3


def test_retry_budget_is_shared_by_all_calls_of_a_run():
    client, sdk, dummy = make_client({'describe_service': [throttling_error()]}, max_retries=5, budget=4)
    with pytest.raises(EASError, match='retry budget'):
        client.describe_service('a')
    assert len(sdk.calls) == 5
    with pytest.raises(EASError, match='retry budget'):
        client.describe_service('b')
    assert len(sdk.calls) == 6  # no retry left for the second call


def test_create_is_retried_on_throttling_but_not_on_5xx():
    client, sdk, dummy = make_client(
        {'create_service': [throttling_error(), {'ServiceName': 'svc', 'Status': 'Creating'}]}
    )
    assert client.create_service({'metadata': {'name': 'svc'}})['Status'] == 'Creating'
    assert len(sdk.calls) == 2
    client, sdk, dummy = make_client({'create_service': [server_error(), {'ServiceName': 'svc'}]})
    with pytest.raises(EASError):
        client.create_service({'metadata': {'name': 'svc'}})
    assert len(sdk.calls) == 1


def test_check_mode_client_refuses_mutating_calls():
    client, sdk, dummy = make_client({'delete_service': [{}]})
    client.check_mode = True
    with pytest.raises(EASError, match='check mode'):
        client.delete_service('svc')
    assert sdk.calls == []


def test_paging_reads_all_pages():
    page1 = {'Services': [{'ServiceName': 's%d' % i} for i in range(100)], 'TotalCount': 150}
    page2 = {'Services': [{'ServiceName': 's%d' % i} for i in range(100, 150)], 'TotalCount': 150}
    client, sdk, dummy = make_client({'list_services': [page1, page2]})
    assert len(client.list_services(resource_id='eas-r-1')) == 150
    requests = [args[0] for dummy, args in sdk.calls]
    assert [r.page_number for r in requests] == [1, 2] and requests[0].resource_id == 'eas-r-1'


def test_create_and_update_send_the_config_as_json():
    client, sdk, dummy = make_client({'create_service': [{'ServiceName': 'svc'}], 'update_service': [{}]})
    client.create_service({'metadata': {'name': 'svc', 'instance': 1}}, workspace_id='42')
    client.update_service('svc', {'metadata': {'cpu': 7}}, update_type='replace')
    create_req = sdk.calls[0][1][0]
    assert (
        json.loads(create_req.body) == {'metadata': {'name': 'svc', 'instance': 1}} and create_req.workspace_id == '42'
    )
    update_args = sdk.calls[1][1]
    assert update_args[:2] == ('cn-hangzhou', 'svc') and json.loads(update_args[2].body) == {'metadata': {'cpu': 7}}
    assert update_args[2].update_type == 'replace'


# -- compare -----------------------------------------------------------------------------------------------------

CURRENT = {
    'metadata': {
        'name': 'svc',
        'instance': 1,
        'cpu': 7,
        'memory': 28000,
        'gpu': 1,
        'resource': 'eas-r-1',
        'rolling_strategy': {'max_unavailable': 1},
        'server_added': 'x',
    },
    'containers': [{'image': 'vllm:1', 'port': 8000, 'script': 'vllm serve', 'env': [{'name': 'A', 'value': '1'}]}],
    'storage': [{'mount_path': '/model_dir', 'oss': {'path': 'oss://b/m/', 'readOnly': True}}],
}


def test_subset_ignores_keys_the_server_adds():
    desired = {'metadata': {'instance': 1, 'cpu': 7.0}, 'containers': [{'image': 'vllm:1', 'port': 8000}]}
    assert is_subset(desired, CURRENT)
    assert config_difference(desired, CURRENT) is None


def test_nested_change_yields_only_the_difference():
    desired = {
        'metadata': {'instance': 1, 'cpu': 6},
        'storage': [{'mount_path': '/model_dir', 'oss': {'path': 'oss://b/m/'}}],
    }
    assert not is_subset(desired, CURRENT)
    assert config_difference(desired, CURRENT) == {'metadata': {'cpu': 6}}


def test_list_changes_are_sent_whole():
    desired = {'containers': [{'image': 'vllm:2', 'port': 8000}]}
    assert config_difference(desired, CURRENT) == {'containers': [{'image': 'vllm:2', 'port': 8000}]}
    # a list of different length differs, even when each element would match
    assert not is_subset({'storage': []}, CURRENT)
    assert not is_subset({'containers': [{'image': 'vllm:1'}, {'image': 'sidecar'}]}, CURRENT)


def test_scalar_types_are_not_confused():
    assert not is_subset({'a': True}, {'a': 1})
    assert not is_subset({'a': 1}, {'a': True})
    assert not is_subset({'a': '1'}, {'a': 2})
    assert not is_subset({'a': 'vllm'}, {'a': 1})
    assert is_subset({'a': 1}, {'a': 1.0})
    assert not is_subset({'a': {'b': 1}}, {'a': 'b'})
    assert config_difference({'new': {'k': 'v'}}, CURRENT) == {'new': {'k': 'v'}}


@pytest.mark.parametrize(
    'desired, echoed',
    [
        (1, '1'),
        ('1', 1),
        (7, '7.0'),
        (0.9, '0.9'),
        (28000, ' 28000 '),
        (True, 'true'),
        (False, 'False'),
        ('true', True),
    ],
)
def test_numbers_and_booleans_echoed_as_strings_are_equal(desired, echoed):
    # a server that echoes numbers/booleans as strings must not cause an UpdateService on every run
    current = {'metadata': {'instance': 1, 'x': echoed}}
    assert is_subset({'metadata': {'x': desired}}, current)
    assert config_difference({'metadata': {'x': desired, 'instance': '1'}}, current) is None


@pytest.mark.parametrize(
    'desired, echoed', [(2, '1'), (True, 'false'), ('false', True), (1, 'yes'), ('1', '1.0'), (1, [1])]
)
def test_really_different_scalars_still_differ(desired, echoed):
    assert config_difference({'x': desired}, {'x': echoed}) == {'x': desired}


def test_endpoints_are_returned_with_https_unless_disabled():
    service = {
        'ServiceName': 'svc',
        'InternetEndpoint': 'http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc',
        'IntranetEndpoint': 'HTTP://1.vpc.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc',
    }
    result = service_result(service)
    assert result['internet_endpoint'] == 'https://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/svc'
    assert result['intranet_endpoint'] == service['IntranetEndpoint']
    assert service_result(service, https_intranet=True)['intranet_endpoint'].startswith('https://1.vpc.')
    assert service_result(service, https=False)['internet_endpoint'] == service['InternetEndpoint']
    assert endpoint_url('https://already/x') == 'https://already/x'
    assert endpoint_url(None) is None


SECRET_CONFIG = {
    'dockerAuth': 'dXNlcjpkb2NrZXItcGFzcw==',
    'containers': [
        {
            'image': 'vllm:1',
            'env': [
                {'name': 'HF_TOKEN', 'value': 'hf_abcdef'},
                {'name': 'OPENAI_API_KEY', 'value': 'sk-123456'},
                {'name': 'db_Password', 'value': 'pw-0000'},
                {'name': 'AUTH_ENABLED', 'value': '1'},
                {'name': 'MODEL', 'value': 'DeepSeek'},
            ],
        },
        {'image': 'side', 'env': {'AWS_SECRET_ACCESS_KEY': 'aws-secret', 'PORT': '8000'}},
    ],
}


def test_secret_values_of_a_config():
    assert config_secret_values(SECRET_CONFIG) == {
        'dXNlcjpkb2NrZXItcGFzcw==',
        'hf_abcdef',
        'sk-123456',
        'pw-0000',
        'aws-secret',
    }
    assert config_secret_values(None) == set()
    assert config_secret_values({'containers': 'bad', 'dockerAuth': {'user': 'someone', 'password': 'pw-1234'}}) == {
        'someone',
        'pw-1234',
    }


def test_scrub_masks_docker_auth_and_secret_env_without_touching_the_input():
    out = scrub(SECRET_CONFIG)
    text = json.dumps(out)
    for secret in ('dXNlcjpkb2NrZXItcGFzcw==', 'hf_abcdef', 'sk-123456', 'pw-0000', 'aws-secret'):
        assert secret not in text
    assert out['containers'][0]['env'][4] == {'name': 'MODEL', 'value': 'DeepSeek'}
    assert out['containers'][1]['env']['PORT'] == '8000'
    assert SECRET_CONFIG['containers'][0]['env'][0]['value'] == 'hf_abcdef'


def test_an_html_error_page_is_named_and_retried():
    from Tea.exceptions import UnretryableException

    page = 'Failed to parse the value as json format, Value: "<html><body><h1>503 Service Temporarily Unavailable</h1>"'
    err = from_tea_exception(UnretryableException(None, RuntimeError(page)), 'describe service svc')
    assert err.retryable and err.code == 'NotTheEASAPI'
    assert 'not the EAS API' in str(err) and '503 Service Temporarily Unavailable' in str(err)
    assert 'Failed to parse' not in str(err)


def test_an_unresolvable_endpoint_is_not_retried():
    from Tea.exceptions import UnretryableException

    inner = OSError("HTTPSConnectionPool: Failed to resolve 'nohost' ([Errno -2] Name or service not known)")
    err = from_tea_exception(UnretryableException(None, inner), 'describe service svc')
    assert not err.retryable and err.code == 'EndpointNotFound' and 'eas_endpoint' in str(err)


@pytest.mark.parametrize('endpoint', ['not a host', 'http://bad host:1', 'pai-eas.cn-hangzhou.aliyuncs.com;rm'])
def test_garbage_endpoints_are_refused_before_any_call(endpoint):
    with pytest.raises(EASConfigError, match='is not a host name'):
        parse_endpoint(endpoint, 'cn-hangzhou')


@pytest.mark.parametrize('region', ['hangzhou', 'CN_HANGZHOU', 'cn-hangzhou '])
def test_regions_are_region_ids(region):
    with pytest.raises(EASConfigError, match='not a region id'):
        build_sdk_config(dict(region=region, access_key_id='a', access_key_secret='b'))


def test_one_sdk_requirement_for_the_modules_the_docs_and_requirements_txt():
    from pathlib import Path

    from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_connection import SDK_REQUIREMENT

    root = Path(__file__).resolve().parents[4]
    lines = [line.split('#')[0].strip() for line in (root / 'requirements.txt').read_text().splitlines()]
    assert SDK_REQUIREMENT in lines
    floor = SDK_REQUIREMENT.split('>=')[1].split(',')[0]
    fragment = (root / 'plugins' / 'doc_fragments' / 'eas.py').read_text()
    assert 'alibabacloud-eas20210701 >= %s, < 7' % floor in fragment
