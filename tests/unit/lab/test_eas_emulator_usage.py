# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EAS emulator's node-time billing report (GET /_lab/billing/usage), driven in-process with a controlled clock."""

from __future__ import annotations

import json
import pathlib
import sys
from unittest import mock

import pytest

LAB = pathlib.Path(__file__).resolve().parents[2] / 'lab'
sys.path.insert(0, str(LAB))

from eas_emulator.catalog import INSTANCE_TYPES  # noqa: E402  pylint: disable=wrong-import-position
from eas_emulator.common import Request  # noqa: E402  pylint: disable=wrong-import-position
from eas_emulator.lab import Emulator  # noqa: E402  pylint: disable=wrong-import-position
from eas_emulator.state import ResourceGroup, Settings  # noqa: E402  pylint: disable=wrong-import-position

A10 = 'ecs.gn7i-c8g1.2xlarge'


@pytest.fixture(name='lab')
def lab_fixture():
    return Emulator(Settings(resource_ready_seconds=1.0))


def group(lab, name, at, count=1, failed=False):
    store = lab.store
    grp = ResourceGroup('eas-r-' + name, name, 'Dedicated', A10, 'PostPaid', 'zone', at, at)
    store.resources[grp.resource_id] = grp
    if failed:
        store.stockouts = 1
    ids = store.add_nodes(grp, INSTANCE_TYPES[A10], count, 'PostPaid', 'zone', 200, False, {}, at)
    return grp, ids


def usage(lab, now, since=None):
    query = {} if since is None else {'since': str(since)}
    with mock.patch('eas_emulator.usage.time.time', return_value=now):
        response = lab.dispatch(Request('GET', '/_lab/billing/usage', query, {}))
    assert response.status == 200
    return json.loads(response.body)


def test_a_node_bills_from_its_creation_until_it_is_gone(lab):
    old, (old_node,) = group(lab, 'old', 1000.0)
    new, _ids = group(lab, 'new', 1100.0)
    # The old node is deleted at 1150 (its removal is due 10 s later): it bills until 1160, the overlap is 60 s.
    old.nodes[old_node].delete_at = 1160.0
    report = usage(lab, 1200.0)
    assert report['billed_seconds_by_group'] == {'old': 160.0, 'new': 100.0}
    assert report['total_billed_node_seconds'] == 260.0
    (gone,) = [n for n in report['nodes'] if n['ResourceName'] == 'old']
    assert gone['end'] == 1160.0 and gone['end_time'].endswith('Z')
    # Once removed from the group, the node is still reported (with its end), and a window clips the intervals.
    assert old_node not in lab.store.resources[old.resource_id].nodes
    report = usage(lab, 1300.0, since=1150.0)
    assert report['billed_seconds_by_group'] == {'old': 10.0, 'new': 150.0}
    assert report['billed_seconds_by_instance_type'] == {A10: 160.0}
    assert usage(lab, 1300.0, since=1170.0)['billed_seconds_by_group'] == {'new': 130.0}


def test_failed_nodes_never_bill_and_a_reset_forgets_the_history(lab):
    group(lab, 'stockout', 1000.0, failed=True)
    done, (node,) = group(lab, 'done', 1000.0)
    done.nodes[node].delete_at = 1010.0
    assert usage(lab, 1100.0)['billed_seconds_by_group'] == {'done': 10.0}
    lab.dispatch(Request('POST', '/_lab/reset', {}, {}))
    assert usage(lab, 1200.0)['nodes'] == []


def test_a_bad_window_is_refused(lab):
    response = lab.dispatch(Request('GET', '/_lab/billing/usage', {'since': 'yesterday'}, {}))
    assert response.status == 400 and b'since' in response.body
