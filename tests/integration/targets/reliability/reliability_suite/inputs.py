# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wrong inputs: each must be refused by site.yml's pre-flight play, before any write, with a message that names the
variable and the fix (every string of ``expect`` must be in the output).

``vars`` are extra variables over a valid lab deployment; ``setup`` names what the cloud must hold first (the
emulator's stock knob, a resource group someone else created); ``root``: run through the repository's site.yml (the
lab play first) instead of playbooks/site.yml; ``extra``: more of a kind already covered, run with
RELIABILITY_INPUTS=all (each gateway case costs a full EAS pre-flight, read calls included).
"""

from __future__ import annotations

MODEL_OSS = 'modelscope/models/DeepSeek-R1-Distill-Qwen-1.5B/'

CASES = [
    # --- eas_model: region, endpoint, credentials ---
    dict(
        id='region_not_an_id',
        vars=dict(eas_region='hangzhou'),
        expect=['eas_region=hangzhou is not a region id', 'for example cn-hangzhou'],
    ),
    dict(
        id='region_uppercase_custom_endpoint',
        vars=dict(eas_region='CN_HANGZHOU', eas_endpoint='http://127.0.0.1:19090'),
        expect=['eas_region=CN_HANGZHOU is not a region id', 'lowercase id with dashes'],
    ),
    dict(
        id='endpoint_garbage',
        vars=dict(eas_endpoint='pai eas/cn-hangzhou'),
        expect=['eas_endpoint=pai eas/cn-hangzhou is not a host, host:port or http(s) URL', 'leave it empty'],
    ),
    dict(
        id='no_credentials',
        vars=dict(eas_access_key_id='', eas_access_key_secret=''),
        expect=['No Alibaba Cloud credentials', 'set eas_access_key_id and eas_access_key_secret'],
    ),
    dict(
        id='half_credentials',
        vars=dict(eas_access_key_secret=''),
        expect=['Set both eas_access_key_id and eas_access_key_secret'],
    ),
    dict(
        id='access_key_placeholder',
        vars=dict(eas_access_key_secret='CHANGE-ME'),
        expect=['eas_access_key_secret is still (or holds) the placeholder CHANGE-ME', 'ansible-vault'],
    ),
    # --- eas_model: names and counts ---
    dict(
        id='service_name_uppercase',
        vars=dict(eas_service_name='DeepSeek_R1'),
        expect=['eas_service_name=DeepSeek_R1 is not a valid EAS service name', 'lowercase letters, digits and'],
    ),
    dict(
        id='service_name_empty',
        vars=dict(eas_service_name=''),
        expect=['eas_service_name= is not a valid EAS service name', 'starting with a letter'],
    ),
    dict(
        id='service_name_dashes',
        vars=dict(eas_service_name='deepseek-r1'),
        expect=['eas_service_name=deepseek-r1 is not a valid EAS service name'],
    ),
    dict(
        id='group_name_empty',
        vars=dict(eas_resource_group_name=''),
        expect=['eas_resource_group_name must have 1 to 27 characters without spaces or slashes (got )'],
    ),
    dict(
        id='group_name_too_long',
        vars=dict(eas_resource_group_name='it-rel-in-' + 'g' * 18),
        expect=[
            'eas_resource_group_name must have 1 to 27 characters without spaces or slashes (got it-rel-in-gggggggggggggggggg)',
            '1 to 27 characters',
        ],
    ),
    dict(
        id='group_name_with_space',
        vars=dict(eas_resource_group_name='llm gpu group'),
        expect=['eas_resource_group_name must have 1 to 27 characters without spaces or slashes (got llm gpu group)'],
    ),
    dict(
        id='instance_count_zero',
        vars=dict(eas_instance_count=0),
        expect=['eas_instance_count must be at least 1', 'teardown playbook'],
    ),
    dict(
        id='service_instance_count_zero',
        vars=dict(eas_service_instance_count=0),
        expect=['eas_service_instance_count must be at least 1'],
    ),
    dict(
        id='more_instances_than_gpus',
        vars=dict(eas_service_instance_count=2),
        expect=['eas_service_instance_count=2 needs one GPU each', 'raise eas_instance_count'],
    ),
    dict(
        id='charge_type_unknown',
        vars=dict(eas_charge_type='Monthly'),
        expect=['eas_charge_type', 'PostPaid', 'PrePaid'],
    ),
    dict(
        id='wait_timeout_negative',
        root=True,
        vars=dict(eas_wait_timeout=-5),
        expect=['eas_wait_timeout must be a positive number of seconds (got -5)'],
    ),
    # --- eas_model: the model and its GPU ---
    dict(
        id='model_does_not_fit_7b_131072',
        vars=dict(eas_model='DeepSeek-R1-Distill-Qwen-7B', eas_max_model_len=131072),
        expect=[
            'eas_model=DeepSeek-R1-Distill-Qwen-7B does not fit eas_instance_type=ecs.gn7i-c8g1.2xlarge',
            'Fixes',
            'eas_max_model_len',
        ],
    ),
    dict(
        id='model_does_not_fit_14b',
        vars=dict(eas_model='DeepSeek-R1-Distill-Qwen-14B'),
        expect=['eas_model=DeepSeek-R1-Distill-Qwen-14B does not fit', 'a bigger GPU'],
    ),
    dict(
        id='model_without_preset',
        vars=dict(eas_model='Qwen-Unknown-3B'),
        expect=['eas_model=Qwen-Unknown-3B has no preset', 'eas_model_presets'],
    ),
    dict(id='max_model_len_tiny', vars=dict(eas_max_model_len=100), expect=['eas_max_model_len must be at least 256']),
    dict(
        id='gpu_memory_utilization_above_1',
        vars=dict(eas_gpu_memory_utilization=1.2),
        expect=['eas_gpu_memory_utilization must be in (0, 0.98]'],
    ),
    dict(
        id='instance_type_not_in_table',
        vars=dict(eas_instance_type='ecs.gn9-c8g1.2xlarge'),
        expect=['eas_instance_type=ecs.gn9-c8g1.2xlarge is not in the GPU table', 'eas_gpu_memory_gib'],
    ),
    dict(
        id='instance_type_not_offered_in_region',
        vars=dict(eas_instance_type='ecs.gn9-c8g1.2xlarge', eas_gpu_memory_gib=22),
        expect=[
            'eas_instance_type=ecs.gn9-c8g1.2xlarge is not offered in cn-hangzhou (DescribeMachineSpec)',
            'Pick one of the GPU types',
        ],
        reads=True,
    ),
    dict(
        id='instance_type_out_of_stock',
        setup='stockout',
        vars={},
        expect=['eas_instance_type=ecs.gn7i-c8g1.2xlarge is out of stock in cn-hangzhou', 'another instance type'],
        reads=True,
    ),
    dict(
        id='group_name_of_someone_else',
        setup='foreign_group',
        vars=dict(eas_resource_group_name='it-rel-in-foreign'),
        expect=[
            'eas_resource_group_name=it-rel-in-foreign names a resource group this collection did not create',
            'eas_adopt_existing=true',
        ],
        reads=True,
    ),
    dict(
        id='cpu_above_node',
        vars=dict(eas_cpu=8),
        expect=['eas_cpu=8 is more than one ecs.gn7i-c8g1.2xlarge node can give', 'Use at most 7'],
    ),
    dict(id='memory_above_node', vars=dict(eas_memory=31000), expect=['eas_memory=31000 MB is not below', 'Use 0']),
    # --- eas_model: image, weights, vLLM arguments, config override ---
    dict(
        id='image_of_another_region',
        vars=dict(eas_image='eas-registry-vpc.cn-beijing.cr.aliyuncs.com/pai-eas/vllm:0.14.0-gpu'),
        expect=['comes from the EAS registry of cn-beijing', 'eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com'],
    ),
    dict(
        id='oss_endpoint_inside_bucket',
        vars=dict(
            eas_model_oss_path='oss://pai-quickstart-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com/' + MODEL_OSS
        ),
        expect=['eas_model_oss_path', 'holds an endpoint', 'oss://pai-quickstart-cn-hangzhou/' + MODEL_OSS],
    ),
    dict(
        id='oss_bucket_invalid',
        vars=dict(eas_model_oss_path='oss://My_Models/r1/'),
        expect=['eas_model_oss_path', 'is not an OSS bucket name'],
    ),
    dict(
        id='oss_path_without_scheme',
        vars=dict(eas_model_oss_path='pai-quickstart/r1/'),
        expect=['eas_model_oss_path', 'oss://<bucket>/<dir>/'],
    ),
    dict(
        id='oss_endpoint_url',
        vars=dict(eas_model_oss_endpoint='https://oss-cn-hangzhou-internal.aliyuncs.com'),
        expect=['eas_model_oss_endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com is not a host name'],
    ),
    dict(
        id='vllm_extra_args_string',
        root=True,
        vars=dict(eas_vllm_extra_args='--enable-prefix-caching'),
        expect=['eas_vllm_extra_args must be a list of strings', 'one argument each'],
    ),
    dict(
        id='vllm_extra_args_number',
        vars=dict(eas_vllm_extra_args=['--max-num-seqs', 8]),
        expect=['eas_vllm_extra_args must be a list of strings'],
    ),
    dict(
        id='override_not_a_dict',
        vars=dict(eas_service_config_override='metadata.cpu=4'),
        expect=['eas_service_config_override must be a dict'],
    ),
    dict(
        id='override_renames_service',
        root=True,
        vars=dict(eas_service_config_override=dict(metadata=dict(name='another_service'))),
        expect=['eas_service_config_override renames the service (metadata.name); set eas_service_name instead'],
    ),
    dict(
        id='override_containers_string',
        vars=dict(eas_service_config_override=dict(containers='x')),
        expect=['eas_service_config_override.containers must be a list of dicts'],
    ),
    dict(
        id='override_cpu_not_a_number',
        vars=dict(eas_service_config_override=dict(metadata=dict(cpu='many'))),
        expect=['after eas_service_config_override', 'metadata.cpu must be a whole number'],
    ),
    dict(
        id='override_container_port',
        vars=dict(eas_service_config_override=dict(containers=[dict(image='vllm/vllm-openai:v0.8.5', port=70000)])),
        expect=['after eas_service_config_override', 'containers[0].port must be a port number'],
    ),
    dict(
        id='override_relative_mount',
        vars=dict(
            eas_service_config_override=dict(
                storage=[dict(mount_path='model_dir', oss=dict(path='oss://my-models/r1/'))]
            )
        ),
        expect=['after eas_service_config_override', 'storage[0].mount_path must be an absolute path'],
    ),
    dict(
        id='override_public_and_dedicated',
        vars=dict(eas_service_config_override=dict(cloud=dict(computing=dict(instance_type='ecs.gn7i-c8g1.2xlarge')))),
        expect=['after eas_service_config_override', 'exclude each other'],
    ),
    # --- oneapi ---
    dict(
        id='oneapi_password_placeholder',
        vars=dict(oneapi_root_password='CHANGE-ME'),
        expect=['oneapi_root_password is still (or holds) the placeholder CHANGE-ME'],
    ),
    dict(
        id='oneapi_password_123456',
        vars=dict(oneapi_root_password='123456'),
        expect=[
            'oneapi_root_password must be set to 8-20 characters other than one-api',
            'ansible-vault encrypt_string',
        ],
    ),
    dict(
        id='oneapi_password_short',
        vars=dict(oneapi_root_password='short'),
        expect=['oneapi_root_password must be set to 8-20 characters'],
    ),
    dict(
        id='oneapi_password_too_long',
        extra=True,
        vars=dict(oneapi_root_password='p' * 21),
        expect=['oneapi_root_password must be set to 8-20 characters'],
    ),
    dict(
        id='oneapi_bind_not_an_ip',
        root=True,
        vars=dict(oneapi_bind_address='not-an-ip'),
        expect=['oneapi_bind_address must be an IP address (got not-an-ip)', 'the default is 127.0.0.1'],
    ),
    dict(
        id='oneapi_bind_public_without_opt_in',
        vars=dict(oneapi_bind_address='0.0.0.0'),
        expect=['oneapi_bind_address=0.0.0.0 publishes one-api', 'oneapi_expose_publicly=true'],
    ),
    dict(
        id='oneapi_port_out_of_range',
        vars=dict(oneapi_port=70000),
        expect=['oneapi_port must be a port number 1-65535 (got 70000)'],
    ),
    dict(
        id='oneapi_pull_unknown',
        extra=True,
        vars=dict(oneapi_pull='sometimes'),
        expect=['oneapi_pull', 'always', 'missing', 'never'],
    ),
    dict(
        id='oneapi_project_name_uppercase',
        extra=True,
        vars=dict(oneapi_project_name='One-API'),
        expect=['oneapi_project_name must be lowercase letters'],
    ),
    dict(
        id='oneapi_project_dir_relative',
        vars=dict(oneapi_project_dir='opt/one-api'),
        expect=['oneapi_project_dir, oneapi_data_dir and oneapi_backup_dir must be absolute paths'],
    ),
    dict(
        id='oneapi_channel_base_url_ftp',
        extra=True,
        vars=dict(oneapi_channel_base_url='ftp://eas.example.com'),
        expect=['oneapi_channel_base_url must be an http(s) URL'],
    ),
    dict(
        id='oneapi_channel_key_two_lines',
        vars=dict(oneapi_channel_key='key-one\nkey-two'),
        expect=['oneapi_channel_key must be one line'],
    ),
    dict(
        id='oneapi_alias_empty',
        extra=True,
        vars=dict(oneapi_model_alias=''),
        expect=['oneapi_model_alias', 'must not be empty'],
    ),
    dict(
        id='oneapi_alias_with_test_model',
        vars=dict(oneapi_model_alias='deepseek-chat-r1'),
        expect=['oneapi_model_alias=deepseek-chat-r1 contains deepseek-chat', 'Choose another alias'],
    ),
    dict(
        id='oneapi_token_name_too_long',
        extra=True,
        vars=dict(oneapi_token_name='t' * 31),
        expect=['oneapi_token_name must have 1 to 30 characters'],
    ),
    dict(
        id='oneapi_sql_dsn_quote',
        extra=True,
        vars=dict(oneapi_sql_dsn="oneapi:pa'ss@tcp(db:3306)/oneapi"),
        expect=['oneapi_sql_dsn and oneapi_redis_conn_string must not contain a single quote'],
    ),
    dict(
        id='oneapi_extra_env_bad_name',
        extra=True,
        vars=dict(oneapi_extra_env={'BAD-NAME': 'x'}),
        expect=['oneapi_extra_env must map variable names'],
    ),
    # --- chatgpt_web ---
    dict(
        id='chatgpt_web_key_placeholder',
        vars=dict(chatgpt_web_auth_secret_key='CHANGE-ME'),
        expect=['chatgpt_web_auth_secret_key is still (or holds) the placeholder CHANGE-ME'],
    ),
    dict(
        id='chatgpt_web_key_empty',
        extra=True,
        vars=dict(chatgpt_web_auth_secret_key=''),
        expect=['chatgpt_web_auth_secret_key is not set', 'openssl rand -hex 24'],
    ),
    dict(
        id='chatgpt_web_key_short',
        vars=dict(chatgpt_web_auth_secret_key='short'),
        expect=['chatgpt_web_auth_secret_key is too weak or malformed', 'openssl rand -hex 24'],
    ),
    dict(
        id='chatgpt_web_key_with_spaces',
        extra=True,
        vars=dict(chatgpt_web_auth_secret_key='a key with spaces in it 0123456789'),
        expect=['chatgpt_web_auth_secret_key is too weak or malformed'],
    ),
    dict(
        id='chatgpt_web_base_url_with_v1',
        vars=dict(chatgpt_web_api_base_url='http://one-api:3000/v1'),
        expect=['chatgpt_web_api_base_url=http://one-api:3000/v1 is not usable', 'WITHOUT /v1'],
    ),
    dict(
        id='chatgpt_web_base_url_trailing_slash',
        extra=True,
        vars=dict(chatgpt_web_api_base_url='http://one-api:3000/'),
        expect=['chatgpt_web_api_base_url=http://one-api:3000/ is not usable', 'without a trailing slash'],
    ),
    dict(
        id='chatgpt_web_model_empty',
        extra=True,
        vars=dict(chatgpt_web_model=''),
        expect=['chatgpt_web_model must be a non-empty model name'],
    ),
    dict(
        id='chatgpt_web_bind_public_without_opt_in',
        vars=dict(chatgpt_web_bind_address='0.0.0.0'),
        expect=['chatgpt_web_bind_address=0.0.0.0 publishes chatgpt-web', 'chatgpt_web_expose_publicly=true'],
    ),
    dict(
        id='chatgpt_web_bind_ipv6_any_without_opt_in',
        extra=True,
        vars=dict(chatgpt_web_bind_address='::'),
        expect=['chatgpt_web_bind_address=:: publishes chatgpt-web', 'chatgpt_web_expose_publicly=true'],
    ),
    dict(
        id='chatgpt_web_bind_hostname',
        vars=dict(chatgpt_web_bind_address='localhost'),
        expect=['chatgpt_web_bind_address must be an IP address (got localhost)'],
    ),
    dict(
        id='chatgpt_web_port_zero',
        extra=True,
        vars=dict(chatgpt_web_port=0),
        expect=['chatgpt_web_port must be a port number 1-65535 (got 0)'],
    ),
    dict(
        id='chatgpt_web_project_name_space',
        extra=True,
        vars=dict(chatgpt_web_project_name='chat web'),
        expect=['chatgpt_web_project_name must be lowercase'],
    ),
    dict(
        id='chatgpt_web_timeout_zero',
        vars=dict(chatgpt_web_timeout_ms=0),
        expect=['chatgpt_web_timeout_ms must be a number of milliseconds from 1 to 2147483647'],
    ),
    dict(
        id='chatgpt_web_max_requests_negative',
        extra=True,
        vars=dict(chatgpt_web_max_request_per_hour=-1),
        expect=['chatgpt_web_max_request_per_hour must be a whole number'],
    ),
    dict(
        id='chatgpt_web_extra_env_managed',
        vars=dict(chatgpt_web_extra_env=dict(OPENAI_API_KEY='sk-another')),
        expect=['chatgpt_web_extra_env', 'may not set a variable the role manages'],
    ),
    dict(
        id='chatgpt_web_api_key_with_space',
        extra=True,
        vars=dict(chatgpt_web_api_key='sk-abc def'),
        expect=['chatgpt_web_api_key contains whitespace'],
    ),
]
