# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Units for one-api's routes: channel names by generation, priorities, input checks and the handover steps."""

from __future__ import annotations

from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_routes import (
    channels_to_test,
    handover_plan,
    route_errors,
    routes,
)

UP = dict(base_url='http://eas/api/predict/x/v1/', key='token', served_model_name='M')


def resolve(*items):
    return routes([dict(UP, **item) for item in items], 'eas-deepseek', 'gpt-4-32k')


def test_a_route_without_name_or_aliases_is_the_single_channel():
    (route,) = resolve({})
    assert route['name'] == 'eas-deepseek' and route['aliases'] == ['gpt-4-32k'] and route['priority'] == 0
    assert route['model_mapping'] == {'gpt-4-32k': 'M'} and route['base_url'] == 'http://eas/api/predict/x'
    assert not route['handover'] and route['retire'] == []


def test_later_generations_get_a_suffix_and_a_priority_above_zero():
    (route,) = resolve(dict(channel='small', aliases=['a', 'b'], generation=3, retire_generations=[1, 2, 3]))
    assert route['name'] == 'small_g3' and route['priority'] == 2 and route['handover']
    assert route['retire'] == ['small', 'small_g2'] and route['model_mapping'] == {'a': 'M', 'b': 'M'}
    (route,) = resolve(dict(channel='small', generation=2, priority=7))
    assert route['priority'] == 7


def test_route_errors_name_the_route_and_the_fix():
    errors = route_errors(resolve(dict(channel='a', aliases=['x']), dict(channel='b', aliases=['x', 'deepseek-chat'])))
    assert any('both serve the alias x' in e for e in errors)
    assert any('oneapi_channels[1] (b): the alias deepseek-chat contains deepseek-chat' in e for e in errors)
    errors = route_errors(routes([dict(UP, aliases=[])], 'eas', 'my-deepseek-chat'))
    assert errors[0].startswith('oneapi_model_alias=my-deepseek-chat contains deepseek-chat')
    assert route_errors(resolve(dict(channel='a', base_url='', key='')), require_upstream=True)
    assert route_errors(resolve(dict(channel='a', base_url='', key='', absent=True)), require_upstream=True) == []
    assert any('both use the channel a' in e for e in route_errors(resolve(dict(channel='a'), dict(channel='a'))))


def test_a_handover_creates_the_new_channel_disabled_then_enables_it_and_retires_the_old():
    resolved = resolve(
        dict(channel='small', aliases=['a'], generation=2, retire_generations=[1]),
        dict(channel='big', aliases=['b']),
        dict(channel='gone', absent=True, generation=2, retire_generations=[1, 2]),
    )
    existing = [
        dict(name='small', status=1),
        dict(name='big', status=1),
        dict(name='gone', status=1),
        dict(name='gone_g2', status=2),
        dict(name='gone_other', status=1),
    ]
    # The channel step: the new channel does not exist yet, so it is created disabled (and cannot be enabled yet).
    steps = handover_plan(resolved, existing)
    assert steps['status'] == {'small_g2': 'disabled', 'big': 'enabled'} and steps['enable'] == []
    # The handover, once the channel step made it: enable it, disable and delete the old one and the absent route's.
    steps = handover_plan(resolved, existing + [dict(name='small_g2', status=2)])
    assert steps['status']['small_g2'] == ''
    assert steps['enable'] == ['small_g2'] and steps['disable'] == ['small']
    assert steps['delete'] == ['small', 'gone', 'gone_g2'] and steps['drain']
    # Resumed: the new channel exists (maybe enabled already), the old one is gone.
    steps = handover_plan(resolved, [dict(name='small_g2', status=1), dict(name='big', status=1)])
    assert steps['status']['small_g2'] == '' and steps['disable'] == [] and steps['delete'] == []
    assert not steps['drain']


def test_the_single_channel_s_errors_name_the_role_s_variables():
    single = dict(channel='eas-deepseek', aliases=['deepseek-chat-r1'], implicit=True, key='a\nb', base_url='')
    errors = route_errors(routes([single], 'eas-deepseek', 'deepseek-chat-r1'), 36, True)
    assert errors[0].startswith('oneapi_model_alias=deepseek-chat-r1 contains deepseek-chat')
    assert errors[1] == 'oneapi_channel_base_url, oneapi_channel_key and oneapi_served_model_name must be set'
    # The role checks the key of the single channel as oneapi_channel_key; a route of oneapi_channels is named so.
    assert len(errors) == 2 and not any('oneapi_channels[' in e for e in errors)
    errors = route_errors(routes([dict(single, implicit=False)], 'x', 'y'), 36, False)
    assert any(e.startswith('oneapi_channels[0] (eas-deepseek): the key must be one line') for e in errors)


def step(index, changed=False, test_time=1700000000):
    """One channel step result as oneapi_channel returns it (a loop item over the route indices)."""
    return dict(item=index, changed=changed, channel=dict(id=index + 1, test_time=test_time))


def test_a_rerun_tests_no_channel_again():
    same = dict(upstream_changed=False)
    resolved = resolve(dict(same, channel='a'), dict(same, channel='b'), dict(channel='gone', absent=True))
    assert channels_to_test(resolved, [step(0), step(1), dict(item=2, skipped=True)]) == []


def test_what_is_new_changed_untested_or_handed_over_is_tested():
    same = dict(upstream_changed=False)
    resolved = resolve(
        dict(channel='new-upstream'),  # an upstream created or changed in this run (or not known: hand-given routes)
        dict(same, channel='changed'),
        dict(same, channel='untested'),  # a run stopped between the channel step and its test
        dict(same, channel='takes-over', generation=2, retire_generations=[1]),
        dict(same, channel='settled'),
    )
    results = [step(0), step(1, changed=True), step(2, test_time=0), step(3), step(4)]
    assert channels_to_test(resolved, results) == ['new-upstream', 'changed', 'untested', 'takes-over_g2']
    # Without the channel step's results (the entry point alone), every route is tested.
    assert channels_to_test(resolved, []) == [r['name'] for r in resolved]
