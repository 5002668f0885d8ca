# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for the model catalog: entries, input checks, the plan (rolling, blue/green, resume, removal), cost, outputs."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.llmops.eas_stack.plugins.module_utils import eas_catalog as cat
from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import vllm_service_config

A10 = 'ecs.gn7i-c8g1.2xlarge'
V100 = 'ecs.gn6e-c12g1.3xlarge'
DEFAULTS = dict(
    service_name='deepseek_r1_qwen_1_5b',
    model='DeepSeek-R1-Distill-Qwen-1.5B',
    resource_group='llm_gpu_group',
    instance_type=A10,
    instance_count=1,
    charge_type='PostPaid',
    zone='',
    system_disk_size=0,
    service_instance_count=1,
    max_model_len=32768,
    gpu_memory_utilization=0.9,
    vllm_extra_args=[],
    image='',
    vllm_image_tag='0.14.0-gpu',
    model_oss_path='',
    model_oss_endpoint='',
    cpu=0,
    memory=0,
    gpu_memory_gib=0,
    service_config_override={},
    change_strategy='rolling',
    node_price_per_hour=0,
    dedicated=True,
    region='cn-hangzhou',
    extra_presets={},
    catalog_name='llm_gpu_group',
)
SMALL = dict(service_name='small', aliases=['gpt-4-32k'], default=True)
BIG = dict(service_name='big', model='DeepSeek-R1-Distill-Qwen-7B', instance_type=V100, aliases=['it-7b', 'gpt-4'])


def defaults(**changes):
    return dict(DEFAULTS, **changes)


def service(entry_settings, name, status='Running', group_id='eas-r-1', labels=None):
    """A service as eas_service_info lists it, with the config the entry would make."""
    config = vllm_service_config(dict(entry_settings, group={'id': group_id}))['config']
    config['metadata'].update(name=name, cpu=7, memory=28000, rolling_strategy={'max_unavailable': 1})
    return dict(name=name, status=status, resource=group_id, config=config, labels=labels or {})


def settings_of(models, index=0, **changes):
    entries = cat.catalog_entries(models, defaults(**changes))
    return cat.entry_settings(entries[index], defaults(**changes))


# -- entries ------------------------------------------------------------------------------------------------------------


def test_the_implicit_catalog_is_the_single_model_variables():
    (entry,) = cat.catalog_entries([], DEFAULTS)
    assert entry['implicit'] and entry['default'] and entry['aliases'] == [] and entry['channel'] == ''
    assert entry['service_name'] == 'deepseek_r1_qwen_1_5b' and entry['group']['name'] == 'llm_gpu_group'
    assert entry['group'] == dict(
        name='llm_gpu_group', instance_type=A10, instance_count=1, charge_type='PostPaid', zone='', system_disk_size=0
    )
    assert not entry['shared_group']


def test_catalog_entries_inherit_the_model_settings_but_not_names_paths_or_sizing():
    entries = cat.catalog_entries(
        [SMALL, BIG], defaults(max_model_len=16384, model_oss_path='oss://b/x/', cpu=6, change_strategy='blue_green')
    )
    small, big = entries
    assert small['group']['name'] == 'small' and big['group']['name'] == 'big'
    assert small['max_model_len'] == 16384 and small['change_strategy'] == 'blue_green'
    assert small['model_oss_path'] == '' and small['cpu'] == 0
    assert big['model'] == 'DeepSeek-R1-Distill-Qwen-7B' and big['group']['instance_type'] == V100
    assert small['default'] and not big['default'] and big['channel'] == 'big'


def test_the_first_entry_is_the_default_unless_one_is_marked():
    assert cat.default_alias([dict(BIG), dict(SMALL, default=False)], 'x') == 'it-7b'
    assert cat.default_alias([BIG, SMALL], 'x') == 'gpt-4-32k'
    assert cat.default_alias([], 'gpt-4-32k') == 'gpt-4-32k'


def test_entries_naming_one_group_share_it():
    entries = cat.catalog_entries([dict(SMALL, resource_group='g'), dict(BIG, resource_group='g')], DEFAULTS)
    assert all(e['shared_group'] for e in entries)


# -- input checks ---------------------------------------------------------------------------------------------------


def test_a_good_catalog_and_the_implicit_one_pass():
    assert cat.catalog_errors([], DEFAULTS) == []
    assert cat.catalog_errors([SMALL, BIG], DEFAULTS) == []


def test_two_entries_with_one_alias_are_refused_naming_both():
    errors = cat.catalog_errors([SMALL, dict(BIG, aliases=['it-7b', 'gpt-4-32k'])], DEFAULTS)
    assert len(errors) == 1
    assert 'eas_models[0] and eas_models[1] both list the alias gpt-4-32k' in errors[0]
    assert 'Keep the alias on one entry' in errors[0]


def test_two_entries_with_one_service_name_are_refused():
    errors = cat.catalog_errors([SMALL, dict(BIG, service_name='small')], DEFAULTS)
    assert any('both have service_name=small' in e and 'its own service_name' in e for e in errors)


def test_an_entry_that_does_not_fit_its_gpu_is_refused_with_its_own_field_names():
    errors = cat.catalog_errors([SMALL, dict(BIG, instance_type=A10, max_model_len=131072)], DEFAULTS)
    (message,) = errors
    assert message.startswith('eas_models[1] (big): eas_models[1].model=DeepSeek-R1-Distill-Qwen-7B does not fit')
    assert 'eas_models[1].max_model_len' in message and 'eas_models[1].instance_type = ' in message
    assert 'eas_max_model_len' not in message


def test_the_implicit_entry_keeps_the_messages_of_the_single_model_variables():
    errors = cat.catalog_errors([], defaults(instance_count=0, service_name='Bad-Name', cpu=8))
    assert any(e.startswith('eas_service_name=Bad-Name is not a valid EAS service name') for e in errors)
    assert any(e.startswith('eas_instance_count must be at least 1 (got 0)') for e in errors)
    errors = cat.catalog_errors([], defaults(model='DeepSeek-R1-Distill-Qwen-14B'))
    assert errors and errors[0].startswith('eas_model=DeepSeek-R1-Distill-Qwen-14B does not fit')
    errors = cat.catalog_errors([], defaults(cpu=8))
    assert any(e.startswith('eas_cpu=8 is more than one') for e in errors)


def test_entries_without_aliases_unknown_keys_and_generation_names_are_refused():
    assert any('eas_models[0].aliases must list' in e for e in cat.catalog_errors([dict(service_name='x1')], DEFAULTS))
    errors = cat.catalog_errors([dict(SMALL, modle='typo')], DEFAULTS)
    assert errors == [errors[0]] and 'unknown keys modle' in errors[0]
    errors = cat.catalog_errors([SMALL, dict(BIG, service_name='small_g2')], DEFAULTS)
    assert any('small_g2 is the name of a blue/green generation of eas_models[0]' in e for e in errors)


def test_vllm_flags_the_config_sets_cannot_be_repeated_in_the_extra_arguments():
    errors = cat.catalog_errors([dict(SMALL, vllm_extra_args=['--max-model-len=131072'])], DEFAULTS)
    assert any('repeats --max-model-len' in e and 'Set eas_models[0].max_model_len instead' in e for e in errors)
    errors = cat.catalog_errors([], defaults(vllm_extra_args=['--gpu-memory-utilization', '0.5']))
    assert any('eas_vllm_extra_args repeats --gpu-memory-utilization' in e for e in errors)


def test_blue_green_names_keep_room_for_a_generation_suffix():
    long_group = dict(SMALL, resource_group='g' * 25, change_strategy='blue_green')
    errors = cat.catalog_errors([long_group], DEFAULTS)
    assert any('too long for blue/green changes' in e and 'at most 23' in e for e in errors)
    assert cat.catalog_errors([dict(long_group, change_strategy='rolling')], DEFAULTS) == []


def test_a_shared_group_must_agree_on_its_nodes_and_have_a_gpu_per_instance():
    shared = [dict(SMALL, resource_group='g', instance_type=V100), dict(BIG, resource_group='g')]
    errors = cat.catalog_errors(shared, DEFAULTS)
    assert any('resource group g has 1 GPU(s) (1 x %s)' % V100 in e and 'instance_count: 2' in e for e in errors)
    errors = cat.catalog_errors([dict(e, instance_count=2) for e in shared], DEFAULTS)
    assert errors == []
    errors = cat.catalog_errors([dict(shared[0], instance_count=2), shared[1]], DEFAULTS)
    assert any('give different instance_count' in e for e in errors)


def test_only_one_default_and_a_valid_strategy():
    errors = cat.catalog_errors([SMALL, dict(BIG, default=True)], DEFAULTS)
    assert any('more than one entry has default: true' in e for e in errors)
    errors = cat.catalog_errors([dict(SMALL, change_strategy='canary')], DEFAULTS)
    assert any('eas_models[0].change_strategy must be rolling' in e for e in errors)


# -- the plan -----------------------------------------------------------------------------------------------------------


def plan(models, services, **changes):
    d = defaults(**changes)
    return cat.catalog_plan(cat.catalog_entries(models, d), services, d)


def test_a_fresh_catalog_creates_every_entry_in_its_own_group():
    p = plan([SMALL, BIG], [])
    assert [(e['name'], e['change'], e['group'], e['exists']) for e in p['entries']] == [
        ('small', 'create', 'small', False),
        ('big', 'create', 'big', False),
    ]
    assert [g['name'] for g in p['groups']] == ['small', 'big'] and all(g['shrink'] for g in p['groups'])
    assert p['entries'][0]['labels'] == {
        'llmops-catalog': 'llm_gpu_group',
        'llmops-entry': 'small',
        'llmops-group': 'small',
    }
    assert not p['handover'] and p['errors'] == [] and p['removed'] == []


def test_an_unchanged_service_is_left_alone_and_a_scale_is_no_new_generation():
    live = [service(settings_of([SMALL]), 'small'), service(settings_of([SMALL, BIG], 1), 'big')]
    p = plan([SMALL, BIG], live)
    assert [(e['name'], e['change']) for e in p['entries']] == [('small', 'none'), ('big', 'none')]
    p = plan([dict(SMALL, service_instance_count=2, instance_count=2, change_strategy='blue_green'), BIG], live)
    assert p['entries'][0]['change'] == 'none' and p['entries'][0]['retire'] == []


def test_masked_secrets_do_not_look_like_a_change():
    env = {'containers': [{'env': [{'name': 'HF_TOKEN', 'value': 'real-secret'}]}]}
    entry = dict(SMALL, service_config_override=env)
    live = service(settings_of([entry]), 'small')
    live['config']['containers'][0]['env'][0]['value'] = '********'
    assert plan([entry], [live])['entries'][0]['change'] == 'none'


def test_a_changed_config_is_updated_in_place_under_rolling():
    live = [service(settings_of([SMALL]), 'small')]
    p = plan([dict(SMALL, vllm_extra_args=['--enable-prefix-caching'])], live)
    assert p['entries'][0]['change'] == 'update' and p['entries'][0]['name'] == 'small' and not p['handover']


def test_a_blue_green_change_makes_a_new_generation_in_a_new_group():
    changed = dict(SMALL, vllm_extra_args=['--enable-prefix-caching'], change_strategy='blue_green')
    live = [service(settings_of([SMALL]), 'small', labels={'llmops-group': 'small'})]
    (entry,) = plan([changed], live)['entries']
    assert (entry['name'], entry['generation'], entry['group'], entry['new_group']) == ('small_g2', 2, 'small_g2', True)
    assert entry['retire'] == [dict(name='small', generation=1, group='small', delete_group=True)]
    assert 'blue/green change: the new generation small_g2 is created in the new group small_g2' in entry['summary']
    p = plan([changed], live)
    assert p['delete_groups'] == ['small'] and p['handover'] and p['groups'][0]['name'] == 'small_g2'
    assert p['cost']['handover_overlap_per_hour'] == 15.0


def test_a_new_generation_that_failed_is_updated_in_place_and_the_change_resumes():
    changed = dict(SMALL, vllm_extra_args=['--enable-prefix-caching'], change_strategy='blue_green')
    broken = dict(changed, service_config_override={'metadata': {'gpu': 0}})
    live = [
        service(settings_of([SMALL]), 'small'),
        service(settings_of([broken]), 'small_g2', status='Failed', labels={'llmops-group': 'small_g2'}),
    ]
    (entry,) = plan([changed], live)['entries']
    assert (entry['name'], entry['change'], entry['exists'], entry['group']) == ('small_g2', 'update', True, 'small_g2')
    assert [r['name'] for r in entry['retire']] == ['small'] and not entry['new_group']
    # The fix reverted instead: the old generation serves on, the failed one goes.
    (entry,) = plan([dict(SMALL, change_strategy='blue_green')], live)['entries']
    assert entry['name'] == 'small' and entry['change'] == 'handover'
    assert entry['retire'] == [dict(name='small_g2', generation=2, group='small_g2', delete_group=True)]


def test_a_running_newer_generation_is_never_updated_in_place():
    first = dict(SMALL, change_strategy='blue_green')
    second = dict(first, vllm_extra_args=['--a'])
    live = [service(settings_of([first]), 'small'), service(settings_of([second]), 'small_g2')]
    (entry,) = plan([dict(first, vllm_extra_args=['--b'])], live)['entries']
    assert entry['name'] == 'small_g3' and [r['name'] for r in entry['retire']] == ['small', 'small_g2']
    # The newer generation has the config: the handover to it is finished (resumed).
    (entry,) = plan([second], live)['entries']
    assert (entry['name'], entry['change']) == ('small_g2', 'handover')


def test_a_blue_green_change_in_a_shared_group_needs_a_free_gpu():
    shared = [
        dict(SMALL, resource_group='g', instance_type=V100, instance_count=2, change_strategy='blue_green'),
        dict(BIG, resource_group='g', instance_count=2),
    ]
    live = [service(settings_of(shared), 'small'), service(settings_of(shared, 1), 'big')]
    changed = [dict(shared[0], vllm_extra_args=['--enable-prefix-caching']), shared[1]]
    p = plan(changed, live)
    assert p['entries'][0]['name'] == 'small_g2' and p['entries'][0]['group'] == 'g'
    (message,) = p['errors']
    assert message.startswith('eas_models[0] (small): a blue/green change needs its new service small_g2 beside small')
    assert 'set instance_count: 3 on the entries of g' in message and 'change_strategy: rolling' in message
    roomy = [dict(e, instance_count=3) for e in changed]
    p = plan(roomy, live)
    assert p['errors'] == [] and p['entries'][0]['retire'][0]['delete_group'] is False and p['delete_groups'] == []


def test_services_of_removed_entries_are_found_by_their_labels_and_their_groups_freed():
    labels = {'llmops-catalog': 'llm_gpu_group', 'llmops-entry': 'big', 'llmops-group': 'big'}
    live = [
        service(settings_of([SMALL]), 'small', labels={'llmops-catalog': 'llm_gpu_group', 'llmops-entry': 'small'}),
        service(settings_of([SMALL, BIG], 1), 'big_g2', labels=dict(labels, **{'llmops-group': 'big_g2'})),
        service(settings_of([SMALL, BIG], 1), 'other', labels={'llmops-catalog': 'another', 'llmops-entry': 'o'}),
        service(settings_of([SMALL]), 'unlabelled'),
    ]
    p = plan([SMALL], live)
    assert p['removed'] == [
        dict(name='big_g2', service_name='big', generation=2, group='big_g2', channel='big', delete_group=True)
    ]
    assert p['delete_groups'] == ['big_g2'] and p['handover']
    assert p['teardown'] == dict(services=['big_g2', 'small'], groups=['big_g2', 'small'])


def test_a_group_still_used_by_a_kept_entry_is_shrunk_after_the_retire_not_deleted():
    shared = [dict(SMALL, resource_group='g', instance_count=2), dict(BIG, resource_group='g', instance_count=2)]
    labels = {'llmops-catalog': 'llm_gpu_group', 'llmops-entry': 'big', 'llmops-group': 'g'}
    live = [
        service(settings_of(shared), 'small', labels={'llmops-group': 'g'}),
        dict(service(settings_of(shared, 1), 'big'), labels=labels),
    ]
    p = plan([dict(SMALL, resource_group='g', instance_count=1)], live)
    assert p['removed'][0]['delete_group'] is False and p['delete_groups'] == []
    assert p['groups'] == [dict(p['groups'][0], shrink=False)] and p['shrink_groups'] == ['g']


def test_the_public_resource_group_has_no_groups():
    p = plan([SMALL, BIG], [], dedicated=False)
    assert p['groups'] == [] and all(e['group'] == '' for e in p['entries'])
    assert p['teardown']['groups'] == []


# -- cost, outputs, channels, pre-flight --------------------------------------------------------------------------------


def test_cost_counts_every_group_and_names_types_without_a_price():
    cost = plan([SMALL, BIG], [])['cost']
    assert cost['nodes'] == 2 and cost['per_hour'] == 15.0 and cost['unknown_prices'] == [V100]
    cost = plan([SMALL, dict(BIG, node_price_per_hour=20)], [])['cost']
    assert cost['per_hour'] == 35.0 and cost['per_day'] == 840.0 and cost['unknown_prices'] == []


def test_outputs_carry_endpoints_tokens_pending_and_the_removed_entries():
    live = [
        dict(service(settings_of([SMALL]), 'big'), labels={'llmops-catalog': 'llm_gpu_group', 'llmops-entry': 'big'})
    ]
    p = plan([SMALL], live)
    results = [dict(changed=True, service=dict(internet_endpoint='http://e/small', access_token='t', status='Running'))]
    out = cat.catalog_outputs(p, results)
    assert out[0]['endpoint'] == 'http://e/small' and out[0]['token'] == 't' and out[0]['pending'] is True
    assert out[1] == dict(out[1], service_name='big', absent=True, channel='big', retire_generations=[1])
    again = cat.catalog_outputs(p, [dict(skipped=True)], out)
    assert again[0]['token'] == 't' and again[0]['pending'] is True
    info = cat.catalog_outputs(
        p, [dict(services=[dict(internet_endpoint='http://e2', access_token='t2', status='Running')])]
    )
    assert info[0]['endpoint'] == 'http://e2' and info[0]['pending'] is False
    channels = cat.catalog_channels(out)
    assert channels[0] == dict(
        channel='small',
        aliases=['gpt-4-32k'],
        generation=1,
        base_url='http://e/small',
        key='t',
        served_model_name='DeepSeek-R1-Distill-Qwen-1.5B',
        retire_generations=[],
        absent=False,
        upstream_changed=True,
    )
    assert channels[1]['absent'] is True


def test_an_upstream_is_fresh_for_the_rest_of_the_run_once_a_result_showed_it_new_or_starting():
    p = plan([SMALL], [])
    planned = cat.catalog_outputs(p, [])
    assert planned[0]['fresh'] is False
    running = dict(internet_endpoint='http://e/small', access_token='t', status='Running')
    created = cat.catalog_outputs(p, [dict(changed=True, service=dict(running, status='Creating'))], planned)
    waited = cat.catalog_outputs(p, [dict(changed=False, service=running)], created)
    assert created[0]['fresh'] and waited[0]['fresh'] and not waited[0]['pending']
    # A rerun: the service step finds it Running and unchanged, the wait is skipped.
    rerun = cat.catalog_outputs(p, [dict(changed=False, service=running)], planned)
    rerun = cat.catalog_outputs(p, [dict(skipped=True)], rerun)
    assert rerun[0]['fresh'] is False and cat.catalog_channels(rerun)[0]['upstream_changed'] is False


def test_the_pre_flight_checks_every_entry_against_the_region():
    entries = cat.catalog_entries([SMALL, BIG], DEFAULTS)
    specs = {
        A10: dict(gpus=1, gpu='A10', gpu_memory_gb=24, gpu_usable_gib=22.49, available=True, stock='WithStock'),
        V100: dict(gpus=1, gpu='V100', gpu_memory_gb=32, gpu_usable_gib=31.74, available=True, stock='NoStock'),
    }
    groups = {'small': [dict(id='eas-r-x', managed=False)]}
    services = [dict(name='big', labels={'managed-by': 'someone'})]
    report = cat.preflight_report(entries, specs, groups, services, DEFAULTS)
    text = json.dumps(report['errors'])
    assert 'eas_models[1] (big): eas_models[1].instance_type=%s is out of stock' % V100 in text
    assert 'eas_models[0].resource_group=small names a resource group this collection did not create' in text
    assert 'eas_models[1].service_name=big names a service this collection did not create' in text
    assert report['per_hour'] == 15.0 and 'Estimated cost' in report['lines'][-1]
    adopted = cat.preflight_report(entries, copy.deepcopy(specs), groups, services, dict(DEFAULTS, adopt_existing=True))
    assert len(adopted['errors']) == 1


def ready_group(count=1, managed=True, status='ResourceReady', **changes):
    instances = [dict(id='eas-i-%d' % i, status='Ready') for i in range(count)]
    return dict(
        dict(id='eas-r-1', status=status, managed=managed, instance_count=count, instances=instances), **changes
    )


def test_a_group_the_pre_flight_saw_as_planned_is_settled_and_not_read_again():
    entries = cat.catalog_entries([SMALL, BIG], DEFAULTS)
    read = {'small': [ready_group()], 'big': [ready_group(status='Creating')]}
    p = cat.catalog_plan(entries, [], DEFAULTS, read)
    assert [(g['name'], g['settled']) for g in p['groups']] == [('small', True), ('big', False)]
    assert p['groups'][0]['seen']['id'] == 'eas-r-1'
    # What the run saw last: the group step's result where it ran, else the pre-flight's read.
    seen = cat.groups_seen(p, [dict(skipped=True), dict(resource_group=dict(id='eas-r-2', status='ResourceReady'))])
    assert seen['small']['id'] == 'eas-r-1' and seen['big']['id'] == 'eas-r-2'
    # Without the pre-flight's reads (the role alone), every group step runs.
    assert not any(g['settled'] for g in cat.catalog_plan(entries, [], DEFAULTS)['groups'])


@pytest.mark.parametrize(
    'seen, adopt',
    [
        (ready_group(count=2), False),  # another count than planned: the group step scales it
        (ready_group(managed=False), False),  # not ours (the pre-flight refuses it unless adopted)
        (ready_group(instance_count=2), False),  # a node that does not count (failed or being deleted)
        ({}, False),  # not found: created by the group step
    ],
)
def test_a_group_with_something_to_do_is_not_settled(seen, adopt):
    group = dict(name='small', instance_count=1, shrink=True)
    assert not cat.group_settled(group, seen, adopt)


def test_an_adopted_group_and_one_whose_count_is_left_alone_are_settled():
    group = dict(name='small', instance_count=1, shrink=True)
    assert cat.group_settled(group, ready_group(managed=False), adopt=True)
    assert cat.group_settled(dict(group, shrink=False), ready_group(count=2))
    # Two groups of that name: the group step resolves the duplicates.
    entries = cat.catalog_entries([SMALL], DEFAULTS)
    p = cat.catalog_plan(entries, [], DEFAULTS, {'small': [ready_group(), ready_group()]})
    assert p['groups'][0]['settled'] is False


@pytest.mark.parametrize(
    'name, base, generation',
    [('a', 'a', 1), ('a_g2', 'a', 2), ('a_g1', 'a', None), ('a_gx', 'a', None), ('b', 'a', None)],
)
def test_generation_names(name, base, generation):
    assert cat.generation_of(name, base) == generation
    if generation:
        assert cat.generation_name(base, generation) == name


def test_a_scale_down_deletes_idle_nodes_before_busy_ones():
    from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_groups import pick_for_deletion

    def node(name, created, gpu=0.0, status='Ready'):
        return dict(
            InstanceId=name, CreateTime=created, InstanceUsedGpu=gpu, InstanceUsedCpu=gpu * 7, InstanceStatus=status
        )

    nodes = [
        node('old-idle', '1'),
        node('new-busy', '3', gpu=1.0),
        node('mid-idle', '2'),
        node('failed', '4', status='CreateFailed'),
    ]
    assert [n['InstanceId'] for n in pick_for_deletion(nodes, 3)] == ['failed', 'mid-idle', 'old-idle']
    assert [n['InstanceId'] for n in pick_for_deletion([node('a', '1', 1.0), node('b', '2', 1.0)], 1)] == ['b']


def test_the_region_s_gpu_memory_reaches_the_pre_flight():
    from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_region import spec_view

    view = spec_view({'GPU': 'NVIDIA A10', 'GPUAmount': '1', 'GPUMemory': '24', 'IsAvailable': True})
    assert view['gpu_usable_gib'] == 22.49 and view['gpus'] == 1
    assert spec_view({'GPUAmount': 0})['gpu_usable_gib'] is None


# -- scaling --------------------------------------------------------------------------------------------------------


QPS = [{'metric_name': 'qps', 'threshold': 10}]


def test_the_single_model_autoscaler_owns_the_instance_count_within_its_bounds():
    settings = settings_of([], autoscaler={'min': 2, 'max': 3, 'scale_strategies': QPS}, instance_count=3)
    assert settings['autoscaled'] and settings['service_instance_count'] == 2
    config = vllm_service_config(dict(settings, group={'id': 'eas-r-1'}))
    assert 'instance' not in config['config']['metadata'] and config['create_only_config']['metadata']['instance'] == 2
    assert 'autoscaled' not in settings_of([], autoscaler={'state': 'absent'})


def test_scaler_bounds_are_checked_per_entry_with_its_own_field_names():
    # The single model: the role's variables.
    errors = cat.catalog_errors([], defaults(autoscaler={'min': 1, 'max': 2, 'scale_strategies': QPS}))
    assert len(errors) == 1 and errors[0].startswith('eas_autoscaler.max=2') and 'eas_instance_count to 2' in errors[0]
    # A catalog entry: its own autoscaler (the role's is not inherited), named as eas_models[i].autoscaler.
    scaled = dict(BIG, autoscaler={'min': 3, 'max': 2, 'scale_strategies': QPS})
    errors = cat.catalog_errors([SMALL, scaled], defaults(autoscaler={'min': 1, 'max': 9, 'scale_strategies': QPS}))
    assert len(errors) == 1, errors
    assert errors[0].startswith('eas_models[1] (big): eas_models[1].autoscaler.min=3 is above')
    entries = cat.catalog_entries([SMALL, dict(BIG, cron_scaler={'state': 'absent'})], DEFAULTS)
    assert entries[0]['autoscaler'] == {} and entries[1]['cron_scaler'] == {'state': 'absent'}


def test_the_plan_hands_each_service_its_scalers():
    scaled = dict(SMALL, instance_count=2, autoscaler={'min': 1, 'max': 2, 'scale_strategies': QPS})
    plan = cat.catalog_plan(cat.catalog_entries([scaled, BIG], DEFAULTS), [], DEFAULTS)
    small, big = plan['entries']
    assert small['autoscaler']['max'] == 2 and small['settings']['autoscaled'] and big['autoscaler'] == {}


def test_a_bad_group_name_is_named_once_and_a_bad_catalog_name_says_where_it_came_from():
    errors = cat.catalog_errors([], defaults(resource_group='llm gpu group', catalog_name='llm gpu group'))
    assert errors == [
        'eas_resource_group_name must have 1 to 27 characters without spaces or slashes (got llm gpu group).'
    ]
    errors = cat.catalog_errors([], defaults(resource_group='gpu:a10', catalog_name='gpu:a10'))
    assert errors == [
        'eas_catalog_name=gpu:a10 (empty, so eas_resource_group_name) must be 1 to 63 letters, digits, dots, dashes or '
        'underscores, starting with a letter or digit (it labels the services of this catalog): set eas_catalog_name.'
    ]
