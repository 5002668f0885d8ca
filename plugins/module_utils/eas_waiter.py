# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Waiters for PAI-EAS services and resource groups, and the OpenAI endpoint probe.

Every waiter polls with a growing delay (2 s, x1.5, at most 3 s, so readiness is seen within 3 s) until a deadline.
A failure state ends the wait at once; a timeout (an endless ``Waiting``, say) fails with the service's warning
events, its diagnosis and its last log lines. A poll the API does not answer (network, throttling, 5xx, an HTML
error page) does not end the wait: polling goes on until the wait's own deadline, and the final message says how
long the API was unreachable. Polls are single attempts, outside the task's retry budget.

Windows: with ``window=True`` a wait that reaches its deadline raises ``WaitWindowElapsed`` (a progress line and the
state the next window needs) instead of failing; the modules' action plugins use it to show progress.
"""

from __future__ import annotations

import time
from http.client import HTTPException
from urllib.error import HTTPError

from ansible.module_utils.urls import open_url, ConnectionError as UrlsConnectionError

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASError
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_diagnosis import (
    explain_service,
    latest_warning,
    service_summary,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError

SERVICE_FAILED = ('Failed', 'CreateFailed', 'DeleteFailed')
# Transitions that end by themselves: a config change waits for them first. Waiting, Pending and Failed do not end by
# themselves (a health check that never passes, capacity that never comes): a change is sent at once.
SERVICE_TRANSITIONS = ('Creating', 'Starting', 'Updating', 'HotUpdate', 'Scaling', 'Stopping', 'Cloning', 'Committing')
RESOURCE_READY = 'ResourceReady'
INSTANCE_READY = 'Ready'
INSTANCE_FAILED = ('CreateFailed',)
# Waiting for Running, a service seen Stopped this many polls in a row has stopped (it is not just about to start).
STOPPED_POLLS = 3


class EASWaitError(ModuleError):
    """A wait that failed (failure state) or timed out; the message explains why. ``last`` is the last state seen."""

    def __init__(self, message, last=None, timed_out=False):
        super().__init__(message)
        self.last = last
        self.timed_out = timed_out


class WaitWindowElapsed(Exception):
    """A wait window ended before the target: ``progress`` for the person watching, ``state`` for the next window."""

    def __init__(self, progress, state, last=None):
        super().__init__(progress)
        self.progress = progress
        self.state = state
        self.last = last


class WaitTimedOut(Exception):
    def __init__(self, last):
        super().__init__('timed out')
        self.last = last


class Poller:
    """Call ``check()`` until it returns ``(True, value)`` or the deadline passes; rides out API outages.

    ``check`` may raise EASWaitError to fail fast. A retryable EASError from ``check`` counts as the API not
    answering: polling goes on, and ``outage_note()`` says for how long it did not answer.
    """

    def __init__(self, timeout, sleep=None, clock=None, delay=2.0, factor=1.5, max_delay=3.0, unreachable=0.0):
        self.timeout = max(0, timeout or 0)
        self._sleep = sleep if sleep is not None else time.sleep
        self._clock = clock if clock is not None else time.monotonic
        self.delay = delay
        self.factor = factor
        self.max_delay = max_delay
        self.started = self._clock()
        self.deadline = self.started + self.timeout
        self.unreachable = unreachable
        self.down_since = None
        self.last_error = None
        self.last = None

    def elapsed(self):
        return self._clock() - self.started

    def remaining(self):
        return max(0.0, self.deadline - self._clock())

    def _settle_outage(self):
        if self.down_since is not None:
            self.unreachable += self._clock() - self.down_since
            self.down_since = None

    def run(self, check):
        delay = self.delay
        while True:
            try:
                done, value = check()
            except EASError as err:
                if not err.retryable:
                    raise
                self.last_error = err
                if self.down_since is None:
                    self.down_since = self._clock()
            else:
                self._settle_outage()
                if done:
                    return value
                self.last = value
            if self.remaining() <= 0:
                self._settle_outage()
                raise WaitTimedOut(self.last)
            self._sleep(min(delay, max(0.1, self.remaining())))
            delay = min(self.max_delay, delay * self.factor)

    def outage_note(self):
        if not self.unreachable:
            return ''
        return ' The API did not answer for %d s in all while waiting (last error: %s).' % (
            round(self.unreachable),
            self.last_error,
        )


def service_is_running(service, instances=None):
    if not service or service.get('Status') != 'Running':
        return False
    total, running = service.get('TotalInstance'), service.get('RunningInstance')
    if instances is not None and total is not None and int(total) != int(instances):
        return False
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
# UpdateService, RestartService, ScaleService and StartService are asynchronous. For a moment after the call,
# DescribeService may still show the OLD state, Running with RunningInstance == TotalInstance.
# * After an update, the server records a new config version (LatestVersion grows) and rolls it out; CurrentVersion
#   reaches LatestVersion when the rollout is complete. ``min_version`` = LatestVersion before the call + 1: Running
#   counts only once LatestVersion >= min_version and CurrentVersion == LatestVersion. If LatestVersion never grows,
#   the plain Running check applies again after ``version_grace`` seconds.
# * A restart makes no new version: with ``require_change``, Running counts only after a poll showed the service not
#   (fully) running, or ``change_grace`` seconds after the call (a restart that finished between two polls).
# * After ScaleService to N: ``instances`` = N, Running counts only with TotalInstance == RunningInstance == N.
VERSION_GRACE = 60
CHANGE_GRACE = 30


def wait_for_service(client, name, target, timeout, spec=None, window=False, sleep=None, clock=None):
    """Wait until the service reaches ``target`` and return the last Service dict (None for ``absent``).

    ``target``: ``Running`` (Status Running, all instances running), ``Stopped``, ``absent`` (404) or ``settled``
    (not in a transition that ends by itself). ``spec`` (a dict, also what a window carries on): ``min_version``,
    ``require_change``, ``instances`` (see above), ``stale_failed_polls`` (right after acting on a Failed service its
    first polls may still show the old failure), ``elapsed``/``changed``/``stopped``/``unreachable`` (carried over
    from earlier windows). Fails fast on Failed/CreateFailed/DeleteFailed, and on Stopped for ``STOPPED_POLLS`` polls in a
    row while waiting for Running.
    """
    spec = dict(spec or {})
    client = client.polling()
    poller = Poller(timeout, sleep=sleep, clock=clock, unreachable=spec.get('unreachable', 0.0))
    state = dict(missing=0, polls=0, changed=spec.get('changed', False), stopped=spec.get('stopped', 0))
    before = spec.get('elapsed', 0.0)

    def elapsed():
        return before + poller.elapsed()

    def running_reached(service):
        if not service_is_running(service, spec.get('instances')):
            return False
        latest, current = service_version(service), _version(service, 'CurrentVersion')
        min_version = spec.get('min_version')
        if min_version is not None and latest is not None:
            if latest < min_version and elapsed() < VERSION_GRACE:
                return False  # the update is not even recorded yet
            if latest >= min_version and current is not None and current < latest:
                return False  # the new version is still rolling out
        return not (spec.get('require_change') and not state['changed'] and elapsed() < CHANGE_GRACE)

    def fail(service, headline):
        raise EASWaitError(explain_service(client, name, service, headline), last=service)

    def check():
        service = client.describe_service(name)
        state['polls'] += 1
        if target == 'absent':
            if service is None:
                return True, None
            if service.get('Status') == 'DeleteFailed':
                fail(service, 'Service %s failed to delete (DeleteFailed).' % name)
            return False, service
        if service is None:
            state['missing'] += 1
            if state['missing'] > 3:
                raise EASWaitError('Service %s disappeared while waiting for it to be %s.' % (name, target))
            return False, None
        status = service.get('Status')
        if not service_is_running(service):
            state['changed'] = True
        if status in SERVICE_FAILED and state['polls'] > spec.get('stale_failed_polls', 0):
            fail(service, 'Service %s is %s while waiting for %s: %s' % (name, status, target, service.get('Message')))
        state['stopped'] = state['stopped'] + 1 if status == 'Stopped' else 0
        if target == 'Running' and state['stopped'] >= STOPPED_POLLS:
            fail(
                service,
                'Service %s is Stopped while waiting for it to be Running (%d polls in a row): it was stopped by '
                'someone else, or it stopped after failing to start. Start it with state=running (the role does) '
                'and look at its events below.' % (name, STOPPED_POLLS),
            )
        if target == 'Running':
            return running_reached(service), service
        if target == 'settled':
            return status not in SERVICE_TRANSITIONS and (status != 'Running' or running_reached(service)), service
        return status == target, service

    try:
        return poller.run(check)
    except WaitTimedOut as exc:
        service = exc.last
        carried = dict(
            spec, elapsed=elapsed(), changed=state['changed'], stopped=state['stopped'], unreachable=poller.unreachable
        )
        if window:
            warning = latest_warning(client, name) if service else None
            progress = 'service %s: %s%s' % (
                name,
                service_summary(service),
                '; latest warning: %s' % warning if warning else '',
            )
            if poller.unreachable:
                progress += '; the API did not answer for %d s' % round(poller.unreachable)
            raise WaitWindowElapsed(progress, carried, last=service) from None
        status = service.get('Status') if service else 'absent'
        wanted = 'settled' if target == 'settled' else target
        headline = 'Timed out after %ds waiting for service %s to be %s; it is still %s.' % (
            round(elapsed()),
            name,
            wanted,
            status,
        )
        if service and spec.get('min_version') is not None and status == 'Running':
            headline += ' The update to version %s is not complete yet (current version %s, latest %s).' % (
                spec['min_version'],
                service.get('CurrentVersion'),
                service.get('LatestVersion'),
            )
        if service and spec.get('instances') is not None and status == 'Running':
            headline += ' Scaling to %s instances is not complete (running %s of %s).' % (
                spec['instances'],
                service.get('RunningInstance'),
                service.get('TotalInstance'),
            )
        if status == 'Waiting':
            headline += (
                ' A service that stays Waiting usually cannot be scheduled (cpu/memory/gpu above what one node of the'
                ' resource group can allocate, see InstanceMaxAllocatable*) or never passes its health check'
                ' (wrong port).'
            )
        headline += poller.outage_note()
        message = explain_service(client, name, service, headline) if service else headline
        raise EASWaitError(message, last=service, timed_out=True) from None


def read_through_outage(read, what, timeout, window=False, unreachable=0.0, sleep=None, clock=None):
    """The read before a wait (``read()``, with a polling client): ``(its value, seconds the API did not answer)``.

    A read the API does not answer (network, throttling, 5xx, an HTML error page) is tried again as a wait's polls
    are, until ``timeout``: a task that starts its wait during an outage goes on once the API is back, as one that
    is already waiting does. ``unreachable`` carries the seconds of earlier windows. When ``timeout`` passes with the
    API still down: ``WaitWindowElapsed`` (state ``first_read``, ``unreachable``) with ``window=True``, else
    ``EASWaitError`` saying how long the API did not answer. An error that is not transient is raised at once.
    ``what`` names the object in the messages (``service x``, ``resource group y``).
    """
    poller = Poller(timeout, sleep=sleep, clock=clock, unreachable=unreachable)
    try:
        value = poller.run(lambda: (True, read()))
    except WaitTimedOut:
        if window:
            raise WaitWindowElapsed(
                '%s: not read yet, the API did not answer for %d s' % (what, round(poller.unreachable)),
                dict(first_read=True, unreachable=poller.unreachable),
            ) from None
        raise EASWaitError(
            '%s could not be read before waiting for it.%s' % (what[:1].upper() + what[1:], poller.outage_note()),
            timed_out=True,
        ) from None
    return value, poller.unreachable


def read_service_through_outage(client, name, timeout, window=False, unreachable=0.0, sleep=None, clock=None):
    """DescribeService before a wait: ``(Service dict or None, seconds the API did not answer in all)`` (see
    `read_through_outage`)."""
    polling = client.polling()
    return read_through_outage(
        lambda: polling.describe_service(name),
        'service %s' % name,
        timeout,
        window=window,
        unreachable=unreachable,
        sleep=sleep,
        clock=clock,
    )


def wait_until_visible(client, name, timeout=10, sleep=None, clock=None):
    """Right after CreateService, DescribeService may answer 404 for a moment. Returns the service or None."""
    poller = Poller(timeout, sleep=sleep, clock=clock, delay=1.0, factor=2.0, max_delay=4.0)

    def visible():
        service = client.describe_service(name)
        return service is not None, service

    try:
        return poller.run(visible)
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
    poller = Poller(timeout, sleep=sleep, clock=clock, delay=2.0, factor=1.3, max_delay=5.0)
    state = {'attempts': 0, 'last': None}

    def check():
        state['attempts'] += 1
        try:
            response = opener(
                url, method='GET', headers={'Authorization': token}, timeout=request_timeout, follow_redirects='safe'
            )
            if response.getcode() == 200:
                return True, state['attempts']
            state['last'] = 'HTTP %s' % response.getcode()
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
