# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiters for a dedicated resource group and its nodes (same polling, outage and window rules as eas_waiter)."""

from __future__ import annotations

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_groups import active_instances
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_waiter import (
    INSTANCE_FAILED,
    INSTANCE_READY,
    RESOURCE_READY,
    EASWaitError,
    Poller,
    WaitTimedOut,
    WaitWindowElapsed,
)


def _nodes(instances):
    return ', '.join('%s=%s' % (i.get('InstanceId'), i.get('InstanceStatus')) for i in instances) or 'none'


def _run(poller, check, window, progress, fail):
    """Run ``check`` until done; on the deadline raise WaitWindowElapsed (``window``) or EASWaitError."""
    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        if window:
            line = progress(exc.last)
            if poller.unreachable:
                line += '; the API did not answer for %d s' % round(poller.unreachable)
            raise WaitWindowElapsed(line, dict(unreachable=poller.unreachable), last=exc.last) from None
        raise EASWaitError(fail(exc.last) + poller.outage_note(), last=exc.last, timed_out=True) from None


def wait_for_resource_group(
    client, resource_id, timeout, expected_count=None, window=False, unreachable=0.0, sleep=None, clock=None
):
    """Wait until the group is ResourceReady with all (``expected_count``) instances Ready.

    Fails fast when the group status contains ``Fail`` or an instance is CreateFailed (usually a GPU stock-out).
    Returns ``(resource, instances)``.
    """
    client = client.polling()
    poller = Poller(timeout, sleep=sleep, clock=clock, unreachable=unreachable)

    def check():
        resource = client.describe_resource(resource_id)
        if resource is None:
            return False, (None, [])
        instances = client.list_resource_instances(resource_id)
        failed = [i for i in instances if i.get('InstanceStatus') in INSTANCE_FAILED]
        if 'Fail' in str(resource.get('Status') or '') or failed:
            raise EASWaitError(
                'Resource group %s failed: status %s (%s); failed instances: %s. Usually the instance type is out of '
                'stock in this zone: try another zone or instance type; failed nodes can be removed with '
                'DeleteResourceInstances(AllFailed=true).'
                % (
                    resource_id,
                    resource.get('Status'),
                    resource.get('Message'),
                    ', '.join('%s (%s)' % (i.get('InstanceId'), i.get('InstanceStatus')) for i in failed) or 'none',
                ),
                last=(resource, instances),
            )
        active = active_instances(instances)
        ready = [i for i in active if i.get('InstanceStatus') == INSTANCE_READY]
        count_ok = expected_count is None or len(active) == expected_count
        done = resource.get('Status') == RESOURCE_READY and count_ok and len(ready) == len(active) == len(instances)
        return done, (resource, instances)

    def progress(last):
        resource, instances = last or (None, [])
        ready = [i for i in instances if i.get('InstanceStatus') == INSTANCE_READY]
        return 'resource group %s: %s, %d of %s nodes ready (%s)' % (
            resource_id,
            (resource or {}).get('Status', 'not visible yet'),
            len(ready),
            expected_count if expected_count is not None else len(instances),
            _nodes(instances),
        )

    def fail(last):
        resource, instances = last or (None, [])
        return (
            'Timed out after %ss waiting for resource group %s to be ResourceReady with %s Ready instances; '
            'status %s (%s); instances: %s'
            % (
                timeout,
                resource_id,
                expected_count if expected_count is not None else 'all',
                (resource or {}).get('Status'),
                (resource or {}).get('Message'),
                _nodes(instances),
            )
        )

    return _run(poller, check, window, progress, fail)


def wait_for_instances_gone(
    client, resource_id, instance_ids, timeout, window=False, unreachable=0.0, sleep=None, clock=None
):
    """Wait until none of ``instance_ids`` is listed in the group any more."""
    client = client.polling()
    poller = Poller(timeout, sleep=sleep, clock=clock, unreachable=unreachable)
    wanted = set(instance_ids)

    def check():
        left = [i for i in client.list_resource_instances(resource_id) if i.get('InstanceId') in wanted]
        return not left, left

    return _run(
        poller,
        check,
        window,
        lambda left: (
            'resource group %s: deleting nodes, %d left (%s)' % (resource_id, len(left or []), _nodes(left or []))
        ),
        lambda left: (
            'Timed out after %ss waiting for instances of resource group %s to be deleted; still there: %s'
            % (timeout, resource_id, _nodes(left or []))
        ),
    )


def wait_for_resource_gone(client, resource_id, timeout, window=False, unreachable=0.0, sleep=None, clock=None):
    client = client.polling()
    poller = Poller(timeout, sleep=sleep, clock=clock, unreachable=unreachable)

    def check():
        resource = client.describe_resource(resource_id)
        return resource is None, resource

    return _run(
        poller,
        check,
        window,
        lambda last: 'resource group %s: deleting (%s)' % (resource_id, (last or {}).get('Status')),
        lambda last: (
            'Timed out after %ss waiting for resource group %s to be deleted; status %s'
            % (timeout, resource_id, (last or {}).get('Status'))
        ),
    )
