# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiters for PAI-EAS services and resource groups, and the OpenAI endpoint probe.

Every waiter polls with a growing delay (2 s, x1.5, at most 15 s) until a deadline (``wait_timeout``).
A failure state ends the wait at once; a timeout (including an endless ``Waiting``) fails with the
service's warning events, its diagnosis and the last log lines in the message, so the user sees why.
"""

from __future__ import annotations

import json
import time
from http.client import HTTPException
from urllib.error import HTTPError

from ansible.module_utils.urls import open_url, ConnectionError as UrlsConnectionError

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASError
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError

SERVICE_FAILED = ('Failed', 'CreateFailed', 'DeleteFailed')
RESOURCE_READY = 'ResourceReady'
INSTANCE_READY = 'Ready'
INSTANCE_FAILED = ('CreateFailed',)


class EASWaitError(ModuleError):
    """A wait that failed (failure state) or timed out; the message explains why. ``last`` is the last state seen."""

    def __init__(self, message, last=None, timed_out=False):
        super().__init__(message)
        self.last = last
        self.timed_out = timed_out


class Poller:
    """Call ``check()`` until it returns ``(True, value)`` or the deadline passes.

    ``check`` may raise EASWaitError to fail fast. On timeout, ``WaitTimedOut`` carries the last value.
    """

    def __init__(self, timeout, sleep=None, clock=None, delay=2.0, factor=1.5, max_delay=15.0):
        self.timeout = max(0, timeout or 0)
        self._sleep = sleep if sleep is not None else time.sleep
        self._clock = clock if clock is not None else time.monotonic
        self.delay = delay
        self.factor = factor
        self.max_delay = max_delay
        self.started = self._clock()
        self.deadline = self.started + self.timeout

    def elapsed(self):
        return self._clock() - self.started

    def remaining(self):
        return max(0.0, self.deadline - self._clock())

    def run(self, check):
        delay = self.delay
        while True:
            done, value = check()
            if done:
                return value
            if self.remaining() <= 0:
                raise WaitTimedOut(value)
            self._sleep(min(delay, max(0.1, self.remaining())))
            delay = min(self.max_delay, delay * self.factor)


class WaitTimedOut(Exception):
    def __init__(self, last):
        super().__init__('timed out')
        self.last = last


def _event_message(raw):
    """Event ``Message`` is a JSON string; show its ``message`` when it has one."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(parsed, dict) and parsed.get('message'):
            return str(parsed['message'])
    return str(raw)


def explain_service(client, name, service, headline, events=5, log_lines=10):
    """A failure message: the headline, the service's state, warning events, diagnosis, last log lines."""
    lines = [headline]
    if service:
        lines.append(
            'Status: %s (Reason: %s) Message: %s; instances running %s of %s, pending %s'
            % (
                service.get('Status'),
                service.get('Reason'),
                service.get('Message'),
                service.get('RunningInstance'),
                service.get('TotalInstance'),
                service.get('PendingInstance'),
            )
        )
    try:
        warnings = client.describe_service_events(name, event_type='Warning')
        if warnings:
            lines.append('Warning events (latest %d):' % min(events, len(warnings)))
            for event in warnings[-events:]:
                lines.append(
                    '  - %s %s: %s' % (event.get('Time'), event.get('Reason'), _event_message(event.get('Message')))
                )
        else:
            lines.append('Warning events: none')
    except EASError as err:
        lines.append('Warning events: could not be read (%s)' % err)
    try:
        diagnosis = client.describe_service_diagnosis(name)
        if diagnosis:
            lines.append('Diagnosis:')
            for item in diagnosis:
                lines.append('  - Error: %s' % item.get('Error'))
                for cause in item.get('Causes') or []:
                    lines.append('    Cause: %s' % cause)
                for advice in item.get('Advices') or []:
                    lines.append('    Advice: %s' % advice)
        else:
            lines.append('Diagnosis: none')
    except EASError as err:
        lines.append('Diagnosis: could not be read (%s)' % err)
    try:
        logs = client.describe_service_log(name)
        if logs:
            lines.append('Last %d log lines:' % min(log_lines, len(logs)))
            lines.extend('  | %s' % line for line in logs[-log_lines:])
        else:
            lines.append('Log: empty')
    except EASError as err:
        lines.append('Log: could not be read (%s)' % err)
    return '\n'.join(lines)


def service_is_running(service):
    if not service or service.get('Status') != 'Running':
        return False
    total = service.get('TotalInstance')
    running = service.get('RunningInstance')
    if total is None or running is None:
        return True
    return int(running) >= int(total)


def _version(service, key):
    try:
        return int((service or {}).get(key))
    except (TypeError, ValueError):
        return None


def service_version(service):
    """``LatestVersion`` of a Service dict (the version an update creates), or None when the server does not say."""
    return _version(service, 'LatestVersion')


# Version-aware waiting (why Running alone is not enough right after acting):
# UpdateService, RestartService and StartService are asynchronous. For a moment after the call, DescribeService may
# still show the OLD state, Running with RunningInstance == TotalInstance, so a plain "Running?" check returns before
# anything happened.
# * After an update, the server records a new config version (LatestVersion grows) and rolls it out; CurrentVersion
#   reaches LatestVersion when the rollout is complete. The
#   caller passes ``min_version`` = LatestVersion before the call + 1; Running counts only once
#   LatestVersion >= min_version and CurrentVersion == LatestVersion. If LatestVersion never grows (a server that did
#   not make a new version for this change, or that reports no versions), the plain Running check applies again after
#   ``version_grace`` seconds, so the wait cannot hang on a version that will never come.
# * A restart makes no new version. The caller passes ``require_change=True``: Running counts only after at least
#   one poll showed the service not (fully) running (another status, or fewer running than total instances), or
#   once ``change_grace`` seconds have passed since the call (a restart that finished between two polls).
# * A StartService needs neither: the service was Stopped (a Stopping one is waited for first), and Stopped never counts
#   as Running. After an update of a stopped service plus a start, ``min_version`` still applies.
VERSION_GRACE = 60
CHANGE_GRACE = 30


def wait_for_service(
    client,
    name,
    target,
    timeout,
    sleep=None,
    clock=None,
    invisible_polls=3,
    stale_failed_polls=0,
    min_version=None,
    version_grace=VERSION_GRACE,
    require_change=False,
    change_grace=CHANGE_GRACE,
):
    """Wait until the service reaches ``target`` and return the last Service dict (None for ``absent``).

    ``target``: ``Running`` (Status Running and all instances running), ``Stopped``, ``absent`` (404) or
    ``settled`` (Running or Stopped). Fails fast on Failed/CreateFailed/DeleteFailed (only on DeleteFailed when
    waiting for ``absent``). Right after a create the service may briefly be invisible: up to ``invisible_polls``
    404s are tolerated. ``stale_failed_polls``: right after acting on a service that was Failed, its first polls
    may still show the old failure; that many polls do not fail fast.
    ``min_version`` (after an update) and ``require_change`` (after a restart): see the comment above; they only
    affect when Running counts as reached.
    """
    poller = Poller(timeout, sleep=sleep, clock=clock)
    state = {'missing': 0, 'last': None, 'polls': 0, 'changed': False}

    def running_reached(service):
        if not service_is_running(service):
            return False
        latest, current = service_version(service), _version(service, 'CurrentVersion')
        if min_version is not None and latest is not None:
            if latest < min_version and poller.elapsed() < version_grace:
                return False  # the update is not even recorded yet
            if latest >= min_version and current is not None and current < latest:
                return False  # the new version is still rolling out
        if require_change and not state['changed'] and poller.elapsed() < change_grace:
            return False
        return True

    def check():
        service = client.describe_service(name)
        state['last'] = service
        state['polls'] += 1
        if target == 'absent':
            if service is None:
                return True, None
            if service.get('Status') == 'DeleteFailed':
                raise EASWaitError(
                    explain_service(client, name, service, 'Service %s failed to delete (DeleteFailed).' % name),
                    last=service,
                )
            return False, service
        if service is None:
            state['missing'] += 1
            if state['missing'] > invisible_polls:
                raise EASWaitError('Service %s disappeared while waiting for it to be %s.' % (name, target))
            return False, None
        if not service_is_running(service):
            state['changed'] = True
        status = service.get('Status')
        if status in SERVICE_FAILED and state['polls'] <= stale_failed_polls:
            return False, service
        if status in SERVICE_FAILED:
            raise EASWaitError(
                explain_service(
                    client,
                    name,
                    service,
                    'Service %s is %s while waiting for %s: %s' % (name, status, target, service.get('Message')),
                ),
                last=service,
            )
        if target == 'Running':
            return running_reached(service), service
        if target == 'settled':
            return (status == 'Stopped' or running_reached(service)), service
        return status == target, service

    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        service = exc.last
        status = service.get('Status') if service else 'absent'
        wanted = 'Running or Stopped' if target == 'settled' else target
        headline = 'Timed out after %ss waiting for service %s to be %s; it is still %s.' % (
            timeout,
            name,
            wanted,
            status,
        )
        if service and min_version is not None and status == 'Running':
            headline += ' The update to version %s is not complete yet (current version %s, latest %s).' % (
                min_version,
                service.get('CurrentVersion'),
                service.get('LatestVersion'),
            )
        if status == 'Waiting':
            headline += (
                ' A service that stays Waiting usually cannot be scheduled (cpu/memory/gpu above what one node of the'
                ' resource group can allocate, see InstanceMaxAllocatable*) or never passes its health check'
                ' (wrong port).'
            )
        raise EASWaitError(
            explain_service(client, name, service, headline) if service else headline, last=service, timed_out=True
        )


def wait_until_visible(client, name, timeout=10, sleep=None, clock=None):
    """Right after CreateService, DescribeService may answer 404 for a moment. Returns the service or None."""
    poller = Poller(timeout, sleep=sleep, clock=clock, delay=1.0, factor=2.0, max_delay=4.0)

    def check():
        service = client.describe_service(name)
        return service is not None, service

    try:
        return poller.run(check)
    except WaitTimedOut:
        return None


def probe_endpoint(
    endpoint, token, timeout, sleep=None, clock=None, path='/v1/models', opener=None, request_timeout=10
):
    """GET ``<endpoint><path>`` with ``Authorization: <token>`` until it answers 200 (or the timeout passes).

    The EAS gateway lags behind ``Running`` (503 "no healthy upstream" or an empty 404 meanwhile).
    Returns the number of attempts. The token never appears in messages.
    """
    opener = opener or open_url
    url = endpoint.rstrip('/') + path
    poller = Poller(timeout, sleep=sleep, clock=clock, delay=2.0, factor=1.3, max_delay=10.0)
    state = {'attempts': 0, 'last': None}

    def check():
        state['attempts'] += 1
        try:
            response = opener(
                url, method='GET', headers={'Authorization': token}, timeout=request_timeout, follow_redirects='safe'
            )
            code = response.getcode()
            if code == 200:
                return True, state['attempts']
            state['last'] = 'HTTP %s' % code
        except HTTPError as err:
            try:
                body = err.read()[:200].decode('utf-8', 'replace')
            except (OSError, AttributeError):
                body = ''
            state['last'] = 'HTTP %s %s' % (err.code, body.strip())
        except (OSError, HTTPException, UrlsConnectionError, ValueError) as err:
            state['last'] = '%s' % err
        return False, state['attempts']

    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        raise EASWaitError(
            'The service is Running but its endpoint %s did not answer 200 within %ss (%s attempts); last '
            'answer: %s. Set probe_endpoint=false when the endpoint is not reachable from the controller.'
            % (url, timeout, exc.last, state['last']),
            timed_out=True,
        ) from None


def active_instances(instances):
    """Resource-group instances that count towards instance_count (not CreateFailed, not Deleting)."""
    return [i for i in instances if i.get('InstanceStatus') not in ('CreateFailed', 'Deleting')]


def wait_for_resource_group(client, resource_id, timeout, expected_count=None, sleep=None, clock=None):
    """Wait until the group is ResourceReady with all (``expected_count``) instances Ready.

    Fails fast when the group status contains ``Fail`` or an instance is CreateFailed (usually a GPU stock-out).
    Returns ``(resource, instances)``.
    """
    poller = Poller(timeout, sleep=sleep, clock=clock)

    def check():
        resource = client.describe_resource(resource_id)
        if resource is None:
            return False, (None, [])
        instances = client.list_resource_instances(resource_id)
        failed = [i for i in instances if i.get('InstanceStatus') in INSTANCE_FAILED]
        if 'Fail' in str(resource.get('Status') or '') or failed:
            raise EASWaitError(
                'Resource group %s failed: status %s (%s); failed instances: %s. Usually the instance type is out of stock '
                'in this zone: try another zone or instance type; failed nodes can be removed with '
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
        done = (
            resource.get('Status') == RESOURCE_READY
            and count_ok
            and len(ready) == len(active)
            and len(instances) == len(active)
        )
        return done, (resource, instances)

    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        resource, instances = exc.last
        raise EASWaitError(
            'Timed out after %ss waiting for resource group %s to be ResourceReady with %s Ready instances; '
            'status %s (%s); instances: %s'
            % (
                timeout,
                resource_id,
                expected_count if expected_count is not None else 'all',
                (resource or {}).get('Status'),
                (resource or {}).get('Message'),
                ', '.join('%s=%s' % (i.get('InstanceId'), i.get('InstanceStatus')) for i in instances) or 'none',
            ),
            last=exc.last,
            timed_out=True,
        ) from None


def wait_for_instances_gone(client, resource_id, instance_ids, timeout, sleep=None, clock=None):
    """Wait until none of ``instance_ids`` is listed in the group any more."""
    poller = Poller(timeout, sleep=sleep, clock=clock)
    wanted = set(instance_ids)

    def check():
        left = [i for i in client.list_resource_instances(resource_id) if i.get('InstanceId') in wanted]
        return not left, left

    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        raise EASWaitError(
            'Timed out after %ss waiting for instances of resource group %s to be deleted; still there: %s'
            % (
                timeout,
                resource_id,
                ', '.join('%s=%s' % (i.get('InstanceId'), i.get('InstanceStatus')) for i in exc.last),
            ),
            timed_out=True,
        ) from None


def wait_for_resource_gone(client, resource_id, timeout, sleep=None, clock=None):
    poller = Poller(timeout, sleep=sleep, clock=clock)

    def check():
        resource = client.describe_resource(resource_id)
        return resource is None, resource

    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        raise EASWaitError(
            'Timed out after %ss waiting for resource group %s to be deleted; status %s'
            % (timeout, resource_id, (exc.last or {}).get('Status')),
            timed_out=True,
        ) from None
